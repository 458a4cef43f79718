// When Flux will look at an object again, and how sure that is. Pure: no I/O, no clock (callers pass `now`).
//
// What the controllers do (read from kustomize-controller v1.9.6, helm-controller v1.6.2, source-controller v1.9.6
// and fluxcd/pkg runtime v0.110.3, the versions test/flux builds):
// - A dependency that is not ready: kustomize-controller marks Ready=False DependencyNotReady with the error
//   ("dependency 'ns/name' is not ready") and returns RequeueAfter = --requeue-dependency (default 30s, no
//   jitter; internal/controller/kustomization_controller.go). helm-controller does the same (Ready=False
//   DependencyNotReady, RequeueAfter = --requeue-dependency, default 30s; internal/controller/
//   helmrelease_controller.go), and for a chart source that is not ready Ready=False SourceNotReady with the
//   same interval, jittered. fluxcd/pkg runtime/conditions.Set keeps lastTransitionTime while type, status,
//   reason and message stay the same, so each retry that finds the same state writes nothing: only the first
//   attempt of a wait is visible (its lastTransitionTime, truncated to the second). Later retries are inferred
//   from it, so the next one is given as a bound ("by"), never as an exact time.
// - Health checks: kustomize-controller marks Healthy=Unknown reason Progressing "Running health checks for
//   revision R with a timeout of T" (and Reconciling with the same message) and waits at most T
//   (spec.timeout, else interval - 30s, at least 30s). helm-controller marks Reconciling=True reason
//   Progressing "Running '<action>' action with timeout of T" before each Helm action (internal/reconcile/
//   atomic_release.go). Both say when they started (lastTransitionTime, as the message changed) and how long;
//   core/flux-wait.ts parseWaitMessage is the one reader of both messages (fail-fast reads them through it too).
// - Sources: source-controller requeues after spec.interval, jittered by --interval-jitter-percentage (default
//   5: ±5%; fluxcd/pkg runtime/jitter). A fetch that finds nothing new writes nothing (the artifact and its
//   lastUpdateTime stay, the conditions keep their lastTransitionTime), so the last fetch known is the newest
//   of status.artifact.lastUpdateTime and the conditions' lastTransitionTime.
// - A pending `flux reconcile` request (reconcile.fluxcd.io/requestedAt not yet in lastHandledReconcileAt) is
//   acted on at once: no wait is announced then.
import { goDurationMs } from './duration.js';
import { parseWaitMessage } from './flux-wait.js';
import type { Condition, KubeObject, Phase } from './types.js';

export type WaitKind = 'retry' | 'timeout' | 'fetch';
/**
 * Where the duration comes from: `flag` the controller's flag read from its Deployment; `default` the Deployment
 * was read and does not set the flag (the controller's default applies); `assumed` the Deployment could not be
 * read (RBAC, not a Deployment): Flux's documented default is assumed; `spec` the object's spec.interval;
 * `status` what the controller wrote in the condition (the health check or Helm action timeout).
 */
export type WaitBasis = 'flag' | 'default' | 'assumed' | 'spec' | 'status';

/** What an object waits for until Flux looks again (carried by NodeState.wait; `waitDue` says when). */
export interface WaitInfo {
  kind: WaitKind;
  /** The requeue period (retry), the source's interval (fetch) or the timeout (timeout), in ms. */
  ms: number;
  basis: WaitBasis;
  /** ± fraction the controller jitters the period by (0.05 = ±5%). */
  jitter?: number;
  /**
   * ms since epoch when the controller last visibly acted (a condition's lastTransitionTime or the artifact's
   * lastUpdateTime, which the controllers truncate to the second). Absent: the period is known, its phase not.
   */
  from?: number;
  /** The controller whose flag (or default) the period is, and the flag's name. */
  controller?: ControllerName;
  flag?: string;
}

export type ControllerName = 'source-controller' | 'kustomize-controller' | 'helm-controller';

/** What the controllers' Deployments say (read once per session). `read`: the Deployment could be read. */
export interface ControllerFlags {
  read: boolean;
  requeueDependencyMs?: number;
  jitterPercent?: number;
}

export interface WaitFacts {
  controllers?: Partial<Record<ControllerName, ControllerFlags>>;
}

/** `--requeue-dependency` default of kustomize- and helm-controller (main.go of both). */
export const DEFAULT_REQUEUE_DEPENDENCY_MS = 30_000;
/** `--interval-jitter-percentage` default (fluxcd/pkg runtime/jitter). */
export const DEFAULT_JITTER_PERCENT = 5;
/** Allowance per inferred attempt for the controller's own work (a status patch, a cache sync) between two requeues. */
export const ATTEMPT_ALLOWANCE_MS = 1_000;
/** lastTransitionTime and lastUpdateTime are written truncated to the second. */
const TRUNCATION_MS = 1_000;

const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';
const MAX_MS = 30 * 24 * 3_600_000;

// ---------------------------------------------------------------------------------------------------------

/** A Go duration (`30s`, `1m0s`, `1h30m`, `1.5s`, `500ms`) in ms; undefined when it is not one or out of range. */
export function parseGoDuration(text: unknown): number | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return undefined;
  return goDurationMs(text, MAX_MS);
}

/**
 * The flags that matter here from a controller Deployment's container (`command` + `args`), as pflag reads them:
 * `--name=value` or `--name value`; the last occurrence wins. Values that do not parse are ignored (the
 * controller would not start with them).
 */
export function parseControllerArgs(args: unknown): Omit<ControllerFlags, 'read'> {
  const out: Omit<ControllerFlags, 'read'> = {};
  if (!Array.isArray(args)) return out;
  const list = args.filter((a): a is string => typeof a === 'string').slice(0, 500);
  const value = (i: number, name: string): string | undefined => {
    const a = list[i]!;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    if (a === `--${name}`) return list[i + 1];
    return undefined;
  };
  for (let i = 0; i < list.length; i++) {
    const rd = value(i, 'requeue-dependency');
    if (rd !== undefined) {
      const ms = parseGoDuration(rd);
      if (ms !== undefined && ms > 0) out.requeueDependencyMs = ms;
    }
    const jp = value(i, 'interval-jitter-percentage');
    if (jp !== undefined && /^\d{1,2}$/.test(jp)) out.jitterPercent = Number(jp);
  }
  return out;
}

/** The container of a controller Deployment that runs it: `manager` (as Flux names it), else the only one. */
export function controllerFlagsFromDeployment(dep: unknown): ControllerFlags {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const containers: any[] = (dep as any)?.spec?.template?.spec?.containers;
  if (!Array.isArray(containers)) return { read: true };
  const c = containers.find((x) => x?.name === 'manager') ?? (containers.length === 1 ? containers[0] : undefined);
  if (!c) return { read: true };
  const all = [...(Array.isArray(c.command) ? c.command : []), ...(Array.isArray(c.args) ? c.args : [])];
  return { read: true, ...parseControllerArgs(all) };
}

// ---------------------------------------------------------------------------------------------------------

function conds(obj: KubeObject): Condition[] {
  const c: unknown = obj.status?.conditions;
  return Array.isArray(c) ? c.filter((x): x is Condition => !!x && typeof x === 'object' && typeof x.type === 'string') : [];
}

function time(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

function requestPending(obj: KubeObject): boolean {
  const r = obj.metadata?.annotations?.[REQUESTED_AT];
  return typeof r === 'string' && r !== '' && r !== obj.status?.lastHandledReconcileAt;
}

/** The period a controller flag gives, with its basis. */
function fromFlag(facts: WaitFacts, controller: ControllerName, v: number | undefined, def: number): { ms: number; basis: WaitBasis } {
  const f = facts.controllers?.[controller];
  if (f?.read && v !== undefined) return { ms: v, basis: 'flag' };
  return { ms: def, basis: f?.read ? 'default' : 'assumed' };
}

function jitterOf(facts: WaitFacts): number {
  const f = facts.controllers?.['source-controller'];
  const p = f?.read && f.jitterPercent !== undefined ? f.jitterPercent : DEFAULT_JITTER_PERCENT;
  return Math.min(Math.max(p, 0), 99) / 100;
}

/** Sources with a controller and a spec.interval of their own. */
const FETCHING_KINDS = new Set(['GitRepository', 'OCIRepository', 'Bucket', 'HelmRepository']);
/** Pending reasons of a source whose artifact is not (yet) of the pushed commit (core/status.ts). */
const NOT_FETCHED = new Set(['NotFetched', 'AwaitingArtifact']);

/**
 * What `obj` (in phase `res.phase` for the reason `res.reason`, as computeStatus judged it) waits for until Flux
 * looks at it again, or undefined when nothing is known to come at a known time.
 */
export function computeWait(obj: KubeObject, res: { phase: Phase; reason: string }, facts: WaitFacts = {}): WaitInfo | undefined {
  if (!obj || typeof obj !== 'object' || obj.spec?.suspend === true || obj.metadata?.deletionTimestamp) return undefined;
  if (requestPending(obj)) return undefined;
  const cs = conds(obj);
  const ready = cs.find((c) => c.type === 'Ready');

  if (res.phase === 'Waiting' && ready?.status === 'False' && (obj.kind === 'Kustomization' || obj.kind === 'HelmRelease')) {
    const controller: ControllerName = obj.kind === 'Kustomization' ? 'kustomize-controller' : 'helm-controller';
    const reason = ready.reason;
    // helm-controller jitters the SourceNotReady requeue, not the DependencyNotReady one.
    const jitter = reason === 'SourceNotReady' && obj.kind === 'HelmRelease' ? jitterOf(facts) : reason === 'DependencyNotReady' ? 0 : undefined;
    if (jitter === undefined) return undefined;
    const p = fromFlag(facts, controller, facts.controllers?.[controller]?.requeueDependencyMs, DEFAULT_REQUEUE_DEPENDENCY_MS);
    const w: WaitInfo = { kind: 'retry', ms: p.ms, basis: p.basis, controller, flag: '--requeue-dependency' };
    if (jitter) w.jitter = jitter;
    const from = time(ready.lastTransitionTime);
    if (from !== undefined) w.from = from;
    return w;
  }

  if (res.phase === 'Progressing' && obj.kind === 'Kustomization') {
    const h = cs.find((c) => c.type === 'Healthy');
    const ms = h?.status === 'Unknown' && h.reason === 'Progressing' ? parseWaitMessage(obj.kind, h.message)?.timeoutMs : undefined;
    const from = time(h?.lastTransitionTime);
    if (ms !== undefined && from !== undefined) return { kind: 'timeout', ms, basis: 'status', from };
    return undefined;
  }

  if (res.phase === 'Progressing' && obj.kind === 'HelmRelease') {
    const r = cs.find((c) => c.type === 'Reconciling');
    // Any action (install, upgrade, test, rollback, uninstall, unlock, correct cluster drift): helm-controller
    // writes the outcome at the latest when its timeout is up.
    const ms = r?.status === 'True' && r.reason === 'Progressing' ? parseWaitMessage(obj.kind, r.message)?.timeoutMs : undefined;
    const from = time(r?.lastTransitionTime);
    if (ms !== undefined && from !== undefined) return { kind: 'timeout', ms, basis: 'status', from };
    return undefined;
  }

  if (res.phase === 'Pending' && NOT_FETCHED.has(res.reason) && FETCHING_KINDS.has(obj.kind)) {
    const ms = parseGoDuration(obj.spec?.interval);
    if (ms === undefined || ms < 1_000) return undefined;
    const w: WaitInfo = { kind: 'fetch', ms, basis: 'spec', jitter: jitterOf(facts), controller: 'source-controller' };
    let from: number | undefined;
    for (const t of [time(obj.status?.artifact?.lastUpdateTime), ...cs.map((c) => time(c.lastTransitionTime))]) {
      if (t !== undefined && (from === undefined || t > from)) from = t;
    }
    if (from !== undefined) w.from = from;
    return w;
  }
  return undefined;
}

/** When the wait ends: `at` exactly (a timeout, to the second) or `by` at the latest; no `at` when unknown. */
export interface WaitDue {
  at?: number;
  bound: 'at' | 'by';
  /** A timeout whose time has passed while the controller has not written the outcome yet. */
  overdue?: boolean;
}

/**
 * When the wait of `w` ends, seen at `now`. A timeout ends at `from` + its duration (+1 s: the start is known to
 * the second). A retry or fetch repeats every `ms` (±jitter) from the attempt at `from`, each one later by the
 * controller's own work: attempt k comes in [from + k·ms·(1−j), from + 1 s + k·(ms·(1+j) + 1 s)]. The next
 * attempt after `now` comes no later than the end of the window of the first attempt certainly after `now`, and
 * never later than one period from now. Without `from`: only the period is known.
 */
export function waitDue(w: WaitInfo, now: number): WaitDue {
  if (w.kind === 'timeout') {
    if (w.from === undefined) return { bound: 'at' };
    const at = w.from + w.ms + TRUNCATION_MS;
    return at <= now ? { at, bound: 'at', overdue: true } : { at, bound: 'at' };
  }
  if (w.from === undefined || w.ms <= 0) return { bound: 'by' };
  const j = Math.min(Math.max(w.jitter ?? 0, 0), 0.99);
  const shortest = w.ms * (1 - j);
  const longest = w.ms * (1 + j) + ATTEMPT_ALLOWANCE_MS;
  const k = Math.max(1, Math.floor((now - w.from) / shortest) + 1);
  const windowEnd = w.from + TRUNCATION_MS + k * longest;
  return { at: Math.ceil(Math.min(windowEnd, now + longest)), bound: 'by' };
}

/** The `wait` of a `phase` event (docs/json-events.md): the wait as seen when the event is written. */
export interface WaitEvent {
  kind: WaitKind;
  /** ISO time: when the wait ends (`bound: 'at'`) or ends at the latest (`bound: 'by'`); absent when unknown. */
  at?: string;
  bound: 'at' | 'by';
  /** The period (retry, fetch) or the timeout, in ms. */
  ms: number;
  basis: WaitBasis;
  jitter?: number;
  /** ISO time the controller last visibly acted (WaitInfo.from): `at` is inferred from it. */
  from?: string;
  controller?: ControllerName;
  flag?: string;
  overdue?: true;
}

export function waitEvent(w: WaitInfo, now: number): WaitEvent {
  const due = waitDue(w, now);
  const e: WaitEvent = { kind: w.kind, bound: due.bound, ms: w.ms, basis: w.basis };
  if (due.at !== undefined) e.at = new Date(due.at).toISOString();
  if (w.jitter) e.jitter = w.jitter;
  if (w.from !== undefined) e.from = new Date(w.from).toISOString();
  if (w.controller) e.controller = w.controller;
  if (w.flag) e.flag = w.flag;
  if (due.overdue) e.overdue = true;
  return e;
}
