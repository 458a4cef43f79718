// Entry point of the engine for commands and the detached monitor: kubeconfig → client → Monitor.
import { randomUUID } from 'node:crypto';
import { newSessionState, type MonitorConfig, type MonitorEvent, type PushedRevision, type SessionState } from '../core/types.js';
import { ClusterClient, loadKubeConfig } from '../cluster/client.js';
import { categorize } from '../cluster/errors.js';
import { redactUrl } from '../core/giturl.js';
import { Monitor, type MonitorOptions } from './monitor.js';

export interface RunOptions {
  pushed: PushedRevision;
  /** Remote URL of the pushed repository (any form; normalised when matching, redacted for display). */
  repoUrl?: string;
  branch?: string;
  remote?: string;
  repoPath?: string;
  subject?: string;
  config: MonitorConfig;
  all?: boolean;
  /** Path of the kubeconfig (default $KUBECONFIG, then ~/.kube/config). */
  kubeconfig?: string;
  context?: string;
  sessionId?: string;
  /** Abort with reason 'superseded' → verdict superseded; any other reason → stopped. */
  signal?: AbortSignal;
  onState?: (s: SessionState) => void;
  onEvent?: (e: MonitorEvent) => void;
  isNewerCommit?: (sha: string) => Promise<boolean>;
  env?: NodeJS.ProcessEnv;
  tuning?: MonitorOptions['tuning'];
  /** Receives the client once created (benches read its request counters). */
  onClient?: (c: ClusterClient) => void;
}

export function newSessionId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${stamp}-${randomUUID().slice(0, 8)}`;
}

/** Runs one monitoring session to its end. Never rejects: configuration and cluster errors end as verdict `error`. */
export async function runMonitor(opts: RunOptions): Promise<SessionState> {
  const id = opts.sessionId ?? newSessionId();
  let client: ClusterClient;
  try {
    client = new ClusterClient(loadKubeConfig({ kubeconfig: opts.kubeconfig, context: opts.context, env: opts.env }));
  } catch (err) {
    return failedBeforeStart(id, opts, err);
  }
  opts.onClient?.(client);
  const monitor = new Monitor({
    client,
    pushed: opts.pushed,
    target: { repoUrl: opts.repoUrl, branch: opts.branch, tag: opts.pushed.tag },
    config: opts.config,
    sessionId: id,
    all: opts.all,
    info: { repoPath: opts.repoPath, remote: opts.remote, subject: opts.subject },
    signal: opts.signal,
    onState: opts.onState,
    onEvent: opts.onEvent,
    isNewerCommit: opts.isNewerCommit,
    tuning: opts.tuning,
  });
  return monitor.run();
}

/** The final state of a session that could not even start (bad kubeconfig, unknown context). */
function failedBeforeStart(id: string, opts: RunOptions, err: unknown): SessionState {
  const info = categorize(err);
  const now = Date.now();
  const state: SessionState = {
    ...newSessionState(
      { id, sha: opts.pushed.sha, subject: opts.subject, tag: opts.pushed.tag, repoPath: opts.repoPath, repoUrl: opts.repoUrl, remote: opts.remote, branch: opts.branch, context: opts.context, timeoutMs: opts.config.timeout * 1000, now },
      redactUrl,
    ),
    endedAt: now,
    status: 'finished',
    verdict: 'error',
    verdictMessage: `${info.message}. ${info.hint}`,
    error: info,
  };
  const time = new Date(now).toISOString();
  opts.onEvent?.({ type: 'error', time, session: id, recovered: false, ...info });
  opts.onState?.(state);
  opts.onEvent?.({
    type: 'summary',
    time,
    session: id,
    verdict: 'error',
    exitCode: 3,
    message: state.verdictMessage!,
    durationMs: 0,
    counts: { ready: 0, progressing: 0, waiting: 0, failed: 0, pending: 0, suspended: 0, superseded: 0, unknown: 0, blocked: 0 },
    objects: [],
  });
  return state;
}
