// `flux-monitor watch`: monitor a commit in the foreground, with CI-friendly exit codes.
import { EXIT_CODES, type MonitorConfig, type Verbosity } from '../core/types.js';
import type { RunOptions } from '../engine/run.js';
import { newSessionId } from '../core/ids.js';
import type { ImpersonationOverride } from '../cluster/kubeconfig.js';
import { bool, duration, list, parseArgs, str, UsageError, type ParsedArgs } from './args.js';
import { createOutput } from './output.js';
import { resolveWatchTarget } from './target.js';
import type { Command, CommandIO } from './types.js';

export const WATCH_FLAGS = {
  revision: { value: true, short: 'r' },
  branch: { value: true, short: 'b' },
  'repo-url': { value: true },
  remote: { value: true },
  context: { value: true, multiple: true },
  kubeconfig: { value: true },
  as: { value: true },
  'as-group': { value: true, multiple: true },
  'as-uid': { value: true },
  timeout: { value: true, short: 't' },
  'poll-interval': { value: true },
  json: {},
  verbosity: { value: true },
  verbose: {},
  all: {},
  'auto-reconcile': {},
  'fail-fast': {},
  'no-fail-fast': {},
  'fail-fast-grace': { value: true },
  namespace: { value: true, short: 'n', multiple: true },
  poll: {},
} as const;

export function applyFlagOverrides(config: MonitorConfig, p: ParsedArgs): MonitorConfig {
  const c = { ...config };
  // The limits of the hook file's `timeout` and `polling_interval` (DURATION_LIMITS): out of range is an error,
  // never silently changed.
  const timeout = duration(p, 'timeout', 'timeout');
  if (timeout !== undefined) c.timeout = timeout / 1000;
  const poll = duration(p, 'poll-interval', 'polling_interval');
  if (poll !== undefined) c.polling_interval = poll / 1000;
  const v = str(p, 'verbosity') ?? (bool(p, 'verbose') ? 'verbose' : undefined);
  if (v) {
    if (!['minimal', 'normal', 'verbose'].includes(v)) throw new UsageError(`--verbosity must be minimal, normal or verbose (got "${v}")`);
    c.verbosity = v as Verbosity;
  }
  if (bool(p, 'auto-reconcile')) c.auto_reconcile = true;
  if (bool(p, 'fail-fast') && bool(p, 'no-fail-fast')) throw new UsageError('--fail-fast and --no-fail-fast contradict each other: give one');
  if (bool(p, 'fail-fast')) c.fail_fast = true;
  if (bool(p, 'no-fail-fast')) c.fail_fast = false;
  const grace = duration(p, 'fail-fast-grace', 'fail_fast_grace');
  if (grace !== undefined) c.fail_fast_grace = grace / 1000;
  const ns = list(p, 'namespace');
  if (ns.length) c.namespaces = ns;
  return c;
}

/** What `watch` runs, from its flags: the engine options, less the output callbacks and the abort signal. */
export type WatchRun = Omit<RunOptions, 'signal' | 'onState' | 'onEvent'>;

/**
 * Resolves the flags of `watch` (parsed with WATCH_FLAGS) against the repository in `io.cwd`: the commit, branch,
 * repository URL and hook configuration, with the flag overrides. Shared by `watch` and the MCP tool watch_commit.
 */
/** kubectl's --as, --as-group (repeatable) and --as-uid: each given one replaces the kubeconfig's. */
function impersonation(p: ParsedArgs): { impersonate?: ImpersonationOverride } {
  const user = str(p, 'as');
  const uid = str(p, 'as-uid');
  const groups = list(p, 'as-group');
  if (!user && !uid && !groups.length) return {};
  return { impersonate: { ...(user ? { user } : {}), ...(uid ? { uid } : {}), ...(groups.length ? { groups } : {}) } };
}

export async function prepareWatch(io: CommandIO, p: ParsedArgs): Promise<WatchRun> {
  const target = await resolveWatchTarget(io, {
    revision: str(p, 'revision'),
    branch: str(p, 'branch'),
    repoUrl: str(p, 'repo-url'),
    remote: str(p, 'remote'),
    all: bool(p, 'all'),
  });
  return {
    ...target,
    config: applyFlagOverrides(target.config, p),
    all: bool(p, 'all'),
    kubeconfig: str(p, 'kubeconfig'),
    ...impersonation(p),
    // --context may be given more than once (or as a comma-separated list): one subtree per cluster.
    contexts: list(p, 'context'),
    sessionId: newSessionId(),
    env: io.env,
    tuning: { pollOnly: bool(p, 'poll') },
  };
}

/** Whether stdout (not JSON) and stderr are both a terminal: what the view prints, the user has already read. */
export function sameTerminal(io: Pick<CommandIO, 'stdout' | 'stderr'>, json: boolean): boolean {
  return !json && (io.stdout as { isTTY?: boolean }).isTTY === true && (io.stderr as { isTTY?: boolean }).isTTY === true;
}

const watch: Command = {
  name: 'watch',
  summary: 'Follow what Flux does with a commit, in the foreground (exit 0 ready, 1 failed, 2 timeout, 3 error)',
  usage:
    'flux-monitor watch [--revision SHA] [--branch B] [--repo-url URL] [--remote NAME] [--context CTX]... [--kubeconfig PATH]\n' +
    '                   [--timeout 5m] [--poll-interval 2s] [--json] [--verbosity minimal|normal|verbose] [--all]\n' +
    '                   [--auto-reconcile] [--namespace NS]... [--poll]',
  async run(argv, io) {
    const p = parseArgs(argv, WATCH_FLAGS);
    if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const run = await prepareWatch(io, p);
    const { config } = run;
    const ac = new AbortController();
    const out = await createOutput(io, { json: bool(p, 'json'), verbosity: config.verbosity, showDependencies: config.show_dependencies, mode: 'watch', onQuit: () => ac.abort('stopped') });
    const onSignal = () => ac.abort('stopped');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      // The engine is loaded only once the flags and the repository are known to be right.
      const { runMonitor } = await import('../engine/run.js');
      const final = await runMonitor({
        ...run,
        signal: ac.signal,
        onState: out.onState && ((s) => out.onState!(s)),
        onEvent: (e) => out.onEvent(e),
      });
      await out.finish(final);
      // Errors also go to stderr, where scripts look for them (stdout may be JSON), unless both are the terminal
      // the view has just said it on: said once.
      if (final.verdict === 'error' && final.verdictMessage && !sameTerminal(io, bool(p, 'json'))) io.stderr.write(`flux-monitor watch: ${final.verdictMessage}\n`);
      // Once the verdict is printed: the OpenTelemetry export when the environment names an endpoint (bounded,
      // docs/config.md#opentelemetry); a failure is one warning on stderr, the exit code stays the verdict's.
      const { exportSession } = await import('../session/otel.js');
      const exported = await exportSession(final, { env: io.env, config }).catch((err: unknown) => ({ warning: `OpenTelemetry export: ${(err as Error).message}` }));
      if (exported?.warning) io.stderr.write(`flux-monitor watch: warning: ${exported.warning}\n`);
      return EXIT_CODES[final.verdict ?? 'error'];
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
export default watch;
