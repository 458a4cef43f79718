// Command kube-apiserver is the upstream kube-apiserver, built from
// k8s.io/kubernetes as a module dependency for flux-monitor's tests.
package main

import (
	"os"
	_ "time/tzdata" // CronJob timeZone validation needs the tz database

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register" // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
