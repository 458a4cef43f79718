// The help pages of every command, as one table: `flux-monitor help <command>`, `flux-monitor <command> --help`
// and the shell completion scripts (completion.ts) are all made from it. test/unit/help.test.ts checks that each
// page lists exactly the flags its command's parser accepts, so the pages cannot drift from the parsers.
import type { Command } from './types.js';
import { UsageError } from './args.js';

export interface FlagHelp {
  /** Long name, without the dashes. */
  name: string;
  /** Short alias, without the dash. */
  short?: string;
  /** Placeholder of the value (`SHA`); absent for a flag that takes no value. */
  value?: string;
  /** The values the flag accepts, when they are a fixed list (completed by the shells). */
  values?: readonly string[];
  /** What the shells complete the value with, when it is a path. */
  complete?: 'file' | 'directory';
  /** May be given more than once. */
  repeatable?: boolean;
  /** The default, as shown after "default:" (every flag with a value has one). */
  default?: string;
  description: string;
}

export interface ArgHelp {
  name: string;
  description: string;
  /** The values it accepts, when they are a fixed list (completed by the shells). */
  values?: readonly string[];
  /** The argument names a command of this table (completed with the visible command names). */
  commands?: boolean;
}

export interface CommandHelp {
  name: string;
  summary: string;
  usage: string;
  /** Paragraphs. */
  description: string[];
  args?: ArgHelp[];
  flags: FlagHelp[];
  examples: Array<{ comment: string; command: string }>;
  /** Codes, or a range of codes (`0–6`). */
  exitCodes: Array<{ code: number | string; meaning: string }>;
  /** Environment variables the command reads (beyond GLOBAL_ENV). */
  env?: Array<{ name: string; description: string }>;
  /** Internal commands (run by the git hooks): not listed, not completed. */
  hidden?: boolean;
}

export const VERBOSITY_VALUES = ['minimal', 'normal', 'verbose'] as const;
/** `demo --scenario` values; test/unit/help.test.ts checks them against the simulator's SCENARIOS. */
export const SCENARIO_VALUES = ['demo', 'happy', 'source-failure', 'health-check-failure', 'fail-fast', 'pipelines'] as const;
export const SHELLS = ['bash', 'zsh', 'fish'] as const;

const USAGE_ERROR = { code: 64, meaning: 'usage error: an unknown flag, a missing or malformed value (the message says which)' };

/** The verdict codes of `watch`, which `status --exit-code` and `demo --exit-code` reuse (EXIT_CODES). */
const VERDICT_CODES = [
  { code: 0, meaning: 'success: every affected object is Ready with the commit' },
  { code: 1, meaning: 'failed: something failed or stalled, or is blocked by a failure' },
  { code: 2, meaning: 'timeout: not settled within --timeout' },
  { code: 3, meaning: 'error: cluster or configuration error (unreachable, unauthorized, Flux not installed, a Flux controller not running…)' },
  { code: 4, meaning: 'superseded: a newer commit was pushed and is followed instead' },
  { code: 5, meaning: 'stopped: Ctrl-C, q, or `flux-monitor stop`' },
  { code: 6, meaning: 'blocked: nothing failed, but an object the commit needs is suspended (the message names the `flux resume …` command)' },
];

const verbosityFlag: FlagHelp = {
  name: 'verbosity',
  value: 'LEVEL',
  values: VERBOSITY_VALUES,
  default: 'normal, or `verbosity:` of the hook file',
  description: 'how much to show: minimal (failures, cluster errors and the verdict), normal, verbose (also whole messages, the blocking dependencies of waiting objects, revisions, and the Events of a diagnosis)',
};
const verboseFlag: FlagHelp = { name: 'verbose', description: 'the same as --verbosity verbose' };
const repoFlag = (what: string): FlagHelp => ({
  name: 'repo',
  value: 'PATH',
  complete: 'directory',
  default: 'the current directory',
  description: `the git repository ${what} (a work tree, or a bare repository)`,
});

export const HELP: Record<string, CommandHelp> = {
  watch: {
    name: 'watch',
    summary: "Follow what Flux does with a commit, in the foreground; exits with the verdict's code (0–6)",
    usage: 'flux-monitor watch [flags]',
    description: [
      'Follows a commit (default: HEAD) through the cluster: the GitRepositories and OCI artifacts that fetch it, the Kustomizations and HelmReleases that apply it, those that wait on them (dependsOn), until each affected object is Ready with the commit, fails, or the timeout. On a terminal it shows a live tree (keys: q quit, v more detail, a all objects); otherwise plain lines, or NDJSON events with --json.',
      'The repository URL Flux sources are matched against is that of the branch\'s upstream remote (else origin, else the only remote). Outside a repository, pass --revision with --repo-url and --branch (or --all). Flags win over the hook file (.kiro/hooks/flux-reconciliation-monitor.yaml, see docs/config.md).',
    ],
    flags: [
      { name: 'revision', short: 'r', value: 'SHA', default: 'HEAD', description: 'the commit to follow (a sha, branch or tag in a repository; a full or short sha outside one)' },
      { name: 'branch', short: 'b', value: 'B', default: 'the current branch; main outside a repository', description: 'the branch Flux follows the commit on' },
      { name: 'repo-url', value: 'URL', default: "the remote's URL", description: 'the repository URL to match Flux sources against (spec.url of your GitRepository)' },
      { name: 'remote', value: 'NAME', default: "the branch's upstream remote, else origin, else the only remote", description: 'the remote whose URL Flux follows' },
      { name: 'context', value: 'CTX', repeatable: true, default: 'the current context, or `contexts:` of the hook file', description: 'a kubeconfig context; more than once (or comma-separated) follows the commit on several clusters, the worst verdict wins' },
      { name: 'kubeconfig', value: 'PATH', complete: 'file', default: '$KUBECONFIG, else ~/.kube/config', description: 'the kubeconfig file' },
      { name: 'as', value: 'USER', default: "the kubeconfig user's `as`, else nobody", description: 'act as this user (Impersonate-User), as kubectl --as does; every request, auto_reconcile patches included' },
      { name: 'as-group', value: 'GROUP', repeatable: true, default: "the kubeconfig user's `as-groups`", description: 'act with this group (needs --as or `as` in the kubeconfig); more than once for several' },
      { name: 'as-uid', value: 'UID', default: "the kubeconfig user's `as-uid`", description: 'act with this uid (needs --as or `as` in the kubeconfig)' },
      { name: 'timeout', short: 't', value: 'DURATION', default: '5m, or `timeout:` of the hook file', description: 'give up after this long (300, 90s, 5m, 1h30m), verdict timeout (exit 2)' },
      { name: 'poll-interval', value: 'DURATION', default: '2s, or `polling_interval:` of the hook file', description: 'the polling period, when watching is not possible (at least 250ms)' },
      { name: 'json', description: 'print newline-delimited JSON events instead of the tree, for scripts and agents (docs/json-events.md)' },
      verbosityFlag,
      verboseFlag,
      { name: 'all', description: 'show every Flux object of the cluster, not only those the commit affects; without a matching source, follow them all (the verdict counts the affected objects only)' },
      { name: 'auto-reconcile', default: 'off, or `auto_reconcile:` of the hook file', description: 'ask Flux to reconcile the source at once, and dependents as soon as their dependencies are Ready with the commit, instead of waiting for their intervals' },
      { name: 'fail-fast', default: 'on, or `fail_fast:` of the hook file', description: 'end with verdict failed (exit 1) once a workload Flux waits for shows conclusive evidence (image not found, crash loop, missing ConfigMap key…) that held for `fail_fast_grace` (30s), before Flux\'s own timeout' },
      { name: 'no-fail-fast', description: 'wait for Flux\'s own verdict: such an object shows as Failing until Flux decides' },
      { name: 'fail-fast-grace', value: 'DURATION', default: '30s, or `fail_fast_grace:` of the hook file', description: 'how long the evidence must hold before the fail-fast verdict (0s to 1h)' },
      { name: 'namespace', short: 'n', value: 'NS', repeatable: true, default: 'cluster-wide, or `namespaces:` of the hook file', description: 'namespaces to read when RBAC forbids listing cluster-wide; more than once or comma-separated' },
      { name: 'poll', description: 'never open watches: poll every --poll-interval instead' },
    ],
    examples: [
      { comment: 'Follow HEAD of the current branch', command: 'flux-monitor watch' },
      { comment: 'Follow a given commit for at most ten minutes', command: 'flux-monitor watch --revision 1a2b3c4 --timeout 10m' },
      { comment: 'NDJSON events for a CI job; the exit code is the verdict', command: 'flux-monitor watch --json --verbosity minimal' },
      { comment: 'The same commit on two clusters', command: 'flux-monitor watch --context prod-eu --context prod-us' },
      { comment: 'Outside a repository', command: 'flux-monitor watch --revision 1a2b3c4d --repo-url https://github.com/acme/fleet --branch main' },
    ],
    exitCodes: [...VERDICT_CODES, USAGE_ERROR],
  },

  status: {
    name: 'status',
    summary: "Show the monitoring session of this repository's newest push (live while it runs)",
    usage: 'flux-monitor status [ID] [flags]',
    description: [
      "Shows the session of this repository's newest push: the running one, else the newest that was not superseded. On a terminal the live tree follows it as the detached monitor writes it (q only detaches; the monitor keeps running); otherwise plain lines until it ends. Without ID, following it moves on to the newer push's session when it is superseded.",
    ],
    args: [{ name: 'ID', description: 'a session id, or a unique prefix of one (see `flux-monitor history`)' }],
    flags: [
      { name: 'json', description: 'print the session once as JSON, with its liveness; `{"session": null, …}` when there is none' },
      { name: 'follow', short: 'f', description: 'with --json: print one JSON line per update until the session ends (the live view always follows)' },
      {
        name: 'timeline',
        short: 't',
        description:
          "print the push's waterfall once: one bar per object on the time axis from the push to the verdict (· waiting, = reconciling, ~ health check, ✓ ready, ✗ failed), the critical path (*) and how much of it Flux waited; with --json, the bars and the critical path (`t` in the live view)",
      },
      { name: 'exit-code', description: "exit with the verdict's code, as `watch` does (a monitor that died: 3)" },
      repoFlag('whose newest session is shown'),
      { ...verbosityFlag, default: 'that of the session, else normal' },
    ],
    examples: [
      { comment: 'The live view of the newest push', command: 'flux-monitor status' },
      { comment: 'Wait for the verdict in a script', command: 'flux-monitor status --json --follow --exit-code' },
      { comment: 'A past session, with the whole diagnosis and its Events', command: 'flux-monitor status 20260101-120000-ab12 --verbosity verbose' },
      { comment: 'Where the newest push waited, and why it took as long as it did', command: 'flux-monitor status --timeline' },
    ],
    exitCodes: [
      { code: 0, meaning: 'a session was shown' },
      { code: 1, meaning: 'no session for this repository yet' },
      { code: 3, meaning: 'unknown or unreadable session ID, or following it failed' },
      { code: '0–6', meaning: "with --exit-code: the verdict's code, as `watch` (see `flux-monitor help watch`); a dead monitor 3; a session still running when shown once 0" },
      USAGE_ERROR,
    ],
  },

  stop: {
    name: 'stop',
    summary: 'Stop the running monitoring session of this repository (or the one given by ID)',
    usage: 'flux-monitor stop [ID] [flags]',
    description: [
      'Sends SIGTERM to the detached monitor (after checking its pid and start time) and waits up to 10 s for it to record the verdict stopped. Without ID, stops the session `status` shows. A session whose monitor died is recorded as stopped.',
    ],
    args: [{ name: 'ID', description: 'a session id, or a unique prefix of one' }],
    flags: [{ name: 'all', description: 'stop every running session, of every repository' }, repoFlag('whose session is stopped')],
    examples: [
      { comment: 'Stop the monitor of the newest push here', command: 'flux-monitor stop' },
      { comment: 'Stop them all', command: 'flux-monitor stop --all' },
    ],
    exitCodes: [
      { code: 0, meaning: 'stopped, already finished, or no running session' },
      { code: 3, meaning: 'the monitor could not be signalled, did not stop within 10 s, or its session file is unreadable' },
      USAGE_ERROR,
    ],
  },

  history: {
    name: 'history',
    summary: 'List past monitoring sessions of this repository with durations and verdicts',
    usage: 'flux-monitor history [flags]',
    description: [
      'Lists the sessions of this repository, newest first: start time, duration, branch or tag, commit, result (the verdict, or running/dead) and session id; under a diagnosed failure, its first workload problem; under a session of several clusters, the verdict of each.',
    ],
    flags: [
      { name: 'all', description: 'the sessions of every repository' },
      repoFlag('whose sessions are listed'),
      { name: 'limit', short: 'n', value: 'N', default: '20', description: 'show at most N sessions' },
      { name: 'json', description: 'print the sessions as a JSON array (with --stats: the statistics as JSON)' },
      {
        name: 'stats',
        description:
          'per repository, branch and cluster: push-to-success lead time (p50/p90/max), failure rate (failed ÷ decided), time to restore (a failed push → the next successful one) and the slowest objects by median share of the critical path, from history.jsonl',
      },
      { name: 'since', value: 'DURATION', default: '30d', description: 'with --stats: the pushes of this window (30d, 12h, 90m)' },
    ],
    examples: [
      { comment: 'The last sessions here', command: 'flux-monitor history' },
      { comment: 'The last five, of every repository, as JSON', command: 'flux-monitor history --all --limit 5 --json' },
      { comment: 'Lead time, failure rate and time to restore of the last week, every repository', command: 'flux-monitor history --stats --since 7d --all' },
    ],
    exitCodes: [{ code: 0, meaning: 'listed (also when there is none)' }, { code: 3, meaning: 'git failed on the repository' }, USAGE_ERROR],
  },

  demo: {
    name: 'demo',
    summary: 'Run the monitor against an embedded simulated cluster (no cluster needed)',
    usage: 'flux-monitor demo [flags]',
    description: [
      'Starts the embedded Kubernetes API simulator, plays the Flux controllers on a scripted fleet, pushes a commit and runs the real monitor engine against it. The default scenario ends with a failure on purpose.',
    ],
    flags: [
      { name: 'scenario', value: 'NAME', values: SCENARIO_VALUES, default: 'demo', description: 'the scripted story: demo (a failure and a waiting dependency), happy, source-failure, health-check-failure (diagnosed), fail-fast (Failing at once, failed after 30 s, before Flux), pipelines (Tekton PipelineRuns)' },
      { name: 'speed', value: 'N', default: '1', description: 'play the controllers N times faster (0 < N ≤ 100)' },
      { name: 'timeout', value: 'DURATION', default: '2m', description: 'give up after this long' },
      { name: 'json', description: 'print newline-delimited JSON events instead of the tree' },
      { ...verbosityFlag, default: 'normal' },
      verboseFlag,
      { name: 'exit-code', description: "exit with the verdict's code, as `watch` does, instead of 0 for the scripted verdict" },
    ],
    examples: [
      { comment: 'The default scenario', command: 'flux-monitor demo' },
      { comment: 'A failing health check and what is behind it, fast', command: 'flux-monitor demo --scenario health-check-failure --speed 4' },
    ],
    exitCodes: [
      { code: 0, meaning: 'the scenario ended with the verdict it scripts (with --exit-code: the verdict success)' },
      { code: '1–6', meaning: 'it ended otherwise: the code of its verdict, 1 at least' },
      { code: '0–6', meaning: "with --exit-code: the verdict's code, as `watch` (see `flux-monitor help watch`)" },
      USAGE_ERROR,
    ],
  },

  install: {
    name: 'install',
    summary: 'Install the git hooks that start a monitor after each successful push',
    usage: 'flux-monitor install [flags]',
    description: [
      'Installs the pre-push and reference-transaction hooks (git 2.28 or newer) in the directory git runs hooks from (core.hooksPath is honoured: husky, lefthook). An existing hook is chained, not replaced: it is renamed to <hook>.flux-monitor-chained and runs first. Running it again changes nothing, or updates only our wrappers. Works in a work tree and in a bare repository (its own hooks, for pushes made from it). See docs/hooks.md.',
    ],
    flags: [
      repoFlag('to install the hooks in'),
      { name: 'force', description: 'when another tool replaced our hook with a different one than the hook already chained, chain the current one and drop the older copy' },
    ],
    examples: [
      { comment: 'In the repository you push from', command: 'flux-monitor install' },
      { comment: 'A bare clone that pushes to the server', command: 'flux-monitor install --repo ~/mirrors/fleet.git' },
    ],
    exitCodes: [
      { code: 0, meaning: 'installed, updated or already installed' },
      { code: 1, meaning: 'a hook was left alone: it is not ours and differs from the one already chained (see --force)' },
      { code: 3, meaning: 'not a git repository, git older than 2.28, or flux-monitor is not built' },
      USAGE_ERROR,
    ],
  },

  uninstall: {
    name: 'uninstall',
    summary: 'Remove the git hooks and put back the hooks they chained',
    usage: 'flux-monitor uninstall [flags]',
    description: ['Removes our hooks and renames the hooks they chained back, so that the hooks directory is byte for byte what it was. Past sessions are kept.'],
    flags: [repoFlag('to remove the hooks from')],
    examples: [{ comment: 'Remove the hooks of this repository', command: 'flux-monitor uninstall' }],
    exitCodes: [{ code: 0, meaning: 'removed (or not installed)' }, { code: 3, meaning: 'not a git repository' }, USAGE_ERROR],
  },

  mcp: {
    name: 'mcp',
    summary: 'Serve the Model Context Protocol over stdio for agents (tools watch_commit, get_session, list_history)',
    usage: 'flux-monitor mcp [flags]',
    description: [
      'An MCP server on stdin/stdout for agents (Kiro, other MCP clients): watch_commit follows a commit to its verdict with progress notifications, get_session reads the running or most recent session, list_history lists past ones; each answers with the JSON of `watch --json`, `status --json` and `history --json`. What the tools may touch (repositories, kubeconfig, contexts, writes) is decided by these flags when it starts, not by the caller. See docs/mcp.md.',
    ],
    flags: [
      {
        name: 'repo',
        value: 'PATH',
        complete: 'directory',
        repeatable: true,
        default: "the client's workspace root, else the current directory",
        description: 'a repository tool calls may name (the first is the default); calls naming another directory are refused',
      },
      { name: 'kubeconfig', value: 'PATH', complete: 'file', default: '$KUBECONFIG, else ~/.kube/config', description: 'the kubeconfig the tools use' },
      { name: 'context', value: 'CTX', repeatable: true, default: 'any context of the kubeconfig', description: 'a kubeconfig context tool calls may name; others are refused' },
      { name: 'read-only', description: 'write nothing to the cluster: watch_commit refuses autoReconcile and ignores auto_reconcile of the hook file' },
    ],
    examples: [
      { comment: 'Register it in an MCP client configuration', command: '{"command": "flux-monitor", "args": ["mcp"]}' },
      { comment: 'Only this repository and cluster, reading only', command: 'flux-monitor mcp --repo ~/src/fleet --context prod-eu --read-only' },
    ],
    exitCodes: [{ code: 0, meaning: 'the client closed the connection' }, { code: 3, meaning: 'the server could not run' }, USAGE_ERROR],
  },

  version: {
    name: 'version',
    summary: 'Print the version of flux-monitor',
    usage: 'flux-monitor version',
    description: ['Prints the version of flux-monitor (also `flux-monitor --version`, `-v`).'],
    flags: [],
    examples: [{ comment: 'The version', command: 'flux-monitor version' }],
    exitCodes: [{ code: 0, meaning: 'printed' }],
  },

  help: {
    name: 'help',
    summary: 'Show the help of a command',
    usage: 'flux-monitor help [COMMAND]',
    description: ['Shows the help page of a command (the same as `flux-monitor COMMAND --help`), or the list of commands.'],
    args: [{ name: 'COMMAND', description: 'a command', commands: true }],
    flags: [],
    examples: [{ comment: 'The flags and exit codes of watch', command: 'flux-monitor help watch' }],
    exitCodes: [{ code: 0, meaning: 'shown' }, { code: 64, meaning: 'unknown command' }],
  },

  completion: {
    name: 'completion',
    summary: 'Print the shell completion script for bash, zsh or fish',
    usage: 'flux-monitor completion bash|zsh|fish',
    description: ['Prints a script that completes the commands of flux-monitor, their flags and the values of flags with a fixed list (--verbosity, --scenario). Load it in your shell as in the examples.'],
    args: [{ name: 'SHELL', description: 'bash, zsh or fish', values: SHELLS }],
    flags: [],
    examples: [
      { comment: 'bash, this session', command: 'source <(flux-monitor completion bash)' },
      { comment: 'bash, for good', command: 'flux-monitor completion bash > ~/.local/share/bash-completion/completions/flux-monitor' },
      { comment: 'zsh (a directory of your $fpath, before compinit)', command: 'flux-monitor completion zsh > "${fpath[1]}/_flux-monitor"' },
      { comment: 'fish', command: 'flux-monitor completion fish > ~/.config/fish/completions/flux-monitor.fish' },
    ],
    exitCodes: [{ code: 0, meaning: 'printed' }, { code: 64, meaning: 'unknown or missing shell' }],
  },

  hook: {
    name: 'hook',
    summary: 'Internal: work done for the git hooks',
    usage: 'flux-monitor hook push-done INTENT_FILE',
    description: ['Run by the installed pre-push hook once `git push` has exited: decides which updates reached the remote and starts their monitors (docs/hooks.md). Logs to <state>/hooks.log.'],
    args: [{ name: 'INTENT_FILE', description: 'the intent the pre-push hook recorded' }],
    flags: [],
    examples: [],
    exitCodes: [{ code: 0, meaning: 'done' }, { code: 3, meaning: 'failed (logged)' }, USAGE_ERROR],
    hidden: true,
  },

  'run-session': {
    name: 'run-session',
    summary: 'Internal: the detached monitor of one push',
    usage: 'flux-monitor run-session --id ID --repo PATH (--branch B | --tag T) --sha SHA --pushed-at MS [flags]',
    description: ['Started detached by `hook push-done`, one per pushed branch or followed tag; writes its session to the state directory (docs/sessions.md).'],
    flags: [
      { name: 'id', value: 'ID', default: 'required', description: 'the session id' },
      { name: 'repo', value: 'PATH', default: 'required', description: 'the repository pushed from' },
      { name: 'branch', value: 'B', default: 'required, or --tag', description: 'the pushed branch' },
      { name: 'tag', value: 'T', default: 'required, or --branch', description: 'the pushed tag' },
      { name: 'sha', value: 'SHA', default: 'required', description: 'the full sha of the commit to follow' },
      { name: 'pushed-at', value: 'MS', default: 'required', description: 'when it was pushed, in ms since the epoch' },
      { name: 'remote', value: 'NAME', default: 'none (a push to a URL)', description: 'the remote pushed to' },
      { name: 'url', value: 'URL', default: 'none', description: 'the URL pushed to' },
      { name: 'kubeconfig', value: 'PATH', default: '$KUBECONFIG', description: 'the kubeconfig file' },
      { name: 'context', value: 'NAME', repeatable: true, default: '`contexts:` of the hook file, else the current context', description: 'a kubeconfig context' },
    ],
    examples: [],
    exitCodes: [...VERDICT_CODES, USAGE_ERROR],
    hidden: true,
  },
};

/** Environment variables every command reads. */
export const GLOBAL_ENV: Array<{ name: string; description: string }> = [
  { name: 'KUBECONFIG', description: 'the kubeconfig file(s) to use (default ~/.kube/config)' },
  { name: 'FLUX_SYSTEM_NAMESPACE', description: "Flux's namespace, where its controllers run (default flux-system)" },
  { name: 'XDG_STATE_HOME', description: 'sessions and hooks.log go to $XDG_STATE_HOME/flux-monitor (default ~/.local/state/flux-monitor)' },
  { name: 'NO_COLOR', description: 'set (non-empty): no colours; FORCE_COLOR=0 too' },
  { name: 'CI', description: 'set: plain output instead of the live view, no desktop notification (TERM=dumb: plain output too)' },
  { name: 'FLUX_MONITOR_DEBUG', description: 'set (non-empty): print the stack trace of an unexpected error after its one-line message' },
];

/** Commands shown in the top-level usage, in this order. */
export function visibleCommands(): CommandHelp[] {
  return Object.values(HELP).filter((c) => !c.hidden);
}

const WIDTH = 100;

/** Wraps `text` to WIDTH columns, each line prefixed with `indent` (the first with `first`, if given). */
function wrap(text: string, indent: string, first = indent): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = indent + word;
    } else {
      line += (empty ? '' : ' ') + word;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}

/** `-r, --revision SHA` */
export function flagLabel(f: FlagHelp): string {
  return `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.value ? ` ${f.value}` : ''}`;
}

function flagText(f: FlagHelp): string {
  const extras = [
    f.values ? `one of ${f.values.join(', ')}` : undefined,
    f.repeatable ? 'repeatable' : undefined,
    f.default !== undefined ? `default: ${f.default}` : undefined,
  ].filter(Boolean);
  return f.description + (extras.length ? ` (${extras.join('; ')})` : '');
}

/** Rows of a two-column list: the left column padded, the right one wrapped under itself. */
function columns(rows: Array<[string, string]>): string[] {
  const left = Math.min(30, Math.max(...rows.map(([l]) => l.length)));
  const out: string[] = [];
  for (const [l, r] of rows) {
    const pad = ' '.repeat(2 + left + 2);
    if (l.length > left) {
      out.push(`  ${l}`);
      out.push(...wrap(r, pad));
    } else out.push(...wrap(r, pad, `  ${l.padEnd(left)}  `));
  }
  return out;
}

/** The help page of a command. */
export function renderHelp(name: string): string {
  const c = HELP[name];
  if (!c) throw new UsageError(`unknown command "${name}"`);
  const out: string[] = [...wrap(c.summary + '.', '')];
  for (const p of c.description) out.push('', ...wrap(p, ''));
  out.push('', 'Usage:', `  ${c.usage}`);
  if (c.args?.length) out.push('', 'Arguments:', ...columns(c.args.map((a) => [a.name, a.description + (a.values ? ` (one of ${a.values.join(', ')})` : '')])));
  if (c.examples.length) {
    out.push('', 'Examples:');
    c.examples.forEach((e, i) => out.push(...(i ? [''] : []), `  # ${e.comment}`, `  ${e.command}`));
  }
  out.push('', 'Flags:', ...columns([...c.flags.map((f): [string, string] => [flagLabel(f), flagText(f)]), ['-h, --help', `help for ${c.name}`]]));
  out.push('', 'Exit codes:', ...columns(c.exitCodes.map((e) => [String(e.code), e.meaning])));
  const env = [...(c.env ?? []), ...GLOBAL_ENV];
  out.push('', 'Environment:', ...columns(env.map((e) => [e.name, e.description])));
  return out.join('\n') + '\n';
}

/** The top-level usage: what flux-monitor does and its commands. */
export function renderUsage(): string {
  const cmds = visibleCommands();
  const out = [
    'flux-monitor: follow what Flux does with the commit you just pushed.',
    '',
    'Usage:',
    '  flux-monitor <command> [flags]',
    '',
    'Commands:',
    ...columns(cmds.map((c) => [c.name, c.summary])),
    '',
    'Flags:',
    ...columns([
      ['-h, --help', 'help for flux-monitor (`flux-monitor <command> --help`: for a command)'],
      ['-v, --version', 'print the version'],
    ]),
    '',
    'Exit codes (watch; status and demo with --exit-code):',
    ...columns([...VERDICT_CODES, USAGE_ERROR].map((e) => [String(e.code), e.meaning])),
    '',
    'Environment:',
    ...columns(GLOBAL_ENV.map((e) => [e.name, e.description])),
    '',
    'Run `flux-monitor help <command>` (or `flux-monitor <command> --help`) for its flags, examples and exit codes.',
    'Shell completion: `flux-monitor completion bash|zsh|fish` (see `flux-monitor help completion`).',
  ];
  return out.join('\n') + '\n';
}

const help: Command = {
  name: 'help',
  summary: HELP.help!.summary,
  usage: HELP.help!.usage,
  async run(argv, io) {
    const names = argv.filter((a) => a !== '--help' && a !== '-h');
    if (names.length > 1) throw new UsageError('at most one command');
    const [name] = names;
    if (name === undefined) {
      io.stdout.write(renderUsage());
      return 0;
    }
    if (name.startsWith('-')) throw new UsageError(`unknown flag ${name}`);
    if (!HELP[name]) {
      io.stderr.write(`flux-monitor help: unknown command "${name}" (commands: ${visibleCommands().map((c) => c.name).join(', ')})\n`);
      return 64;
    }
    io.stdout.write(renderHelp(name));
    return 0;
  },
};
export default help;
