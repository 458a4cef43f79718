// What is wrong with a workload and its pods, from the objects alone. Pure: no I/O, no clock.
//
// The engine (src/engine/diagnose.ts) reads the Deployments, StatefulSets, DaemonSets and Jobs behind a failing
// health check, their pods and the Flux object's Events; this file turns them into the lines a person looks for.
// The shapes read are those the Kubernetes controllers and the kubelet write (k8s.io/kubernetes v1.34):
// - Deployment status (pkg/controller/deployment): replicas, updatedReplicas, readyReplicas, availableReplicas,
//   observedGeneration; Progressing=False ProgressDeadlineExceeded, ReplicaFailure=True FailedCreate.
// - StatefulSet / DaemonSet status (pkg/controller/statefulset, pkg/controller/daemon).
// - Job status (pkg/controller/job): active/succeeded/failed, Complete=True, Failed=True BackoffLimitExceeded.
// - Pod status (pkg/kubelet): containerStatuses[].state.waiting.reason ImagePullBackOff / ErrImagePull
//   (pkg/kubelet/images/types.go, messages from images/image_manager.go), CrashLoopBackOff
//   (pkg/kubelet/container/sync_result.go, message from kuberuntime_manager.go), lastState.terminated.reason
//   OOMKilled / Error with exitCode; conditions Ready=False ContainersNotReady "containers with unready status:
//   [c]" (pkg/kubelet/status/generate.go); PodScheduled=False Unschedulable with the scheduler's
//   "0/N nodes are available: …" (pkg/scheduler/framework/types.go FitError).
import { revisionMatches } from './revision.js';
import { firstLine, sanitizeText } from './sanitize.js';
import {
  WORKLOAD_KINDS,
  type Diagnosis,
  type FluxEventInfo,
  type KubeObject,
  type PodDiagnosis,
  type PodProblem,
  type PushedRevision,
  type RolloutState,
  type WorkloadDiagnosis,
  type WorkloadKind,
} from './types.js';

/** Bounds of one diagnosis: it reads and keeps no more than this, whatever the size of the fleet. */
export interface DiagnosisLimits {
  /** Not-ready workloads described per Flux object. */
  workloads: number;
  /** Pods with a problem described per workload. */
  pods: number;
  /** Events kept per Flux object. */
  events: number;
  /** LIST requests for workloads (one per namespace and kind) per Flux object. */
  lists: number;
  /** Pods read per workload (the LIST's `limit`). */
  podPage: number;
  /** Characters kept of each message. */
  messageLength: number;
}

export const DEFAULT_DIAGNOSIS_LIMITS: DiagnosisLimits = { workloads: 5, pods: 3, events: 8, lists: 8, podPage: 50, messageLength: 300 };

const API_GROUP: Record<WorkloadKind, string> = { Deployment: 'apps', StatefulSet: 'apps', DaemonSet: 'apps', Job: 'batch' };
const PLURAL: Record<WorkloadKind, string> = { Deployment: 'deployments', StatefulSet: 'statefulsets', DaemonSet: 'daemonsets', Job: 'jobs' };

export function isWorkloadKind(k: unknown): k is WorkloadKind {
  return typeof k === 'string' && (WORKLOAD_KINDS as readonly string[]).includes(k);
}

/** `/apis/<group>/v1/namespaces/<ns>/<plural>` of a workload kind (no query). */
export function workloadPath(kind: WorkloadKind, namespace: string, name?: string): string {
  const base = `/apis/${API_GROUP[kind]}/v1/namespaces/${encodeURIComponent(namespace)}/${PLURAL[kind]}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

export function workloadPlural(kind: WorkloadKind): string {
  return PLURAL[kind];
}

export interface WorkloadRef {
  kind: WorkloadKind;
  namespace: string;
  name: string;
}

/**
 * The workloads of a Flux inventory (`status.inventory.entries[].id` = `<namespace>_<name>_<group>_<kind>`, as
 * kustomize-controller and helm-controller write it): apps Deployments, StatefulSets, DaemonSets, batch Jobs.
 */
export function inventoryWorkloads(entries: unknown): WorkloadRef[] {
  if (!Array.isArray(entries)) return [];
  const out: WorkloadRef[] = [];
  for (const e of entries) {
    const id = (e as { id?: unknown })?.id;
    if (typeof id !== 'string') continue;
    const parts = id.split('_');
    if (parts.length !== 4) continue;
    const [namespace, name, group, kind] = parts as [string, string, string, string];
    if (!isWorkloadKind(kind) || API_GROUP[kind] !== group || !namespace || !name) continue;
    out.push({ kind, namespace, name });
  }
  return out;
}

/**
 * The workloads a kstatus health-check message names: `timeout waiting for: [Deployment/ns/web status:
 * 'InProgress', …]` (fluxcd/pkg ssa WaitForSet, utils.FmtObjMetadata), also helm's `resource not ready, name:
 * web, kind: Deployment` cannot name a namespace and is left to the inventory.
 */
export function workloadsInMessage(message: string | undefined): WorkloadRef[] {
  if (!message) return [];
  const out: WorkloadRef[] = [];
  const seen = new Set<string>();
  const re = /\b(Deployment|StatefulSet|DaemonSet|Job)\/([a-z0-9][a-z0-9-]{0,62})\/([a-z0-9][a-z0-9.-]{0,252})\b/g;
  for (const m of message.slice(0, 65536).matchAll(re)) {
    const ref = { kind: m[1] as WorkloadKind, namespace: m[2]!, name: m[3]!.replace(/[.-]+$/, '') };
    const k = `${ref.kind}/${ref.namespace}/${ref.name}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(ref);
    }
  }
  return out;
}

/** `spec.healthChecks` of a Kustomization that are workloads (they may be outside its inventory). */
export function healthCheckWorkloads(obj: KubeObject | undefined): WorkloadRef[] {
  const hc: unknown = obj?.spec?.healthChecks;
  if (!Array.isArray(hc)) return [];
  const out: WorkloadRef[] = [];
  for (const h of hc) {
    const kind = h?.kind;
    const name = h?.name;
    const namespace = typeof h?.namespace === 'string' && h.namespace ? h.namespace : obj?.metadata.namespace;
    if (isWorkloadKind(kind) && typeof name === 'string' && name && namespace) out.push({ kind, namespace, name });
  }
  return out;
}

/** A LabelSelector as a `labelSelector=` query value (matchLabels and matchExpressions); undefined when empty. */
export function labelSelectorString(sel: unknown): string | undefined {
  if (!sel || typeof sel !== 'object') return undefined;
  const parts: string[] = [];
  const ml = (sel as { matchLabels?: unknown }).matchLabels;
  if (ml && typeof ml === 'object') for (const [k, v] of Object.entries(ml as Record<string, unknown>)) if (typeof v === 'string') parts.push(`${k}=${v}`);
  const me = (sel as { matchExpressions?: unknown }).matchExpressions;
  if (Array.isArray(me)) {
    for (const e of me) {
      const key = e?.key;
      const values = Array.isArray(e?.values) ? e.values.filter((v: unknown) => typeof v === 'string') : [];
      if (typeof key !== 'string') continue;
      switch (e?.operator) {
        case 'In': parts.push(`${key} in (${values.join(',')})`); break;
        case 'NotIn': parts.push(`${key} notin (${values.join(',')})`); break;
        case 'Exists': parts.push(key); break;
        case 'DoesNotExist': parts.push(`!${key}`); break;
      }
    }
  }
  return parts.length ? parts.join(',') : undefined;
}

// ---------------------------------------------------------------------------------------------- workloads

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

interface Cond {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

function conds(o: KubeObject | undefined): Cond[] {
  const c: unknown = o?.status?.conditions;
  return Array.isArray(c) ? c.filter((x): x is Cond => !!x && typeof x === 'object') : [];
}

const condOf = (o: KubeObject | undefined, type: string) => conds(o).find((c) => c.type === type);

function clip(s: unknown, max: number): string {
  return firstLine(s, { maxLength: max });
}

function condText(c: Cond, max: number): string {
  const reason = clip(c.reason, 80);
  const msg = clip(c.message, max);
  return reason && msg ? `${reason}: ${msg}` : reason || msg;
}

/** The generation part of a rollout summary: whether the workload's controller has observed the current spec. */
function generationNote(r: RolloutState, controller: string): string | undefined {
  if (r.generation === undefined) return undefined;
  if (r.observedGeneration === undefined) return `generation ${r.generation} not observed: no ${controller} controller has acted on it (is kube-controller-manager running?)`;
  if (r.observedGeneration < r.generation) return `generation ${r.generation} not observed yet (observed ${r.observedGeneration})`;
  return `generation ${r.generation} observed`;
}

export interface WorkloadState {
  ready: boolean;
  rollout: RolloutState;
  summary: string;
  problems: string[];
}

/**
 * Whether a workload is ready, its rollout state and what its conditions say. Readiness follows kstatus (what
 * Flux's health checks use): the controller observed the current generation and every desired replica is
 * updated, ready and available (no old replica left); a Job is ready once Complete.
 */
export function workloadState(kind: WorkloadKind, obj: KubeObject, limits: Pick<DiagnosisLimits, 'messageLength'> = DEFAULT_DIAGNOSIS_LIMITS): WorkloadState {
  const st = obj.status ?? {};
  const generation = num(obj.metadata?.generation);
  const observedGeneration = num(st.observedGeneration);
  const observed = generation === undefined || (observedGeneration !== undefined && observedGeneration >= generation);
  const problems: string[] = [];
  const max = limits.messageLength;
  switch (kind) {
    case 'Deployment':
    case 'StatefulSet': {
      const desired = num(obj.spec?.replicas) ?? 1;
      const r: RolloutState = {
        desired,
        updated: num(st.updatedReplicas) ?? 0,
        ready: num(st.readyReplicas) ?? 0,
        available: num(st.availableReplicas) ?? 0,
        generation,
        observedGeneration,
      };
      const total = num(st.replicas) ?? 0;
      let ready = observed && r.updated! >= desired && r.ready! >= desired && r.available! >= desired && total <= desired;
      if (kind === 'StatefulSet' && ready && obj.spec?.updateStrategy?.type !== 'OnDelete' && st.updateRevision && st.currentRevision && st.updateRevision !== st.currentRevision) ready = false;
      if (kind === 'Deployment') {
        const progressing = condOf(obj, 'Progressing');
        if (progressing?.status === 'False') problems.push(condText(progressing, max));
        const failure = condOf(obj, 'ReplicaFailure');
        if (failure?.status === 'True') problems.push(condText(failure, max));
        if (obj.spec?.paused === true) problems.push('the rollout is paused (spec.paused)');
      }
      const parts = [`${r.updated}/${desired} updated`, `${r.ready}/${desired} ready`, `${r.available}/${desired} available`];
      if (total > r.updated!) parts.push(`${total - r.updated!} old replica${total - r.updated! === 1 ? '' : 's'}`);
      const gen = generationNote(r, kind === 'Deployment' ? 'Deployment' : 'StatefulSet');
      return { ready, rollout: r, summary: parts.join(', ') + (gen ? `; ${gen}` : ''), problems };
    }
    case 'DaemonSet': {
      const desired = num(st.desiredNumberScheduled);
      const r: RolloutState = {
        desired,
        updated: num(st.updatedNumberScheduled) ?? 0,
        ready: num(st.numberReady) ?? 0,
        available: num(st.numberAvailable) ?? 0,
        generation,
        observedGeneration,
      };
      const want = desired ?? 0;
      const ready = observed && desired !== undefined && r.updated! >= want && r.ready! >= want && r.available! >= want;
      const mis = num(st.numberMisscheduled);
      if (mis) problems.push(`${mis} scheduled where it should not run`);
      const gen = generationNote(r, 'DaemonSet');
      const head = desired === undefined ? 'no desired count yet' : `${r.updated}/${desired} updated, ${r.ready}/${desired} ready, ${r.available}/${desired} available`;
      return { ready, rollout: r, summary: head + (gen ? `; ${gen}` : ''), problems };
    }
    case 'Job': {
      const completions = num(obj.spec?.completions) ?? 1;
      const r: RolloutState = {
        desired: completions,
        active: num(st.active) ?? 0,
        succeeded: num(st.succeeded) ?? 0,
        failed: num(st.failed) ?? 0,
        generation,
        observedGeneration,
      };
      const failed = condOf(obj, 'Failed');
      const complete = condOf(obj, 'Complete');
      if (failed?.status === 'True') problems.push(condText(failed, max));
      if (obj.spec?.suspend === true) problems.push('the Job is suspended (spec.suspend)');
      const ready = complete?.status === 'True';
      const started = st.startTime !== undefined || r.active! + r.succeeded! + r.failed! > 0 || conds(obj).length > 0;
      const head = `${r.succeeded}/${completions} succeeded, ${r.active} active, ${r.failed} failed`;
      const note = ready || failed?.status === 'True' || started ? '' : '; not started: no Job controller has acted on it (is kube-controller-manager running?)';
      return { ready, rollout: r, summary: head + note, problems };
    }
  }
}

// ---------------------------------------------------------------------------------------------- pods

interface ContainerStatus {
  name?: string;
  image?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; running?: unknown; terminated?: { reason?: string; message?: string; exitCode?: number } };
  lastState?: { terminated?: { reason?: string; message?: string; exitCode?: number } };
}

/** Waiting reasons that are steps, not problems. */
const BENIGN_WAITING = new Set(['ContainerCreating', 'PodInitializing']);

function termination(t: { reason?: string; message?: string; exitCode?: number } | undefined, max: number): PodProblem['lastTermination'] | undefined {
  if (!t) return undefined;
  const out: NonNullable<PodProblem['lastTermination']> = {};
  if (t.reason) out.reason = clip(t.reason, 80);
  if (typeof t.exitCode === 'number') out.exitCode = t.exitCode;
  const msg = t.message ? sanitizeText(t.message.trim(), { maxLength: max }) : '';
  if (msg) out.message = msg;
  return out;
}

function containerProblems(cs: ContainerStatus, probed: boolean, podReady: boolean, restartNever: boolean, max: number, init: boolean): PodProblem[] {
  const name = clip(cs.name, 80) || undefined;
  const container = init && name ? `${name} (init)` : name;
  const w = cs.state?.waiting;
  const t = cs.state?.terminated;
  const last = cs.lastState?.terminated;
  const restarts = num(cs.restartCount);
  const base = (reason: string): PodProblem => ({ reason, ...(container ? { container } : {}), ...(restarts ? { restarts } : {}) });
  if (w?.reason && !BENIGN_WAITING.has(w.reason)) {
    const p = base(clip(w.reason, 80));
    const pull = /Image|ErrImage/i.test(w.reason);
    if (pull && cs.image) p.image = clip(cs.image, 300);
    // A pull error names the image three times before the registry's answer, which comes last: keep it whole.
    if (w.message) p.message = sanitizeText(w.message.trim(), { maxLength: pull ? Math.max(max, 1000) : max });
    const lt = termination(last, max);
    if (lt && (w.reason === 'CrashLoopBackOff' || w.reason === 'RunContainerError')) p.lastTermination = lt;
    return [p];
  }
  if (t) {
    if (t.reason === 'OOMKilled') return [{ ...base('OOMKilled'), lastTermination: termination(t, max) }];
    if ((t.exitCode ?? 0) !== 0 && (restartNever || init)) return [{ ...base('Terminated'), lastTermination: termination(t, max) }];
    return [];
  }
  if (cs.state?.running !== undefined && last?.reason === 'OOMKilled') return [{ ...base('OOMKilled'), lastTermination: termination(last, max) }];
  if (cs.state?.running !== undefined && cs.ready === false && !podReady && !init) {
    return [{ ...base('Unready'), message: probed ? 'running, readiness probe failing' : 'running, not ready' }];
  }
  return [];
}

/**
 * What keeps one pod from running or from being ready: the scheduler's Unschedulable, each container's waiting
 * reason (image pulls, crash loops, configuration errors), OOM kills, errors of containers that are not restarted,
 * a failing readiness probe, an evicted or failed pod. Empty for a healthy (or merely starting) pod.
 */
export function podProblems(pod: KubeObject, limits: Pick<DiagnosisLimits, 'messageLength'> = DEFAULT_DIAGNOSIS_LIMITS): PodProblem[] {
  const max = limits.messageLength;
  const st = pod.status ?? {};
  const out: PodProblem[] = [];
  if (st.phase === 'Failed' && (st.reason || st.message)) {
    out.push({ reason: clip(st.reason, 80) || 'Failed', ...(st.message ? { message: sanitizeText(String(st.message).trim(), { maxLength: max }) } : {}) });
  }
  const scheduled = condOf(pod, 'PodScheduled');
  if (scheduled?.status === 'False') {
    out.push({ reason: clip(scheduled.reason, 80) || 'Unschedulable', ...(scheduled.message ? { message: sanitizeText(scheduled.message.trim(), { maxLength: max }) } : {}) });
  }
  const probed = new Set<string>();
  const specContainers: unknown = pod.spec?.containers;
  if (Array.isArray(specContainers)) for (const c of specContainers) if (c?.readinessProbe && typeof c.name === 'string') probed.add(c.name);
  const podReady = condOf(pod, 'Ready')?.status === 'True';
  const restartNever = pod.spec?.restartPolicy === 'Never';
  const list = (v: unknown): ContainerStatus[] => (Array.isArray(v) ? v.filter((x) => x && typeof x === 'object') : []);
  for (const cs of list(st.initContainerStatuses)) out.push(...containerProblems(cs, false, podReady, restartNever, max, true));
  for (const cs of list(st.containerStatuses)) out.push(...containerProblems(cs, probed.has(cs.name ?? ''), podReady, restartNever, max, false));
  return out;
}

/** Problems that say most first: a pod that cannot start before one that is merely not ready. */
const REASON_RANK: Record<string, number> = {
  ImagePullBackOff: 0,
  ErrImagePull: 0,
  InvalidImageName: 0,
  CrashLoopBackOff: 1,
  OOMKilled: 1,
  CreateContainerConfigError: 1,
  CreateContainerError: 1,
  RunContainerError: 1,
  Unschedulable: 2,
  Terminated: 3,
  Unready: 5,
};
const rank = (p: PodProblem) => REASON_RANK[p.reason] ?? 4;

/**
 * One workload's diagnosis from the workload and the pods its selector matches: the rollout state, its
 * conditions, and up to `limits.pods` pods with a problem (most telling first).
 */
export function diagnoseWorkload(
  kind: WorkloadKind,
  obj: KubeObject,
  pods: KubeObject[] | undefined,
  limits: DiagnosisLimits = DEFAULT_DIAGNOSIS_LIMITS,
): WorkloadDiagnosis {
  const s = workloadState(kind, obj, limits);
  const d: WorkloadDiagnosis = {
    kind,
    namespace: clip(obj.metadata?.namespace, 253),
    name: clip(obj.metadata?.name, 253),
    ready: s.ready,
    rollout: s.rollout,
    summary: s.summary,
    problems: s.problems.filter(Boolean),
    pods: [],
  };
  if (!pods) return d;
  const withProblems: PodDiagnosis[] = [];
  for (const p of pods) {
    const problems = podProblems(p, limits).sort((a, b) => rank(a) - rank(b));
    if (problems.length) withProblems.push({ name: clip(p.metadata?.name, 253), ...(p.status?.phase ? { phase: clip(p.status.phase, 40) } : {}), problems });
  }
  withProblems.sort((a, b) => rank(a.problems[0]!) - rank(b.problems[0]!) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  d.pods = withProblems.slice(0, limits.pods);
  if (withProblems.length > d.pods.length) d.morePods = withProblems.length - d.pods.length;
  if (pods.length === 0) {
    d.podsNote =
      s.rollout.observedGeneration === undefined && s.rollout.generation !== undefined
        ? 'no pods: nothing has created them (no controller acts on the workload)'
        : 'no pods';
  } else if (withProblems.length === 0) {
    const pending = pods.filter((p) => p.status?.phase === 'Pending').length;
    d.podsNote = `${pods.length} pod${pods.length === 1 ? '' : 's'}${pending ? `, ${pending} pending` : ''}, none with a problem the kubelet reports`;
  }
  return d;
}

/** A workload named by the inventory or a health check that does not exist. */
export function missingWorkload(ref: WorkloadRef): WorkloadDiagnosis {
  return { ...ref, ready: false, missing: true, rollout: {}, summary: 'not found', problems: [], pods: [] };
}

// ---------------------------------------------------------------------------------------------- events

/** The revision a Flux controller annotated an Event with: `<group>/revision` (fluxcd/pkg/apis/event MetaRevisionKey). */
export function eventRevision(ev: KubeObject | Record<string, unknown>): string | undefined {
  const ann = (ev as KubeObject).metadata?.annotations;
  if (!ann) return undefined;
  for (const [k, v] of Object.entries(ann)) if (/^[a-z.]+\.toolkit\.fluxcd\.io\/revision$/.test(k) && typeof v === 'string') return v;
  return undefined;
}

function eventTime(ev: Record<string, any>): string | undefined {
  const t = ev.lastTimestamp ?? ev.series?.lastObservedTime ?? ev.eventTime ?? ev.firstTimestamp ?? ev.metadata?.creationTimestamp;
  return typeof t === 'string' && t ? t : undefined;
}

/**
 * The Events of a failing Flux object that belong to the pushed commit's attempt, newest first: those annotated
 * with a revision of the pushed commit (or the node's own revision, e.g. a HelmRelease's chart version), and
 * unannotated ones recorded since the session started. Events of other revisions are left out.
 */
export function eventsOfAttempt(
  events: unknown[],
  o: { pushed: PushedRevision; revision?: string; since: number; limits?: Pick<DiagnosisLimits, 'events' | 'messageLength'> },
): FluxEventInfo[] {
  const limits = o.limits ?? DEFAULT_DIAGNOSIS_LIMITS;
  const kept: Array<{ at: number; info: FluxEventInfo }> = [];
  for (const raw of events) {
    if (!raw || typeof raw !== 'object') continue;
    const ev = raw as Record<string, any>;
    const rev = eventRevision(ev);
    const time = eventTime(ev);
    const at = time ? Date.parse(time) : NaN;
    if (rev !== undefined) {
      if (!(revisionMatches(rev, o.pushed) === true || (o.revision !== undefined && rev === o.revision))) continue;
    } else if (!(Number.isFinite(at) && at >= o.since - 1000)) continue;
    const info: FluxEventInfo = {
      type: clip(ev.type, 20) || 'Normal',
      reason: clip(ev.reason, 80),
      message: sanitizeText(String(ev.message ?? note(ev) ?? '').trim(), { maxLength: limits.messageLength }),
    };
    const count = num(ev.count) ?? num(ev.series?.count);
    if (count !== undefined && count > 1) info.count = count;
    if (time) info.time = clip(time, 40);
    if (rev) info.revision = clip(rev, 200);
    kept.push({ at: Number.isFinite(at) ? at : 0, info });
  }
  kept.sort((a, b) => b.at - a.at);
  return kept.slice(0, limits.events).map((k) => k.info);
}

function note(ev: Record<string, any>): string | undefined {
  return typeof ev.note === 'string' ? ev.note : undefined;
}

// ---------------------------------------------------------------------------------------------- text

/**
 * One pod problem as a line, what matters first (lines are cut at the terminal's width):
 * `ImagePullBackOff: ghcr.io/acme/web:1.2 (not found), container web`,
 * `CrashLoopBackOff: container web, last run: Error (exit code 1): panic: boom, 5 restarts`,
 * `Unschedulable — 0/3 nodes are available: 3 Insufficient memory.`. `full`: the whole kubelet message.
 */
export function podProblemText(p: PodProblem, o: { full?: boolean } = {}): string {
  let text = p.reason;
  if (p.image) {
    text += `: ${p.image}`;
    if (p.message && !o.full) text += ` (${pullErrorGist(p.message)})`;
    if (p.container) text += `, container ${p.container}`;
  } else if (p.container) text += `: container ${p.container}`;
  const lt = p.lastTermination;
  if (lt && (lt.reason || lt.exitCode !== undefined || lt.message)) {
    const code = lt.exitCode !== undefined ? ` (exit code ${lt.exitCode})` : '';
    const msg = lt.message ? `: ${firstLine(lt.message, { maxLength: 200 })}` : '';
    if (lt.reason === p.reason) text += `${code}${msg}`;
    else text += `, ${p.reason === 'Terminated' ? '' : 'last run: '}${lt.reason ?? 'ended'}${code}${msg}`;
  }
  if (p.restarts) text += `, ${p.restarts} restart${p.restarts === 1 ? '' : 's'}`;
  // The crash-loop back-off message ("back-off 40s restarting failed container=…") says nothing more.
  if (p.message && p.reason !== 'CrashLoopBackOff' && (o.full || !p.image)) text += ` — ${firstLine(p.message, { maxLength: o.full ? 1000 : 300 })}`;
  return text;
}

/**
 * The gist of an image pull error: what the registry answered, without the image repeated three times
 * (`Back-off pulling image "x": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image
 * "x": failed to resolve reference "x": x: not found` → `not found`; `…: 401 Unauthorized` → `401 Unauthorized`).
 */
export function pullErrorGist(message: string): string {
  const text = firstLine(message, { maxLength: 4096 });
  const code = /rpc error: code = (\w+)/.exec(text)?.[1];
  const tail = text.split(': ').pop()!.trim();
  // A message cut short has no answer at its end: the gRPC code says it.
  if (tail.endsWith('…') && code) return code;
  const same = code && tail.replace(/\s+/g, '').toLowerCase() === code.toLowerCase();
  const gist = tail.length > 0 && tail.length <= 160 ? tail : truncateText(text, 160);
  return code && !same && code !== 'Unknown' ? `${gist} (${code})` : gist;
}

function truncateText(s: string, max: number): string {
  return firstLine(s, { maxLength: max });
}

/** `Deployment team/web` */
export function workloadLabel(w: Pick<WorkloadDiagnosis, 'kind' | 'namespace' | 'name'>): string {
  return `${w.kind} ${w.namespace}/${w.name}`;
}

export interface DiagnosisLine {
  text: string;
  /** `problem`: what is wrong; `info`: context (events, notes, ready counts). */
  tone: 'problem' | 'info';
  /** 0: a workload or a note; 1: a pod or a detail under the workload above. */
  indent: 0 | 1;
}

/**
 * The diagnosis as lines, for the live tree, the plain printer and `status`: each not-ready workload with its
 * rollout state, its conditions and its pods' problems; notes; and, verbose, the object's Events.
 */
export function diagnosisLines(d: Diagnosis, o: { verbose?: boolean } = {}): DiagnosisLine[] {
  const out: DiagnosisLine[] = [];
  for (const w of d.workloads) {
    out.push({ text: `${workloadLabel(w)}: ${w.summary}`, tone: 'problem', indent: 0 });
    for (const p of w.problems) out.push({ text: p, tone: 'problem', indent: 1 });
    for (const pod of w.pods) {
      // `pod …x2x8k`: the workload's name (and its ReplicaSet's hash) say nothing more under the workload's
      // line, and the line is cut at the terminal's width (whole names when verbose).
      const name = !o.verbose && pod.name.startsWith(`${w.name}-`) ? `…${pod.name.slice(pod.name.lastIndexOf('-') + 1)}` : pod.name;
      for (const p of pod.problems.slice(0, o.verbose ? undefined : 1)) out.push({ text: `pod ${name}: ${podProblemText(p, { full: o.verbose })}`, tone: 'problem', indent: 1 });
    }
    if (w.morePods) out.push({ text: `+${w.morePods} more pod${w.morePods === 1 ? '' : 's'} with problems`, tone: 'info', indent: 1 });
    if (w.podsNote) out.push({ text: w.podsNote, tone: 'info', indent: 1 });
  }
  if (d.moreWorkloads) out.push({ text: `+${d.moreWorkloads} more workload${d.moreWorkloads === 1 ? '' : 's'} not ready`, tone: 'problem', indent: 0 });
  if (d.workloads.length === 0 && d.readyWorkloads > 0) out.push({ text: `${d.readyWorkloads} workload${d.readyWorkloads === 1 ? '' : 's'} ready`, tone: 'info', indent: 0 });
  for (const n of d.notes) out.push({ text: `note: ${n}`, tone: 'info', indent: 0 });
  if (o.verbose) {
    for (const e of d.events) {
      out.push({ text: `event ${e.type} ${e.reason}${e.count ? ` (×${e.count})` : ''}: ${firstLine(e.message, { maxLength: 300 })}`, tone: e.type === 'Warning' ? 'problem' : 'info', indent: 0 });
    }
  }
  return out;
}

/** The diagnosis in one line, for `history`: the first workload and what is first wrong with it. */
export function diagnosisHeadline(d: Diagnosis | undefined): string | undefined {
  const w = d?.workloads[0];
  if (!w) return undefined;
  const pod = w.pods[0]?.problems[0];
  let why: string;
  if (pod) why = `${pod.reason}${pod.image ? ` (${pod.image})` : pod.lastTermination?.reason && pod.lastTermination.reason !== pod.reason ? ` (last: ${pod.lastTermination.reason})` : ''}`;
  else if (w.problems[0]) why = firstLine(w.problems[0], { maxLength: 120 });
  else {
    const r = w.rollout;
    const head = w.missing
      ? 'not found'
      : w.kind === 'Job'
        ? `${r.succeeded ?? 0}/${r.desired ?? 1} succeeded`
        : r.desired !== undefined
          ? `${r.ready ?? 0}/${r.desired} ready`
          : w.summary.split(/[,;]/)[0]!;
    why = w.podsNote && !w.missing ? `${head}, ${w.podsNote.split(/[:,]/)[0]}` : head;
  }
  const more = (d!.workloads.length - 1) + (d!.moreWorkloads ?? 0);
  return `${workloadLabel(w)}: ${why}${more > 0 ? ` (+${more} more)` : ''}`;
}
