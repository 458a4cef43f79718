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
import type { Condition, KubeObject } from './types.js';

/** What Flux is waiting for on one object, and until when. */
export interface FluxWait {
  /** `health checks` (kustomize-controller), or the Helm action (`install`, `upgrade`, `test`, `rollback`, `uninstall`). */
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

const HEALTH = /^Running health checks for revision (\S{1,512}) with a timeout of ((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/;
const HELM = /^Running '([a-z]{1,20})' action with timeout of ((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/;
/** The Helm actions that wait for the release's workloads (with `wait`, the default): install and upgrade. */
export const HELM_WAITING_ACTIONS: ReadonlySet<string> = new Set(['install', 'upgrade']);

/** A Go time.Duration.String() (`1h2m3.5s`, `500ms`) in ms; undefined when it is not one. */
export function parseGoDuration(s: string): number | undefined {
  if (!/^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(s)) return undefined;
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    const n = Number(m[1]);
    const unit = m[2];
    ms += unit === 'h' ? n * 3_600_000 : unit === 'm' ? n * 60_000 : unit === 's' ? n * 1000 : unit === 'ms' ? n : unit === 'ns' ? n / 1e6 : n / 1000;
  }
  return Math.round(ms);
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
  const message = rec.message.length > 1024 ? '' : rec.message.trim();
  let out: FluxWait | undefined;
  let marker: Condition | undefined;
  if (obj.kind === 'Kustomization') {
    const m = HEALTH.exec(message);
    if (!m) return undefined;
    const ms = parseGoDuration(m[2]!);
    if (ms === undefined) return undefined;
    out = { action: 'health checks', revision: m[1]!, timeout: m[2]!, timeoutMs: ms };
    marker = cs.find((c) => c.type === 'Healthy');
  } else {
    const m = HELM.exec(message);
    if (!m || !HELM_WAITING_ACTIONS.has(m[1]!)) return undefined;
    // `wait` off (spec.install.disableWait / spec.upgrade.disableWait): Helm does not wait for the workloads.
    const spec = obj.spec?.[m[1]!];
    if (spec && typeof spec === 'object' && spec.disableWait === true) return undefined;
    const ms = parseGoDuration(m[2]!);
    if (ms === undefined) return undefined;
    out = { action: m[1]!, timeout: m[2]!, timeoutMs: ms };
    marker = cs.find((c) => c.type === 'Ready');
  }
  // The condition set at the start carries the same message; Reconciling's own time is the reconcile's start
  // (it stays True through the earlier steps), earlier still: the later of the two is the closer one.
  const markerTime = marker && marker.status === 'Unknown' && marker.message?.trim() === message ? time(marker) : undefined;
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
