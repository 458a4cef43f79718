# flux-monitor: the part shared by the git hooks. `flux-monitor install` inlines this file into each hook it
# installs, so an installed hook depends on nothing but /bin/sh (see docs/hooks.md).

# Per-user state directory, by the rule src/session/paths.ts applies too: $XDG_STATE_HOME/flux-monitor when
# XDG_STATE_HOME is an absolute path, else $HOME/.local/state/flux-monitor when HOME is one, else none (empty): the
# hooks then do nothing at all (no shared fallback such as /tmp, where another user could prepare the directory).
fm_state=${XDG_STATE_HOME:-}
case $fm_state in
/*) fm_state=$fm_state/flux-monitor ;;
*) case ${HOME:-} in /*) fm_state=$HOME/.local/state/flux-monitor ;; *) fm_state= ;; esac ;;
esac
fm_log=$fm_state/hooks.log

# fm_state_ok: whether the state directory may be used; creates it (0700 under the hooks' umask) when missing.
# One owned by another user, or that group or others may write to, is refused: whoever can write there could
# plant an intent, or a symlink that the hooks would write through. The ownership test is a builtin; the mode
# needs one `find`, run only when the directory existed before (a directory just made by mkdir under umask 077
# is private). `find` printing nothing (bad mode, or find failing) refuses.
fm_state_ok() {
  [ -n "$fm_state" ] || return 1
  if [ -d "$fm_state" ]; then
    [ -O "$fm_state" ] || return 1
    [ -n "$(find -H "$fm_state" -prune ! -perm -020 ! -perm -002 -print 2>/dev/null)" ]
  else
    mkdir -p "$fm_state" 2>/dev/null && [ -O "$fm_state" ]
  fi
}

# fm_redact URL: sets fm_r to URL without its secrets, as redactUrl in src/core/giturl.ts does:
# scheme://user:password@host/… → scheme://user:***@host/…, scheme://token@host/… → scheme://***@host/… (an ssh
# user alone is kept: ssh://git@host/…), and every query value → ***. The userinfo runs to the last `@` before
# the first `/`, so a password holding `@` is hidden whole. Anything that is not scheme://… is kept as it is.
fm_redact() {
  fm_r=$1
  case $1 in [A-Za-z]*://*) ;; *) return 0 ;; esac
  fm_scheme=${1%%://*} fm_rest=${1#*://}
  fm_auth=${fm_rest%%/*}
  case $fm_auth in
  *@*)
    fm_user=${fm_auth%@*}
    fm_rest=${fm_rest#"$fm_user"}
    case $fm_user in
    *:*) fm_user="${fm_user%%:*}:***" ;;
    *) case $fm_scheme in [Ss][Ss][Hh] | [Gg][Ii][Tt]+[Ss][Ss][Hh] | [Ss][Ss][Hh]+[Gg][Ii][Tt]) ;; *) fm_user='***' ;; esac ;;
    esac
    fm_r=$fm_scheme://$fm_user$fm_rest
    ;;
  esac
  case $fm_r in
  *\?*)
    fm_q=${fm_r#*\?} fm_r=${fm_r%%\?*} fm_sep='?'
    fm_frag=
    case $fm_q in *\#*) fm_frag=#${fm_q#*\#} fm_q=${fm_q%%\#*} ;; esac
    fm_ifs=$IFS
    IFS='&'
    set -f
    for fm_p in $fm_q; do
      case $fm_p in *=*) fm_p="${fm_p%%=*}=***" ;; ?*) fm_p='***' ;; esac
      fm_r=$fm_r$fm_sep$fm_p fm_sep='&'
    done
    set +f
    IFS=$fm_ifs
    fm_r=$fm_r$fm_frag
    ;;
  esac
}

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

# fm_close_fds: in the background helper, closes every file descriptor above 2 inherited from git and from
# whoever ran it: `{ git push 240>&1 >/dev/null 2>&1; } | cat` must end when git does, not when the monitor it
# starts does. 3 to 9 are closed here (a builtin). A higher one can be named in a redirection by bash, zsh and
# ksh but not by dash: this shell closes those it can and leaves the others in $fm_high for fm_exec_cli. Listing
# them globs /proc/self/fd (Linux) or /dev/fd (macOS, BSD): no fork. Skipped in the listing: a descriptor already
# gone (the glob's own) and the one this shell reads the hook from (close-on-exec: not passed on).
fm_close_fds() {
  exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
  fm_high=
  if [ -d /proc/self/fd ]; then set -- /proc/self/fd/*; else set -- /dev/fd/*; fi
  for fm_f in "$@"; do
    fm_n=${fm_f##*/}
    case $fm_n in '' | ? | *[!0-9]*) continue ;; esac
    [ -e "$fm_f" ] && [ ! "$fm_f" -ef "$0" ] || continue
    if [ -n "${BASH_VERSION:-}${ZSH_VERSION:-}${KSH_VERSION:-}" ]; then
      eval "exec $fm_n>&-"
    else
      fm_high="$fm_high${fm_high:+ }$fm_n"
    fi
  done
}

# fm_exec_cli GIT_PID ARGS...: waits for the git process GIT_PID to exit, then replaces this (background) shell by
# the flux-monitor CLI, in a new session when setsid exists so that it has no terminal. Uses the node binary and
# cli.js recorded at install time (GUI git clients have a poor PATH), else `flux-monitor` on PATH. Descriptors
# fm_close_fds could not close ($fm_high): bash, when there is one, closes them and then waits and starts the CLI
# (a few ms of CPU, in the background); else the CLI closes them first thing (FLUX_MONITOR_CLOSE_FDS,
# src/session/spawn.ts). FLUX_MONITOR_CLOSE_FDS, even empty, also tells the CLI it runs as the hook helper.
fm_exec_cli() {
  fm_wait=$1
  shift
  if [ -x "$fm_node" ] && [ -f "$fm_cli" ]; then
    set -- "$fm_node" "$fm_cli" "$@"
  elif command -v flux-monitor >/dev/null 2>&1; then
    set -- flux-monitor "$@"
  else
    echo "flux-monitor hook: cannot find flux-monitor (node '$fm_node', cli '$fm_cli'): run 'flux-monitor install' again" >&2
    return 1
  fi
  command -v setsid >/dev/null 2>&1 && set -- setsid "$@"
  FLUX_MONITOR_CLOSE_FDS=${fm_high:-}
  export FLUX_MONITOR_CLOSE_FDS
  if [ -n "${fm_high:-}" ] && command -v bash >/dev/null 2>&1; then
    # shellcheck disable=SC2016
    exec bash -c 'for fm_n in $1; do eval "exec $fm_n>&-"; done
FLUX_MONITOR_CLOSE_FDS=
fm_git=$2
shift 2
tail -s 0.01 --pid="$fm_git" -f /dev/null 2>/dev/null || while kill -0 "$fm_git" 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; done
exec "$@"' flux-monitor-hook "$fm_high" "$fm_wait" "$@"
  fi
  # GNU tail wakes within 10 ms of git exiting (the sleep loop: up to 100 ms); elsewhere the loop.
  tail -s 0.01 --pid="$fm_wait" -f /dev/null 2>/dev/null || while kill -0 "$fm_wait" 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; done
  exec "$@"
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
