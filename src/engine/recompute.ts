// The nodes of a session from its objects: the graph and what derives from it (matched sources, affected and
// correlated sets, inventory order), each object's status for the pushed commit (core/status.ts computeStatus,
// memoised on its inputs), delivery through inventory parents, failures that were there before the push, and the
// settle propagation (core/verdict.ts). A full recompute rebuilds every node; the incremental one only those an
// event touched, when the settle propagation cannot change (test/unit/incremental.test.ts: both give the same
// nodes). It publishes new state.nodes, edges, cycles and matchedSources (a recompute that changes a node makes a
// new nodes record and new objects for the changed nodes; the others keep their identity, and nothing a published
// state holds is changed), and keeps the counts checkDone() reads.
import { artifactDigestKey, artifactOrigin, computeStatus, originRevision } from '../core/status.js';
import { parseRevision, revisionCommit, revisionMatches } from '../core/revision.js';
import { CI_ARTIFACT_KINDS, FAILURE_PHASES, isFluxKind, TERMINAL_PHASES, type FluxKind, type GraphEdge, type KubeObject, type NodeState, type Phase, type PushedRevision, type StatusResult } from '../core/types.js';
import { affectedSet, buildGraph, correlatedSet, dependsOnRefs, inventoryRefs, matchSources, sourceRefs, type Graph, type PushTarget } from '../core/graph.js';
import { kindInfo } from '../core/kinds.js';
import { computeWait, type WaitFacts, type WaitInfo } from '../core/waits.js';
import { computeSettled, nodesByNsName, opensToSettle, settledBlocker, settleRelevant } from '../core/verdict.js';
import type { CommitPlacement } from './commits.js';
import type { CustomKinds } from './custom-kinds.js';
import type { Diagnoses } from './diagnoses.js';
import type { EngineContext } from './parts.js';

export interface NodeBuilderInputs {
  target: PushTarget;
  /** Monitor every Flux object, not only those affected by the push. */
  all: boolean;
  /** The kinds shown (monitor_types); matched sources always are. */
  displayed: ReadonlySet<FluxKind>;
  /** false: every recompute is a full one (tests compare the two). */
  incremental: boolean;
  commits: Pick<CommitPlacement, 'known' | 'check'>;
  diag: Pick<Diagnoses, 'shownOn' | 'dropStale'>;
  custom: Pick<CustomKinds, 'changed' | 'objects' | 'statusOf' | 'has'>;
  /** What the controllers' flags say (read once; defaults until then): the waits are computed with it. */
  waitFacts?: () => WaitFacts;
}

/** No controller flags read (yet): the waits say they assume Flux's defaults. */
const NO_FACTS: WaitFacts = {};

export class NodeBuilder {
  /**
   * The graph and what derives from it alone, reused while no object is added or removed and no graph input of an
   * object changes (status churn leaves it alone): rebuilding it costs O(objects) of string work.
   */
  topology?: Topology;
  /** Last computeStatus() result per key with its inputs: only objects that changed are computed again. */
  private readonly statusMemo = new Map<string, { obj: KubeObject; delivered?: boolean; correlate: boolean; newer: number; origins: number; res: StatusResult }>();
  /** Last computeWait() result per key with its inputs. */
  private readonly waitMemo = new Map<string, { obj: KubeObject; res: StatusResult; facts: WaitFacts; wait?: WaitInfo }>();
  /** Origin revisions of the artifacts seen on matched OCIRepositories/ExternalArtifacts (ComputeContext.origins). */
  private readonly origins = new Map<string, string>();
  /** The status result each current node was built from. */
  private readonly nodeRes = new Map<string, StatusResult>();
  /** Keys of the objects stored since the last recompute (watch events, the confirming LIST). */
  private readonly dirty = new Set<string>();
  /** What the last full recompute was based on: while both stay the same, recompute() can be incremental. */
  private basis?: { topology: Topology; newer: number };
  /** Affected nodes, and how many of them are not settled (for checkDone()). */
  counts = { affected: 0, open: 0 };
  /** Recomputes made so far, full and incremental (for tests and benches). */
  readonly recomputes = { full: 0, incremental: 0 };
  /** How long the last copy of a published nodes record took (ms): the Monitor paces its publications by it. */
  copyMs = 0;
  /** The failure (Ready=False reason and message) of each object when the session started, before the push acted. */
  private baseline?: Map<string, string>;

  constructor(
    private readonly m: EngineContext,
    private readonly i: NodeBuilderInputs,
  ) {}

  /** Whether objects were stored or forgotten since the last recompute: the nodes are behind the store. */
  get behind(): boolean {
    return this.dirty.size > 0 || this.topology === undefined;
  }

  /** A new version of an object was stored (`prev` the one it replaces): recomputed next time. */
  stored(key: string, prev: KubeObject | undefined, next: KubeObject): void {
    this.dirty.add(key);
    // The graph inputs of the version it replaces are computed again rather than kept for every object (3 MB of
    // strings at 10,000 objects), from the kept (slimmed) versions of both.
    if (!prev || graphInputs(prev) !== graphInputs(next)) this.topology = undefined;
  }

  /** An object is gone: what was derived from it goes, and the graph is rebuilt. */
  forgot(key: string): void {
    this.statusMemo.delete(key);
    this.waitMemo.delete(key);
    this.nodeRes.delete(key);
    this.topology = undefined;
  }

  /** A kind was listed anew: the graph is rebuilt. */
  replaced(): void {
    this.topology = undefined;
  }

  /** An object of a custom kind left the push: its result goes. */
  forgetResult(key: string): void {
    this.nodeRes.delete(key);
  }

  /** The graph, matched sources, affected set and the monitored keys in order: rebuilt only when the graph changed. */
  currentTopology(): Topology {
    if (this.topology) return this.topology;
    const g = buildGraph(this.m.objects);
    const matched = matchSources(this.m.objects, this.i.target);
    const affected = affectedSet(g, matched);
    const correlated = correlatedSet(g, matched);
    const candidates = this.i.all ? this.m.objects.keys() : affected.values();
    const included = new Set([...candidates].filter((k) => this.m.objects.has(k) && this.i.displayed.has(this.m.objects.get(k)!.kind as FluxKind)));
    // Keep matched sources visible even when their kind is not in monitor_types: they anchor the tree.
    for (const k of matched) included.add(k);
    // Once monitored, an object stays monitored while it exists (a status rewrite must not hide it).
    for (const k of Object.keys(this.m.state.nodes)) if (this.m.objects.has(k)) included.add(k);
    // Phases depend on the phases of inventory parents (delivery): compute parents first.
    const order = topoByInventory(g, included);
    const parents = new Map<string, string[]>();
    for (const key of order) {
      const ps = (g.in.get(key) ?? []).filter((e) => e.type === 'inventory' && (affected.has(e.from) || this.i.all)).map((e) => e.from);
      parents.set(key, ps.length ? ps : NO_PARENTS);
    }
    const pos = new Map<string, number>();
    const children = new Map<string, string[]>();
    order.forEach((key, i) => {
      pos.set(key, i);
      for (const p of parents.get(key)!) (children.get(p) ?? children.set(p, []).get(p)!).push(key);
    });
    this.topology = { g, matched, affected, correlated, order, parents, matchedSet: new Set(matched), pos, children };
    return this.topology;
  }

  /** computeStatus(), memoised on its inputs (the object itself, delivery, correlation, the known newer commits). */
  private statusOf(key: string, obj: KubeObject, delivered: boolean | undefined, correlate: boolean, now: number): StatusResult {
    const newer = this.i.commits.known;
    const origins = this.origins.size;
    const m = this.statusMemo.get(key);
    if (m && m.obj === obj && m.delivered === delivered && m.correlate === correlate && m.newer === newer && m.origins === origins) return m.res;
    const res = computeStatus(obj, this.m.pushed, { delivered, correlate, now, origins: this.origins });
    this.statusMemo.set(key, { obj, delivered, correlate, newer, origins, res });
    return res;
  }

  /** computeWait(), memoised on its inputs (the object, its status result, the controllers' flags). */
  private waitOf(key: string, obj: KubeObject, res: StatusResult): WaitInfo | undefined {
    if (!isFluxKind(obj.kind)) return undefined;
    const facts = this.i.waitFacts?.() ?? NO_FACTS;
    const m = this.waitMemo.get(key);
    if (m && m.obj === obj && m.res === res && m.facts === facts) return m.wait;
    const wait = computeWait(obj, res, facts);
    this.waitMemo.set(key, { obj, res, facts, wait });
    return wait;
  }

  /** Remembers which commit each artifact of a matched OCIRepository/ExternalArtifact was built from. */
  private noteOrigins(matched: string[]): void {
    for (const k of matched) {
      const o = this.m.objects.get(k);
      if (!o || !CI_ARTIFACT_KINDS.includes(o.kind as FluxKind)) continue;
      const key = artifactDigestKey(o.status?.artifact?.revision);
      const origin = originRevision(artifactOrigin(o).revision);
      if (key && origin && revisionCommit(origin) && !this.origins.has(key)) this.origins.set(key, origin);
    }
  }
  /** Recomputes the nodes from the current objects: incrementally when it can (see recomputeChanged), else in full. */
  /**
   * Recomputes the nodes from the current objects: incrementally when it can (see recomputeChanged), else in
   * full. Returns the phases it may have changed and the topology it used.
   */
  recompute(): PhaseChanges & { topo: Topology } {
    const topo = this.currentTopology();
    const newer = this.i.commits.known;
    this.noteOrigins(topo.matched);
    let changes: PhaseChanges | undefined;
    if (this.i.incremental && !this.i.custom.changed && this.baseline && this.basis?.topology === topo && this.basis.newer === newer) {
      changes = this.recomputeChanged(topo);
      if (changes) this.recomputes.incremental++;
    }
    if (!changes) {
      const prev = new Map<string, Phase>();
      for (const n of Object.values(this.m.state.nodes)) prev.set(n.key, n.phase);
      this.recomputeAll(topo, prev);
      this.recomputes.full++;
      this.basis = { topology: topo, newer };
      changes = { prev };
    }
    return { ...changes, topo };
  }

  /** Builds the node of `key` from its status result, or returns `prev` when nothing it shows changed. */
  private buildNode(key: string, obj: KubeObject, res: StatusResult, prev: NodeState | undefined, affectedNow: boolean, now: number): NodeState {
    const wait = this.waitOf(key, obj, res);
    if (
      prev &&
      prev.wait === wait &&
      this.nodeRes.get(key) === res &&
      prev.phase === res.phase &&
      prev.reason === res.reason &&
      prev.message === res.message &&
      prev.affected === affectedNow &&
      prev.resourceVersion === obj.metadata.resourceVersion
    ) {
      // Built from the same status result and not rewritten by computeSettled: the node is unchanged.
      return prev;
    }
    const phaseSince = prev && prev.phase === res.phase ? prev.phaseSince : prev ? now : sinceOr(res.since, now, this.m.state.startedAt);
    const node: NodeState = {
      key,
      kind: obj.kind,
      namespace: obj.metadata.namespace ?? '',
      name: obj.metadata.name,
      apiVersion: obj.apiVersion,
      phase: res.phase,
      reason: res.reason,
      message: res.message,
      revision: res.revision,
      blockers: res.blockers,
      affected: affectedNow,
      settled: false,
      phaseSince,
      firstSeen: prev?.firstSeen ?? now,
      resourceVersion: obj.metadata.resourceVersion,
    };
    // A diagnosis explains a failing or slow attempt: it goes once the object is Ready (or moved on).
    const diagnosis = this.i.diag.shownOn(key, res.phase);
    if (diagnosis) node.diagnosis = diagnosis;
    if (wait) node.wait = wait;
    return node;
  }

  /** What recompute() does to a node it rebuilt (not to one it reused): remembers its result, drops a stale diagnosis, checks its commit. */
  private adoptNode(node: NodeState, res: StatusResult): void {
    this.nodeRes.set(node.key, res);
    this.i.diag.dropStale(node);
    this.i.commits.check(res.revision);
  }

  /** Whether an object is delivered by its inventory parents; `nodeOf` gives the parents' nodes computed before it. */
  private deliveredBy(parents: string[], nodeOf: (p: string) => NodeState | undefined): boolean | undefined {
    if (!parents.length) return undefined;
    return parents.some((p) => {
      const pn = nodeOf(p);
      return pn?.phase === 'Ready' || (!pn && isAppliedByParent(this.m.objects.get(p), this.m.pushed));
    });
  }

  /** Recomputes graph, affected set and every node's phase from the current objects. */
  private recomputeAll(topo: Topology, before: ReadonlyMap<string, Phase>): void {
    const now = this.m.now();
    const { g, matched, correlated, order, parents: parentsOf, matchedSet } = topo;
    this.dirty.clear();
    this.i.custom.changed = false;
    const nodes: Record<string, NodeState> = {};
    for (const key of order) {
      const obj = this.m.objects.get(key)!;
      const delivered = this.deliveredBy(parentsOf.get(key)!, (p) => nodes[p]);
      const res = this.statusOf(key, obj, delivered, correlated.has(key), now);
      const prev = this.m.state.nodes[key];
      const node = this.buildNode(key, obj, res, prev, this.isAffected(topo, key), now);
      nodes[key] = node;
      if (node !== prev) this.adoptNode(node, res);
    }
    // The objects of custom kinds found for the pushed commit (no graph: each stands on its own).
    for (const [key, obj] of this.i.custom.objects()) {
      const res = this.i.custom.statusOf(key, obj);
      const prev = this.m.state.nodes[key];
      const node = this.buildNode(key, obj, res, prev, true, now);
      nodes[key] = node;
      if (node !== prev) this.nodeRes.set(key, res);
    }
    // Objects deleted during the session stay visible, marked as deleted.
    for (const [key, prev] of Object.entries(this.m.state.nodes)) {
      if (!nodes[key] && !this.m.objects.has(key) && !this.i.custom.has(key)) {
        nodes[key] = { ...prev, deleted: true, phase: 'Unknown', reason: 'Deleted', message: 'the object was deleted', settled: true, phaseSince: prev.deleted ? prev.phaseSince : now };
      }
    }
    this.markPreexisting(nodes);
    computeSettled(nodes, g, matchedSet);
    this.markContext(topo, nodes);
    // The time in phase follows the phase shown, which the settle propagation may have rewritten (to Superseded)
    // after buildNode() compared the object's own phase: kept while a node stays in the phase it had, reset when
    // that changed (a node reused as it was and rewritten by the propagation included: a new object then).
    const published = this.m.state.nodes;
    for (const key in nodes) {
      const n = nodes[key]!;
      const was = before.get(key);
      if (was === undefined || n.deleted) continue;
      const since = was === n.phase ? published[key]!.phaseSince : now;
      if (n.phaseSince !== since) nodes[key] = { ...n, phaseSince: since };
    }
    this.counts = { affected: 0, open: 0 };
    for (const key in nodes) this.countNode(nodes[key]!, 1);
    // The monitored keys only change with the topology (additions and deletions rebuild it).
    topo.edges ??= g.edges.filter((e) => nodes[e.from] && nodes[e.to]);
    this.m.update({ nodes, edges: topo.edges, cycles: g.cycles, matchedSources: matched });
    for (const c of g.cycles) this.m.warn(`dependsOn cycle: ${c.join(' → ')} → ${c[0]}`);
  }

  /**
   * Sources whose readiness the push cannot move by itself: affected, not matched nor correlated with the push
   * (their revisions carry no commit of it), and delivered by no inventory parent: a HelmChart helm-controller
   * made from a HelmRepository, an OCIRepository a HelmRelease takes its chart from. Each with the objects that
   * use it (source edges into it).
   */
  private contextOf(topo: Topology): NonNullable<Topology['context']> {
    if (topo.context) return topo.context;
    const candidates = new Map<string, string[]>();
    const consumers = new Set<string>();
    const byConsumer = new Map<string, string[]>();
    for (const key of topo.order) {
      const kind = this.m.objects.get(key)?.kind;
      if (!kind || !isFluxKind(kind) || kindInfo(kind).role !== 'source') continue;
      if (!topo.affected.has(key) || topo.matchedSet.has(key) || topo.correlated.has(key) || topo.parents.get(key)!.length) continue;
      const users = (topo.g.in.get(key) ?? []).filter((e) => e.type === 'source').map((e) => e.from);
      candidates.set(key, users);
      for (const u of users) {
        consumers.add(u);
        (byConsumer.get(u) ?? byConsumer.set(u, []).get(u)!).push(key);
      }
    }
    topo.context = { candidates, consumers, byConsumer };
    return topo.context;
  }

  /**
   * Marks the Ready sources whose readiness is not the push's doing (NodeState.context): until something that uses
   * them is Ready with the push (then they served it), they are shown and counted as unchanged by this push.
   */
  private markContext(topo: Topology, nodes: Record<string, NodeState>, only?: ReadonlySet<string>): void {
    const { candidates } = this.contextOf(topo);
    for (const key of only ?? candidates.keys()) {
      const users = candidates.get(key)!;
      const n = nodes[key];
      if (!n) continue;
      const served = users.some((u) => {
        const un = nodes[u];
        return !!un && un.phase === 'Ready' && !un.context;
      });
      const context = n.phase === 'Ready' && !n.deleted && !served;
      if (context !== !!n.context) nodes[key] = context ? { ...n, context: true } : omitContext(n);
    }
  }

  /** --all shows every object; the verdict still only counts the affected ones (all of them without a match). */
  private isAffected(topo: Topology, key: string): boolean {
    return !this.i.all || topo.matched.length === 0 || topo.affected.has(key);
  }

  /**
   * The incremental recompute, on the topology of the last one with the same known newer commits: only the objects
   * stored since (`dirty`) and the inventory children whose delivery they may change are computed again, in the
   * same order as recomputeAll(). A status write then costs work in proportion to what it changes, not to the size
   * of the fleet. The settle propagation (computeSettled) is global and order-dependent, so it is skipped only when
   * it cannot change: every rebuilt node was and stays in a phase that neither waits (Pending, Waiting) nor blocks
   * (BLOCKING); Ready ↔ Progressing churn, the usual case. Otherwise undefined: the caller recomputes everything.
   * test/unit/incremental.test.ts checks that both give the same nodes on random change sequences.
   */
  private recomputeChanged(topo: Topology): PhaseChanges | undefined {
    const now = this.m.now();
    const { parents: parentsOf, correlated, children, pos } = topo;
    const nodes = this.m.state.nodes;
    // Keys to compute, processed in topological order (inventory parents first).
    const queue: string[] = [];
    const queued = new Set<string>();
    const enqueue = (k: string) => {
      if (queued.has(k) || !pos.has(k)) return;
      queued.add(k);
      queue.push(k);
    };
    for (const k of this.dirty) {
      enqueue(k);
      // Its children read its object when it is not a node or comes after them (an inventory cycle).
      for (const c of children.get(k) ?? []) if (!pos.has(k) || pos.get(c)! < pos.get(k)!) enqueue(c);
    }
    queue.sort((a, b) => pos.get(a)! - pos.get(b)!);
    const fresh = new Map<string, { node: NodeState; res: StatusResult; prev: NodeState | undefined }>();
    for (let i = 0; i < queue.length; i++) {
      const key = queue[i]!;
      const obj = this.m.objects.get(key)!;
      const at = pos.get(key)!;
      const delivered = this.deliveredBy(parentsOf.get(key)!, (p) => {
        const pp = pos.get(p);
        return pp !== undefined && pp < at ? (fresh.get(p)?.node ?? nodes[p]) : undefined;
      });
      const res = this.statusOf(key, obj, delivered, correlated.has(key), now);
      const prev = nodes[key];
      const node = this.buildNode(key, obj, res, prev, this.isAffected(topo, key), now);
      if (node === prev) continue;
      fresh.set(key, { node, res, prev });
      if (prev?.phase !== node.phase) {
        // Its children after it read its phase for their delivery: compute them too, in order.
        let added = false;
        for (const c of children.get(key) ?? []) {
          if (pos.get(c)! > at && !queued.has(c)) {
            enqueue(c);
            added = true;
          }
        }
        if (added) {
          const rest = queue.splice(i + 1).sort((a, b) => pos.get(a)! - pos.get(b)!);
          queue.push(...rest);
        }
      }
    }
    // computeSettled() on the new nodes would give every other node the settled state and blocker it has: none of
    // the rebuilt nodes was a blocker (settled in a phase that blocks), and none is one now: not in a phase that
    // blocks once settled (Failed, Stalled, Suspended, Superseded, Unknown), and, when Pending or Waiting, with no
    // settled upstream that blocks it. Else (a blocker comes or goes) the propagation is done again, in full.
    // Whether a source is context (unchanged by the push) depends on its own phase and on what uses it: marked
    // again, below, for the candidates rebuilt and those whose users were (it changes no settling: such a node is
    // Ready either way).
    const ctx = this.contextOf(topo);
    const remark = new Set<string>();
    for (const key of fresh.keys()) {
      if (ctx.candidates.has(key)) remark.add(key);
      for (const c of ctx.byConsumer.get(key) ?? []) remark.add(c);
    }
    for (const { node, prev } of fresh.values()) {
      if (!prev || (prev.settled && settleRelevant(prev.phase))) return undefined;
      node.settled = TERMINAL_PHASES.has(node.phase) || node.phase === 'Unknown';
      if (node.settled && settleRelevant(node.phase)) return undefined;
    }
    const current = (k: string): NodeState | undefined => fresh.get(k)?.node ?? nodes[k];
    const named = (nn: string): string[] => (topo.byNsName ??= nodesByNsName(nodes)).get(nn) ?? [];
    for (const { node } of fresh.values()) {
      if (opensToSettle(node, topo.matchedSet) && settledBlocker(node, current, topo.g, named)) return undefined;
    }
    this.dirty.clear();
    const prevPhases = new Map<string, Phase>();
    const keys: string[] = [];
    if (!fresh.size) return { prev: prevPhases, keys };
    // A published record stays as it is: the changed nodes go into a copy (unchanged nodes keep their objects). A
    // record not published yet (several recomputes between two publications) is the engine's own: changed in place.
    let next = nodes as Record<string, NodeState>;
    if (this.m.published(nodes)) {
      const started = performance.now();
      next = copyRecord(nodes);
      this.copyMs = performance.now() - started;
    }
    for (const [key, f] of fresh) {
      let node = f.node;
      // As markPreexisting() does for each node.
      const pre = this.isPreexisting(node);
      if (pre !== !!node.preexisting) node = pre ? { ...node, preexisting: true } : omitPreexisting(node);
      this.adoptNode(node, f.res);
      this.countNode(f.prev!, -1);
      this.countNode(node, 1);
      next[key] = node;
      prevPhases.set(key, f.prev!.phase);
      keys.push(key);
    }
    if (remark.size) {
      const before = new Map([...remark].map((k) => [k, next[k]]));
      this.markContext(topo, next, remark);
      for (const [k, was] of before) {
        if (!was || next[k] === was || fresh.has(k)) continue;
        prevPhases.set(k, was.phase);
        keys.push(k);
      }
    }
    this.m.update({ nodes: next });
    return { prev: prevPhases, keys };
  }

  /** Keeps `counts` (affected nodes, and those not settled) as a node comes (+1) or goes (-1). */
  private countNode(n: NodeState, sign: 1 | -1): void {
    if (!n.affected) return;
    this.counts.affected += sign;
    if (!n.settled) this.counts.open += sign;
  }

  /**
   * Marks Failed/Stalled nodes whose failure is the one they already had when the session started: the user
   * then sees that the commit did not cause it. The first recompute after the initial list takes the baseline.
   */
  private markPreexisting(nodes: Record<string, NodeState>): void {
    if (!this.baseline) {
      this.baseline = new Map();
      for (const [key, obj] of this.m.objects) {
        const sig = failureSignature(obj);
        if (sig) this.baseline.set(key, sig);
      }
    }
    for (const n of Object.values(nodes)) {
      const pre = this.isPreexisting(n);
      if (pre !== !!n.preexisting) nodes[n.key] = pre ? { ...n, preexisting: true } : omitPreexisting(n);
    }
  }

  /** Whether a node fails with the failure its object had when the session started (needs the baseline). */
  private isPreexisting(n: NodeState): boolean {
    const before = this.baseline!.get(n.key);
    const now = before && FAILURE_PHASES.has(n.phase) ? failureSignature(this.m.objects.get(n.key)) : undefined;
    return !!now && now === before;
  }


}


export interface Topology {
  g: Graph;
  matched: string[];
  matchedSet: Set<string>;
  affected: Set<string>;
  correlated: Set<string>;
  /** Monitored keys, inventory parents first. */
  order: string[];
  /** The inventory parents of each monitored key that count for delivery. */
  parents: Map<string, string[]>;
  /** Edges between monitored nodes (filled by the first recompute on this topology). */
  edges?: GraphEdge[];
  /** Position of each monitored key in `order`. */
  pos: Map<string, number>;
  /** The monitored keys whose delivery each key counts for (the inverse of `parents`). */
  children: Map<string, string[]>;
  /** The nodes' keys by `namespace/name` (the node set changes only with the topology), built on first use. */
  byNsName?: Map<string, string[]>;
  /** The sources whose readiness the push may not move, and the objects that use them (built on first use). */
  context?: { candidates: Map<string, string[]>; consumers: Set<string>; byConsumer: Map<string, string[]> };
}

/** The phases of the nodes a recompute may have changed, before it; `keys` (in order) when only those may have. */
export interface PhaseChanges {
  prev: Map<string, Phase>;
  keys?: string[];
}

/**
 * A shallow copy of a nodes record. A record of thousands of keys is a hash table in V8, and a for-in copy of one
 * costs about 60 % of a spread's (`{ ...nodes }`) in CPU time at 10,000 keys (docs/performance.md, (d)–(f)).
 */
function copyRecord(nodes: Readonly<Record<string, NodeState>>): Record<string, NodeState> {
  const out: Record<string, NodeState> = {};
  for (const k in nodes) out[k] = nodes[k]!;
  return out;
}

/** The parents of the many keys that have none (one shared array rather than thousands of empty ones). */
const NO_PARENTS: string[] = [];

/** Everything buildGraph() and matchSources() read from one object, as a string to compare. */
function graphInputs(o: KubeObject): string {
  const git = o.kind === 'GitRepository' ? JSON.stringify([o.spec?.url, o.spec?.ref]) : '';
  // What matchSources() reads of an OCI artifact: its source and the ref of its revision (not the commit, which
  // changes with every artifact).
  if (CI_ARTIFACT_KINDS.includes(o.kind as FluxKind)) {
    const origin = artifactOrigin(o);
    const ref = origin.revision ? (parseRevision(origin.revision).ref ?? '') : undefined;
    return `${dependsOnRefs(o).join(',')}|${sourceRefs(o).join(',')}|${inventoryRefs(o).join(',')}|${JSON.stringify([origin.source, ref])}`;
  }
  return `${dependsOnRefs(o).join(',')}|${sourceRefs(o).join(',')}|${inventoryRefs(o).join(',')}|${git}`;
}

/**
 * Ready=False reason and message, with what differs between two attempts of the same failure removed
 * (revisions, commit ids, the controllers' temporary directories).
 */
function failureSignature(o: KubeObject | undefined): string | undefined {
  const conds: unknown = o?.status?.conditions;
  if (!Array.isArray(conds)) return undefined;
  const ready = conds.find((c) => c?.type === 'Ready');
  if (ready?.status !== 'False' || typeof ready.message !== 'string') return undefined;
  const msg = ready.message
    .replace(/@sha[0-9]+:[0-9a-f]+/gi, '@…')
    .replace(/\b[0-9a-f]{40,64}\b/gi, '…')
    .replace(/\/tmp\/[A-Za-z_-]+[0-9]+/g, '/tmp/…');
  return `${ready.reason ?? ''}|${msg}`;
}

function omitContext(n: NodeState): NodeState {
  const { context: _, ...rest } = n;
  return rest;
}

function omitPreexisting(n: NodeState): NodeState {
  const { preexisting: _, ...rest } = n;
  return rest;
}

function sinceOr(since: string | undefined, now: number, startedAt: number): number {
  const t = since ? Date.parse(since) : NaN;
  // Conditions older than the session only tell us the phase began before we started watching.
  return Number.isFinite(t) && t <= now ? Math.max(t, Math.min(startedAt, now)) : now;
}

/** Whether a Kustomization object (not a monitored node) has applied the pushed commit. */
function isAppliedByParent(o: KubeObject | undefined, pushed: PushedRevision): boolean {
  const rev = o?.status?.lastAppliedRevision;
  return revisionMatches(typeof rev === 'string' ? rev : undefined, pushed) === true;
}

/** Orders keys so that inventory parents come before their children (cycles broken arbitrarily). */
function topoByInventory(g: Graph, keys: Set<string>): string[] {
  const out: string[] = [];
  const mark = new Map<string, 1 | 2>();
  const visit = (k: string) => {
    const stack: Array<{ k: string; i: number; parents: string[] }> = [];
    const push = (key: string) => {
      mark.set(key, 1);
      stack.push({ k: key, i: 0, parents: (g.in.get(key) ?? []).filter((e) => e.type === 'inventory' && keys.has(e.from)).map((e) => e.from) });
    };
    push(k);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const p = top.parents[top.i++];
      if (p === undefined) {
        mark.set(top.k, 2);
        out.push(top.k);
        stack.pop();
      } else if (!mark.has(p)) push(p);
    }
  };
  for (const k of [...keys].sort()) if (!mark.has(k)) visit(k);
  return out;
}

