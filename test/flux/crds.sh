#!/usr/bin/env bash
# Copies the real Flux CRDs of the controller versions in go.mod (each module ships
# config/crd/bases) into test/flux/crds/. Needs only the module download, no build:
# the kube suite applies these CRDs too. Does nothing when crds/ is newer than go.mod.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if command -v flock >/dev/null; then exec 8>.crds.lock; flock 8; fi
if [[ -z ${FORCE:-} && -d crds && crds -nt go.mod && crds -nt crds.sh ]]; then exit 0; fi
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
export GOTOOLCHAIN=local
rm -rf crds.tmp && mkdir crds.tmp
for c in source-controller kustomize-controller helm-controller; do
  go mod download "github.com/fluxcd/$c"
  dir=$(go list -mod=readonly -m -f '{{.Dir}}' "github.com/fluxcd/$c")
  [[ -d $dir/config/crd/bases ]] || { echo "crds.sh: $dir/config/crd/bases not found" >&2; exit 1; }
  cp "$dir"/config/crd/bases/*.yaml crds.tmp/
done
chmod -R u+w crds.tmp
rm -rf crds && mv crds.tmp crds
echo "crds.sh: $(ls crds | wc -l) CRDs in test/flux/crds"
