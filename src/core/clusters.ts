// Several clusters in one session (issue 13 item 2): the states of one monitor per kubeconfig context merged into
// one SessionState, and split back into one state per cluster for the views. Pure: no I/O, no clock.
//
// In the merged state, every node, edge, cycle and matched source is keyed `<context>/<Kind>/<namespace>/<name>`
// and nodes carry `cluster`; `clusters` says, per context, its status, verdict, error and warnings; the verdict
// is the worst of the clusters' (VERDICT_SEVERITY), given once every cluster has one.
import {
  countPhases,
  EXIT_CODES,
  worstVerdict,
  type ClusterState,
  type ClusterVerdict,
  type GraphEdge,
  type NodeState,
  type SessionState,
  type Verdict,
} from './types.js';

/** The key of an object of cluster `context` in a several-cluster session. */
export function clusterKey(context: string, key: string): string {
  return `${context}/${key}`;
}

/** `key` without the `<context>/` prefix (unchanged when it does not have it). */
export function unprefixKey(context: string, key: string): string {
  const p = `${context}/`;
  return key.startsWith(p) ? key.slice(p.length) : key;
}

/** One cluster's part of a merged session: its context and its monitor's latest state (none before it published). */
export interface ClusterPart {
  context: string;
  state?: SessionState;
}

function clusterOf(p: ClusterPart, base: SessionState): ClusterState {
  const s = p.state;
  if (!s) return { context: p.context, status: 'starting', startedAt: base.startedAt, updatedAt: base.startedAt, matchedSources: [], warnings: [], cycles: [] };
  return {
    context: p.context,
    ...(s.cluster.server ? { server: s.cluster.server } : {}),
    status: s.status,
    startedAt: s.startedAt,
    updatedAt: s.updatedAt,
    ...(s.endedAt !== undefined ? { endedAt: s.endedAt } : {}),
    ...(s.verdict ? { verdict: s.verdict } : {}),
    ...(s.verdictMessage !== undefined ? { verdictMessage: s.verdictMessage } : {}),
    ...(s.timedOut ? { timedOut: true } : {}),
    ...(s.error ? { error: s.error } : {}),
    ...(s.mode ? { mode: s.mode } : {}),
    matchedSources: [...s.matchedSources],
    warnings: [...s.warnings],
    cycles: s.cycles.map((c) => [...c]),
  };
}

/**
 * What the last merge made of each cluster's nodes and edges, reused while the cluster's monitor publishes the
 * same `nodes` record and the same `edges` array (the engine never changes a published state: a recompute that
 * changes a node publishes a new record, in which the unchanged nodes keep their objects): a state change of one
 * cluster, or an error or warning, then costs no copy of the others' objects, and a status write in one cluster
 * copies only the nodes it changed.
 */
export type MergeMemo = Map<string, { nodes: Record<string, NodeState>; nodesOut: Record<string, NodeState>; edges: GraphEdge[]; edgesOut: GraphEdge[] }> & {
  /** The merged nodes and edges of the last merge, reused when no cluster's changed. */
  last?: { parts: string; nodes: Record<string, NodeState>; edges: GraphEdge[] };
};

/** The nodes of cluster `ctx` under their merged keys; a node that is the same object in `before` keeps its copy there. */
function prefixedNodes(ctx: string, src: Record<string, NodeState>, before?: { nodes: Record<string, NodeState>; nodesOut: Record<string, NodeState> }): Record<string, NodeState> {
  const out: Record<string, NodeState> = {};
  for (const key in src) {
    const n = src[key]!;
    const k = clusterKey(ctx, key);
    if (before && before.nodes[key] === n) {
      out[k] = before.nodesOut[k]!;
      continue;
    }
    const o: NodeState = Object.assign({}, n);
    o.key = k;
    o.cluster = ctx;
    if (n.blockedBy) o.blockedBy = clusterKey(ctx, n.blockedBy);
    out[k] = o;
  }
  return out;
}

/**
 * The session of several clusters from each one's latest state. `base` gives what is the same on every cluster
 * (id, repository, commit, timeout, pid). Finished, with the worst verdict, once every cluster is finished.
 * `memo` (optional) carries what one merge made to the next (MergeMemo). The states given are not changed, and the
 * merged state is a new one: nothing of it is changed afterwards either.
 */
export function mergeClusters(base: SessionState, parts: ClusterPart[], memo?: MergeMemo): SessionState {
  const clusters = parts.map((p) => clusterOf(p, base));
  const nodes: Record<string, NodeState> = {};
  const merged: SessionState = {
    ...base,
    cluster: { context: parts.map((p) => p.context).join(', ') },
    nodes,
    edges: [],
    cycles: [],
    matchedSources: [],
    warnings: [],
    clusters,
  };
  delete merged.error;
  delete merged.verdict;
  delete merged.verdictMessage;
  delete merged.timedOut;
  delete merged.endedAt;
  delete merged.mode;
  delete merged.timeline;
  // Each cluster's prefixed nodes and edges: reused from the memo while its monitor publishes the same ones.
  let changed = !memo?.last;
  const made = parts.map((p) => {
    const s = p.state;
    if (!s) return undefined;
    const ctx = p.context;
    let m = memo?.get(ctx);
    if (!m || m.nodes !== s.nodes || m.edges !== s.edges) {
      changed = true;
      m = {
        nodes: s.nodes,
        nodesOut: m?.nodes === s.nodes ? m.nodesOut : prefixedNodes(ctx, s.nodes, m),
        edges: s.edges,
        edgesOut: m?.edges === s.edges ? m.edgesOut : s.edges.map((e) => ({ from: clusterKey(ctx, e.from), to: clusterKey(ctx, e.to), type: e.type })),
      };
      memo?.set(ctx, m);
    }
    return m;
  });
  const shape = parts.map((p) => `${p.state ? '+' : '-'}${p.context}`).join('\n');
  if (!changed && memo?.last?.parts === shape) {
    merged.nodes = memo.last.nodes;
    merged.edges = memo.last.edges;
  } else {
    for (const m of made) {
      if (!m) continue;
      Object.assign(nodes, m.nodesOut);
      for (const e of m.edgesOut) merged.edges.push(e);
    }
    if (memo) memo.last = { parts: shape, nodes, edges: merged.edges };
  }
  for (const p of parts) {
    const s = p.state;
    if (!s) continue;
    const ctx = p.context;
    for (const c of s.cycles) merged.cycles.push(c.map((k) => clusterKey(ctx, k)));
    for (const k of s.matchedSources) merged.matchedSources.push(clusterKey(ctx, k));
    for (const w of s.warnings) merged.warnings.push(`${ctx}: ${w}`);
    if (s.timeline) {
      // The push's moments, keyed like the nodes (a source blocker's key too).
      const tl = (merged.timeline ??= { objects: {} });
      for (const [k, m] of Object.entries(s.timeline.objects)) {
        tl.objects[clusterKey(ctx, k)] = m.waits?.some((w) => w.on === 'source')
          ? { ...m, waits: m.waits.map((w) => (w.on === 'source' ? { ...w, blockers: w.blockers.map((b) => clusterKey(ctx, b)) } : w)) }
          : m;
      }
      if (s.timeline.dropped) tl.dropped = (tl.dropped ?? 0) + s.timeline.dropped;
    }
  }
  merged.startedAt = Math.min(base.startedAt, ...clusters.map((c) => c.startedAt));
  merged.updatedAt = Math.max(base.updatedAt, ...clusters.map((c) => c.updatedAt));
  const modes = new Set(clusters.map((c) => c.mode).filter(Boolean));
  if (modes.size) merged.mode = modes.has('poll') ? 'poll' : 'watch';
  merged.status = clusters.every((c) => c.status === 'finished') ? 'finished' : clusters.some((c) => c.status !== 'starting') ? 'running' : 'starting';
  if (clusters.some((c) => c.timedOut)) merged.timedOut = true;
  if (merged.status === 'finished') {
    merged.verdict = worstVerdict(clusters.map((c) => c.verdict ?? 'error'))!;
    merged.verdictMessage = clustersVerdictMessage(clusters);
    merged.endedAt = Math.max(...clusters.map((c) => c.endedAt ?? c.updatedAt));
  }
  return merged;
}

/**
 * The overall verdict message: the clusters with the worst verdict, each with its own message, then the others'
 * verdicts: `prod: commit abc1234 failed: … ; staging: success`.
 */
export function clustersVerdictMessage(clusters: ClusterState[]): string {
  const worst = worstVerdict(clusters.map((c) => c.verdict ?? 'error'));
  const bad = clusters.filter((c) => (c.verdict ?? 'error') === worst);
  const rest = clusters.filter((c) => (c.verdict ?? 'error') !== worst);
  // A cluster that ended while failing to reach its apiserver says so (its verdict message may not).
  const error = (c: ClusterState) => (c.error && c.verdict !== 'error' ? ` (${c.error.category}: ${c.error.message})` : '');
  // Each cluster's message is one clause of the sentence: its own final period would read ".;".
  const clause = (t: string) => t.replace(/\.\s*$/, '');
  const head = bad.map((c) => `${c.context}: ${clause(c.verdictMessage ?? c.verdict ?? 'no verdict')}${error(c)}`).join('; ');
  const tail = rest.map((c) => `${c.context}: ${c.verdict ?? 'no verdict'}`).join(', ');
  const of = clusters.length > 1 ? `${verdictWord(worst!)} on ${bad.length} of ${clusters.length} clusters — ` : '';
  return `${of}${head}${tail ? `; ${tail}` : ''}`;
}

function verdictWord(v: Verdict): string {
  switch (v) {
    case 'success':
      return 'applied';
    case 'failed':
      return 'failed';
    case 'timeout':
      return 'timed out';
    case 'error':
      return 'error';
    case 'superseded':
      return 'superseded';
    case 'stopped':
      return 'stopped';
    case 'blocked':
      return 'blocked';
  }
}

/** Each cluster's verdict, for the overall summary event (finished clusters only). */
export function clusterVerdicts(s: SessionState): ClusterVerdict[] {
  return splitClusters(s).map(({ cluster: c, state }) => ({
    context: c.context,
    verdict: c.verdict ?? 'error',
    exitCode: EXIT_CODES[c.verdict ?? 'error'],
    message: c.verdictMessage ?? '',
    ...(c.timedOut ? { timedOut: true } : {}),
    counts: countPhases(Object.values(state.nodes)),
  }));
}

/**
 * One single-cluster state per cluster of a merged session (keys without the prefix, no `clusters`), for views
 * that draw one subtree per cluster. Empty for a single-cluster state.
 */
export function splitClusters(s: SessionState): Array<{ cluster: ClusterState; state: SessionState }> {
  if (!s.clusters?.length) return [];
  const byCluster = new Map<string, Record<string, NodeState>>(s.clusters.map((c) => [c.context, {}]));
  for (const n of Object.values(s.nodes)) {
    const into = n.cluster !== undefined ? byCluster.get(n.cluster) : undefined;
    if (!into) continue;
    const { cluster: ctx, ...rest } = n;
    const key = `${n.kind}/${n.namespace}/${n.name}`;
    into[key] = { ...rest, key, ...(n.blockedBy ? { blockedBy: unprefixKey(ctx!, n.blockedBy) } : {}) };
  }
  return s.clusters.map((c) => {
    const p = `${c.context}/`;
    const state: SessionState = {
      schema: 1,
      id: s.id,
      repo: s.repo,
      commit: s.commit,
      cluster: { context: c.context, ...(c.server ? { server: c.server } : {}) },
      startedAt: c.startedAt,
      updatedAt: c.updatedAt,
      ...(c.endedAt !== undefined ? { endedAt: c.endedAt } : {}),
      timeoutMs: s.timeoutMs,
      status: c.status,
      ...(c.verdict ? { verdict: c.verdict } : {}),
      ...(c.verdictMessage !== undefined ? { verdictMessage: c.verdictMessage } : {}),
      ...(c.timedOut ? { timedOut: true } : {}),
      nodes: byCluster.get(c.context)!,
      edges: s.edges.filter((e) => e.from.startsWith(p)).map((e) => ({ ...e, from: e.from.slice(p.length), to: unprefixKey(c.context, e.to) })),
      cycles: c.cycles,
      matchedSources: c.matchedSources,
      warnings: c.warnings,
      ...(c.error ? { error: c.error } : {}),
      ...(s.pid !== undefined ? { pid: s.pid } : {}),
      ...(c.mode ? { mode: c.mode } : {}),
    };
    return { cluster: c, state };
  });
}
