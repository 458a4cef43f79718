// The events of `--json` (docs/json-events.md) and the one builder of the `summary` event that the engine, the
// several-cluster merge and the sessions that end before they start all use. Pure: no I/O.
import { countKey, countPhases, EXIT_CODES, type Diagnosis, type FailingInfo, type NodeState, type Phase, type PhaseCounts, type SessionState, type Verdict } from './types.js';
import type { CategorizedError } from './types.js';
import type { WaitEvent } from './waits.js';

/**
 * Newline-delimited JSON events of `--json` (schema documented in docs/json-events.md). When a session follows
 * several clusters, each cluster's events carry `cluster` (its context; keys are then not prefixed), and the
 * last event is the overall summary, without `cluster`, with `clusters`.
 */
export type MonitorEvent = MonitorEventBody & { cluster?: string };

/** The verdict of one cluster, in the overall summary of a several-cluster session. */
export interface ClusterVerdict {
  context: string;
  verdict: Verdict;
  exitCode: number;
  message: string;
  timedOut?: boolean;
  counts: PhaseCounts;
}

export type MonitorEventBody =
  | {
      type: 'session';
      schema: 1;
      time: string;
      session: string;
      commit: string;
      branch?: string;
      repoUrl?: string;
      context?: string;
      timeoutMs: number;
      objects: Array<{ key: string; kind: string; namespace: string; name: string; affected: boolean }>;
      matchedSources: string[];
      cycles: string[][];
    }
  | {
      type: 'phase';
      time: string;
      session: string;
      key: string;
      kind: string;
      namespace: string;
      name: string;
      phase: Phase;
      previous?: Phase;
      reason: string;
      message: string;
      revision?: string;
      blockers?: string[];
      /** When Flux looks again (src/core/waits.ts), as seen when the event is written. */
      wait?: WaitEvent;
      /** Phase Failing: the evidence and the times (NodeState.failing). */
      failing?: FailingInfo;
      elapsedMs: number;
    }
  | { type: 'warning'; time: string; session: string; message: string }
  | {
      /** What is behind a failing or slow object: its workloads, their pods, its Events (docs/json-events.md). */
      type: 'diagnosis';
      time: string;
      session: string;
      key: string;
      kind: string;
      namespace: string;
      name: string;
      phase: Phase;
      diagnosis: Diagnosis;
    }
  | ({
      type: 'error';
      time: string;
      session: string;
      recovered: boolean;
      /** With `recovered: true`: how long the outage lasted (ms), from its first failure to the recovery. */
      outageMs?: number;
    } & CategorizedError)
  | {
      type: 'summary';
      time: string;
      session: string;
      /** The pushed commit this verdict is about. */
      commit: string;
      /** The later commit containing it through which the objects carry it (see SessionState.commit.through). */
      through?: string;
      verdict: Verdict;
      exitCode: number;
      message: string;
      durationMs: number;
      /** The session ran into its timeout. */
      timedOut?: boolean;
      /** The verdict came from fail-fast, before Flux decided (SessionState.failFast). */
      failFast?: NonNullable<SessionState['failFast']>;
      counts: PhaseCounts;
      /** `cluster`: the object's context, in the overall summary of a several-cluster session. */
      objects: Array<{ key: string; cluster?: string; phase: Phase; reason: string; message: string; revision?: string; blocked?: true; blockedBy?: string; unchanged?: true; diagnosis?: Diagnosis; failing?: FailingInfo }>;
      /** Overall summary of a several-cluster session: each cluster's verdict, in the order of the contexts. */
      clusters?: ClusterVerdict[];
    };


/**
 * The `summary` event of a finished session: its verdict, counts and every affected object. With several clusters,
 * `clusterOf` gives each object's context (its key then loses the context prefix) and `clusters` each verdict.
 */
export function summaryEvent(
  s: SessionState,
  opts: { time?: number; clusterOf?: (n: NodeState) => string | undefined; clusters?: ClusterVerdict[] } = {},
): Extract<MonitorEvent, { type: 'summary' }> {
  const verdict = s.verdict ?? 'error';
  const end = s.endedAt ?? opts.time ?? Date.now();
  const affected = Object.values(s.nodes).filter((n) => n.affected);
  return {
    type: 'summary',
    time: new Date(opts.time ?? end).toISOString(),
    session: s.id,
    commit: s.commit.sha,
    ...(s.commit.through ? { through: s.commit.through } : {}),
    verdict,
    exitCode: EXIT_CODES[verdict],
    message: s.verdictMessage ?? '',
    durationMs: Math.max(0, end - s.startedAt),
    ...(s.timedOut ? { timedOut: true } : {}),
    ...(s.failFast ? { failFast: s.failFast } : {}),
    counts: countPhases(affected),
    objects: affected.map((n) => {
      const cluster = opts.clusterOf?.(n);
      return {
        key: cluster !== undefined ? n.key.slice(cluster.length + 1) : n.key,
        ...(cluster !== undefined ? { cluster } : {}),
        phase: n.phase,
        reason: n.reason,
        message: n.message,
        revision: n.revision,
        // The views' word for it (countKey): blocked, with what blocks it; or unchanged by this push.
        ...(countKey(n) === 'blocked' ? { blocked: true, ...(n.blockedBy ? { blockedBy: cluster !== undefined ? n.blockedBy.slice(cluster.length + 1) : n.blockedBy } : {}) } : {}),
        ...(countKey(n) === 'unchanged' ? { unchanged: true } : {}),
        ...(n.diagnosis ? { diagnosis: n.diagnosis } : {}),
        ...(n.failing ? { failing: n.failing } : {}),
      };
    }),
    ...(opts.clusters ? { clusters: opts.clusters } : {}),
  };
}
