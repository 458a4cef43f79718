#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd used by the kube test suite into
# test/kube/bin/. Does nothing when the binaries are newer than their inputs.
# Uses the default Go caches (go env GOCACHE / GOMODCACHE) so a second build,
# even after `rm -rf bin`, is mostly a link step.
#   FORCE=1 test/kube/build.sh   rebuild anyway
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Version stamped into the apiserver (what /version reports); taken from go.mod.
K8S_VERSION=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' go.mod)
[[ $K8S_VERSION =~ ^v1\.([0-9]+)\. ]] || { echo "build.sh: cannot read k8s.io/kubernetes version from go.mod" >&2; exit 1; }
K8S_MINOR=${BASH_REMATCH[1]}

BINS=(bin/kube-apiserver bin/etcd)
INPUTS=(go.mod go.sum build.sh cmd/kube-apiserver/main.go cmd/etcd/main.go)

up_to_date() {
  local b i
  for b in "${BINS[@]}"; do
    [[ -x $b ]] || return 1
    for i in "${INPUTS[@]}"; do [[ $b -nt $i ]] || return 1; done
  done
}

mkdir -p bin
# Serialize concurrent callers (parallel test workers); the loser re-checks.
if command -v flock >/dev/null; then
  exec 9>bin/.build.lock
  flock 9
fi

if [[ -z ${FORCE:-} ]] && up_to_date; then
  echo "build.sh: bin/ is up to date ($K8S_VERSION)"
  exit 0
fi

command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
echo "build.sh: building kube-apiserver $K8S_VERSION and etcd (GOCACHE=$(go env GOCACHE), GOMODCACHE=$(go env GOMODCACHE))"
start=$SECONDS

vars=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  vars+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K8S_MINOR"
  vars+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# -mod=readonly: never rewrite go.mod/go.sum here, whatever GOFLAGS says.
CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false \
  -ldflags "-s -w$vars" -o bin/ ./cmd/kube-apiserver ./cmd/etcd
touch "${BINS[@]}"

echo "build.sh: done in $((SECONDS - start))s"
