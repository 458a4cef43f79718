// Entry point of the engine for commands and the detached monitor: kubeconfig → client → Monitor.
import { newSessionId } from '../core/ids.js';
import { clusterVerdicts, mergeClusters, type MergeMemo } from '../core/clusters.js';
import { deepFreeze, type MonitorConfig, type MonitorEvent, type PushedRevision, type SessionState } from '../core/types.js';
import { ClusterClient, loadKubeConfig } from '../cluster/client.js';
import type { ImpersonationOverride } from '../cluster/kubeconfig.js';
import { categorize } from '../cluster/errors.js';
import { pushSessionState } from '../core/session.js';
import { summaryEvent } from '../core/events.js';
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
  /** Whom to act as (`watch --as/--as-group/--as-uid`), over the kubeconfig's `as*` fields, as kubectl does. */
  impersonate?: ImpersonationOverride;
  /** The kubeconfig context (default: config.contexts, else the current context). */
  context?: string;
  /**
   * Several contexts: the commit is followed on each cluster (one Monitor per context) and the session merges
   * them (src/core/clusters.ts). Wins over `context` and config.contexts. One context is the same as `context`.
   */
  contexts?: string[];
  sessionId?: string;
  /** Abort with reason 'superseded' → verdict superseded; any other reason → stopped. */
  signal?: AbortSignal;
  onState?: (s: SessionState) => void;
  onEvent?: (e: MonitorEvent) => void;
  relateCommit?: MonitorOptions['relateCommit'];
  env?: NodeJS.ProcessEnv;
  tuning?: MonitorOptions['tuning'];
  /** Receives the client once created (benches read its request counters). */
  onClient?: (c: ClusterClient) => void;
}

/** Session ids (core/ids.ts), re-exported for the commands that run the engine anyway. */
export { newSessionId };

/** The state of a session of `opts` before anything is known of the cluster (URL credentials removed). */
function initialState(opts: RunOptions, id: string, now: number, context?: string): SessionState {
  return pushSessionState({ ...opts, id }, { context, timeoutMs: opts.config.timeout * 1000, now });
}

/** The contexts a session follows: `contexts`, else `context`, else config.contexts; empty = the current context. */
export function followedContexts(opts: Pick<RunOptions, 'contexts' | 'context' | 'config'>): string[] {
  const list = opts.contexts?.length ? opts.contexts : opts.context ? [opts.context] : opts.config.contexts;
  return [...new Set(list)];
}

/**
 * Runs one monitoring session to its end. Never rejects: configuration and cluster errors end as verdict
 * `error`. With several contexts, runs one monitor per cluster (runClusters).
 */
export async function runMonitor(opts: RunOptions): Promise<SessionState> {
  const contexts = followedContexts(opts);
  if (contexts.length > 1) return runClusters(opts, contexts);
  return runOne({ ...opts, context: contexts[0] });
}

/**
 * The session of several clusters: one Monitor per context, each with its own client, run side by side. An
 * error of one (a kubeconfig without the context, an unreachable or forbidden cluster) ends that cluster with
 * verdict `error` and leaves the others running. Each cluster's events go out with `cluster` set; every state
 * change publishes the merged state; the session ends when every cluster has a verdict, with the worst of them
 * and one overall summary event (with `clusters`).
 */
export async function runClusters(opts: RunOptions, contexts: string[]): Promise<SessionState> {
  const id = opts.sessionId ?? newSessionId();
  const now = Date.now();
  const base = initialState(opts, id, now);
  const latest = new Map<string, SessionState>();
  const memo: MergeMemo = new Map();
  // A new merged state each time, never changed afterwards, like each cluster's (deep-frozen in the tests' debug mode).
  const freeze = process.env.FLUX_MONITOR_FREEZE_STATES === '1';
  const merged = () => {
    const m = mergeClusters(base, contexts.map((context) => ({ context, state: latest.get(context) })), memo);
    return freeze ? deepFreeze(m) : m;
  };
  await Promise.all(
    contexts.map((context) =>
      runOne({
        ...opts,
        context,
        contexts: undefined,
        sessionId: id,
        onState: (s) => {
          latest.set(context, s);
          opts.onState?.(merged());
        },
        onEvent: (e) => opts.onEvent?.({ ...e, cluster: context }),
      }).then((s) => {
        latest.set(context, s);
        return s;
      }),
    ),
  );
  const final = merged();
  opts.onState?.(final);
  opts.onEvent?.(summaryEvent(final, { clusterOf: (n) => n.cluster, clusters: clusterVerdicts(final) }));
  return final;
}

/** One monitor on one cluster. */
async function runOne(opts: RunOptions): Promise<SessionState> {
  const id = opts.sessionId ?? newSessionId();
  let client: ClusterClient;
  try {
    client = new ClusterClient(loadKubeConfig({ kubeconfig: opts.kubeconfig, context: opts.context, env: opts.env, impersonate: opts.impersonate }));
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
    relateCommit: opts.relateCommit,
    tuning: opts.tuning,
  });
  return monitor.run();
}

/** The final state of a session that could not even start (bad kubeconfig, unknown context). */
function failedBeforeStart(id: string, opts: RunOptions, err: unknown): SessionState {
  const info = categorize(err);
  const now = Date.now();
  const state: SessionState = {
    ...initialState(opts, id, now, opts.context),
    endedAt: now,
    status: 'finished',
    verdict: 'error',
    verdictMessage: `${info.message}. ${info.hint}`,
    error: info,
  };
  const time = new Date(now).toISOString();
  opts.onEvent?.({ type: 'error', time, session: id, recovered: false, ...info });
  opts.onState?.(state);
  opts.onEvent?.(summaryEvent(state, { time: now }));
  return state;
}
