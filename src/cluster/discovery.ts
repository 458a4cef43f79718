// API discovery: which versions of the Flux APIs the cluster serves.
//
// One request when the server speaks aggregated discovery (Kubernetes >= 1.26; apidiscovery.k8s.io/v2 since
// 1.30): `GET /apis` asking for an APIGroupDiscoveryList answers every group, version and resource at once.
// An older server (or one that ignores the Accept header) answers the plain APIGroupList: then the group-versions
// we need are asked for all at once, so discovery is two round trips, not one plus one per group. The shapes
// and the negotiation follow k8s.io/api apidiscovery/v2 types.go and client-go discovery_client.go.
import type { FluxKind } from '../core/types.js';
import { KINDS, kindInfo, kindOfPlural } from '../core/kinds.js';
import type { ClusterClient } from './client.js';
import { ApiError, BadBodyError, MonitorError } from './errors.js';

export interface ResourceType {
  /** A Flux kind, or a custom kind of `config.custom_kinds`. */
  kind: string;
  group: string;
  version: string;
  plural: string;
  /** `group/version` */
  apiVersion: string;
}

interface KindSpec {
  kind: FluxKind;
  group: string;
  plural: string;
  /** Versions in order of preference: the current GA version first, then what older Flux serves. */
  versions: string[];
}

/** What discovery looks for, per Flux kind (src/core/kinds.ts). */
export const FLUX_RESOURCES: readonly KindSpec[] = KINDS.map((k) => ({ kind: k.kind, group: k.group, plural: k.plural, versions: [...k.versions] }));

export function pluralOf(kind: FluxKind): string {
  return kindInfo(kind).plural;
}

export { kindOfPlural };

/**
 * The Accept header of `GET /apis`: aggregated discovery v2, then v2beta1 (Kubernetes 1.26–1.29; 1.33 and later
 * refuse it), then the plain APIGroupList of any server. The parameters go in the order g, v, as, which is the
 * order the API server matches them in (client-go's AcceptV2).
 */
export const DISCOVERY_ACCEPT = [
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
  'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList',
  'application/json',
].join(',');

/** What `GET /apis` says the cluster serves. */
export interface ServedApis {
  /** The server answered aggregated discovery (an APIGroupDiscoveryList). */
  aggregated: boolean;
  /** The served versions of each group, in the server's order of preference (stale ones included). */
  groups: Map<string, string[]>;
  /**
   * The resources of each group-version (`group/version` → plural → kind) that the aggregated answer gave as
   * current. A stale group-version (an aggregated API server that the kube-apiserver could not reach) and every
   * group-version of a plain APIGroupList are absent: their resources have to be asked for.
   */
  resources: Map<string, Map<string, string>>;
}

export interface DiscoveryResult {
  resources: Map<FluxKind, ResourceType>;
  /** Kinds that are not served at all (e.g. OCIRepository on an old Flux). */
  missing: FluxKind[];
  /** What `/apis` answered, for the discovery of the custom kinds (discoverCustom). */
  apis?: ServedApis;
}

// ---------------------------------------------------------------------------------------------- the answers

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
/** A list field: an array, or null / absent (how Go writes an empty list, with and without omitempty). */
const listOf = (v: unknown): unknown[] | undefined => (v === undefined || v === null ? [] : Array.isArray(v) ? v : undefined);

/** A media type's base and parameters (names lower-cased, values unquoted), like Go's mime.ParseMediaType. */
export function parseMediaType(value: string): { type: string; params: Record<string, string> } {
  const [base = '', ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { type: base.trim().toLowerCase(), params };
}

/** The Content-Type of an aggregated discovery answer (any parameter order, more parameters allowed). */
export function isAggregatedContentType(contentType: string): boolean {
  const { type, params } = parseMediaType(contentType);
  return type === 'application/json' && params.g === 'apidiscovery.k8s.io' && (params.v === 'v2' || params.v === 'v2beta1') && params.as === 'APIGroupDiscoveryList';
}

/**
 * Reads the answer to `GET /apis`. A 2xx body that is neither an APIGroupDiscoveryList nor an APIGroupList (a
 * proxy's page in JSON, a list of something else, entries without names) is a BadBodyError: a broken server
 * is a passing `server-error`, never "Flux is not installed".
 */
export function parseApis(body: unknown, contentType: string, status = 200): ServedApis {
  const bad = (what: string) => new BadBodyError(status, '/apis', what);
  if (!isObject(body)) return fail(bad('JSON that is not an API group list'));
  if (isAggregatedContentType(contentType) || body.kind === 'APIGroupDiscoveryList') {
    // The Content-Type announces the kind; a body whose kind says so is read as such even if a proxy dropped the
    // Content-Type's parameters.
    if (body.kind !== 'APIGroupDiscoveryList') return fail(bad(`a body that is not the APIGroupDiscoveryList its Content-Type announces (kind ${String(body.kind)})`));
    return parseAggregated(body, bad);
  }
  if (body.kind !== undefined && body.kind !== 'APIGroupList') return fail(bad(`JSON that is not an APIGroupList (kind ${String(body.kind)})`));
  if (!('groups' in body)) return fail(bad('an APIGroupList without groups'));
  const groups = listOf(body.groups);
  if (!groups) return fail(bad('an APIGroupList whose groups are not a list'));
  const served = new Map<string, string[]>();
  for (const g of groups) {
    const versions = isObject(g) ? listOf(g.versions) : undefined;
    if (!isObject(g) || typeof g.name !== 'string' || !versions) return fail(bad('an APIGroupList with a malformed group'));
    const vs: string[] = [];
    for (const v of versions) {
      if (!isObject(v) || typeof v.version !== 'string') return fail(bad(`an APIGroupList with a malformed version of ${g.name}`));
      vs.push(v.version);
    }
    served.set(g.name, vs);
  }
  return { aggregated: false, groups: served, resources: new Map() };
}

function parseAggregated(body: Json, bad: (what: string) => BadBodyError): ServedApis {
  if (!('items' in body)) return fail(bad('an APIGroupDiscoveryList without items'));
  const items = listOf(body.items);
  if (!items) return fail(bad('an APIGroupDiscoveryList whose items are not a list'));
  const groups = new Map<string, string[]>();
  const resources = new Map<string, Map<string, string>>();
  for (const item of items) {
    const meta = isObject(item) ? item.metadata : undefined;
    const versions = isObject(item) ? listOf(item.versions) : undefined;
    if (!isObject(item) || (meta !== undefined && !isObject(meta)) || !versions) return fail(bad('an APIGroupDiscoveryList with a malformed group'));
    const name = meta?.name ?? '';
    if (typeof name !== 'string') return fail(bad('an APIGroupDiscoveryList with a group whose name is not a string'));
    const vs: string[] = [];
    for (const v of versions) {
      const list = isObject(v) ? listOf(v.resources) : undefined;
      if (!isObject(v) || typeof v.version !== 'string' || !v.version || !list) return fail(bad(`an APIGroupDiscoveryList with a malformed version of ${name}`));
      vs.push(v.version);
      const names = new Map<string, string>();
      for (const r of list) {
        const kind = isObject(r) && isObject(r.responseKind) ? r.responseKind.kind : '';
        if (!isObject(r) || typeof r.resource !== 'string' || typeof kind !== 'string') return fail(bad(`an APIGroupDiscoveryList with a malformed resource of ${name}/${v.version}`));
        names.set(r.resource, kind);
      }
      // Stale: the kube-apiserver could not refresh this group-version from its aggregated API server; what it
      // lists may be out of date (or empty), so the group-version is asked for directly, as client-go treats
      // it as failed rather than trusting it.
      if (v.freshness !== 'Stale') resources.set(`${name}/${v.version}`, names);
    }
    groups.set(name, vs);
  }
  return { aggregated: true, groups, resources };
}

/** Reads an APIResourceList (`GET /apis/<group>/<version>`): plural → kind, subresources included as `a/b`. */
export function parseResourceList(body: unknown, path: string, status = 200): Map<string, string> {
  const bad = (what: string) => new BadBodyError(status, path, what);
  if (!isObject(body) || (body.kind !== undefined && body.kind !== 'APIResourceList') || !('resources' in body)) return fail(bad('JSON that is not an APIResourceList'));
  const list = listOf(body.resources);
  if (!list) return fail(bad('an APIResourceList whose resources are not a list'));
  const out = new Map<string, string>();
  for (const r of list) {
    if (!isObject(r) || typeof r.name !== 'string' || (r.kind !== undefined && typeof r.kind !== 'string')) return fail(bad('an APIResourceList with a malformed resource'));
    out.set(r.name, (r.kind as string | undefined) ?? '');
  }
  return out;
}

function fail(err: Error): never {
  throw err;
}

/**
 * `GET /apis`, asking for aggregated discovery: one request. Something that refuses that Accept header (406: no
 * API server does, as it ends with plain JSON; a proxy in between might) is asked once more for plain JSON.
 */
export async function readApis(client: ClusterClient): Promise<ServedApis> {
  let contentType = '';
  let status = 200;
  const get = (accept: string) =>
    client.request<unknown>('GET', '/apis', {
      accept,
      onResponse: (r) => {
        contentType = r.contentType;
        status = r.status;
      },
    });
  const body = await get(DISCOVERY_ACCEPT).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 406) return get('application/json');
    throw err;
  });
  return parseApis(body, contentType, status);
}

/** `GET /apis/<group>/<version>`: its resources, or undefined when the server does not serve it (404). */
async function readGroupVersion(client: ClusterClient, gv: string): Promise<Map<string, string> | undefined> {
  const path = `/apis/${gv}`;
  let status = 200;
  try {
    const body = await client.request<unknown>('GET', path, { onResponse: (r) => void (status = r.status) });
    return parseResourceList(body, path, status);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------- Flux

/**
 * Asks the API server which Flux versions it serves: one request when it answers aggregated discovery; else the
 * group list, then the preferred served group-version of every wanted kind all at once (and the next preferred
 * ones, again all at once, only for kinds not found there). A stale group-version of an aggregated answer is
 * asked for the same way. Fails with `flux-not-installed` when no Flux API is served.
 */
export async function discoverFlux(client: ClusterClient, wanted: readonly FluxKind[]): Promise<DiscoveryResult> {
  const apis = await readApis(client);
  const lists = new Map<string, Promise<Map<string, string> | undefined>>();
  for (const [gv, names] of apis.resources) lists.set(gv, Promise.resolve(names));
  const specs = FLUX_RESOURCES.filter((s) => wanted.includes(s.kind));
  // Our order of preference (src/core/kinds.ts), not the server's: a group that prefers another version than
  // the one we read first is read in ours.
  const candidates = new Map(specs.map((s) => [s, s.versions.filter((v) => apis.groups.get(s.group)?.includes(v))]));
  const found = new Map<FluxKind, ResourceType>();
  let open = specs.filter((s) => candidates.get(s)!.length > 0);
  while (open.length > 0) {
    // One round: the next candidate of every kind still open, every group-version not read yet at once.
    const round = open.map((s) => {
      const version = candidates.get(s)!.shift()!;
      const gv = `${s.group}/${version}`;
      let p = lists.get(gv);
      if (!p) lists.set(gv, (p = readGroupVersion(client, gv)));
      return { s, version, p };
    });
    const settled = await Promise.allSettled(round.map((r) => r.p));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    round.forEach(({ s, version }, i) => {
      const names = (settled[i] as PromiseFulfilledResult<Map<string, string> | undefined>).value;
      if (names?.has(s.plural)) found.set(s.kind, { kind: s.kind, group: s.group, version, plural: s.plural, apiVersion: `${s.group}/${version}` });
    });
    open = open.filter((s) => !found.has(s.kind) && candidates.get(s)!.length > 0);
  }
  const resources = new Map<FluxKind, ResourceType>();
  const missing: FluxKind[] = [];
  for (const s of specs) {
    const rt = found.get(s.kind);
    if (rt) resources.set(s.kind, rt);
    else missing.push(s.kind);
  }
  if (resources.size === 0) {
    throw new MonitorError({
      category: 'flux-not-installed',
      message: 'the cluster serves no Flux APIs (source/kustomize/helm.toolkit.fluxcd.io)',
      hint: 'Install Flux (`flux install` or `flux bootstrap`), or select the right cluster with --context.',
    });
  }
  return { resources, missing, apis };
}

// ---------------------------------------------------------------------------------------------- custom kinds

/** What discovery says of one custom kind: its resource, or why it cannot be followed. */
export type CustomDiscovery = { rt: ResourceType } | { missing: string };

/**
 * The resource of a custom kind (`config.custom_kinds`). With the aggregated answer of the Flux discovery at
 * hand (`apis`), no request: that answer lists every served group-version (unless stale, then it is asked for).
 * Otherwise one request for its group-version. Not served (the CRD is not installed, or serves other versions)
 * is an answer, not an error; other failures (403, network, a broken body) are thrown for the caller to report.
 */
export async function discoverCustom(
  client: ClusterClient,
  c: { apiVersion: string; kind: string; plural?: string },
  apis?: ServedApis,
): Promise<CustomDiscovery> {
  const slash = c.apiVersion.indexOf('/');
  const group = c.apiVersion.slice(0, slash);
  const version = c.apiVersion.slice(slash + 1);
  const notServed = { missing: `the cluster does not serve ${c.apiVersion} (is the CRD of ${c.kind} installed?)` };
  let names = apis?.aggregated ? apis.resources.get(`${group}/${version}`) : undefined;
  if (!names && apis?.aggregated && !apis.groups.get(group)?.includes(version)) return notServed;
  names ??= await readGroupVersion(client, `${group}/${version}`);
  if (!names) return notServed;
  const plural = [...names].find(([name, kind]) => !name.includes('/') && kind === c.kind && (!c.plural || name === c.plural))?.[0];
  if (!plural) return { missing: `${c.apiVersion} has no resource of kind ${c.kind}${c.plural ? ` named ${c.plural}` : ''}` };
  return { rt: { kind: c.kind, group, version, plural, apiVersion: c.apiVersion } };
}
