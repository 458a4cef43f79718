#!/usr/bin/env bash
# Copies Tekton's real PipelineRun CRD (tektoncd/pipeline, the version below) from its Go module into
# test/tekton/crds/, for the kube suite's custom-kinds test (test/integration/custom-kinds.test.ts). A module
# download (about 3 MB, no build); does nothing when crds/ is newer than this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
TEKTON_VERSION=v1.3.0
if command -v flock >/dev/null; then exec 8>.crds.lock; flock 8; fi
if [[ -z ${FORCE:-} && -f crds/300-pipelinerun.yaml && crds/300-pipelinerun.yaml -nt crds.sh ]]; then exit 0; fi
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
# Outside any module: `go mod download module@version` needs no go.mod.
dir=$(cd / && go mod download -json "github.com/tektoncd/pipeline@$TEKTON_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
crd=$dir/config/300-crds/300-pipelinerun.yaml
[[ -f $crd ]] || { echo "tekton/crds.sh: $crd not found" >&2; exit 1; }
rm -rf crds.tmp && mkdir crds.tmp
cp "$crd" crds.tmp/
chmod -R u+w crds.tmp
rm -rf crds && mv crds.tmp crds
echo "tekton/crds.sh: PipelineRun CRD of tektoncd/pipeline $TEKTON_VERSION in test/tekton/crds"
