#!/usr/bin/env bash
# Builds the real Jaeger (cmd/jaeger: Jaeger v2, an OpenTelemetry-collector
# distribution with OTLP receivers, in-memory storage and the query API) used by
# the OpenTelemetry export test into test/jaeger/bin/, from its Go module
# (version in go.mod, a `tool` directive). Does nothing when the binary is newer
# than its inputs. Uses the default Go caches, shared with test/kube/build.sh and
# test/flux/build.sh (gRPC, OpenTelemetry, client-go...). Run it after them, not
# in parallel: on 2 cores, parallel builds of large modules only thrash.
#   FORCE=1 test/jaeger/build.sh   rebuild anyway
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

MODULE=github.com/jaegertracing/jaeger
BIN=bin/jaeger
INPUTS=(go.mod go.sum build.sh)

up_to_date() {
  local i
  [[ -x $BIN ]] || return 1
  for i in "${INPUTS[@]}"; do [[ $BIN -nt $i ]] || return 1; done
}

mkdir -p bin
# Serialize concurrent callers (parallel test workers); the loser re-checks.
if command -v flock >/dev/null; then
  exec 9>bin/.build.lock
  flock 9
fi

if [[ -z ${FORCE:-} ]] && up_to_date; then
  echo "jaeger/build.sh: bin/ is up to date"
  exit 0
fi

command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
export GOTOOLCHAIN=local
v=$(awk -v m="$MODULE" '$1 == m { print $2; exit }' go.mod)
[[ -n $v ]] || { echo "jaeger/build.sh: no version of $MODULE in go.mod" >&2; exit 1; }
echo "jaeger/build.sh: building $MODULE/cmd/jaeger $v (GOCACHE=$(go env GOCACHE))"
start=$SECONDS
# -mod=readonly: never rewrite go.mod/go.sum here, whatever GOFLAGS says.
# -trimpath, -s -w, no -race, CGO off: the smallest, fastest build (no debug info to link).
# The version stamp is what Jaeger's own Makefile sets (scripts/makefiles/BuildInfo.mk).
CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false \
  -ldflags "-s -w -X $MODULE/internal/version.latestVersion=$v" \
  -o "$BIN" "$MODULE/cmd/jaeger"
touch "$BIN"
echo "jaeger/build.sh: done in $((SECONDS - start))s"
