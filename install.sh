#!/bin/sh
# Installs flux-monitor from this checkout: dependencies, build, a `flux-monitor` command on PATH, and the git
# hooks of the repository you run it from (if any). Safe to run again.
#   ./install.sh                        in a clone of flux-monitor: also hooks this clone
#   /path/to/flux-monitor/install.sh    from inside another repository: hooks that repository
# Environment: FLUX_MONITOR_BIN_DIR=<dir> to choose where the command is linked.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
start_dir=$(pwd)

say() { printf '%s\n' "flux-monitor install: $*"; }
die() { printf '%s\n' "flux-monitor install: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node is not installed (Node.js 20 or newer is needed)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
command -v git >/dev/null 2>&1 || die "git is not installed (2.28 or newer is needed)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: 20 or newer is needed"

cd "$here"

# 1. Dependencies: skipped when node_modules is newer than the lockfile (npm ci would redo everything).
if [ -f package-lock.json ]; then
  if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] && [ node_modules/.package-lock.json -nt package.json ]; then
    say "dependencies up to date"
  else
    say "installing dependencies (npm ci)"
    npm ci --no-audit --no-fund
  fi
else
  say "installing dependencies (npm install)"
  npm install --no-audit --no-fund
fi

# 2. Build.
say "building"
npm run --silent build
cli=$here/dist/src/cli.cjs
[ -f "$cli" ] || die "the build did not produce $cli"
chmod +x "$cli"

# 3. A `flux-monitor` command: a symlink in npm's global bin directory when we may write there (root, or a
#    user-owned prefix), else in ~/.local/bin.
bin_dir=${FLUX_MONITOR_BIN_DIR:-}
if [ -z "$bin_dir" ]; then
  prefix=$(npm prefix -g 2>/dev/null || true)
  if [ -n "$prefix" ] && [ -d "$prefix/bin" ] && [ -w "$prefix/bin" ]; then
    bin_dir=$prefix/bin
  else
    bin_dir=${HOME:?HOME is not set}/.local/bin
  fi
fi
mkdir -p "$bin_dir"
ln -sf "$cli" "$bin_dir/flux-monitor"
say "linked $bin_dir/flux-monitor -> $cli"
case ":$PATH:" in
*":$bin_dir:"*) ;;
*) say "note: $bin_dir is not on your PATH; add it (e.g. export PATH=\"$bin_dir:\$PATH\") to run flux-monitor by name" ;;
esac
"$bin_dir/flux-monitor" version

# 4. The git hooks of the repository this script was started from.
cd "$start_dir"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  "$bin_dir/flux-monitor" install
else
  say "$start_dir is not inside a git repository: no hooks installed (run 'flux-monitor install' in your repository)"
fi
