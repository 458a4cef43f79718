// The API resources the simulator serves, described like a CRD / built-in type would describe them.
import { KINDS } from '../core/kinds.js';
import type { FluxKind } from '../core/types.js';

/** Which Flux API versions the simulated cluster serves. */
export type FluxApiMode = 'current' | 'legacy' | 'both' | 'none';

export interface ResourceType {
  /** API group ('' for the core group). */
  group: string;
  /** Served versions, preferred first. */
  versions: string[];
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Has the `/status` subresource (status is written only through it). */
  statusSubresource: boolean;
  /** Custom resources get metadata.generation; core types here don't. */
  generation: boolean;
}

export const FLUX_GROUPS = {
  source: 'source.toolkit.fluxcd.io',
  kustomize: 'kustomize.toolkit.fluxcd.io',
  helm: 'helm.toolkit.fluxcd.io',
} as const;

/**
 * Group, plural and short names of each Flux kind (src/core/kinds.ts); versions depend on the mode, except for a
 * kind served in one version only (ExternalArtifact, v1: never served in the legacy mode).
 */
export const FLUX_RESOURCES = Object.fromEntries(
  KINDS.map((k) => [
    k.kind,
    { group: k.group, plural: k.plural, singular: k.singular, shortNames: [...k.shortNames], ...(k.versions.length === 1 ? { versions: [...k.versions] } : {}) },
  ]),
) as Record<FluxKind, { group: string; plural: string; singular: string; shortNames: string[]; versions?: string[] }>;

const FLUX_ROLES = Object.fromEntries(KINDS.map((k) => [k.kind, k.role])) as Record<FluxKind, 'source' | 'apply'>;

/** Served versions per Flux group for a mode, preferred first. */
export function fluxVersions(mode: FluxApiMode): Record<string, string[]> {
  switch (mode) {
    case 'current':
      return { [FLUX_GROUPS.source]: ['v1'], [FLUX_GROUPS.kustomize]: ['v1'], [FLUX_GROUPS.helm]: ['v2'] };
    case 'legacy':
      return { [FLUX_GROUPS.source]: ['v1beta2'], [FLUX_GROUPS.kustomize]: ['v1beta2'], [FLUX_GROUPS.helm]: ['v2beta2'] };
    case 'both':
      return {
        [FLUX_GROUPS.source]: ['v1', 'v1beta2'],
        [FLUX_GROUPS.kustomize]: ['v1', 'v1beta2'],
        [FLUX_GROUPS.helm]: ['v2', 'v2beta2'],
      };
    case 'none':
      return {};
  }
}

const CORE: ResourceType[] = [
  {
    group: '', versions: ['v1'], plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false,
    shortNames: ['ns'], categories: [], statusSubresource: true, generation: false,
  },
  {
    group: '', versions: ['v1'], plural: 'events', singular: 'event', kind: 'Event', namespaced: true,
    shortNames: ['ev'], categories: [], statusSubresource: false, generation: false,
  },
  // The Flux controllers' Deployments: the engine reads them to tell a controller that is down. Workloads and
  // their pods: the diagnosis of a failing health check reads them (statuses are written through /status).
  {
    group: 'apps', versions: ['v1'], plural: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true,
    shortNames: ['deploy'], categories: [], statusSubresource: true, generation: true,
  },
  {
    group: 'apps', versions: ['v1'], plural: 'statefulsets', singular: 'statefulset', kind: 'StatefulSet', namespaced: true,
    shortNames: ['sts'], categories: [], statusSubresource: true, generation: true,
  },
  {
    group: 'apps', versions: ['v1'], plural: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true,
    shortNames: ['ds'], categories: [], statusSubresource: true, generation: true,
  },
  {
    group: 'batch', versions: ['v1'], plural: 'jobs', singular: 'job', kind: 'Job', namespaced: true,
    shortNames: [], categories: [], statusSubresource: true, generation: true,
  },
  {
    group: '', versions: ['v1'], plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true,
    shortNames: ['po'], categories: [], statusSubresource: true, generation: false,
  },
];

/** All resource types a simulator in `mode` knows (Flux types are stored even in mode 'none', just not served). */
export function resourceTypes(mode: FluxApiMode): ResourceType[] {
  const served = fluxVersions(mode);
  const flux = (Object.keys(FLUX_RESOURCES) as FluxKind[]).map((kind): ResourceType => {
    const r = FLUX_RESOURCES[kind];
    return {
      group: r.group,
      versions: (served[r.group] ?? []).filter((v) => !r.versions || r.versions.includes(v)),
      plural: r.plural,
      singular: r.singular,
      kind,
      namespaced: true,
      shortNames: r.shortNames,
      // As the Flux CRDs list them (e.g. `kubectl get fluxcd-sources`).
      categories: ['all', 'fluxcd', FLUX_ROLES[kind] === 'source' ? 'fluxcd-sources' : 'fluxcd-appliers'],
      statusSubresource: true,
      generation: true,
    };
  });
  return [...CORE, ...flux];
}

export function apiVersionOf(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}

/** `gitrepositories.source.toolkit.fluxcd.io` (or `namespaces` for the core group), as the API server names resources in messages. */
export function qualifiedResource(t: Pick<ResourceType, 'group' | 'plural'>): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

/** Tekton's PipelineRuns (tekton.dev/v1), as their CRD describes them: served when a scenario plays pipelines. */
export const TEKTON_PIPELINERUNS: ResourceType = {
  group: 'tekton.dev', versions: ['v1'], plural: 'pipelineruns', singular: 'pipelinerun', kind: 'PipelineRun', namespaced: true,
  shortNames: ['pr', 'prs'], categories: ['tekton', 'tekton-pipelines'], statusSubresource: true, generation: true,
};
