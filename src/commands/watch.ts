// `flux-monitor watch`: monitor a commit in the foreground, with CI-friendly exit codes.
import { EXIT_CODES, type MonitorConfig, type Verbosity } from '../core/types.js';
import { runMonitor, newSessionId } from '../engine/run.js';
import { bool, duration, list, parseArgs, str, UsageError } from './args.js';
import { createOutput } from './output.js';
import { resolveWatchTarget } from './target.js';
import type { Command } from './types.js';

const FLAGS = {
  revision: { value: true, short: 'r' },
  branch: { value: true, short: 'b' },
  'repo-url': { value: true },
  remote: { value: true },
  context: { value: true },
  kubeconfig: { value: true },
  timeout: { value: true, short: 't' },
  'poll-interval': { value: true },
  json: {},
  verbosity: { value: true },
  verbose: {},
  all: {},
  'auto-reconcile': {},
  namespace: { value: true, short: 'n', multiple: true },
  poll: {},
} as const;

export function applyFlagOverrides(config: MonitorConfig, p: ReturnType<typeof parseArgs>): MonitorConfig {
  const c = { ...config };
  const timeout = duration(p, 'timeout');
  if (timeout !== undefined) c.timeout = Math.max(1, Math.round(timeout / 1000));
  const poll = duration(p, 'poll-interval');
  if (poll !== undefined) c.polling_interval = Math.max(0.25, poll / 1000);
  const v = str(p, 'verbosity') ?? (bool(p, 'verbose') ? 'verbose' : undefined);
  if (v) {
    if (!['minimal', 'normal', 'verbose'].includes(v)) throw new UsageError(`--verbosity must be minimal, normal or verbose (got "${v}")`);
    c.verbosity = v as Verbosity;
  }
  if (bool(p, 'auto-reconcile')) c.auto_reconcile = true;
  const ns = list(p, 'namespace');
  if (ns.length) c.namespaces = ns;
  return c;
}

const watch: Command = {
  name: 'watch',
  summary: 'Follow what Flux does with a commit, in the foreground (exit 0 ready, 1 failed, 2 timeout, 3 error)',
  usage:
    'flux-monitor watch [--revision SHA] [--branch B] [--repo-url URL] [--remote NAME] [--context CTX] [--kubeconfig PATH]\n' +
    '                   [--timeout 5m] [--poll-interval 2s] [--json] [--verbosity minimal|normal|verbose] [--all]\n' +
    '                   [--auto-reconcile] [--namespace NS]... [--poll]',
  async run(argv, io) {
    const p = parseArgs(argv, FLAGS);
    if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const target = await resolveWatchTarget(io, {
      revision: str(p, 'revision'),
      branch: str(p, 'branch'),
      repoUrl: str(p, 'repo-url'),
      remote: str(p, 'remote'),
      all: bool(p, 'all'),
    });
    const config = applyFlagOverrides(target.config, p);
    const ac = new AbortController();
    const out = await createOutput(io, { json: bool(p, 'json'), verbosity: config.verbosity, showDependencies: config.show_dependencies, mode: 'watch', onQuit: () => ac.abort('stopped') });
    const onSignal = () => ac.abort('stopped');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const final = await runMonitor({
        pushed: target.pushed,
        repoUrl: target.repoUrl,
        branch: target.branch,
        remote: target.remote,
        repoPath: target.repoPath,
        subject: target.subject,
        config,
        all: bool(p, 'all'),
        kubeconfig: str(p, 'kubeconfig'),
        context: str(p, 'context'),
        sessionId: newSessionId(),
        signal: ac.signal,
        onState: (s) => out.onState(s),
        onEvent: (e) => out.onEvent(e),
        isNewerCommit: target.isNewerCommit,
        env: io.env,
        tuning: { pollOnly: bool(p, 'poll') },
      });
      await out.finish(final);
      // Errors also go to stderr, where scripts look for them (stdout may be JSON).
      if (final.verdict === 'error' && final.verdictMessage) io.stderr.write(`flux-monitor watch: ${final.verdictMessage}\n`);
      return EXIT_CODES[final.verdict ?? 'error'];
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
export default watch;
