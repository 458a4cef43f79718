// The pure rules between the objects' phases and the session's verdict, as a table of cases like computeStatus's
// per kind: which nodes are settled (and what blocks them), when a node calls for a diagnosis of its workloads,
// the verdict, its one-line message, the failure it names, and the flux command that resumes a suspended object.
// No I/O: the engine (src/engine/monitor.ts) calls these on its state; the UI reads rootBlocker and verdictFailure.
import { CI_ARTIFACT_KINDS, countPhases, FAILURE_PHASES, isFluxKind, TERMINAL_PHASES, type FluxKind, type NodeState, type Phase, type SessionState, type Verdict } from './types.js';
import type { Graph } from './graph.js';
import { kindInfo } from './kinds.js';
import { CI_WAIT_REASONS } from './status.js';

// ---- diagnosis ----------------------------------------------------------------------------------------------------

/** Failure reasons of a Helm action (install, upgrade, its remediation or retries): diagnosed when the message points at workloads. */
const HELM_FAILURE = /^(InstallFailed|UpgradeFailed|RollbackFailed|RetriesExceeded|TestFailed)$/;
/** Messages about workloads not becoming ready (helm's wait, kstatus, timeouts). */
const WORKLOAD_MESSAGE = /health check|timeout|timed out|deadline exceeded|not ready|InProgress|readiness|rollout|replicas|available|CrashLoop|ImagePull|OOMKilled|Unschedulable|\b(Deployment|StatefulSet|DaemonSet|Job)\b/i;
const RUNNING_HEALTH_CHECKS = /Running health checks/i;

/**
 * Whether a node's state calls for a diagnosis of the workloads behind it: `failed` (HealthCheckFailed, a Helm
 * install/upgrade that failed or timed out, Ready=False about workloads, or Failing), `health` (a Kustomization running its
 * health checks), or undefined.
 */
export function diagnosisTrigger(n: Pick<NodeState, 'kind' | 'phase' | 'reason' | 'message'>): 'failed' | 'health' | undefined {
  if (n.kind !== 'Kustomization' && n.kind !== 'HelmRelease') return undefined;
  // Failing (core/failfast.ts): a workload Flux waits for settles it; what the workloads look like is the story.
  if (n.phase === 'Failing') return 'failed';
  if (FAILURE_PHASES.has(n.phase)) {
    if (n.reason === 'HealthCheckFailed') return 'failed';
    if (n.kind === 'HelmRelease' && HELM_FAILURE.test(n.reason) && WORKLOAD_MESSAGE.test(n.message)) return 'failed';
    if (n.kind === 'Kustomization' && n.reason !== 'BuildFailed' && n.reason !== 'ArtifactFailed' && /health check|timeout waiting for|\bstatus: '(InProgress|Failed)'/i.test(n.message)) return 'failed';
    return undefined;
  }
  if (n.phase === 'Progressing' && n.kind === 'Kustomization' && RUNNING_HEALTH_CHECKS.test(n.message)) return 'health';
  return undefined;
}


// ---- settling -----------------------------------------------------------------------------------------------------

/** Phases that computeSettled() reads on a node or its upstreams: a node in none of them neither waits nor blocks. */
export function settleRelevant(phase: Phase): boolean {
  return phase === 'Pending' || phase === 'Waiting' || BLOCKING.has(phase);
}


const BLOCKING: ReadonlySet<string> = new Set(['Failed', 'Stalled', 'Suspended', 'Superseded', 'Unknown']);

/**
 * Marks nodes settled: terminal ones, and Pending/Waiting ones that can no longer move because what they wait
 * for (a dependency, their source, the Kustomization that applies them) is itself settled without being Ready.
 * The node objects are never changed: a node whose settled state, blocker or phase changes is replaced in
 * `nodes` (a record the caller owns, not yet published) by a new object; the others keep their identity, so that
 * a reader of the previous state still holds what it was given and can tell unchanged nodes by identity.
 */
export function computeSettled(nodes: Record<string, NodeState>, g: Graph, matched: Iterable<string>): void {
  const matchedSet = matched instanceof Set ? matched : new Set(matched);
  // Nodes by `namespace/name`, for the blockers named in Waiting messages (built on first use).
  let byNsName: Map<string, string[]> | undefined;
  const named = (nn: string): string[] => (byNsName ??= nodesByNsName(nodes)).get(nn) ?? [];
  // The node each replaced key had when called: at the end, a copy that came out equal to it is dropped again.
  const original = new Map<string, NodeState>();
  const own = (key: string): NodeState => {
    const n = nodes[key]!;
    if (original.has(key)) return n;
    const copy = { ...n };
    original.set(key, n);
    nodes[key] = copy;
    return copy;
  };
  for (const key in nodes) {
    const n = nodes[key]!;
    const settled = TERMINAL_PHASES.has(n.phase) || n.phase === 'Unknown';
    if (n.settled === settled && !n.blockedBy) continue;
    const c = own(key);
    c.settled = settled;
    delete c.blockedBy;
  }
  const nodeOf = (k: string): NodeState | undefined => nodes[k];
  const blockedUpstream = (n: NodeState) => settledBlocker(n, nodeOf, g, named);
  // Propagate until nothing changes (chains of blocked objects). Each pass only visits the nodes still open.
  let open = Object.keys(nodes).filter((k) => opensToSettle(nodes[k]!, matchedSet));
  let changed = true;
  for (let guard = 0; changed && guard < 10_000; guard++) {
    changed = false;
    open = open.filter((k) => !nodes[k]!.settled);
    for (const k of open) {
      const n = nodes[k]!;
      const blocker = blockedUpstream(n);
      if (blocker) {
        const c = own(k);
        c.settled = true;
        c.blockedBy = blocker.key;
        changed = true;
        if (blocker.phase === 'Superseded') {
          // What feeds it moved on to a newer commit: this object will get that one, not ours.
          c.phase = 'Superseded';
          c.reason = 'UpstreamSuperseded';
          c.message = `${blocker.kind} ${blocker.namespace}/${blocker.name} moved on to a newer commit`;
        }
      }
    }
  }
  // A node reset above and settled again the same way is unchanged: the caller's readers keep its object.
  for (const [key, was] of original) {
    const c = nodes[key]!;
    if (c.settled === was.settled && c.blockedBy === was.blockedBy && c.phase === was.phase && c.reason === was.reason && c.message === was.message) nodes[key] = was;
  }
}

/** Keys of the nodes by `namespace/name`. */
export function nodesByNsName(nodes: Record<string, NodeState>): Map<string, string[]> {
  const byNsName = new Map<string, string[]>();
  for (const n of Object.values(nodes)) {
    const k = `${n.namespace}/${n.name}`;
    (byNsName.get(k) ?? byNsName.set(k, []).get(k)!).push(n.key);
  }
  return byNsName;
}

/** Whether computeSettled() looks for a blocker of `n`: Pending or Waiting, not settled, not a matched source still Pending (it will fetch eventually). */
export function opensToSettle(n: NodeState, matched: ReadonlySet<string>): boolean {
  return !n.settled && (n.phase === 'Pending' || n.phase === 'Waiting') && !(matched.has(n.key) && n.phase === 'Pending');
}

/** The first settled upstream that blocks `n`, preferring a failure over a superseded upstream. */
export function settledBlocker(n: NodeState, nodeOf: (key: string) => NodeState | undefined, g: Graph, named: (nsName: string) => string[]): NodeState | undefined {
  let superseded: NodeState | undefined;
  const consider = (key: string): NodeState | undefined => {
    const un = nodeOf(key);
    if (!un || !un.settled || !settleRelevant(un.phase)) return undefined;
    if (un.phase !== 'Superseded') return un;
    superseded ??= un;
    return undefined;
  };
  let found: NodeState | undefined;
  if (n.phase === 'Waiting') {
    for (const e of g.out.get(n.key) ?? []) if (e.type === 'dependsOn' && (found = consider(e.to))) return found;
    for (const b of n.blockers ?? []) for (const k of named(b)) if ((found = consider(k))) return found;
  } else {
    for (const e of g.out.get(n.key) ?? []) if ((e.type === 'source' || e.type === 'dependsOn') && (found = consider(e.to))) return found;
    for (const e of g.in.get(n.key) ?? []) if (e.type === 'inventory' && (found = consider(e.from))) return found;
  }
  return superseded;
}

/** The settled upstream at the end of a node's chain of blockers (a Failed, Stalled, Suspended… object). */
export function rootBlocker(s: SessionState, n: NodeState): NodeState | undefined {
  let cur: NodeState | undefined = n;
  const seen = new Set<string>();
  while (cur?.blockedBy && !seen.has(cur.key)) {
    seen.add(cur.key);
    const next: NodeState | undefined = s.nodes[cur.blockedBy];
    if (!next) break;
    cur = next;
  }
  return cur === n ? undefined : cur;
}

const isAwaitingCi = (n: NodeState) => n.phase === 'Pending' && CI_WAIT_REASONS.has(n.reason);

// ---- the verdict ---------------------------------------------------------------------------------------------------

const isBlocked = (n: NodeState) => n.settled && (n.phase === 'Pending' || n.phase === 'Waiting');

export function decideVerdict(s: SessionState): Verdict {
  const affected = Object.values(s.nodes).filter((n) => n.affected);
  const nodes = affected.filter((n) => !n.deleted);
  // Every object that would have applied the commit is gone: nothing carries it, which is no success.
  if (nodes.length === 0 && affected.length > 0) return 'failed';
  if (nodes.some((n) => FAILURE_PHASES.has(n.phase))) return 'failed';
  const blocked = nodes.filter(isBlocked);
  // Nothing failed, and everything that cannot move waits on a suspended object: the commit is held back on
  // purpose (or by mistake), which is not a failure of the commit.
  if (blocked.length && blocked.every((n) => rootBlocker(s, n)?.phase === 'Suspended')) return 'blocked';
  if (blocked.length) return 'failed';
  const relevant = nodes.filter((n) => n.phase !== 'Suspended');
  if (relevant.length > 0 && relevant.every((n) => n.phase === 'Superseded' || n.phase === 'Ready') && relevant.some((n) => n.phase === 'Superseded'))
    return relevant.every((n) => n.phase === 'Superseded') || s.matchedSources.every((k) => s.nodes[k]?.phase === 'Superseded') ? 'superseded' : 'success';
  return 'success';
}

/** ` through b1c2d3e, which includes it` when the objects carry the pushed change through a later commit. */
const through = (s: SessionState) => (s.commit.through ? ` through ${s.commit.through.slice(0, 7)}, which includes it` : '');

export function verdictMessage(v: Verdict, s: SessionState): string {
  const nodes = Object.values(s.nodes).filter((n) => n.affected);
  const c = countPhases(nodes);
  const short = s.commit.sha.slice(0, 7);
  const blocked = c.blocked;
  switch (v) {
    case 'success':
      return `commit ${short} is applied${through(s)}: ${c.ready} ready${c.unchanged ? `, ${c.unchanged} unchanged by this push` : ''}${c.suspended ? `, ${c.suspended} suspended` : ''}${c.superseded ? `, ${c.superseded} already on a newer commit` : ''}`;
    case 'failed': {
      if (nodes.length > 0 && nodes.every((n) => n.deleted)) {
        const names = nodes.slice(0, 3).map((n) => `${n.kind} ${n.namespace}/${n.name}`).join(', ');
        return `commit ${short} was not applied: every object that would apply it was deleted (${names}${nodes.length > 3 ? `, +${nodes.length - 3} more` : ''})`;
      }
      const first = verdictFailure(s);
      const head = `commit ${short} failed${through(s)}: ${c.failed} failed${blocked ? `, ${blocked} blocked` : ''}, ${c.ready} ready`;
      const before = first?.preexisting ? ', already failing before this push' : '';
      return first ? `${head} (${first.kind} ${first.namespace}/${first.name}: ${first.reason}${before})` : head;
    }
    case 'blocked': {
      const holders = [...new Set(nodes.filter(isBlocked).map((n) => rootBlocker(s, n)).filter((n): n is NodeState => !!n))];
      const names = holders.map((h) => `${h.kind} ${h.namespace}/${h.name} is suspended (resume: ${resumeCommand(h)})`).join('; ');
      return `commit ${short} cannot be applied: ${names}; ${blocked} blocked, ${c.ready} ready`;
    }
    case 'timeout': {
      const waiting = s.ci && s.ci.artifactAt === undefined ? s.matchedSources.map((k) => s.nodes[k]).filter((n): n is NodeState => !!n && CI_ARTIFACT_KINDS.includes(n.kind as FluxKind) && !TERMINAL_PHASES.has(n.phase)) : [];
      const ci = waiting.find(isAwaitingCi) ?? waiting[0];
      if (ci) return `timed out after ${Math.round(s.ci!.timeoutMs / 1000)}s waiting for CI (ci_timeout): ${ci.kind} ${ci.namespace}/${ci.name}: ${ci.message}`;
      return `timed out after ${Math.round(s.timeoutMs / 1000)}s: ${c.ready} ready, ${c.progressing} progressing, ${c.waiting} waiting, ${c.pending} pending`;
    }
    case 'superseded':
      return `a newer commit replaced ${short} before it finished`;
    case 'stopped':
      return 'monitoring was stopped';
    case 'error':
      return s.error ? `${s.error.message}. ${s.error.hint}` : 'the monitor failed';
  }
}



/** The flux CLI command that resumes a suspended object. */
export function resumeCommand(n: Pick<NodeState, 'kind' | 'name' | 'namespace'>): string {
  const noun = isFluxKind(n.kind) ? kindInfo(n.kind).resume : n.kind.toLowerCase();
  return `flux resume ${noun} ${n.name} -n ${n.namespace}`;
}

/**
 * The failure a `failed` verdict names: the first affected Failed/Stalled object that did not fail before the push,
 * else the first; for a fail-fast verdict (nothing Failed yet), the Failing object it ended on.
 */
export function verdictFailure(s: SessionState): NodeState | undefined {
  const nodes = Object.values(s.nodes).filter((n) => n.affected);
  return (
    nodes.find((n) => FAILURE_PHASES.has(n.phase) && !n.preexisting) ??
    nodes.find((n) => FAILURE_PHASES.has(n.phase)) ??
    (s.failFast ? s.nodes[s.failFast.key] : undefined) ??
    nodes.find((n) => n.phase === 'Failing')
  );
}
