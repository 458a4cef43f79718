// Fail-fast: the workload states that settle a deploy before Flux does. Pure: no I/O, no clock (`now` is passed).
//
// While a Kustomization runs its health checks or a HelmRelease's install/upgrade waits (core/flux-wait.ts), Flux
// decides only at its timeout (often 5–10 minutes), and kstatus calls a rollout Failed only at
// ProgressDeadlineExceeded (600 s by default). The kubelet, the scheduler and the workload controllers say what is
// wrong within seconds. FAIL_FAST_RULES is the one table of what counts as conclusive: each rule reads one shape
// those components write (k8s.io/kubernetes v1.34; the same shapes src/core/workloads.ts reads), says what it
// needs, and how long it must hold before it counts. The engine (src/engine/failfast.ts) reads the workloads and
// pods the wait is for, keeps each piece of evidence with the time it was first seen (holdEvidence), marks the
// object Failing once one is conclusive, and, with fail_fast, ends the session after a grace period.
import { pullErrorGist } from './workloads.js';
import { firstLine } from './sanitize.js';
import { fluxGivesUpText, shortDuration, type FluxWait } from './flux-wait.js';
import type { FailingInfo, KubeObject, NodeState } from './types.js';

/** One piece of conclusive-looking evidence about a pod or a workload. */
export interface Evidence {
  /** The rule of FAIL_FAST_RULES that found it. */
  rule: string;
  /** The kubelet's, scheduler's or controller's reason (`ImagePullBackOff`, `ProgressDeadlineExceeded`…). */
  reason: string;
  /** `pod team/web-7d9f8b6c5-x2x8k` or `Deployment team/web`. */
  subject: string;
  container?: string;
  /** One line, sanitised: `pod web-7d9f8b6c5-x2x8k: ImagePullBackOff: registry.example/web:1.2.99 (not found)`. */
  text: string;
  /** Since when the object itself says this holds (ms since epoch), when it says (a condition's lastTransitionTime). */
  since?: number;
}

/** Evidence as the engine keeps it across reads. */
export interface HeldEvidence extends Evidence {
  /** When the monitor first saw it (ms since epoch). */
  firstSeen: number;
  /** When it counts as conclusive: its rule's hold measured from `since` (or `firstSeen`), never before `firstSeen`. */
  conclusiveAt: number;
}

export interface FailFastRule {
  id: string;
  /** What it reads, and where the component that writes it comes from. */
  reads: string;
  /** How long the state must have held before it counts (from the object's own time when it has one, else from when the monitor first saw it). */
  holdMs: number;
  /** Pods or a workload. */
  on: 'pod' | 'workload';
  /** The evidence it finds in one pod or workload (each container at most once across the pod rules: the first rule wins). */
  match(obj: KubeObject): Evidence[];
}

/** CrashLoopBackOff counts from this many restarts (the kubelet's back-off is then 40 s: 10 s, 20 s, 40 s…). */
export const CRASH_LOOP_RESTARTS = 3;
/** An OOM kill counts as a loop from this many restarts. */
export const OOM_LOOP_RESTARTS = 2;
/** PodScheduled=False Unschedulable counts after this long (a cluster autoscaler may add a node meanwhile). */
export const UNSCHEDULABLE_HOLD_MS = 120_000;
/** The grace period after the evidence turned conclusive before a fail-fast verdict (`fail_fast_grace`): an image CI is still pushing is the case to survive. */
export const DEFAULT_FAIL_FAST_GRACE_S = 30;

// The registry's answer, as the runtime passes it on (containerd's "failed to resolve reference …: not found",
// "… manifest unknown", CRI-O / docker "pull access denied, repository does not exist or may require
// authorization", distribution's "denied: requested access to the resource is denied", "401 Unauthorized",
// "403 Forbidden", "insufficient_scope"). Network and registry-side failures (timeouts, refused connections,
// DNS, 429 and 5xx) are not conclusive: the next pull may succeed.
const IMAGE_MISSING = /: not found\s*$|\bcode = NotFound\b|\bmanifest unknown\b|\bname unknown\b|\brepository does not exist\b|\bnot found: manifest\b/i;
const IMAGE_DENIED = /\bpull access denied\b|\baccess (?:to the resource )?is denied\b|\bdenied: |\b401 Unauthorized\b|\b403 Forbidden\b|\binsufficient_scope\b|\bauthentication required\b|\bunauthorized: /i;
const PULL_TRANSIENT = /\btoomanyrequests\b|\b429\b|\b5\d\d (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\b|\bi\/o timeout\b|\bconnection (?:refused|reset)\b|\bno such host\b|\bTLS handshake timeout\b|\bcontext deadline exceeded\b|\bnetwork is unreachable\b/i;

// ---------------------------------------------------------------------------------------------- readers

interface ContainerStatus {
  name?: string;
  image?: string;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; running?: unknown; terminated?: { reason?: string; exitCode?: number } };
  lastState?: { terminated?: { reason?: string; exitCode?: number; message?: string } };
}

function statuses(pod: KubeObject): Array<{ cs: ContainerStatus; init: boolean }> {
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is ContainerStatus => !!x && typeof x === 'object') : []);
  return [...list(pod.status?.initContainerStatuses).map((cs) => ({ cs, init: true })), ...list(pod.status?.containerStatuses).map((cs) => ({ cs, init: false }))];
}

const clip = (s: unknown, max = 200) => firstLine(s, { maxLength: max });
const podSubject = (pod: KubeObject) => `pod ${clip(pod.metadata?.namespace, 63)}/${clip(pod.metadata?.name, 253)}`;
const podName = (pod: KubeObject) => clip(pod.metadata?.name, 253);
const containerName = (cs: ContainerStatus, init: boolean) => {
  const n = clip(cs.name, 63);
  return n ? (init ? `${n} (init)` : n) : undefined;
};
const restarts = (cs: ContainerStatus) => (typeof cs.restartCount === 'number' && Number.isFinite(cs.restartCount) ? cs.restartCount : 0);

function conditions(o: KubeObject): Array<{ type?: string; status?: string; reason?: string; message?: string; lastTransitionTime?: string }> {
  const c: unknown = o.status?.conditions;
  return Array.isArray(c) ? c.filter((x) => !!x && typeof x === 'object') : [];
}

function ms(t: unknown): number | undefined {
  const v = typeof t === 'string' ? Date.parse(t) : NaN;
  return Number.isFinite(v) ? v : undefined;
}

/** One rule per container state: evidence for each container whose waiting (or last terminated) state `test` accepts. */
function containerRule(
  test: (cs: ContainerStatus) => { reason: string; detail: string } | undefined,
): (pod: KubeObject) => Evidence[] {
  return (pod) => {
    if (pod.metadata?.deletionTimestamp) return []; // a pod on its way out says nothing about the new one
    const out: Evidence[] = [];
    for (const { cs, init } of statuses(pod)) {
      const hit = test(cs);
      if (!hit) continue;
      const container = containerName(cs, init);
      out.push({
        rule: '',
        reason: hit.reason,
        subject: podSubject(pod),
        ...(container ? { container } : {}),
        text: clip(`pod ${podName(pod)}: ${hit.reason}: ${hit.detail}`, 400),
      });
    }
    return out;
  };
}

const waiting = (cs: ContainerStatus) => cs.state?.waiting;

// ---------------------------------------------------------------------------------------------- the table

/** The rules, most telling first (a container is described by the first rule that matches it). */
export const FAIL_FAST_RULES: readonly FailFastRule[] = [
  {
    id: 'image-unavailable',
    on: 'pod',
    reads:
      'containerStatuses[].state.waiting.reason ErrImagePull or ImagePullBackOff (pkg/kubelet/images/types.go) whose message, the runtime\'s pull ' +
      'error (images/image_manager.go; "Back-off pulling image \\"x\\": ErrImagePull: <error>" while backing off), says the image or tag does ' +
      'not exist (containerd "…: not found", "manifest unknown") or access is denied ("pull access denied", "401 Unauthorized", "403 Forbidden"); ' +
      'not a network or registry-side error (timeout, refused, DNS, 429, 5xx), nor a back-off message without the error',
    holdMs: 0,
    match: containerRule((cs) => {
      const w = waiting(cs);
      if (w?.reason !== 'ErrImagePull' && w?.reason !== 'ImagePullBackOff') return undefined;
      const msg = typeof w.message === 'string' ? w.message.slice(0, 4096) : '';
      if (!msg || PULL_TRANSIENT.test(msg)) return undefined;
      if (!IMAGE_MISSING.test(msg) && !IMAGE_DENIED.test(msg)) return undefined;
      const image = clip(cs.image, 300);
      return { reason: w.reason, detail: `${image ? `${image} ` : ''}(${pullErrorGist(msg)})` };
    }),
  },
  {
    id: 'invalid-image-name',
    on: 'pod',
    reads: 'containerStatuses[].state.waiting.reason InvalidImageName (pkg/kubelet/images/types.go ErrInvalidImageName; message "Failed to apply default image tag …: couldn\'t parse image name …")',
    holdMs: 0,
    match: containerRule((cs) => {
      const w = waiting(cs);
      return w?.reason === 'InvalidImageName' ? { reason: 'InvalidImageName', detail: clip(w.message || cs.image, 300) } : undefined;
    }),
  },
  {
    id: 'container-config',
    on: 'pod',
    reads:
      'containerStatuses[].state.waiting.reason CreateContainerConfigError (pkg/kubelet/kuberuntime/kuberuntime_container.go), message from ' +
      'kubelet_pods.go makeEnvironmentVariables / volume setup: \'configmap "x" not found\', \'couldn\'t find key k in ConfigMap ns/x\', ' +
      '\'secret "x" not found\', \'couldn\'t find key k in Secret ns/x\' (also runAsNonRoot violations); the grace period lets a ConfigMap or ' +
      'Secret that the same push creates elsewhere arrive',
    holdMs: 0,
    match: containerRule((cs) => {
      const w = waiting(cs);
      return w?.reason === 'CreateContainerConfigError' ? { reason: 'CreateContainerConfigError', detail: clip(w.message, 300) || 'no message' } : undefined;
    }),
  },
  {
    id: 'oom-loop',
    on: 'pod',
    reads: `lastState.terminated.reason OOMKilled (exit code 137, pkg/kubelet/kuberuntime helpers.go) with restartCount >= ${OOM_LOOP_RESTARTS}: killed for memory, restarted, killed again`,
    holdMs: 0,
    match: containerRule((cs) => {
      if (cs.lastState?.terminated?.reason !== 'OOMKilled' || restarts(cs) < OOM_LOOP_RESTARTS) return undefined;
      return { reason: 'OOMKilled', detail: `killed for memory, ${restarts(cs)} restarts` };
    }),
  },
  {
    id: 'crash-loop',
    on: 'pod',
    reads:
      `containerStatuses[].state.waiting.reason CrashLoopBackOff (pkg/kubelet/container/sync_result.go; message "back-off 40s restarting failed ` +
      `container=…", kuberuntime_manager.go) with restartCount >= ${CRASH_LOOP_RESTARTS}, and how the last run ended (lastState.terminated)`,
    holdMs: 0,
    match: containerRule((cs) => {
      const w = waiting(cs);
      if (w?.reason !== 'CrashLoopBackOff' || restarts(cs) < CRASH_LOOP_RESTARTS) return undefined;
      const t = cs.lastState?.terminated;
      const last = t ? `, last run: ${clip(t.reason, 60) || 'ended'}${typeof t.exitCode === 'number' ? ` (exit code ${t.exitCode})` : ''}${t.message ? `: ${clip(t.message, 160)}` : ''}` : '';
      return { reason: 'CrashLoopBackOff', detail: `${restarts(cs)} restarts${last}` };
    }),
  },
  {
    id: 'unschedulable',
    on: 'pod',
    reads:
      'conditions PodScheduled=False reason Unschedulable with the scheduler\'s "0/N nodes are available: …" (pkg/scheduler/schedule_one.go, ' +
      `framework FitError), held ${UNSCHEDULABLE_HOLD_MS / 1000} s by its lastTransitionTime`,
    holdMs: UNSCHEDULABLE_HOLD_MS,
    match: (pod) => {
      if (pod.metadata?.deletionTimestamp) return [];
      const c = conditions(pod).find((x) => x.type === 'PodScheduled');
      if (c?.status !== 'False' || c.reason !== 'Unschedulable') return [];
      const since = ms(c.lastTransitionTime);
      return [{ rule: '', reason: 'Unschedulable', subject: podSubject(pod), text: clip(`pod ${podName(pod)}: Unschedulable: ${clip(c.message, 300)}`, 400), ...(since !== undefined ? { since } : {}) }];
    },
  },
  {
    id: 'job-backoff-limit',
    on: 'workload',
    reads: 'a Job\'s condition Failed=True reason BackoffLimitExceeded, "Job has reached the specified backoff limit" (pkg/controller/job/job_controller.go)',
    holdMs: 0,
    match: (w) => {
      if (w.kind !== 'Job') return [];
      const c = conditions(w).find((x) => x.type === 'Failed');
      if (c?.status !== 'True' || c.reason !== 'BackoffLimitExceeded') return [];
      const failed = typeof w.status?.failed === 'number' ? `, ${w.status.failed} failed pods` : '';
      return [{ rule: '', reason: 'BackoffLimitExceeded', subject: `Job ${clip(w.metadata?.namespace, 63)}/${clip(w.metadata?.name, 253)}`, text: clip(`Job ${clip(w.metadata?.name, 253)}: BackoffLimitExceeded: ${clip(c.message, 200)}${failed}`, 400) }];
    },
  },
  {
    id: 'progress-deadline',
    on: 'workload',
    reads: 'a Deployment\'s condition Progressing=False reason ProgressDeadlineExceeded, \'ReplicaSet "x" has timed out progressing.\' (pkg/controller/deployment/progress.go)',
    holdMs: 0,
    match: (w) => {
      if (w.kind !== 'Deployment') return [];
      const c = conditions(w).find((x) => x.type === 'Progressing');
      if (c?.status !== 'False' || c.reason !== 'ProgressDeadlineExceeded') return [];
      return [{ rule: '', reason: 'ProgressDeadlineExceeded', subject: `Deployment ${clip(w.metadata?.namespace, 63)}/${clip(w.metadata?.name, 253)}`, text: clip(`Deployment ${clip(w.metadata?.name, 253)}: ProgressDeadlineExceeded: ${clip(c.message, 200)}`, 400) }];
    },
  },
];

const RULE_BY_ID = new Map(FAIL_FAST_RULES.map((r) => [r.id, r]));

/** The evidence in one workload (its own conditions) and its pods, by the rules of the table, at most one per container. */
export function findEvidence(workload: KubeObject | undefined, pods: readonly KubeObject[] = []): Evidence[] {
  const out: Evidence[] = [];
  if (workload) for (const r of FAIL_FAST_RULES) if (r.on === 'workload') for (const e of r.match(workload)) out.push({ ...e, rule: r.id });
  for (const pod of pods) {
    const seen = new Set<string>();
    for (const r of FAIL_FAST_RULES) {
      if (r.on !== 'pod') continue;
      for (const e of r.match(pod)) {
        const k = e.container ?? '';
        if (e.container !== undefined && seen.has(k)) continue;
        seen.add(k);
        out.push({ ...e, rule: r.id });
      }
    }
  }
  return out;
}

export const evidenceKey = (e: Pick<Evidence, 'rule' | 'subject' | 'container'>) => `${e.rule}|${e.subject}|${e.container ?? ''}`;

/**
 * The evidence after one more read: what is found again keeps when it was first seen; what is not found any more
 * is gone (a pull that succeeded, a pod replaced); what is new starts now. Each counts as conclusive from its
 * rule's hold after `since` (the object's own time) or after it was first seen.
 */
export function holdEvidence(prev: ReadonlyMap<string, HeldEvidence>, found: readonly Evidence[], now: number): Map<string, HeldEvidence> {
  const next = new Map<string, HeldEvidence>();
  for (const e of found) {
    const k = evidenceKey(e);
    if (next.has(k)) continue;
    const before = prev.get(k);
    const firstSeen = before?.firstSeen ?? now;
    const hold = RULE_BY_ID.get(e.rule)?.holdMs ?? 0;
    const from = e.since !== undefined && e.since <= firstSeen ? e.since : firstSeen;
    next.set(k, { ...e, firstSeen, conclusiveAt: Math.max(firstSeen, from + hold) });
  }
  return next;
}

/** The conclusive evidence at `now`, earliest first. */
export function conclusive(held: Iterable<HeldEvidence>, now: number): HeldEvidence[] {
  return [...held].filter((e) => e.conclusiveAt <= now).sort((a, b) => a.conclusiveAt - b.conclusiveAt || (evidenceKey(a) < evidenceKey(b) ? -1 : 1));
}

/** The FailingInfo of conclusive evidence (non-empty), with Flux's wait and the grace period when fail_fast is on. */
export function failingInfo(evidence: readonly HeldEvidence[], wait: FluxWait | undefined, graceMs: number | undefined, max = 5): FailingInfo {
  const since = Math.min(...evidence.map((e) => e.conclusiveAt));
  const info: FailingInfo = {
    evidence: evidence.slice(0, max).map((e) => ({ rule: e.rule, reason: e.reason, subject: e.subject, ...(e.container ? { container: e.container } : {}), text: e.text, since: e.conclusiveAt })),
    since,
  };
  if (wait) info.flux = { action: wait.action, timeout: wait.timeout, ...(wait.deadline !== undefined ? { deadline: wait.deadline } : {}) };
  if (graceMs !== undefined) info.failFastAt = since + graceMs;
  return info;
}

/** The reason a Failing node shows: its first evidence's (`ImagePullBackOff`). */
export function failingReason(info: FailingInfo): string {
  return info.evidence[0]?.reason ?? 'Failing';
}

/** The message a Failing node shows: the first evidence, how many more, and when Flux gives up. */
export function failingMessage(info: FailingInfo, now: number): string {
  const first = info.evidence[0]?.text ?? 'conclusive evidence';
  const more = info.evidence.length > 1 ? ` (+${info.evidence.length - 1} more)` : '';
  return `${first}${more}; ${givesUp(info, now)}`;
}

function givesUp(info: FailingInfo, now: number): string {
  if (!info.flux) return 'Flux has not decided yet';
  return fluxGivesUpText({ action: info.flux.action, timeout: info.flux.timeout, timeoutMs: 0, ...(info.flux.deadline !== undefined ? { deadline: info.flux.deadline } : {}) }, now);
}

/**
 * The message of a fail-fast verdict: which object, the evidence, how long it held, and that Flux has not decided
 * yet and when it will (`commit abc1234 failed (fail-fast): Kustomization apps/web: pod web-…: ImagePullBackOff:
 * … (not found), held 30s; Flux has not decided yet: Flux gives up in 4m12s (…)`).
 */
export function failFastVerdictMessage(sha: string, n: Pick<NodeState, 'kind' | 'namespace' | 'name'>, info: FailingInfo, now: number): string {
  const first = info.evidence[0]?.text ?? 'conclusive evidence';
  const more = info.evidence.length > 1 ? ` (+${info.evidence.length - 1} more)` : '';
  const flux = info.flux ? `Flux has not decided yet (${givesUp(info, now)})` : 'Flux has not decided yet';
  return `commit ${sha.slice(0, 7)} failed (fail-fast): ${n.kind} ${n.namespace}/${n.name}: ${first}${more}, held ${shortDuration(now - info.since)}; ${flux}`;
}

/**
 * The lines a view draws under a Failing node at `now`: its evidence (`problem`), then Flux's deadline and, with
 * fail_fast, when the session ends if the evidence still holds (`info`). All evidence when `all`, else the first.
 */
export function failingLines(info: FailingInfo, now: number, all = false): Array<{ text: string; tone: 'problem' | 'info' }> {
  const shown = all ? info.evidence : info.evidence.slice(0, 1);
  const out: Array<{ text: string; tone: 'problem' | 'info' }> = shown.map((e) => ({ text: e.text, tone: 'problem' }));
  if (!all && info.evidence.length > 1) out[0]!.text += ` (+${info.evidence.length - 1} more)`;
  let flux = info.flux ? givesUp(info, now) : 'Flux has not decided yet';
  if (info.failFastAt !== undefined) {
    const left = info.failFastAt - now;
    flux += left > 0 ? `; fail-fast verdict in ${shortDuration(left)} if this holds` : '; fail-fast verdict now';
  }
  out.push({ text: flux, tone: 'info' });
  return out;
}
