// The Flux kinds flux-monitor knows, in one table: every other list of kinds (the kind union, the source kinds, the
// default `monitor_types`, the config's allowed values, discovery's resources, the controller of each kind, the
// `flux resume` noun, the kinds always read, the simulator's) is derived from it. A new Flux kind is one row.
// Pure data: no I/O.

export interface KindInfo {
  kind: string;
  group: string;
  /** Served versions, preferred first (discovery takes the first one the cluster serves). */
  versions: readonly string[];
  /** The resource name, as in `monitor_types` and API paths. */
  plural: string;
  /** The CRD's singular name and short names (as `kubectl api-resources` shows them). */
  singular: string;
  shortNames: readonly string[];
  /** `source`: produces an artifact others consume; `apply`: applies what a source delivers. */
  role: 'source' | 'apply';
  /**
   * The Flux controller that reconciles it (its Deployment in the Flux namespace has this name); none for a kind
   * that other controllers write (ExternalArtifact).
   */
  controller?: 'source-controller' | 'kustomize-controller' | 'helm-controller';
  /** The noun of `flux resume <noun> NAME -n NS`. */
  resume: string;
  /** Read whatever `monitor_types` says: correlation with the pushed commit goes through it. */
  alwaysRead: boolean;
  /** In the default `monitor_types` (the kinds shown). */
  shownByDefault: boolean;
  /** Its artifacts are built by CI from a commit, which the artifact's metadata names (OCI, ExternalArtifact). */
  ciArtifact?: true;
}

export const KINDS = [
  { kind: 'GitRepository', group: 'source.toolkit.fluxcd.io', versions: ['v1', 'v1beta2'], plural: 'gitrepositories', singular: 'gitrepository', shortNames: ['gitrepo'], role: 'source', controller: 'source-controller', resume: 'source git', alwaysRead: true, shownByDefault: true },
  { kind: 'OCIRepository', group: 'source.toolkit.fluxcd.io', versions: ['v1', 'v1beta2'], plural: 'ocirepositories', singular: 'ocirepository', shortNames: ['ocirepo'], role: 'source', controller: 'source-controller', resume: 'source oci', alwaysRead: true, shownByDefault: true, ciArtifact: true },
  { kind: 'HelmRepository', group: 'source.toolkit.fluxcd.io', versions: ['v1', 'v1beta2'], plural: 'helmrepositories', singular: 'helmrepository', shortNames: ['helmrepo'], role: 'source', controller: 'source-controller', resume: 'source helm', alwaysRead: false, shownByDefault: true },
  { kind: 'HelmChart', group: 'source.toolkit.fluxcd.io', versions: ['v1', 'v1beta2'], plural: 'helmcharts', singular: 'helmchart', shortNames: ['hc'], role: 'source', controller: 'source-controller', resume: 'source chart', alwaysRead: true, shownByDefault: true },
  { kind: 'Bucket', group: 'source.toolkit.fluxcd.io', versions: ['v1', 'v1beta2'], plural: 'buckets', singular: 'bucket', shortNames: [], role: 'source', controller: 'source-controller', resume: 'source bucket', alwaysRead: false, shownByDefault: true },
  // Flux 2.7 (source-controller v1.7) and later; written by other controllers (no Flux controller of its own), and
  // shown by default only when it is a matched source (docs/config.md).
  { kind: 'ExternalArtifact', group: 'source.toolkit.fluxcd.io', versions: ['v1'], plural: 'externalartifacts', singular: 'externalartifact', shortNames: ['ea'], role: 'source', resume: 'externalartifact', alwaysRead: true, shownByDefault: false, ciArtifact: true },
  { kind: 'Kustomization', group: 'kustomize.toolkit.fluxcd.io', versions: ['v1', 'v1beta2'], plural: 'kustomizations', singular: 'kustomization', shortNames: ['ks'], role: 'apply', controller: 'kustomize-controller', resume: 'kustomization', alwaysRead: true, shownByDefault: true },
  { kind: 'HelmRelease', group: 'helm.toolkit.fluxcd.io', versions: ['v2', 'v2beta2', 'v2beta1'], plural: 'helmreleases', singular: 'helmrelease', shortNames: ['hr'], role: 'apply', controller: 'helm-controller', resume: 'helmrelease', alwaysRead: true, shownByDefault: true },
] as const satisfies readonly KindInfo[];

export type FluxKind = (typeof KINDS)[number]['kind'];
export type FluxPlural = (typeof KINDS)[number]['plural'];

/** The row of a kind. */
export function kindInfo(kind: FluxKind): KindInfo {
  return KINDS.find((k) => k.kind === kind)!;
}

/** The kind of a plural (`kustomizations` → Kustomization), case-insensitive. */
export function kindOfPlural(plural: string): FluxKind | undefined {
  const p = plural.toLowerCase();
  return KINDS.find((k) => k.plural === p)?.kind;
}
