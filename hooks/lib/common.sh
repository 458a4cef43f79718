# flux-monitor: the part shared by the git hooks. `flux-monitor install` inlines this file into each hook it
# installs, so an installed hook depends on nothing but /bin/sh (see docs/hooks.md).

# Per-user state directory: ${XDG_STATE_HOME:-~/.local/state}/flux-monitor (src/session/paths.ts agrees).
fm_state=${XDG_STATE_HOME:-}
case $fm_state in /*) ;; *) fm_state=${HOME:-/tmp}/.local/state ;; esac
fm_state=$fm_state/flux-monitor
fm_log=$fm_state/hooks.log

# fm_read_input: all of standard input into $fm_input (shell builtins only: no fork).
fm_read_input() {
  fm_input=
  while IFS= read -r fm_l || [ -n "$fm_l" ]; do
    fm_input="$fm_input$fm_l
"
  done
}

# fm_chain ARGS...: runs the hook that flux-monitor install moved aside (<hook>.flux-monitor-chained), with the
# same arguments and standard input ($fm_input), and returns its exit status. Like git, it runs it only if it
# is executable. A shell script is sourced by its own shell with $0 set to this hook's path, so a dispatcher
# that looks at its own name (husky's `.husky/_/h` does) still finds the user's hook.
fm_chain() {
  fm_prev=$0.flux-monitor-chained
  [ -x "$fm_prev" ] || return 0
  fm_interp= fm_flags= fm_first=
  IFS= read -r fm_first <"$fm_prev" 2>/dev/null
  case $fm_first in
  '#!'*)
    set -f
    fm_shebang ${fm_first#??}
    set +f
    ;;
  esac
  if [ -n "$fm_interp" ]; then
    printf '%s' "$fm_input" | FLUX_MONITOR_CHAINED_HOOK=$fm_prev "$fm_interp" $fm_flags -c '. "$FLUX_MONITOR_CHAINED_HOOK"' "$0" "$@"
  else
    printf '%s' "$fm_input" | "$fm_prev" "$@"
  fi
}

# fm_shebang WORDS...: sets fm_interp/fm_flags when the interpreter is a POSIX-style shell.
fm_shebang() {
  [ "${1##*/}" = env ] && shift
  case ${1##*/} in
  sh | dash | bash | ksh | mksh | zsh | ash)
    fm_interp=$1
    shift
    fm_flags=$*
    ;;
  esac
}

# fm_exec_cli ARGS...: replaces this (background) shell by the flux-monitor CLI, in a new session when setsid
# exists so that it has no terminal. Uses the node binary and cli.js recorded at install time (GUI git clients
# have a poor PATH), else `flux-monitor` on PATH.
fm_exec_cli() {
  if [ -x "$fm_node" ] && [ -f "$fm_cli" ]; then
    set -- "$fm_node" "$fm_cli" "$@"
  elif command -v flux-monitor >/dev/null 2>&1; then
    set -- flux-monitor "$@"
  else
    echo "flux-monitor hook: cannot find flux-monitor (node '$fm_node', cli '$fm_cli'): run 'flux-monitor install' again" >&2
    return 1
  fi
  if command -v setsid >/dev/null 2>&1; then exec setsid "$@"; else exec "$@"; fi
}

# fm_listed NAME FILE: whether FILE lists NAME (lines are shell patterns, e.g. release/* or v[0-9]*).
fm_listed() {
  while IFS= read -r fm_w || [ -n "$fm_w" ]; do
    case $1 in $fm_w) return 0 ;; esac
  done <"$2"
  return 1
}

# fm_common_dir: sets fm_gd to the git common directory (where the hint caches live). git runs these hooks at the
# top of the work tree, so a ./.git directory is it, without a fork; else (linked work tree, bare repository,
# $GIT_DIR) git rev-parse says. Empty when unknown.
fm_common_dir() {
  if [ -z "${GIT_DIR:-}" ] && [ -d .git ]; then fm_gd=.git; else fm_gd=$(git rev-parse --git-common-dir 2>/dev/null) || fm_gd=; fi
}
