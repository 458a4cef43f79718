//go:build tools

// Package tools pins the controllers' main packages in go.mod/go.sum, so that
// `go build -mod=readonly` can build them from this module.
package tools

import (
	_ "github.com/fluxcd/helm-controller"
	_ "github.com/fluxcd/kustomize-controller"
	_ "github.com/fluxcd/source-controller"
)
