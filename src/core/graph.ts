// The object graph (pure): dependsOn, source and inventory edges; dependsOn cycles; sources matching the pushed
// repository; the set of objects affected by the push.
import { CI_ARTIFACT_KINDS, isFluxKind, refKey, type FluxKind, type GraphEdge, type KubeObject } from './types.js';
import { sameRepo } from './giturl.js';
import { parseRevision } from './revision.js';
import { artifactOrigin } from './status.js';
import { satisfies } from './semver.js';

export interface Graph {
  objects: ReadonlyMap<string, KubeObject>;
  edges: GraphEdge[];
  /** key → outgoing edges */
  out: Map<string, GraphEdge[]>;
  /** key → incoming edges */
  in: Map<string, GraphEdge[]>;
  cycles: string[][];
}

const FLUX_GROUPS: Record<string, string> = {
  'source.toolkit.fluxcd.io': 'source',
  'kustomize.toolkit.fluxcd.io': 'kustomize',
  'helm.toolkit.fluxcd.io': 'helm',
};

/** Key of an object from the API (its kind must be a Flux kind). */
export function objectKey(o: KubeObject): string | undefined {
  if (!isFluxKind(o.kind)) return undefined;
  return refKey({ kind: o.kind, namespace: o.metadata.namespace ?? '', name: o.metadata.name });
}

/** Parses a Kustomization inventory id `<namespace>_<name>_<group>_<kind>` into a key, for Flux kinds only. */
export function inventoryKey(id: string): string | undefined {
  const parts = id.split('_');
  if (parts.length !== 4) return undefined;
  const [namespace, name, group, kind] = parts as [string, string, string, string];
  if (!FLUX_GROUPS[group] || !isFluxKind(kind)) return undefined;
  return refKey({ kind, namespace, name });
}

function refTo(kind: unknown, name: unknown, namespace: unknown, defaultNs: string): string | undefined {
  if (!isFluxKind(kind) || typeof name !== 'string' || !name) return undefined;
  return refKey({ kind, namespace: typeof namespace === 'string' && namespace ? namespace : defaultNs, name });
}

/** The source-like references of an object (sourceRef, chart.spec.sourceRef, chartRef, generated HelmChart). */
export function sourceRefs(o: KubeObject): string[] {
  const ns = o.metadata.namespace ?? '';
  const out: string[] = [];
  const push = (k: string | undefined) => k && !out.includes(k) && out.push(k);
  switch (o.kind) {
    case 'Kustomization':
    case 'HelmChart': {
      const r = o.spec?.sourceRef;
      push(refTo(r?.kind, r?.name, r?.namespace, ns));
      break;
    }
    case 'HelmRelease': {
      const r = o.spec?.chart?.spec?.sourceRef;
      push(refTo(r?.kind, r?.name, r?.namespace, ns));
      const c = o.spec?.chartRef;
      push(refTo(c?.kind, c?.name, c?.namespace, ns));
      // The HelmChart the controller generated for chart.spec: status.helmChart is "<namespace>/<name>".
      const hc = o.status?.helmChart;
      if (typeof hc === 'string' && hc.includes('/')) {
        const [hns, hname] = hc.split('/');
        push(refTo('HelmChart', hname, hns, ns));
      }
      break;
    }
  }
  return out;
}

export function dependsOnRefs(o: KubeObject): string[] {
  if (o.kind !== 'Kustomization' && o.kind !== 'HelmRelease') return [];
  const deps = Array.isArray(o.spec?.dependsOn) ? o.spec.dependsOn : [];
  const out: string[] = [];
  for (const d of deps) {
    // Kustomizations depend on Kustomizations and HelmReleases on HelmReleases (newer Flux allows `kind`).
    const kind: FluxKind = isFluxKind(d?.kind) ? d.kind : (o.kind as FluxKind);
    const k = refTo(kind, d?.name, d?.namespace, o.metadata.namespace ?? '');
    if (k && !out.includes(k)) out.push(k);
  }
  return out;
}

export function inventoryRefs(o: KubeObject): string[] {
  if (o.kind !== 'Kustomization') return [];
  const entries = Array.isArray(o.status?.inventory?.entries) ? o.status.inventory.entries : [];
  const out: string[] = [];
  for (const e of entries) {
    const k = typeof e?.id === 'string' ? inventoryKey(e.id) : undefined;
    if (k && !out.includes(k)) out.push(k);
  }
  return out;
}

/** Builds the graph over the given objects. Edges may point at objects that are not (or not yet) in the map. */
export function buildGraph(objects: ReadonlyMap<string, KubeObject>): Graph {
  // The graph lives as long as the topology (at 10,000 objects, tens of thousands of edges): an edge to a known
  // object points at the key string the map holds rather than at a new copy of it.
  const keys = new Map<string, string>();
  for (const key of objects.keys()) keys.set(key, key);
  const canon = (k: string) => keys.get(k) ?? k;
  const edges: GraphEdge[] = [];
  for (const [key, o] of objects) {
    for (const to of dependsOnRefs(o)) edges.push({ from: key, to: canon(to), type: 'dependsOn' });
    for (const to of sourceRefs(o)) if (to !== key) edges.push({ from: key, to: canon(to), type: 'source' });
    for (const to of inventoryRefs(o)) if (to !== key) edges.push({ from: key, to: canon(to), type: 'inventory' });
  }
  return { objects, edges, out: edgesBy(edges, 'from'), in: edgesBy(edges, 'to'), cycles: findCycles(edges.filter((e) => e.type === 'dependsOn')) };
}

/** The edges grouped by one end, each list exactly as long as it needs (one a key pushes to holds 16 or more slots). */
function edgesBy(edges: GraphEdge[], end: 'from' | 'to'): Map<string, GraphEdge[]> {
  const m = new Map<string, GraphEdge[]>();
  for (const e of edges) {
    const k = e[end];
    const l = m.get(k);
    if (l) l.push(e);
    else m.set(k, [e]);
  }
  for (const [k, l] of m) if (l.length > 1) m.set(k, l.slice());
  return m;
}

/** Finds the elementary cycles reachable in the dependsOn edges (each reported once, rotated to start at its smallest key). */
export function findCycles(edges: GraphEdge[]): string[][] {
  const adj = new Map<string, string[]>();
  for (const e of edges) (adj.get(e.from) ?? adj.set(e.from, []).get(e.from)!).push(e.to);
  const state = new Map<string, 1 | 2>(); // 1 = on stack, 2 = done
  const stack: string[] = [];
  const seen = new Set<string>();
  const cycles: string[][] = [];
  const visit = (start: string) => {
    // Iterative DFS so a 10,000-long chain cannot overflow the call stack.
    const iters: Array<{ node: string; i: number }> = [{ node: start, i: 0 }];
    state.set(start, 1);
    stack.push(start);
    while (iters.length) {
      const top = iters[iters.length - 1]!;
      const next = adj.get(top.node)?.[top.i++];
      if (next === undefined) {
        state.set(top.node, 2);
        stack.pop();
        iters.pop();
        continue;
      }
      const st = state.get(next);
      if (st === 1) {
        const cyc = stack.slice(stack.indexOf(next));
        const min = cyc.reduce((a, b) => (b < a ? b : a));
        const rot = [...cyc.slice(cyc.indexOf(min)), ...cyc.slice(0, cyc.indexOf(min))];
        const id = rot.join('>');
        if (!seen.has(id)) {
          seen.add(id);
          cycles.push(rot);
        }
      } else if (st === undefined) {
        state.set(next, 1);
        stack.push(next);
        iters.push({ node: next, i: 0 });
      }
    }
  };
  for (const k of [...adj.keys()].sort()) if (!state.has(k)) visit(k);
  return cycles;
}

export interface PushTarget {
  repoUrl?: string;
  branch?: string;
  tag?: string;
}

/**
 * What a GitRepository follows, by source-controller's precedence: `spec.ref.commit`, then `spec.ref.name`, then
 * `spec.ref.semver`, then `spec.ref.tag`, then `spec.ref.branch`; without any of them, the branch `master`
 * (Flux's default). A `name` is a branch when it is `refs/heads/<branch>`, a tag when it is `refs/tags/<tag>`,
 * and any other ref (`refs/pull/1/head`) otherwise.
 */
export type GitRef =
  | { type: 'commit'; commit: string }
  | { type: 'ref'; name: string }
  | { type: 'semver'; range: string }
  | { type: 'tag'; tag: string }
  | { type: 'branch'; branch: string };

/** The ref a GitRepository follows (see GitRef for the precedence). */
export function effectiveRef(o: KubeObject): GitRef {
  const ref = o.spec?.ref;
  const field = (name: string): string | undefined => {
    const v = ref?.[name];
    return typeof v === 'string' && v ? v : undefined;
  };
  const commit = field('commit');
  if (commit) return { type: 'commit', commit };
  const name = field('name');
  if (name) {
    if (name.startsWith('refs/heads/') && name.length > 'refs/heads/'.length) return { type: 'branch', branch: name.slice('refs/heads/'.length) };
    if (name.startsWith('refs/tags/') && name.length > 'refs/tags/'.length) return { type: 'tag', tag: name.slice('refs/tags/'.length) };
    return { type: 'ref', name };
  }
  const range = field('semver');
  if (range) return { type: 'semver', range };
  const tag = field('tag');
  if (tag) return { type: 'tag', tag };
  return { type: 'branch', branch: field('branch') ?? 'master' };
}

/** The branch a GitRepository follows, if it follows one (a pinned commit, a tag or a semver range: none). */
export function trackedBranch(o: KubeObject): string | undefined {
  const r = effectiveRef(o);
  return r.type === 'branch' ? r.branch : undefined;
}

/** The tag a GitRepository follows by name (`spec.ref.tag`, `spec.ref.name: refs/tags/x`), if it follows one. */
export function trackedTag(o: KubeObject): string | undefined {
  const r = effectiveRef(o);
  return r.type === 'tag' ? r.tag : undefined;
}

/** Whether a push of `tag` moves a GitRepository: it follows that very tag, or a semver range the tag satisfies. */
export function followsTag(o: KubeObject, tag: string): boolean {
  const r = effectiveRef(o);
  if (r.type === 'tag') return r.tag === tag;
  if (r.type === 'semver') return satisfies(tag, r.range);
  return false;
}

/**
 * Whether an OCIRepository or ExternalArtifact carries artifacts CI builds from the push: its current artifact's
 * `org.opencontainers.image.source` (status.artifact.metadata) names the pushed repository, and its
 * `org.opencontainers.image.revision` names the pushed branch (`main@sha1:<sha>`, legacy `main/<sha>`), or the
 * pushed tag for a tag push. An artifact of that repository without a revision annotation matches too, so the
 * session can say what is missing. A revision without a ref (`sha1:<sha>`) names no branch: no match.
 */
export function followsPushAsArtifact(o: KubeObject, t: PushTarget): boolean {
  if (!t.repoUrl || !CI_ARTIFACT_KINDS.includes(o.kind as FluxKind)) return false;
  const origin = artifactOrigin(o);
  if (!origin.source || !sameRepo(origin.source, t.repoUrl)) return false;
  if (!origin.revision) return true;
  const ref = parseRevision(origin.revision).ref;
  if (!ref) return false;
  return t.tag ? ref === t.tag || ref === `refs/tags/${t.tag}` : t.branch !== undefined && (ref === t.branch || ref === `refs/heads/${t.branch}`);
}

/**
 * Sources that follow the push: GitRepositories whose URL is the pushed repository and whose effective ref
 * follows the push (the pushed branch, or for a tag push, that tag or a semver range it satisfies), and
 * OCIRepositories / ExternalArtifacts whose artifacts CI builds from it (followsPushAsArtifact).
 */
export function matchSources(objects: ReadonlyMap<string, KubeObject>, t: PushTarget): string[] {
  if (!t.repoUrl) return [];
  const out: string[] = [];
  for (const [key, o] of objects) {
    if (followsPushAsArtifact(o, t)) {
      out.push(key);
      continue;
    }
    if (o.kind !== 'GitRepository' || typeof o.spec?.url !== 'string') continue;
    if (!sameRepo(o.spec.url, t.repoUrl)) continue;
    if (t.tag ? followsTag(o, t.tag) : t.branch !== undefined && trackedBranch(o) === t.branch) out.push(key);
  }
  return out.sort();
}

/**
 * The objects affected by a push to the matched sources: their consumers (sourceRef, chart sourceRef, chartRef,
 * HelmCharts), the objects in the inventories of affected Kustomizations, and everything that dependsOn an
 * affected object — transitively.
 */
export function affectedSet(g: Graph, matched: string[]): Set<string> {
  const affected = new Set<string>();
  const queue = [...matched];
  while (queue.length) {
    const k = queue.pop()!;
    if (affected.has(k)) continue;
    affected.add(k);
    for (const e of g.in.get(k) ?? []) {
      // Consumers of an affected source, dependents of an affected object.
      if ((e.type === 'source' || e.type === 'dependsOn') && !affected.has(e.from)) queue.push(e.from);
    }
    for (const e of g.out.get(k) ?? []) {
      // What an affected Kustomization applies; the chart source of an affected HelmRelease (its HelmChart,
      // or the OCIRepository/HelmChart of chartRef): when the chart cannot be had, that is where the failure is.
      if (e.type === 'inventory' && !affected.has(e.to)) queue.push(e.to);
      if (e.type === 'source' && k.startsWith('HelmRelease/') && !affected.has(e.to)) queue.push(e.to);
    }
  }
  return affected;
}

/**
 * Objects whose revisions carry commits of the pushed repository: the matched sources and whatever takes its
 * source from one of them (directly or through a HelmChart).
 */
export function correlatedSet(g: Graph, matched: string[]): Set<string> {
  const out = new Set<string>(matched);
  const queue = [...matched];
  while (queue.length) {
    const k = queue.pop()!;
    for (const e of g.in.get(k) ?? []) {
      if (e.type === 'source' && !out.has(e.from)) {
        out.add(e.from);
        queue.push(e.from);
      }
    }
  }
  return out;
}
