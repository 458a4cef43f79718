// Shared data model of flux-monitor. Pure types and tiny helpers only: no I/O.

import { KINDS, type FluxKind } from './kinds.js';
import type { WaitInfo } from './waits.js';
import type { Timeline } from './timeline.js';
export type { FluxKind } from './kinds.js';

/** The Flux kinds flux-monitor understands (src/core/kinds.ts). */
export const FLUX_KINDS: readonly FluxKind[] = KINDS.map((k) => k.kind);

export const SOURCE_KINDS: readonly FluxKind[] = KINDS.filter((k) => k.role === 'source').map((k) => k.kind);
/** Sources whose artifacts CI builds from a commit and whose status names that commit in artifact metadata. */
export const CI_ARTIFACT_KINDS: readonly FluxKind[] = KINDS.filter((k) => 'ciArtifact' in k && k.ciArtifact).map((k) => k.kind);

export function isFluxKind(k: unknown): k is FluxKind {
  return typeof k === 'string' && (FLUX_KINDS as readonly string[]).includes(k);
}

/** A reference to one object in the cluster. */
export interface ObjectRef {
  kind: FluxKind;
  namespace: string;
  name: string;
}

/** Stable key of an object: `Kind/namespace/name`. */
export function refKey(r: ObjectRef): string {
  return `${r.kind}/${r.namespace}/${r.name}`;
}

export function parseRefKey(key: string): ObjectRef | undefined {
  const parts = key.split('/');
  if (parts.length !== 3 || !isFluxKind(parts[0])) return undefined;
  return { kind: parts[0], namespace: parts[1]!, name: parts[2]! };
}

/** A Kubernetes status condition (metav1.Condition). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/** A Kubernetes object as it comes from the API (only the fields we read are typed). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  status?: any;
}

/** The phase of one object *for the pushed commit*. */
export const PHASES = [
  'Pending',
  'Progressing',
  'Waiting',
  /**
   * Flux is still waiting (health checks, a Helm install/upgrade), but a workload it waits for is in a state that
   * settles it (core/failfast.ts): the verdict comes before Flux's own failure with `fail_fast`.
   */
  'Failing',
  'Ready',
  'Failed',
  'Stalled',
  'Suspended',
  'Superseded',
  'Unknown',
] as const;
export type Phase = (typeof PHASES)[number];

/** Phases after which nothing more is expected for the pushed commit. */
export const TERMINAL_PHASES: ReadonlySet<Phase> = new Set<Phase>(['Ready', 'Failed', 'Stalled', 'Suspended', 'Superseded']);
export const FAILURE_PHASES: ReadonlySet<Phase> = new Set<Phase>(['Failed', 'Stalled']);

/** The commit that was pushed, as the monitor correlates it. */
export interface PushedRevision {
  /** Full (40 or 64 hex) commit sha, lower case. A shorter prefix (>= 7) is accepted. */
  sha: string;
  /** Branch name without refs/heads/ (e.g. `main`). */
  branch?: string;
  /** Tag name without refs/tags/, if a tag was pushed. */
  tag?: string;
  /**
   * Shas that replaced `sha` without containing it (history rewritten: a force push, a reset). A revision with one
   * of these is Superseded.
   */
  newer?: string[];
  /**
   * Shas that contain `sha` (a later commit on top of it, e.g. a teammate's push that Flux fetched before ours). A
   * revision with one of these carries the pushed change: it is judged as the pushed commit itself.
   */
  through?: string[];
}

/**
 * How a commit seen on a source stands to the pushed one (the git layer answers, src/git/relate.ts): it is the
 * pushed commit, contains it, is older than it, or shares no line with it; `unknown` when git could not tell (the
 * commit could not be fetched, a shallow clone), which is never cached as a "no".
 */
export type CommitRelation =
  | { relation: 'same' | 'contains' | 'older' | 'diverged' }
  | { relation: 'unknown'; reason: string };

/**
 * Facts about an object's surroundings that the engine derives from the graph and passes to the pure status
 * function. All optional: without them the function decides from the object alone.
 */
export interface ComputeContext {
  /**
   * Whether the pushed commit has been delivered to this object by what drives it (for objects that carry no
   * commit in their status, e.g. a HelmRelease from a HelmRepository applied by a Kustomization):
   * `true` = the parent Kustomization applied the pushed commit; `false` = not yet; undefined = unknown.
   */
  delivered?: boolean;
  /**
   * Whether the object's revisions are expected to carry the pushed commit (default true). False for objects
   * fed by another repository (e.g. a GitRepository of another repo applied by an affected Kustomization):
   * they are judged like objects without commit information, through `delivered`.
   */
  correlate?: boolean;
  /** Current time (ms since epoch), for durations. */
  now?: number;
  /**
   * Origin revisions of the CI-built artifacts the engine has seen on the matched OCIRepositories and
   * ExternalArtifacts: artifact digest (`sha256:<hex>`) → the git revision it was built from (`main@sha1:<sha>`).
   * Consumers that record only the artifact digest (a HelmRelease's lastAttemptedRevisionDigest and
   * history[].ociDigest; a Kustomization's lastAttemptedRevision without origin) are correlated through it.
   */
  origins?: ReadonlyMap<string, string>;
}

/** Result of the pure status computation. */
export interface StatusResult {
  phase: Phase;
  /** Machine-friendly reason (Flux reason where there is one, e.g. `BuildFailed`, `DependencyNotReady`). */
  reason: string;
  /** Human message (already sanitised of terminal escapes, single spaces kept; may be multi-line). */
  message: string;
  /** The revision found on the object that the phase is based on (artifact revision, lastAttemptedRevision, ...). */
  revision?: string;
  /** For Waiting: the blocking dependencies as `namespace/name`, parsed from the message. */
  blockers?: string[];
  /** ISO time the object entered this state, when the object says so (condition lastTransitionTime). */
  since?: string;
  /** Whether the observed revision correlates to the pushed commit (true), another commit (false) or cannot tell (undefined). */
  matchesPushed?: boolean;
}

export type EdgeType = 'dependsOn' | 'source' | 'inventory';

/** A directed graph edge. */
export interface GraphEdge {
  /** dependsOn: from=dependent, to=dependency. source: from=consumer, to=source. inventory: from=parent Kustomization, to=child. */
  from: string;
  to: string;
  type: EdgeType;
}

/** State of one monitored object in a session. */
export interface NodeState {
  key: string;
  /** A Flux kind, or a custom kind of `config.custom_kinds` (e.g. PipelineRun). */
  kind: string;
  namespace: string;
  name: string;
  apiVersion: string;
  phase: Phase;
  reason: string;
  message: string;
  revision?: string;
  blockers?: string[];
  /** Part of the set affected by the pushed commit (false only in --all mode for unrelated objects). */
  affected: boolean;
  /** The object is terminal for the commit, or is blocked by a failed upstream and so will not move. */
  settled: boolean;
  /** ms since epoch when the node entered its current phase (as seen by the monitor). */
  phaseSince: number;
  /** ms since epoch when the monitor first saw the node. */
  firstSeen: number;
  /** Set when the object disappeared from the cluster during the session. */
  deleted?: boolean;
  /** Failed with the same error it already had before the push: the commit did not cause (nor fix) it. */
  preexisting?: boolean;
  /**
   * Ready, but its readiness is not the push's doing: it carries no commit, no parent delivered the push to it,
   * and nothing that uses it has the push yet (a HelmChart built from a HelmRepository while the commit has not
   * reached its HelmRelease). Shown as unchanged by this push and counted apart, never as ready with it.
   */
  context?: boolean;
  /** For a blocked (settled Pending/Waiting) node: the key of the settled upstream that blocks it. */
  blockedBy?: string;
  /**
   * The kubeconfig context of the cluster the object is on, only when a session follows several clusters
   * (then `key` and `blockedBy` are prefixed with it: `<context>/<Kind>/<namespace>/<name>`; src/core/clusters.ts).
   */
  cluster?: string;
  /** metadata.resourceVersion of the object version the phase was computed from. */
  resourceVersion?: string;
  /**
   * What is behind a failing (or slow) health check, install or upgrade: the workloads that are not ready and
   * their pods, and the object's own Events of the pushed revision (src/engine/diagnose.ts). All text sanitised.
   */
  diagnosis?: Diagnosis;
  /**
   * When Flux looks at it again: a dependency retry, a health check or Helm action timeout, a source's next
   * fetch (src/core/waits.ts; `waitDue` turns it into a time at a given moment).
   */
  wait?: WaitInfo;
  /** Phase `Failing`: the conclusive evidence, when it turned conclusive, Flux's own deadline (core/failfast.ts). */
  failing?: FailingInfo;
}

/** What a Failing node carries (NodeState.failing; the `--json` phase and summary events). Times in ms since epoch. */
export interface FailingInfo {
  /** The conclusive evidence (at most a few), earliest first; `since`: when each turned conclusive. */
  evidence: Array<{ rule: string; reason: string; subject: string; container?: string; text: string; since: number }>;
  /** When the first of it turned conclusive. */
  since: number;
  /** What Flux waits for and when it gives up (its condition's start + the timeout it wrote; core/flux-wait.ts). */
  flux?: { action: string; timeout: string; deadline?: number };
  /** With fail_fast: when the session ends with verdict failed if the evidence still holds (since + grace). */
  failFastAt?: number;
}

/** The workload kinds a diagnosis reads (what kstatus health checks wait for). */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Why one pod does not run or is not ready, as the kubelet or the scheduler says it. */
export interface PodProblem {
  /**
   * The kubelet's or scheduler's reason: `ImagePullBackOff`, `ErrImagePull`, `CrashLoopBackOff`, `OOMKilled`,
   * `Unschedulable`, `CreateContainerConfigError`, … ; ours: `Unready` (running, readiness probe failing),
   * `Terminated` (exited with an error and not restarted).
   */
  reason: string;
  container?: string;
  /** The image, for image pull problems. */
  image?: string;
  /** The kubelet's or scheduler's message (sanitised, cut). */
  message?: string;
  /** How the container's last run ended (CrashLoopBackOff, OOMKilled). */
  lastTermination?: { reason?: string; exitCode?: number; message?: string };
  restarts?: number;
}

export interface PodDiagnosis {
  name: string;
  phase?: string;
  problems: PodProblem[];
}

/** The rollout state of one workload against its desired count. */
export interface RolloutState {
  desired?: number;
  updated?: number;
  ready?: number;
  available?: number;
  /** Job: pods running, succeeded and failed. */
  active?: number;
  succeeded?: number;
  failed?: number;
  generation?: number;
  /** status.observedGeneration; absent when no controller has acted on the object. */
  observedGeneration?: number;
}

export interface WorkloadDiagnosis {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  ready: boolean;
  /** Not found: named by the inventory or the health check, but absent from the cluster. */
  missing?: boolean;
  rollout: RolloutState;
  /** One line: `0/1 ready, 0 updated, 0 available; generation 1 not observed yet`. */
  summary: string;
  /** What the workload's own conditions say (ProgressDeadlineExceeded, ReplicaFailure, BackoffLimitExceeded, paused). */
  problems: string[];
  /** Its pods with a problem (at most a few). */
  pods: PodDiagnosis[];
  /** Pods with a problem beyond those listed. */
  morePods?: number;
  /** A word about its pods when none is listed (`no pods: …`, `2 pods, all running`). */
  podsNote?: string;
}

/** A Kubernetes Event of the failing Flux object. */
export interface FluxEventInfo {
  type: string;
  reason: string;
  message: string;
  /** How many times it was seen (the event recorder aggregates repeats). */
  count?: number;
  /** RFC 3339, last seen. */
  time?: string;
  /** The revision the controller annotated it with (`<group>/revision`). */
  revision?: string;
}

/** What the diagnosis of one failing or slow Flux object found. */
export interface Diagnosis {
  /** ms since epoch. */
  at: number;
  /** The revision of the attempt it diagnoses (the node's revision then). */
  revision?: string;
  /** Workloads that are not ready, most telling first (bounded). */
  workloads: WorkloadDiagnosis[];
  /** Not-ready workloads beyond those listed. */
  moreWorkloads?: number;
  /** Workloads of the object that were found ready. */
  readyWorkloads: number;
  /** The object's Events of the pushed revision, newest first (bounded). */
  events: FluxEventInfo[];
  /** What could not be read or looked at (`cannot read pods in team-a (forbidden)`). */
  notes: string[];
  /** API requests it made. */
  requests: number;
}

/**
 * How a session ended. `blocked`: nothing failed, but the commit cannot be applied because an object it needs
 * is suspended (`spec.suspend: true`); the message names the object and how to resume it.
 */
export type Verdict = 'success' | 'failed' | 'timeout' | 'superseded' | 'stopped' | 'error' | 'blocked';

/** How a verdict is named to people: the live view's verdict line, desktop notifications. */
export const VERDICT_TITLE: Record<Verdict, string> = {
  success: 'Succeeded',
  failed: 'Failed',
  timeout: 'Timed out',
  superseded: 'Superseded',
  stopped: 'Stopped',
  error: 'Error',
  blocked: 'Blocked',
};

/** Exit codes of `watch` (and of `status --exit-code`). */
export const EXIT_CODES: Record<Verdict, number> = {
  success: 0,
  failed: 1,
  timeout: 2,
  error: 3,
  superseded: 4,
  stopped: 5,
  blocked: 6,
};

/**
 * How bad each verdict is, worst first: the verdict of a session that follows several clusters is the worst of
 * theirs (docs/config.md). `failed` (the commit broke something somewhere) beats everything; `error` (a cluster
 * could not be followed: its outcome is unknown) beats `timeout` (Flux did not finish in time), as in a single
 * session where a timeout that never reached the cluster is an error and one with a failure is failed; then
 * `stopped` (the monitor did not see the end), `blocked` (held back by a suspended object, nothing failed),
 * `superseded` (a newer commit replaced it before it was seen applied), and `success` only when every cluster
 * applied the commit.
 */
export const VERDICT_SEVERITY: readonly Verdict[] = ['failed', 'error', 'timeout', 'stopped', 'blocked', 'superseded', 'success'];

/** The worst of some verdicts (VERDICT_SEVERITY); undefined for none. */
export function worstVerdict(verdicts: Iterable<Verdict>): Verdict | undefined {
  let worst: Verdict | undefined;
  for (const v of verdicts) if (worst === undefined || VERDICT_SEVERITY.indexOf(v) < VERDICT_SEVERITY.indexOf(worst)) worst = v;
  return worst;
}

export type ErrorCategory =
  | 'unreachable'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'flux-not-installed'
  | 'gone'
  | 'server-error'
  | 'throttled'
  | 'config'
  | 'git'
  | 'controller-down'
  | 'internal';

/** An error explained for users: a category, what happened, and one actionable hint. */
export interface CategorizedError {
  category: ErrorCategory;
  message: string;
  hint: string;
  /** HTTP status, where there was one. */
  status?: number;
}

export type SessionStatus = 'starting' | 'running' | 'finished';

export interface PhaseCounts {
  ready: number;
  progressing: number;
  waiting: number;
  /** Still waited for by Flux, with conclusive evidence of failure (phase Failing). */
  failing: number;
  failed: number;
  pending: number;
  suspended: number;
  superseded: number;
  unknown: number;
  /** Pending or Waiting objects that can no longer move: what they wait for failed or is suspended. */
  blocked: number;
  /** Ready objects whose readiness the push has not moved (NodeState.context): not "ready with the commit". */
  unchanged: number;
}

/** Whole state of a monitoring session: what the UI renders and the session store persists. */
export interface SessionState {
  schema: 1;
  id: string;
  repo: {
    /** Local path of the repository (absent for `watch --repo-url`). */
    path?: string;
    /** Remote URL, normalised and with credentials removed. */
    url?: string;
    remote?: string;
    branch?: string;
  };
  commit: {
    sha: string;
    subject?: string;
    tag?: string;
    /**
     * The newest commit that contains this one and that the objects carry instead (a later commit on top of it
     * reached Flux first): the change is deployed through it, and the verdict is that commit's.
     */
    through?: string;
  };
  cluster: {
    context?: string;
    /** API server URL (credentials removed). */
    server?: string;
  };
  /** ms since epoch. */
  startedAt: number;
  updatedAt: number;
  endedAt?: number;
  timeoutMs: number;
  /**
   * Set when the pushed repository reaches the cluster through CI-built artifacts (OCIRepository,
   * ExternalArtifact): how long CI may take (`ci_timeout`), and when the artifact of the commit arrived
   * (ms since epoch; `timeoutMs` is then extended to count `timeout` from there).
   */
  ci?: { timeoutMs: number; artifactAt?: number };
  status: SessionStatus;
  verdict?: Verdict;
  /** One-line explanation of the verdict. */
  verdictMessage?: string;
  /** The session ran into its timeout (the verdict may still be `failed` when something had failed by then). */
  timedOut?: boolean;
  /**
   * The verdict `failed` came from fail-fast (core/failfast.ts), before Flux decided: the object, when its
   * evidence turned conclusive, when the session ended on it, and when Flux would have given up (ms since epoch).
   */
  failFast?: { key: string; since: number; at: number; fluxDeadline?: number };
  /** Monitored nodes by key. */
  nodes: Record<string, NodeState>;
  edges: GraphEdge[];
  /** dependsOn cycles found, each a list of keys. */
  cycles: string[][];
  /** Keys of the sources that matched the pushed repository and branch. */
  matchedSources: string[];
  warnings: string[];
  /** The last cluster/config error, if the monitor is currently failing to reach the cluster. */
  error?: CategorizedError;
  /** PID of the process running the monitor (detached monitors). */
  pid?: number;
  /** How the monitor is currently receiving updates. */
  mode?: 'watch' | 'poll';
  /**
   * Only when the session follows several clusters (several contexts): one entry per cluster, in the order the
   * contexts were given. `nodes`, `edges`, `cycles` and `matchedSources` then hold every cluster's, keyed
   * `<context>/<Kind>/<namespace>/<name>`; `verdict` is the worst of the clusters' (VERDICT_SEVERITY).
   */
  clusters?: ClusterState[];
  /** The push's way through each affected object: its moments and waits (src/core/timeline.ts), bounded. */
  timeline?: Timeline;
}

/** What one cluster of a several-cluster session says about itself (its objects are in SessionState.nodes). */
export interface ClusterState {
  /** The kubeconfig context. */
  context: string;
  /** API server URL (credentials removed). */
  server?: string;
  status: SessionStatus;
  startedAt: number;
  updatedAt: number;
  endedAt?: number;
  verdict?: Verdict;
  verdictMessage?: string;
  timedOut?: boolean;
  /** The last error of this cluster (unreachable, forbidden, unknown context…), if it is failing now or ended on it. */
  error?: CategorizedError;
  mode?: 'watch' | 'poll';
  /** Keys (not prefixed) of the sources that matched the pushed repository on this cluster. */
  matchedSources: string[];
  /** This cluster's warnings (SessionState.warnings has them too, prefixed with `<context>: `). */
  warnings: string[];
  /** dependsOn cycles on this cluster (keys not prefixed). */
  cycles: string[][];
}

export type { ClusterVerdict, MonitorEvent, MonitorEventBody } from './events.js';

/** The count a node falls in: the summary line, the fold lines, its row and `--json` counts all say this. */
export type CountKey = keyof PhaseCounts;

/**
 * The one decision of what a node counts (and shows) as: its phase's count, or `blocked` for a Pending/Waiting
 * object that can no longer move because what it waits for failed or is suspended (settled by the engine, with
 * `blockedBy` naming that upstream). A blocked object is counted only as blocked, never also as waiting or pending.
 */
export function countKey(n: Pick<NodeState, 'phase' | 'settled' | 'context'>): CountKey {
  if (n.settled && (n.phase === 'Pending' || n.phase === 'Waiting')) return 'blocked';
  if (n.context && n.phase === 'Ready') return 'unchanged';
  switch (n.phase) {
    case 'Ready': return 'ready';
    case 'Progressing': return 'progressing';
    case 'Waiting': return 'waiting';
    case 'Failing': return 'failing';
    case 'Failed': case 'Stalled': return 'failed';
    case 'Pending': return 'pending';
    case 'Suspended': return 'suspended';
    case 'Superseded': return 'superseded';
    default: return 'unknown';
  }
}

export function countPhases(nodes: Iterable<NodeState>, onlyAffected = true): PhaseCounts {
  const c: PhaseCounts = { ready: 0, progressing: 0, waiting: 0, failing: 0, failed: 0, pending: 0, suspended: 0, superseded: 0, unknown: 0, blocked: 0, unchanged: 0 };
  for (const n of nodes) {
    if (onlyAffected && !n.affected) continue;
    // One vocabulary for the rows, the fold lines, the summary line, the verdict and --json: countKey().
    c[countKey(n)]++;
  }
  return c;
}

export type Verbosity = 'minimal' | 'normal' | 'verbose';
export const VERBOSITIES: readonly Verbosity[] = ['minimal', 'normal', 'verbose'];

/** Settings of `.kiro/hooks/flux-reconciliation-monitor.yaml` (`config:` block), with defaults applied. */
export interface MonitorConfig {
  /** Seconds before the session ends with verdict `timeout`. */
  timeout: number;
  /**
   * Seconds CI may take to publish the OCI artifact of the pushed commit, when the pushed repository reaches the
   * cluster through an OCIRepository or ExternalArtifact. `timeout` then counts from the artifact's arrival.
   */
  ci_timeout: number;
  /** Base polling interval in seconds when watches are unavailable. */
  polling_interval: number;
  verbosity: Verbosity;
  /** Which kinds to monitor, as plural lower-case names (kustomizations, helmreleases, gitrepositories, ...). */
  monitor_types: string[];
  show_dependencies: boolean;
  /** Patch reconcile.fluxcd.io/requestedAt on the matched sources so Flux fetches the commit now. */
  auto_reconcile: boolean;
  /** Branches that start a monitor after a push. Empty = the branch tracked by a matching GitRepository, else main/master. */
  branches: string[];
  /** Namespaces to use when listing cluster-wide is forbidden. */
  namespaces: string[];
  /**
   * Desktop notification when a detached monitor ends: `auto` on a desktop (not in CI, not over SSH without a
   * display), `always` wherever the platform has a notifier, `never`.
   */
  notify: 'auto' | 'always' | 'never';
  /**
   * Kubeconfig contexts to follow the commit on (several clusters). Empty = the current context. `--context`
   * flags win over it.
   */
  contexts: string[];
  /**
   * Kinds beyond Flux that a push also starts (Tekton PipelineRuns, Konflux Releases…), followed for the pushed
   * commit like the Flux objects (src/core/custom.ts).
   */
  custom_kinds: CustomKindConfig[];
  /**
   * `otel: false`: never export this repository's sessions to OpenTelemetry, even when the environment names an
   * endpoint (src/session/otel.ts). Absent or true: export when the environment says where. A hook file can never
   * name the endpoint itself (docs/security.md).
   */
  otel?: boolean;
  /**
   * End the session with verdict `failed` once a workload that Flux waits for shows conclusive evidence of failure
   * (core/failfast.ts) that held for `fail_fast_grace` seconds, before Flux's own timeout. false: wait for Flux.
   */
  fail_fast: boolean;
  /** Seconds the evidence must hold before a fail-fast verdict (an image CI is still pushing is the case to survive). */
  fail_fast_grace: number;
}

/** One entry of `config.custom_kinds`, with its preset (if any) applied. */
export interface CustomKindConfig {
  /** The preset it came from (`tekton-pipelineruns`), if any. */
  preset?: string;
  /** `group/version` (a custom kind always has a group). */
  apiVersion: string;
  kind: string;
  /** The plural resource name; found by API discovery when absent. */
  plural?: string;
  /** Label selector sent to the server, with `{sha}` / `{short_sha}` replaced by the pushed commit. */
  labelSelector?: string;
  /** An annotation the objects of the pushed commit carry (`value` with `{sha}` / `{short_sha}`); matched here. */
  annotation?: { key: string; value: string };
  /**
   * The condition that says the object is done (`True`), failed (`False`) or running (`Unknown`), as Tekton's
   * `Succeeded`. Absent: `Succeeded` when the object has one, else kstatus's rules (Ready, Reconciling, Stalled).
   */
  condition?: string;
  /** Reasons of `condition`=False that mean "still running" (Konflux Release: `Progressing`). */
  progressingReasons: string[];
  /**
   * Seconds the verdict waits, from the session start, for a first object of this kind for the pushed commit:
   * 0 never waits; Infinity waits until the session timeout.
   */
  wait: number;
  /** Namespaces to watch (one watch each); empty: cluster-wide. */
  namespaces: string[];
}

export const DEFAULT_CONFIG: MonitorConfig = {
  timeout: 300,
  ci_timeout: 900,
  polling_interval: 2,
  verbosity: 'normal',
  monitor_types: KINDS.filter((k) => k.shownByDefault).map((k) => k.plural),
  show_dependencies: true,
  auto_reconcile: false,
  branches: [],
  namespaces: [],
  notify: 'auto',
  contexts: [],
  custom_kinds: [],
  fail_fast: true,
  fail_fast_grace: 30,
};

/** What a new session starts from: who pushed what where. */
export interface SessionInit {
  id: string;
  sha: string;
  subject?: string;
  tag?: string;
  repoPath?: string;
  /** Remote URL as given: credentials are removed here. */
  repoUrl?: string;
  remote?: string;
  branch?: string;
  context?: string;
  server?: string;
  timeoutMs: number;
  now: number;
}

/**
 * Freezes a value and everything it holds (`Object.freeze`, recursively), skipping what is frozen already (what a
 * new session state shares with the last one). The engine never changes a state it has published (a change is a
 * new state that shares what did not change); the tests turn this on for every state the engine publishes
 * (`FLUX_MONITOR_FREEZE_STATES=1`, src/engine/monitor.ts), so that a write to one throws.
 */
export function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return v;
  Object.freeze(v);
  for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  return v;
}

/** A session that has not seen the cluster yet (status `starting`, no nodes). */
export function newSessionState(i: SessionInit, redact: (url: string) => string): SessionState {
  return {
    schema: 1,
    id: i.id,
    repo: { path: i.repoPath, url: i.repoUrl ? redact(i.repoUrl) : undefined, remote: i.remote, branch: i.branch },
    commit: { sha: i.sha, subject: i.subject, tag: i.tag },
    cluster: { context: i.context, server: i.server },
    startedAt: i.now,
    updatedAt: i.now,
    timeoutMs: i.timeoutMs,
    status: 'starting',
    nodes: {},
    edges: [],
    cycles: [],
    matchedSources: [],
    warnings: [],
    pid: process.pid,
  };
}
