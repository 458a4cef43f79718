// API discovery: which versions of the Flux APIs the cluster serves.
import type { FluxKind } from '../core/types.js';
import { KINDS, kindInfo, kindOfPlural } from '../core/kinds.js';
import type { ClusterClient } from './client.js';
import { ApiError, MonitorError } from './errors.js';

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

interface APIGroupList {
  groups?: Array<{ name: string; versions?: Array<{ groupVersion: string; version: string }> }>;
}
interface APIResourceList {
  resources?: Array<{ name: string; kind: string; namespaced?: boolean }>;
}

export interface DiscoveryResult {
  resources: Map<FluxKind, ResourceType>;
  /** Kinds that are not served at all (e.g. OCIRepository on an old Flux). */
  missing: FluxKind[];
}

/**
 * Asks the API server which Flux versions it serves: one request for the group list plus one per served
 * group-version that we use. Fails with `flux-not-installed` when no Flux API is served.
 */
export async function discoverFlux(client: ClusterClient, wanted: readonly FluxKind[]): Promise<DiscoveryResult> {
  const list = await client.request<APIGroupList>('GET', '/apis');
  const served = new Map<string, Set<string>>();
  for (const g of list.groups ?? []) served.set(g.name, new Set((g.versions ?? []).map((v) => v.version)));
  const resources = new Map<FluxKind, ResourceType>();
  const missing: FluxKind[] = [];
  const resourceLists = new Map<string, Promise<Set<string>>>();
  const resourcesOf = (gv: string): Promise<Set<string>> => {
    let p = resourceLists.get(gv);
    if (!p) {
      p = client
        .request<APIResourceList>('GET', `/apis/${gv}`)
        .then((l) => new Set((l.resources ?? []).map((r) => r.name)))
        .catch((err) => {
          if (err instanceof ApiError && err.status === 404) return new Set<string>();
          throw err;
        });
      resourceLists.set(gv, p);
    }
    return p;
  };
  for (const spec of FLUX_RESOURCES) {
    if (!wanted.includes(spec.kind)) continue;
    const versions = served.get(spec.group);
    let found: ResourceType | undefined;
    for (const v of spec.versions) {
      if (!versions?.has(v)) continue;
      const names = await resourcesOf(`${spec.group}/${v}`);
      if (names.has(spec.plural)) {
        found = { kind: spec.kind, group: spec.group, version: v, plural: spec.plural, apiVersion: `${spec.group}/${v}` };
        break;
      }
    }
    if (found) resources.set(spec.kind, found);
    else missing.push(spec.kind);
  }
  if (resources.size === 0) {
    throw new MonitorError({
      category: 'flux-not-installed',
      message: 'the cluster serves no Flux APIs (source/kustomize/helm.toolkit.fluxcd.io)',
      hint: 'Install Flux (`flux install` or `flux bootstrap`), or select the right cluster with --context.',
    });
  }
  return { resources, missing };
}

/** What discovery says of one custom kind: its resource, or why it cannot be followed. */
export type CustomDiscovery = { rt: ResourceType } | { missing: string };

/**
 * The resource of a custom kind (`config.custom_kinds`): one request for its group-version. Not served (the
 * CRD is not installed, or serves other versions) is an answer, not an error; other failures (403, network)
 * are thrown for the caller to report.
 */
export async function discoverCustom(client: ClusterClient, c: { apiVersion: string; kind: string; plural?: string }): Promise<CustomDiscovery> {
  const slash = c.apiVersion.indexOf('/');
  const group = c.apiVersion.slice(0, slash);
  const version = c.apiVersion.slice(slash + 1);
  let list: APIResourceList;
  try {
    list = await client.request<APIResourceList>('GET', `/apis/${group}/${version}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return { missing: `the cluster does not serve ${c.apiVersion} (is the CRD of ${c.kind} installed?)` };
    throw err;
  }
  const r = (list.resources ?? []).find((x) => !x.name.includes('/') && x.kind === c.kind && (!c.plural || x.name === c.plural));
  if (!r) return { missing: `${c.apiVersion} has no resource of kind ${c.kind}${c.plural ? ` named ${c.plural}` : ''}` };
  return { rt: { kind: c.kind, group, version, plural: r.name, apiVersion: c.apiVersion } };
}
