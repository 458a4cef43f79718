// The push's timeline (pure): for each object of a session, the moments of the pushed commit's way through it
// (its source had the commit, it started on it, applied it, became Ready or failed) and the intervals it waited
// on a dependency or a source, with the blockers. Each moment says where its time comes from: the object's own
// condition transition time (`condition`, whole seconds, the cluster's clock) or the moment the monitor saw the
// change (`event`, the local clock). The engine records them (engine/timeline.ts) from the nodes a recompute
// changed; the waterfall, the critical path and the history's lead time are derived here.
import type { Condition, GraphEdge, KubeObject, NodeState, SessionState } from './types.js';

/** Where a moment's time comes from. */
export type MomentSource = 'condition' | 'event';

export interface Moment {
  /** ms since epoch. */
  at: number;
  from: MomentSource;
  /**
   * For a condition time: when the monitor saw it (ms since epoch). A condition time is cut to the second, so two
   * objects that changed within one second are ordered by this (the monitor sees them in the order they changed).
   */
  seen?: number;
}

/**
 * The time a moment is drawn and ordered at: its own, or, for a condition time cut to the second, when it was
 * seen if that is within the second (it happened in [at, at + 1 s) and not after it was seen).
 */
export function orderOf(m: Moment): number {
  return m.seen !== undefined ? Math.max(m.at, Math.min(m.seen, m.at + 999)) : m.at;
}

/** An interval an object waited on something else before it could start on the pushed commit. */
export interface WaitInterval {
  /** ms since epoch. */
  from: number;
  /** ms since epoch; absent while it still waits (or when the session ended waiting). */
  to?: number;
  /** `dependency`: its dependsOn (Ready=False …NotReady); `source`: its source did not have the commit yet. */
  on: 'dependency' | 'source';
  /** The keys (`Kind/namespace/name`) or dependsOn names (`namespace/name`) it waited for (bounded). */
  blockers: string[];
  /** Flux's reason (`DependencyNotReady`) or ours (`SourceNotReady`). */
  reason: string;
}

/** The moments of one object for the pushed commit. Each is recorded once: the first time it happened. */
export interface ObjectMoments {
  /** Its source had the pushed commit (the source's `ready`). */
  source?: Moment;
  /** It started on the pushed commit (Reconciling=True, the phase became Progressing). */
  started?: Moment;
  /**
   * It applied the pushed commit: for a Kustomization, its health checks began ("Running health checks…") or,
   * without health checks seen, lastAppliedRevision named the commit; for a HelmRelease, Released=True.
   */
  applied?: Moment;
  /** Ready with the pushed commit. */
  ready?: Moment;
  /** Failed (or Stalled) on the pushed commit (not a failure it already had before the push). */
  failed?: Moment;
  /** The intervals it waited (bounded: the first and the last ones; `moreWaits` counts those left out). */
  waits?: WaitInterval[];
  moreWaits?: number;
}

/** What a session records of the push's way through the cluster. */
export interface Timeline {
  /** Moments by node key (the affected nodes only). */
  objects: Record<string, ObjectMoments>;
  /** Affected objects beyond TIMELINE_LIMITS.objects, not recorded. */
  dropped?: number;
}

/** The bounds of a timeline, in memory, in the session file and when one is read back. */
export const TIMELINE_LIMITS = {
  /** Objects recorded. */
  objects: 10_000,
  /** Wait intervals per object (the first ones and the last one are kept). */
  waits: 6,
  /** Blockers per wait interval. */
  blockers: 5,
  /** Characters of a blocker or reason. */
  text: 300,
} as const;

/** A cluster's condition time that is older than the session start by more than this is not of this push. */
const SECOND = 1000;
/** A condition time ahead of the local clock by more than this: the cluster's clock is off; the event's is used. */
const SKEW_MS = 5_000;

function conditionOf(obj: KubeObject | undefined, type: string): Condition | undefined {
  const c: unknown = obj?.status?.conditions;
  if (!Array.isArray(c)) return undefined;
  return c.find((x): x is Condition => !!x && typeof x === 'object' && (x as Condition).type === type);
}

function parseTime(t: unknown): number | undefined {
  if (typeof t !== 'string') return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The moment of a change seen at `now`: the condition's transition time when Flux wrote one that can be this
 * change (not before `floor`, the session start or the object's previous moment, allowing for the whole-second
 * truncation; not ahead of the local clock), else the time the monitor saw it.
 */
export function momentOf(c: Condition | undefined, now: number, floor: number): Moment {
  const t = parseTime(c?.lastTransitionTime);
  if (t !== undefined && t >= floor - SECOND && t <= now + SKEW_MS) return { at: t, from: 'condition', seen: now };
  return { at: now, from: 'event' };
}

const cut = (s: string) => (s.length > TIMELINE_LIMITS.text ? s.slice(0, TIMELINE_LIMITS.text) : s);
const boundedBlockers = (b: readonly string[] | undefined) => (b ?? []).slice(0, TIMELINE_LIMITS.blockers).map(cut);

/** The latest moment recorded of an object (its floor for the next one). */
function lastAt(m: ObjectMoments | undefined): number | undefined {
  if (!m) return undefined;
  let at: number | undefined;
  for (const x of [m.source, m.started, m.applied, m.ready, m.failed]) if (x && (at === undefined || x.at > at)) at = x.at;
  for (const w of m.waits ?? []) {
    if (at === undefined || w.from > at) at = w.from;
    if (w.to !== undefined && w.to > at) at = w.to;
  }
  return at;
}

/** Adds a wait interval within the bound: the first ones are kept, and the last one (replacing the one before). */
function addWait(waits: readonly WaitInterval[] | undefined, more: number | undefined, w: WaitInterval): { waits: WaitInterval[]; moreWaits?: number } {
  const list = [...(waits ?? [])];
  if (list.length < TIMELINE_LIMITS.waits) return { waits: [...list, w], ...(more ? { moreWaits: more } : {}) };
  list[list.length - 1] = w;
  return { waits: list, moreWaits: (more ?? 0) + 1 };
}

/** Whether the object's Reconciling condition says that its health checks are running (kustomize-controller). */
function runningHealthChecks(obj: KubeObject | undefined): boolean {
  const rec = conditionOf(obj, 'Reconciling');
  return rec?.status === 'True' && typeof rec.message === 'string' && rec.message.startsWith('Running health checks');
}

/**
 * The moments of one node after a recompute changed it: `prev` with what its new phase adds (a new object when
 * anything was added, else `prev` itself). `obj` is the object the node was computed from (for its conditions),
 * `now` the time the change was seen, `start` the session start (no condition time before it is of this push).
 */
export function recordNode(prev: ObjectMoments | undefined, n: NodeState, obj: KubeObject | undefined, now: number, start: number): ObjectMoments | undefined {
  if (!n.affected || n.deleted) return prev;
  let m: ObjectMoments | undefined = prev;
  const set = (patch: Partial<ObjectMoments>) => (m = { ...(m ?? {}), ...patch });
  const floor = () => Math.max(start, lastAt(m) ?? start);
  const open = m?.waits?.length && m.waits[m.waits.length - 1]!.to === undefined ? m.waits[m.waits.length - 1] : undefined;
  if (n.phase === 'Waiting') {
    // Wait intervals hold plain times: a condition's is taken at when it was seen within its second (orderOf).
    if (!open) set(addWait(m?.waits, m?.moreWaits, { from: orderOf(momentOf(conditionOf(obj, 'Ready'), now, floor())), on: 'dependency', blockers: boundedBlockers(n.blockers), reason: cut(n.reason) }));
    return m;
  }
  if (open) {
    // It stopped waiting: when it started (Reconciling's transition time), else now.
    const to = n.phase === 'Progressing' ? orderOf(momentOf(conditionOf(obj, 'Reconciling'), now, floor())) : now;
    set({ waits: [...m!.waits!.slice(0, -1), { ...open, to: Math.max(open.from, to) }] });
  }
  if (n.phase === 'Progressing' && !m?.started && !m?.ready) {
    const rec = conditionOf(obj, 'Reconciling');
    set({ started: rec?.status === 'True' ? momentOf(rec, now, floor()) : { at: now, from: 'event' } });
  }
  if (n.phase === 'Progressing' && m?.started && !m.applied && n.kind === 'Kustomization' && runningHealthChecks(obj)) set({ applied: { at: now, from: 'event' } });
  if (n.kind === 'HelmRelease' && m?.started && !m.applied && !n.context && (n.phase === 'Progressing' || n.phase === 'Ready' || n.phase === 'Failed')) {
    const rel = conditionOf(obj, 'Released');
    if (rel?.status === 'True') {
      const at = momentOf(rel, now, floor());
      // A Released=True older than the start on this commit is the previous release's.
      if (at.from === 'event' || at.at >= m.started.at - SECOND) set({ applied: at });
    }
  }
  if (n.phase === 'Ready' && !n.context && !m?.ready) {
    const ready = momentOf(conditionOf(obj, 'Ready'), now, floor());
    set({ ready });
    if (n.kind === 'Kustomization' && !m!.applied) set({ applied: ready });
  }
  if ((n.phase === 'Failed' || n.phase === 'Stalled') && !n.preexisting && !m?.failed) {
    set({ failed: momentOf(conditionOf(obj, n.phase === 'Stalled' ? 'Stalled' : 'Ready'), now, floor()) });
  }
  return m;
}

/**
 * When a source becomes Ready with the commit: what its consumers record (their `source` moment, and, for a
 * consumer that had not started yet, the interval it waited on that source since `start`). Returns the consumers'
 * new moments (by key) for those that changed.
 */
export function recordSourceReady(source: string, ready: Moment, consumers: readonly string[], get: (key: string) => ObjectMoments | undefined, start: number): Map<string, ObjectMoments> {
  const out = new Map<string, ObjectMoments>();
  for (const c of consumers) {
    const m = get(c);
    if (m?.source) continue;
    let next: ObjectMoments = { ...(m ?? {}), source: ready };
    const to = orderOf(ready);
    if (!m?.started && !m?.ready && !m?.failed && to > start) {
      next = { ...next, ...addWait(m?.waits, m?.moreWaits, { from: start, to, on: 'source', blockers: [cut(source)], reason: 'SourceNotReady' }) };
    }
    out.set(c, next);
  }
  return out;
}

// ---- derived: the waterfall and the critical path ------------------------------------------------------------

export type BarPhase = 'waiting' | 'reconciling' | 'health' | 'ready' | 'failed';

export interface BarSegment {
  phase: BarPhase;
  from: number;
  to: number;
}

export interface Bar {
  key: string;
  /** When it ended (ready or failed), if it did. */
  end?: number;
  segments: BarSegment[];
}

/** The time axis of a session's waterfall: from the push (or the start) to its end (or `now`). */
export function axisOf(s: Pick<SessionState, 'startedAt' | 'endedAt' | 'updatedAt'> & { pushedAt?: number }, now?: number): { from: number; to: number } {
  const from = Math.min(s.pushedAt ?? s.startedAt, s.startedAt);
  const to = Math.max(from, s.endedAt ?? now ?? s.updatedAt);
  return { from, to };
}

/** When an object ended: Ready (even after a failure: it recovered), else failed. */
export function endOf(m: ObjectMoments | undefined): number | undefined {
  const e = m?.ready ?? m?.failed;
  return e ? orderOf(e) : undefined;
}

/**
 * One object's bar: waiting (its wait intervals), reconciling (started → applied or its end), health check
 * (applied → its end), then ready or failed to the end of the axis. Times are clamped to the axis and made
 * monotonic (condition times are whole seconds: a Ready at 12:00:05 may precede the event of its start at 12:00:05.4).
 */
export function barOf(key: string, m: ObjectMoments, axis: { from: number; to: number }): Bar {
  const clamp = (t: number) => Math.min(axis.to, Math.max(axis.from, t));
  const segments: BarSegment[] = [];
  const push = (phase: BarPhase, from: number, to: number) => {
    const f = clamp(from);
    const t = clamp(to);
    if (t > f || (t === f && (phase === 'ready' || phase === 'failed'))) segments.push({ phase, from: f, to: t });
  };
  const end = endOf(m);
  const startAt = m.started ? orderOf(m.started) : undefined;
  for (const w of m.waits ?? []) push('waiting', w.from, Math.min(w.to ?? startAt ?? end ?? axis.to, startAt ?? Infinity));
  if (startAt !== undefined) {
    const stop = end ?? axis.to;
    const appliedAt = m.applied ? orderOf(m.applied) : undefined;
    const applied = appliedAt !== undefined && appliedAt >= startAt ? appliedAt : undefined;
    if (applied !== undefined && applied < stop) {
      push('reconciling', startAt, applied);
      push('health', applied, stop);
    } else push('reconciling', startAt, stop);
  }
  const failedAt = m.failed ? orderOf(m.failed) : undefined;
  const readyAt = m.ready ? orderOf(m.ready) : undefined;
  if (failedAt !== undefined && (readyAt === undefined || failedAt <= readyAt)) push('failed', failedAt, readyAt ?? axis.to);
  if (readyAt !== undefined) push('ready', readyAt, axis.to);
  return { key, end, segments };
}

/** One object of the critical path, in the order the push went through them. */
export interface CriticalLink {
  key: string;
  /** How it got there from the link before (the push for the first): the edge followed. */
  via?: 'dependsOn' | 'source' | 'inventory';
  /** The time between the link before ended (or the push) and this one starting: Flux waiting (a requeue, an interval). */
  waitedMs: number;
  /** The time it worked on the commit (started → ended). */
  workedMs: number;
  /** When it ended (ms since epoch), or the end of the session for the object it ran out of time on. */
  end: number;
  outcome: 'ready' | 'failed' | 'open';
}

export interface CriticalPath {
  links: CriticalLink[];
  /** From the push to the last link's end. */
  totalMs: number;
  /** Of that, Flux waiting (before each link started): requeues, intervals, a source's poll. */
  waitingMs: number;
  workingMs: number;
}

/**
 * The chain of objects that decided the total time: the affected object that ended last (or, for a session that
 * ran out of time, one still open), then, step by step, the one it waited for that ended last before it ended
 * (its dependsOn, its source, the Kustomization that applied it). Each link splits the time since the link
 * before ended into waiting (until it started) and working.
 */
export function criticalPath(s: Pick<SessionState, 'nodes' | 'edges' | 'startedAt' | 'endedAt' | 'updatedAt' | 'timeline'> & { pushedAt?: number }): CriticalPath | undefined {
  const tl = s.timeline;
  if (!tl) return undefined;
  const axis = axisOf(s);
  // `end` is what the object says (durations); `order` what ordering objects by their end uses (orderOf).
  const endAt = (k: string): { end: number; order: number; outcome: CriticalLink['outcome'] } | undefined => {
    const m = tl.objects[k];
    if (m?.ready) return { end: orderOf(m.ready), order: orderOf(m.ready), outcome: 'ready' };
    if (m?.failed) return { end: orderOf(m.failed), order: orderOf(m.failed), outcome: 'failed' };
    return undefined;
  };
  let last: string | undefined;
  let lastEnd = -Infinity;
  let lastOrder = -Infinity;
  const startOrder = (k: string) => {
    const st = tl.objects[k]?.started;
    return st ? orderOf(st) : -Infinity;
  };
  for (const k of Object.keys(tl.objects)) {
    const n = s.nodes[k];
    if (!n?.affected) continue;
    const e = endAt(k);
    // Of two that ended at the same time, the one that started later.
    if (e && (e.order > lastOrder || (e.order === lastOrder && startOrder(k) > startOrder(last!)))) {
      last = k;
      lastEnd = e.end;
      lastOrder = e.order;
    }
  }
  // A session that ended with objects still open (a timeout): the path runs to the one that had started last.
  let open: string | undefined;
  if (s.endedAt !== undefined) {
    for (const n of Object.values(s.nodes)) {
      if (!n.affected || n.settled || endAt(n.key)) continue;
      const started = tl.objects[n.key]?.started?.at ?? -Infinity;
      if (open === undefined || started > (tl.objects[open]?.started?.at ?? -Infinity)) open = n.key;
    }
  }
  if (open !== undefined) {
    last = open;
    lastEnd = axis.to;
  }
  if (last === undefined) return undefined;
  const preds = new Map<string, Array<{ key: string; via: CriticalLink['via'] }>>();
  const add = (k: string, p: string, via: CriticalLink['via']) => {
    let l = preds.get(k);
    if (!l) preds.set(k, (l = []));
    l.push({ key: p, via });
  };
  for (const e of s.edges as GraphEdge[]) {
    if (e.type === 'inventory') add(e.to, e.from, 'inventory');
    else add(e.from, e.to, e.type);
  }
  type Step = { key: string; via?: CriticalLink['via']; end: number; order: number; outcome: CriticalLink['outcome'] };
  const chain: Step[] = [];
  const seen = new Set<string>();
  let cur: Step | undefined = { key: last, end: lastEnd, order: open === last ? Infinity : lastOrder, outcome: open === last ? 'open' : endAt(last)!.outcome };
  while (cur && !seen.has(cur.key)) {
    seen.add(cur.key);
    chain.push(cur);
    let best: Step | undefined;
    for (const p of preds.get(cur.key) ?? []) {
      const e = endAt(p.key);
      if (!e || e.outcome !== 'ready' || e.order > cur.order || seen.has(p.key)) continue;
      if (!best || e.order > best.order) best = { key: p.key, via: p.via, end: e.end, order: e.order, outcome: e.outcome };
    }
    if (best) cur.via = best.via;
    cur = best;
  }
  chain.reverse();
  // The edge followed is recorded on the dependent: shift it so each link says how it was reached.
  const links: CriticalLink[] = [];
  let prevEnd = axis.from;
  let waitingMs = 0;
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    const end = Math.max(prevEnd, Math.min(c.end, axis.to));
    const m = tl.objects[c.key];
    const started = (m?.started ? orderOf(m.started) : undefined) ?? m?.waits?.[m.waits.length - 1]?.to ?? end;
    const waited = Math.min(end - prevEnd, Math.max(0, started - prevEnd));
    links.push({ key: c.key, via: i > 0 ? chain[i]!.via : undefined, waitedMs: waited, workedMs: end - prevEnd - waited, end, outcome: c.outcome });
    waitingMs += waited;
    prevEnd = end;
  }
  const totalMs = prevEnd - axis.from;
  return { links, totalMs, waitingMs, workingMs: totalMs - waitingMs };
}

/** From the push to the verdict (ms), for a finished session with a decided verdict. */
export function leadTimeMs(s: Pick<SessionState, 'startedAt' | 'endedAt'> & { pushedAt?: number }): number | undefined {
  if (s.endedAt === undefined) return undefined;
  return Math.max(0, s.endedAt - Math.min(s.pushedAt ?? s.startedAt, s.startedAt));
}
