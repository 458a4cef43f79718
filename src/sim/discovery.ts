// The simulator's discovery documents, as kube-apiserver 1.34 writes them: the plain APIGroupList /
// APIResourceList, and aggregated discovery (an apidiscovery.k8s.io/v2 APIGroupDiscoveryList) for a client whose
// Accept header asks for it. Shapes from k8s.io/api apidiscovery/v2 types.go, checked against a real
// kube-apiserver v1.34 with the Flux CRDs by test/integration/discovery.test.ts.
import { createHash } from 'node:crypto';
import { apiVersionOf, type ResourceType } from './resources.js';

/** The Content-Type of an aggregated answer, byte for byte what kube-apiserver 1.34 sends. */
export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Groups the API server builds in: their aggregated resources name no group or version in `responseKind`. */
const BUILT_IN_GROUPS = new Set(['', 'apps', 'batch']);

/**
 * What a discovery request's Accept header gets (content negotiation of /api and /apis): `aggregated` for the
 * first acceptable media range (by q, then order) that is aggregated discovery v2 in JSON (served unless
 * `aggregatedServed` is false, a server before 1.26), `plain` for a media range without g/v/as parameters, and
 * `not-acceptable` (406) when every range asks for a conversion the server does not serve (v2beta1 is refused
 * since 1.33, as a real 1.34 server does; protobuf is not simulated). No Accept header: `plain`.
 */
export function negotiateDiscovery(accept: string | undefined, aggregatedServed: boolean): 'aggregated' | 'plain' | 'not-acceptable' {
  if (!accept?.trim()) return 'plain';
  const ranges = accept
    .split(',')
    .map((r, i) => {
      const [base = '', ...rest] = r.split(';');
      const params: Record<string, string> = {};
      for (const p of rest) {
        const eq = p.indexOf('=');
        if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
      }
      const q = params.q === undefined ? 1 : Number(params.q);
      return { type: base.trim().toLowerCase(), params, q: Number.isFinite(q) ? q : 0, i };
    })
    .filter((r) => r.type && r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    const conversion = r.params.g !== undefined || r.params.v !== undefined || r.params.as !== undefined;
    if (!conversion) {
      // The simulator answers JSON to any media type it is asked for without a conversion.
      return 'plain';
    }
    if (aggregatedServed && r.type === 'application/json' && r.params.g === 'apidiscovery.k8s.io' && r.params.v === 'v2' && r.params.as === 'APIGroupDiscoveryList') {
      return 'aggregated';
    }
  }
  return ranges.length ? 'not-acceptable' : 'plain';
}

function verbsOf(t: ResourceType): string[] {
  return t.kind === 'Event' || t.kind === 'Namespace'
    ? ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']
    : ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'];
}

/** The served versions of each group (`''` excluded: the core group is /api's), in the types' order. */
export function servedGroups(types: readonly ResourceType[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  // A group serves the union of its kinds' versions, in the mode's order (ExternalArtifact is only v1).
  for (const t of types) {
    if (!t.group) continue;
    const vs = m.get(t.group) ?? [];
    for (const v of t.versions) if (!vs.includes(v)) vs.push(v);
    m.set(t.group, vs);
  }
  return m;
}

/** `GET /api/v1`, `GET /apis/<group>/<version>`: an APIResourceList. */
export function resourceList(types: readonly ResourceType[], group: string, version: string): unknown {
  const resources: unknown[] = [];
  for (const t of types) {
    if (t.group !== group || !t.versions.includes(version)) continue;
    resources.push({
      name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: verbsOf(t),
      ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length ? { categories: t.categories } : {}),
    });
    if (t.statusSubresource) resources.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(group, version), resources };
}

/** One group of an APIGroupList (`GET /apis`) or an APIGroup (`GET /apis/<group>`). */
export function apiGroup(name: string, versions: string[]): { name: string; versions: unknown[]; preferredVersion: unknown } {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

/** One resource of an APIVersionDiscovery. */
function resourceDiscovery(t: ResourceType, version: string): unknown {
  // Built-in types name only their kind; a custom resource's kind carries its group and version.
  const responseKind = BUILT_IN_GROUPS.has(t.group) ? { group: '', version: '', kind: t.kind } : { group: t.group, version, kind: t.kind };
  return {
    resource: t.plural,
    responseKind,
    scope: t.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: t.singular,
    verbs: verbsOf(t),
    ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
    ...(t.categories.length ? { categories: t.categories } : {}),
    ...(t.statusSubresource ? { subresources: [{ subresource: 'status', responseKind, verbs: ['get', 'patch', 'update'] }] } : {}),
  };
}

/**
 * The aggregated answer of `/apis` (`core: false`) or of `/api` (`core: true`, one group without a name): every
 * served group-version with its resources; a group-version in `stale` is marked `freshness: Stale`, as the
 * kube-aggregator marks the group-versions of an APIService it cannot reach (it keeps the resources it knew).
 */
export function aggregatedList(types: readonly ResourceType[], core: boolean, stale: ReadonlySet<string>): unknown {
  const groups = core ? new Map([['', ['v1']]]) : servedGroups(types);
  // Built-in groups first (the real server orders them by priority), then the custom resources' groups, which
  // share one priority, by name; resources by name.
  const order = [...groups].sort(([a], [b]) => Number(!BUILT_IN_GROUPS.has(a)) - Number(!BUILT_IN_GROUPS.has(b)) || (BUILT_IN_GROUPS.has(a) ? 0 : a < b ? -1 : a > b ? 1 : 0));
  const items = order.map(([name, versions]) => ({
    metadata: name ? { name } : {},
    versions: versions.map((version) => ({
      version,
      resources: types
        .filter((t) => t.group === name && t.versions.includes(version))
        .sort((a, b) => (a.plural < b.plural ? -1 : a.plural > b.plural ? 1 : 0))
        .map((t) => resourceDiscovery(t, version)),
      freshness: stale.has(apiVersionOf(name, version)) ? 'Stale' : 'Current',
    })),
  }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}

/** The ETag of an aggregated answer: the SHA-512 of its JSON in upper-case hex, quoted (apiserver etag.go). */
export function discoveryETag(json: string): string {
  return `"${createHash('sha512').update(json).digest('hex').toUpperCase()}"`;
}
