// One finished session as one OpenTelemetry trace, described as plain data (no SDK here: pure, tested alone in
// test/unit/otel-plan.test.ts). src/session/otel.ts turns the plan into spans with the OpenTelemetry JS SDK and
// sends them. docs/config.md#opentelemetry says what each span and attribute means.
import { redactUrl } from '../core/giturl.js';
import { firstLine, sanitizeText } from '../core/sanitize.js';
import { axisOf, endOf, orderOf, type ObjectMoments } from '../core/timeline.js';
import type { NodeState, SessionState } from '../core/types.js';

export type AttributeValue = string | number | boolean;

export interface PlannedEvent {
  name: string;
  /** ms since epoch. */
  time: number;
  attributes: Record<string, AttributeValue>;
}

export interface PlannedSpan {
  /** Local id, unique in the plan ("push", "cluster:<context>", "object:<key>", "wait:<key>#<n>"). */
  id: string;
  /** The id of the parent span; absent for the root (the push). */
  parent?: string;
  name: string;
  /** ms since epoch; start <= end, and inside the parent's interval. */
  start: number;
  end: number;
  attributes: Record<string, AttributeValue>;
  events: PlannedEvent[];
  /** OpenTelemetry status: error (with its message), ok, or unset. */
  status: { code: 'error'; message: string } | { code: 'ok' } | { code: 'unset' };
}

export interface TracePlan {
  /** Root first, every parent before its children. */
  spans: PlannedSpan[];
}

/** Longest attribute text kept (messages); the SDK's span limits cut nothing below this. */
export const MAX_ATTRIBUTE_LENGTH = 1024;

/**
 * At most this many object spans per trace (with their waiting spans): a fleet session of 10,000 objects would
 * otherwise be a 10,000-span trace that takes seconds to build and send, past the export's bound. The objects
 * that failed or ended waiting come first, then the others in the order the monitor saw them; the root says how
 * many were left out (`flux_monitor.objects.left_out`).
 */
export const MAX_OBJECT_SPANS = 1000;

/** Phases that fail the commit: the span's status is an error. */
const FAILED_PHASES = new Set(['Failed', 'Stalled']);
/** Phases in which an object waits on another (its blockers name what). */
const WAITING_PHASES = new Set(['Pending', 'Waiting']);

const text = (s: unknown): string => sanitizeText(s, { maxLength: MAX_ATTRIBUTE_LENGTH });

/**
 * The trace of a finished session: a root span for the push (from the push, as the session's waterfall counts it,
 * to the verdict), a span per cluster when it followed several, a span per affected object and, under it, a span
 * per interval it waited on a dependency or a source, with the blockers. An object's span runs from its first
 * recorded moment (a wait or its start on the commit; else when the monitor first saw it) to when it became Ready
 * or failed (else when it entered its final phase, else the end of the session), with its moments (source had
 * the commit, started, applied, ready, failed) as span events. Without a timeline (sessions recorded before it
 * existed), only an object's final waiting interval is known. Every text from the cluster is sanitised (no
 * control characters, no credentials) and every URL redacted. Returns undefined for a session that has not ended
 * (no verdict): a trace describes what happened, and an unfinished session has not.
 */
export function planTrace(state: SessionState & { pushedAt?: number }): TracePlan | undefined {
  if (!state.verdict || state.endedAt === undefined) return undefined;
  // The waterfall's axis: from the push (when the hook recorded it) or the session start, to the verdict.
  const { from: start, to: end } = axisOf(state);
  const clamp = (t: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, t));

  const root: PlannedSpan = {
    id: 'push',
    name: `push ${state.commit.sha.slice(0, 7)}${state.repo.branch ? ` to ${state.repo.branch}` : state.commit.tag ? ` (tag ${state.commit.tag})` : ''}`,
    start,
    end,
    attributes: compact({
      'flux_monitor.session.id': state.id,
      'vcs.ref.head.revision': state.commit.sha,
      'vcs.ref.head.name': state.repo.branch ?? state.commit.tag,
      'vcs.ref.head.type': state.repo.branch ? 'branch' : state.commit.tag ? 'tag' : undefined,
      'vcs.repository.url.full': state.repo.url ? redactUrl(state.repo.url) : undefined,
      'flux_monitor.commit.subject': state.commit.subject ? firstLine(state.commit.subject, { maxLength: MAX_ATTRIBUTE_LENGTH }) : undefined,
      'flux_monitor.commit.through': state.commit.through,
      'flux_monitor.cluster.context': state.cluster.context,
      'flux_monitor.cluster.server': state.cluster.server ? redactUrl(state.cluster.server) : undefined,
      'flux_monitor.verdict': state.verdict,
      'flux_monitor.verdict.message': state.verdictMessage ? text(state.verdictMessage) : undefined,
      'flux_monitor.timed_out': state.timedOut || undefined,
      'flux_monitor.objects': Object.values(state.nodes).filter((n) => n.affected).length,
      'flux_monitor.warnings': state.warnings.length || undefined,
    }),
    events: state.ci?.artifactAt !== undefined ? [{ name: 'ci artifact arrived', time: clamp(state.ci.artifactAt, start, end), attributes: {} }] : [],
    status: verdictStatus(state.verdict, state.verdictMessage),
  };
  const spans: PlannedSpan[] = [root];

  // Several clusters: one span each, under the push; their objects under them.
  const clusterSpan = new Map<string, PlannedSpan>();
  for (const c of state.clusters ?? []) {
    const cStart = clamp(c.startedAt, start, end);
    const span: PlannedSpan = {
      id: `cluster:${c.context}`,
      parent: root.id,
      name: `cluster ${c.context}`,
      start: cStart,
      end: clamp(c.endedAt ?? end, cStart, end),
      attributes: compact({
        'flux_monitor.cluster.context': c.context,
        'flux_monitor.cluster.server': c.server ? redactUrl(c.server) : undefined,
        'flux_monitor.verdict': c.verdict,
        'flux_monitor.verdict.message': c.verdictMessage ? text(c.verdictMessage) : undefined,
        'flux_monitor.error': c.error ? text(c.error.message) : undefined,
      }),
      events: [],
      status: c.verdict ? verdictStatus(c.verdict, c.verdictMessage) : { code: 'unset' },
    };
    clusterSpan.set(c.context, span);
    spans.push(span);
  }

  const affected = Object.values(state.nodes).filter((n) => n.affected);
  const byTime = (a: NodeState, b: NodeState) => a.firstSeen - b.firstSeen || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  let nodes = affected.sort(byTime);
  if (nodes.length > MAX_OBJECT_SPANS) {
    const first = (n: NodeState) => FAILED_PHASES.has(n.phase) || WAITING_PHASES.has(n.phase);
    nodes = [...nodes.filter(first), ...nodes.filter((n) => !first(n))].slice(0, MAX_OBJECT_SPANS).sort(byTime);
    root.attributes['flux_monitor.objects.left_out'] = affected.length - nodes.length;
  }
  for (const n of nodes) {
    const parent = (n.cluster !== undefined && clusterSpan.get(n.cluster)) || root;
    spans.push(...objectSpans(n, parent, state));
  }
  return { spans };
}

const MOMENTS = ['source', 'started', 'applied', 'ready', 'failed'] as const;
const MOMENT_NAMES: Record<(typeof MOMENTS)[number], string> = { source: 'source has the commit', started: 'started', applied: 'applied', ready: 'ready', failed: 'failed' };

function objectSpans(n: NodeState, parent: PlannedSpan, state: SessionState): PlannedSpan[] {
  const lo = parent.start;
  const hi = parent.end;
  const clamp = (t: number, a: number, b: number) => Math.min(b, Math.max(a, t));
  const m: ObjectMoments | undefined = state.timeline?.objects[n.key];
  // From its first wait or its start on the commit, else from when the monitor first saw it.
  // Moment times as the waterfall draws them (orderOf: a condition time, cut to the second, at when it was seen).
  const first = Math.min(m?.waits?.[0]?.from ?? Infinity, m?.started ? orderOf(m.started) : Infinity);
  const start = clamp(Number.isFinite(first) ? first : n.firstSeen, lo, hi);
  const phaseAt = clamp(n.phaseSince, start, hi);
  // Ready or failed when the timeline says so; else a settled object stopped moving when it entered its phase;
  // any other ran until the session ended.
  const ended = endOf(m);
  const end = ended !== undefined ? clamp(ended, start, hi) : n.settled && !WAITING_PHASES.has(n.phase) ? phaseAt : hi;
  const failed = FAILED_PHASES.has(n.phase) && !n.preexisting;
  const events: PlannedEvent[] = [];
  if (m) {
    for (const k of MOMENTS) {
      const x = m[k];
      if (x) events.push({ name: MOMENT_NAMES[k], time: clamp(orderOf(x), start, end), attributes: { 'flux_monitor.moment.from': x.from } });
    }
    events.sort((a, b) => a.time - b.time);
  }
  // Its final phase, unless a moment already says it (Ready, failed): when the monitor saw it, inside the span.
  const said = (n.phase === 'Ready' && m?.ready) || (FAILED_PHASES.has(n.phase) && m?.failed);
  if (!said) events.push({ name: `phase ${n.phase}`, time: clamp(phaseAt, start, Math.max(start, end)), attributes: compact({ 'flux_monitor.object.reason': n.reason ? text(n.reason) : undefined }) });
  const span: PlannedSpan = {
    id: `object:${n.key}`,
    parent: parent.id,
    name: `${n.kind} ${n.namespace}/${n.name}`,
    start,
    end: Math.max(start, end),
    attributes: compact({
      'flux_monitor.object.key': n.key,
      'flux_monitor.object.kind': n.kind,
      'flux_monitor.object.api_version': n.apiVersion,
      'k8s.namespace.name': n.namespace,
      'flux_monitor.object.name': n.name,
      'flux_monitor.object.phase': n.phase,
      'flux_monitor.object.reason': n.reason ? text(n.reason) : undefined,
      'flux_monitor.object.message': n.message ? text(n.message) : undefined,
      'flux_monitor.object.revision': n.revision ? text(n.revision) : undefined,
      'flux_monitor.object.settled': n.settled,
      'flux_monitor.object.deleted': n.deleted || undefined,
      'flux_monitor.object.preexisting': n.preexisting || undefined,
      'flux_monitor.object.waits_left_out': m?.moreWaits || undefined,
      'flux_monitor.cluster.context': n.cluster ?? state.cluster.context,
    }),
    events,
    status: failed ? { code: 'error', message: firstLine(`${n.reason}: ${n.message}`, { maxLength: MAX_ATTRIBUTE_LENGTH }) } : n.phase === 'Ready' ? { code: 'ok' } : { code: 'unset' },
  };
  const out = [span];
  const wait = (i: number, from: number, to: number, on: string | undefined, blockers: readonly string[], reason: string, message?: string): PlannedSpan => ({
    id: `wait:${n.key}#${i}`,
    parent: span.id,
    name: `waiting for ${blockers[0] ?? on ?? 'another object'}`,
    start: clamp(from, span.start, span.end),
    end: clamp(to, clamp(from, span.start, span.end), span.end),
    attributes: compact({
      'flux_monitor.wait.on': on,
      'flux_monitor.blocker': blockers[0] ? text(blockers[0]) : undefined,
      'flux_monitor.blockers': blockers.length ? text(blockers.join(', ')) : undefined,
      'flux_monitor.object.reason': reason ? text(reason) : undefined,
      'flux_monitor.object.message': message ? text(message) : undefined,
    }),
    events: [],
    status: { code: 'unset' },
  });
  if (m?.waits?.length) {
    // The recorded intervals; one still open ended when the object started, or with the session.
    m.waits.forEach((w, i) => out.push(wait(i, w.from, w.to ?? (m.started ? orderOf(m.started) : span.end), w.on, w.blockers, w.reason)));
  } else if (WAITING_PHASES.has(n.phase) && (n.blockedBy ?? n.blockers?.[0])) {
    // No timeline: the interval it ended waiting in, from when it entered the waiting phase.
    const blockers = n.blockedBy ? [n.blockedBy, ...(n.blockers ?? []).filter((b) => b !== n.blockedBy)] : n.blockers!;
    out.push(wait(0, phaseAt, span.end, undefined, blockers, n.reason, n.message));
  }
  return out;
}

function verdictStatus(verdict: string, message: string | undefined): PlannedSpan['status'] {
  if (verdict === 'success') return { code: 'ok' };
  if (verdict === 'failed' || verdict === 'error' || verdict === 'timeout') return { code: 'error', message: firstLine(message ?? verdict, { maxLength: MAX_ATTRIBUTE_LENGTH }) || verdict };
  return { code: 'unset' };
}

function compact(o: Record<string, AttributeValue | undefined>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}
