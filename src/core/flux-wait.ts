// How long Flux itself waits for the workloads of an object before it decides, from the object alone. Pure: no
// I/O, no clock (the caller passes `now` where a remaining time is wanted).
//
// What the controllers write while they wait (read from their source):
// - kustomize-controller (internal/controller/kustomization_controller.go, checkHealth): before the health check
//   it marks Reconciling=True reason Progressing and Healthy=Unknown reason Progressing, both with the message
//   `Running health checks for revision <rev> with a timeout of <d>` (<d> is Go's time.Duration.String(),
//   `5m0s`), then waits at most obj.GetTimeout(): spec.timeout, else spec.interval − 30 s, never under 30 s
//   (api/v1 kustomization_types.go). Healthy is True or False after every health check, so its
//   lastTransitionTime is the moment this one started (the first health check sets it from nothing).
//   It gives up with Ready=False reason HealthCheckFailed.
// - helm-controller (internal/reconcile/atomic_release.go): before each Helm action it marks Reconciling=True
//   reason Progressing `Running '<action>' action with timeout of <d>` and, for the release actions (install,
//   upgrade), Ready=Unknown reason Progressing with the same message; <d> is the action's own timeout, else
//   spec.timeout, else 5m (api/v2 helmrelease_types.go GetTimeout). Ready is True or False after an action, so
//   its lastTransitionTime is then the action's start; when Ready was already Unknown (a first reconcile that
//   waited for a dependency), it is earlier, and the deadline said is then early too (never late). It gives up
//   with Ready=False reason InstallFailed or UpgradeFailed (Released=False).
import { goDurationMs } from './duration.js';
import type { Condition, KubeObject } from './types.js';

/** What Flux is waiting for on one object, and until when. */
export interface FluxWait {
  /** `health checks` (kustomize-controller), or the Helm action that waits for the workloads (`install`, `upgrade`). */
  action: string;
  /** The revision the controller names (Kustomization health checks). */
  revision?: string;
  /** The controller's timeout for it, as it writes it (`5m0s`), and in ms. */
  timeout: string;
  timeoutMs: number;
  /** When the wait started (ms since epoch), from the condition the controller set when it began; undefined when no condition says. */
  startedAt?: number;
  /** startedAt + timeoutMs: when the controller gives up, at the latest. */
  deadline?: number;
}

/** The Helm actions that wait for the release's workloads (with `wait`, the default): install and upgrade. */
export const HELM_WAITING_ACTIONS: ReadonlySet<string> = new Set(['install', 'upgrade']);

// Go's time.Duration.String() of a non-negative duration (time/time.go): `0s`; under a second `<n>[.<f>]` with
// `ns`, `µs` (U+00B5) or `ms`; else `[<h>h<m>m|<m>m]<s>[.<f>]s` with minutes and seconds under 60 once a larger
// unit is written (`5m0s`, `1h0m0s`, `1m30.5s`, `45s`). Never `us`, `1h30m` or `90s`: those are what a person
// types (time.ParseDuration, waits.ts parseGoDuration), not what a controller prints. The timeouts in these
// messages are never negative (the CRDs' spec.timeout pattern has no sign; GetTimeout's fallback is at least 30s).
const SIXTY = '(?:[1-5]\\d|\\d)'; // 0 to 59, no leading zero
const SIXTY_NZ = '(?:[1-5]\\d|[1-9])'; // 1 to 59
const FRACTION = '(?:\\.\\d{0,8}[1-9])?'; // Go drops the trailing zeros
const DURATION_STRING = new RegExp(
  `^(?:0s|[1-9]\\d{0,2}${FRACTION}(?:ns|µs|ms)` +
    `|[1-9]\\d{0,5}h${SIXTY}m${SIXTY}${FRACTION}s|${SIXTY_NZ}m${SIXTY}${FRACTION}s|${SIXTY_NZ}${FRACTION}s)$`,
);

/** A Go time.Duration.String() (`5m0s`, `1h0m0s`, `1.5s`, `500ms`) in ms; undefined when it is not one. */
export function parseDurationString(s: unknown): number | undefined {
  if (typeof s !== 'string' || !DURATION_STRING.test(s)) return undefined;
  // Any value of that form: a controller's timeout is not bounded here as a flag or spec.interval is (waits.ts).
  return goDurationMs(s, Number.POSITIVE_INFINITY);
}

/** What one of the controllers' wait messages says: what runs, on which revision, with which timeout. */
export interface WaitMessage {
  /** `health checks` (kustomize-controller), or the Helm action's name as helm-controller writes it. */
  action: string;
  /** The revision the controller names (Kustomization health checks only). */
  revision?: string;
  /** The timeout as the controller wrote it (`5m0s`), and in ms. */
  timeout: string;
  timeoutMs: number;
}

/** Longer than any such message with a revision of at most 512 characters (HEALTH); a longer one is not read. */
const MAX_MESSAGE = 1024;
// kustomize-controller (internal/controller/kustomization_controller.go, checkHealth):
//   fmt.Sprintf("Running health checks for revision %s with a timeout of %s", revision, obj.GetTimeout().String())
// The revision is the source artifact's (`main@sha1:<hex>`, `latest@sha256:<hex>`, `sha256:<hex>`): no
// whitespace, no control or format characters (\p{C}); 512 characters is more than a git ref name and a digest.
const HEALTH = /^Running health checks for revision ([^\s\p{C}]{1,512}) with a timeout of ([0-9.a-zµ]{1,40})$/u;
// helm-controller (internal/reconcile/atomic_release.go, the action loop, the same in v1.0.0 to v1.6.x):
//   fmt.Sprintf("Running '%s' action with timeout of %s", next.Name(), timeoutForAction(next, obj).String())
// next.Name() is one of install, upgrade, test, rollback, uninstall, unlock and `correct cluster drift` (the
// Name() of each action reconciler in internal/reconcile): lower-case words joined by one space or hyphen.
const HELM = /^Running '([a-z]{1,32}(?:[ -][a-z]{1,32}){0,3})' action with timeout of ([0-9.a-zµ]{1,40})$/;

/**
 * The one reader of Flux's wait messages: a Kustomization's `Running health checks for revision R with a timeout
 * of T` or a HelmRelease's `Running '<action>' action with timeout of T`, exactly as the controllers format them
 * (T a Go time.Duration.String()). Undefined for anything else: another kind, another message, a duration or
 * revision no controller writes, an over-long message. Used by fluxWait (fail-fast) and computeWait (waits.ts).
 */
export function parseWaitMessage(kind: unknown, message: unknown): WaitMessage | undefined {
  if (typeof message !== 'string' || message.length > MAX_MESSAGE) return undefined;
  if (kind === 'Kustomization') {
    const m = HEALTH.exec(message);
    const ms = m ? parseDurationString(m[2]) : undefined;
    return m && ms !== undefined ? { action: 'health checks', revision: m[1]!, timeout: m[2]!, timeoutMs: ms } : undefined;
  }
  if (kind === 'HelmRelease') {
    const m = HELM.exec(message);
    if (!m || m[1]!.length > 32) return undefined;
    const ms = parseDurationString(m[2]);
    return ms !== undefined ? { action: m[1]!, timeout: m[2]!, timeoutMs: ms } : undefined;
  }
  return undefined;
}

function conds(obj: KubeObject): Condition[] {
  const c: unknown = obj.status?.conditions;
  return Array.isArray(c) ? c.filter((x): x is Condition => !!x && typeof x === 'object' && typeof x.type === 'string') : [];
}

function time(c: Condition | undefined): number | undefined {
  const t = c?.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

/**
 * What Flux waits for on `obj` right now: a Kustomization's health checks or a HelmRelease's install/upgrade
 * (which waits for its workloads), with the timeout the controller wrote and, when a condition says when it
 * began, the deadline. Undefined when the object is not waiting (Reconciling is not True with such a message).
 */
export function fluxWait(obj: KubeObject | undefined): FluxWait | undefined {
  if (!obj || (obj.kind !== 'Kustomization' && obj.kind !== 'HelmRelease')) return undefined;
  const cs = conds(obj);
  const rec = cs.find((c) => c.type === 'Reconciling');
  if (rec?.status !== 'True' || typeof rec.message !== 'string') return undefined;
  const parsed = parseWaitMessage(obj.kind, rec.message);
  if (!parsed) return undefined;
  const message = rec.message;
  if (obj.kind === 'HelmRelease') {
    if (!HELM_WAITING_ACTIONS.has(parsed.action)) return undefined;
    // `wait` off (spec.install.disableWait / spec.upgrade.disableWait): Helm does not wait for the workloads.
    const spec = obj.spec?.[parsed.action];
    if (spec && typeof spec === 'object' && spec.disableWait === true) return undefined;
  }
  const out: FluxWait = { ...parsed };
  const marker = cs.find((c) => c.type === (obj.kind === 'Kustomization' ? 'Healthy' : 'Ready'));
  // The condition set at the start carries the same message; Reconciling's own time is the reconcile's start
  // (it stays True through the earlier steps), earlier still: the later of the two is the closer one.
  const markerTime = marker && marker.status === 'Unknown' && marker.message === message ? time(marker) : undefined;
  const recTime = time(rec);
  const started = markerTime !== undefined && recTime !== undefined ? Math.max(markerTime, recTime) : (markerTime ?? recTime);
  if (started !== undefined) {
    out.startedAt = started;
    out.deadline = started + out.timeoutMs;
  }
  return out;
}

/** `4m12s`, `45s`, `1h3m`: a short human duration (whole seconds, rounded up). */
export function shortDuration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return `${h}h${m ? `${m}m` : ''}`;
  if (m) return `${m}m${sec ? `${sec}s` : ''}`;
  return `${sec}s`;
}

/** `Flux gives up in 4m12s` (its health checks, or the Helm action, with the timeout it wrote), or what is known. */
export function fluxGivesUpText(w: FluxWait | undefined, now: number): string {
  if (!w) return 'Flux has not decided yet';
  const what = w.action === 'health checks' ? `its health checks time out after ${w.timeout}` : `its Helm ${w.action} times out after ${w.timeout}`;
  if (w.deadline === undefined) return `Flux gives up when ${what}`;
  const left = w.deadline - now;
  return left > 0 ? `Flux gives up in ${shortDuration(left)} (${what})` : `Flux gives up any moment now (${what})`;
}
