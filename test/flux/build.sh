#!/usr/bin/env bash
# Builds the real Flux controllers used by the conformance suite into
# test/flux/bin/: source-controller, kustomize-controller, helm-controller, from
# their Go modules (versions in go.mod), and oci-tool (cmd/oci-tool: a loopback
# OCI registry and `flux push artifact`'s push, for test/conformance/oci.test.ts). Does nothing when the binaries are newer
# than their inputs. Uses the default Go caches, shared with test/kube/build.sh,
# so the two builds reuse each other's compiled packages. The builds run one
# after another: on 2 cores, parallel builds of large modules only thrash.
#   FORCE=1 test/flux/build.sh   rebuild anyway
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

CONTROLLERS=(source-controller kustomize-controller helm-controller)
INPUTS=(go.mod go.sum build.sh tools.go cmd/oci-tool/main.go)

up_to_date() {
  local c i
  for c in "${CONTROLLERS[@]}" oci-tool; do
    [[ -x bin/$c ]] || return 1
    for i in "${INPUTS[@]}"; do [[ bin/$c -nt $i ]] || return 1; done
  done
}

mkdir -p bin
if command -v flock >/dev/null; then
  exec 9>bin/.build.lock
  flock 9
fi

if [[ -z ${FORCE:-} ]] && up_to_date; then
  echo "flux/build.sh: bin/ is up to date"
  exec bash crds.sh
fi

command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
export GOTOOLCHAIN=local
start=$SECONDS
for c in "${CONTROLLERS[@]}"; do
  v=$(awk -v m="github.com/fluxcd/$c" '$1 == m { print $2; exit }' go.mod)
  [[ -n $v ]] || { echo "flux/build.sh: no version of $c in go.mod" >&2; exit 1; }
  t=$SECONDS
  echo "flux/build.sh: building $c $v"
  # -mod=readonly: never rewrite go.mod/go.sum here, whatever GOFLAGS says.
  CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false -ldflags "-s -w" \
    -o "bin/$c" "github.com/fluxcd/$c"
  touch "bin/$c"
  echo "flux/build.sh: $c built in $((SECONDS - t))s"
done

# oci-tool reuses the packages compiled for source-controller: about 20 s cold on its own.
t=$SECONDS
echo "flux/build.sh: building oci-tool"
CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false -ldflags "-s -w" -o bin/oci-tool ./cmd/oci-tool
touch bin/oci-tool
echo "flux/build.sh: oci-tool built in $((SECONDS - t))s"

# The controllers' own CRDs, from the same module versions.
bash crds.sh

echo "flux/build.sh: done in $((SECONDS - start))s"
