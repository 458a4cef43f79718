// Building blocks of the conformance cases: the repository content (manifests, a Helm chart) and the Flux
// objects that deploy it, written as a user of Flux would write them.

export const CONTROLLER_VERSIONS = {
  'source-controller': 'v1.9.6',
  'kustomize-controller': 'v1.9.6',
  'helm-controller': 'v1.6.2',
} as const;

export function namespace(name: string) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

export function gitRepository(ns: string, url: string, opts: { name?: string; interval?: string; suspend?: boolean } = {}) {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: opts.name ?? 'repo', namespace: ns },
    spec: { interval: opts.interval ?? '1m', timeout: '20s', url, ref: { branch: 'main' }, ...(opts.suspend ? { suspend: true } : {}) },
  };
}

export interface KsOptions {
  dependsOn?: string[];
  suspend?: boolean;
  wait?: boolean;
  timeout?: string;
  source?: { kind: string; name: string };
  targetNamespace?: string | null;
}

export function kustomization(ns: string, name: string, path: string, o: KsOptions = {}) {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: ns },
    spec: {
      interval: '10m',
      retryInterval: '5s',
      path,
      prune: true,
      sourceRef: o.source ?? { kind: 'GitRepository', name: 'repo' },
      timeout: o.timeout ?? '30s',
      ...(o.targetNamespace === null ? {} : { targetNamespace: o.targetNamespace ?? ns }),
      ...(o.wait ? { wait: true } : {}),
      ...(o.suspend ? { suspend: true } : {}),
      ...(o.dependsOn?.length ? { dependsOn: o.dependsOn.map((n) => ({ name: n })) } : {}),
    },
  };
}

export function configMap(name: string, data: Record<string, string>): string {
  const lines = Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n${lines.join('\n')}\n`;
}

export function kustomizationYaml(resources: string[]): string {
  return `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${resources.map((r) => `  - ${r}`).join('\n')}\n`;
}

/** A Deployment; with no kube-controller-manager it never becomes ready. */
export function deployment(name: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels: { app: ${name} }
  template:
    metadata:
      labels: { app: ${name} }
    spec:
      containers:
        - name: app
          image: registry.invalid/${name}:1.0.0
`;
}

// ------------------------------------------------------------------------------------------------ Helm

/** A small chart whose templates are ConfigMaps (ready at once: no kubelet is needed). */
export function chartFiles(dir: string, opts: { version?: string; template?: string; values?: string } = {}): Record<string, string> {
  return {
    [`${dir}/Chart.yaml`]: `apiVersion: v2\nname: web\nversion: ${opts.version ?? '1.0.0'}\nappVersion: "1.0"\n`,
    [`${dir}/values.yaml`]: opts.values ?? 'message: hello\n',
    [`${dir}/templates/configmap.yaml`]:
      opts.template ??
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  message: {{ .Values.message | quote }}\n`,
  };
}

export interface HrOptions {
  chartPath?: string;
  source?: { kind: string; name: string };
  version?: string;
  retries?: number;
  values?: Record<string, unknown>;
  dependsOn?: string[];
  /** Helm waits for the release's workloads (install/upgrade `disableWait: false`); default: it does not. */
  wait?: boolean;
  /** spec.timeout (default 30s). */
  timeout?: string;
}

export function helmRelease(ns: string, name: string, o: HrOptions = {}) {
  const fromGit = !o.source || o.source.kind === 'GitRepository';
  return {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name, namespace: ns },
    spec: {
      interval: '10m',
      timeout: o.timeout ?? '30s',
      chart: {
        spec: {
          chart: o.chartPath ?? (fromGit ? './charts/web' : 'web'),
          ...(o.version ? { version: o.version } : {}),
          sourceRef: o.source ?? { kind: 'GitRepository', name: 'repo' },
          ...(fromGit ? { reconcileStrategy: 'Revision' } : {}),
          interval: '1m',
        },
      },
      install: { disableWait: !o.wait, ...(o.retries !== undefined ? { remediation: { retries: o.retries } } : {}) },
      upgrade: {
        disableWait: !o.wait,
        ...(o.retries !== undefined ? { remediation: { retries: o.retries, remediateLastFailure: true, strategy: 'rollback' } } : {}),
      },
      ...(o.values ? { values: o.values } : {}),
      ...(o.dependsOn?.length ? { dependsOn: o.dependsOn.map((n) => ({ name: n })) } : {}),
    },
  };
}

/** A HelmRelease as a file in the repository (applied by a Kustomization). */
export function helmReleaseYaml(hr: ReturnType<typeof helmRelease>): string {
  const { metadata, ...rest } = hr;
  return JSON.stringify({ ...rest, metadata: { name: metadata.name } }, null, 2) + '\n';
}

export function helmRepository(ns: string, url: string) {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'HelmRepository',
    metadata: { name: 'charts', namespace: ns },
    spec: { interval: '1m', url, timeout: '20s' },
  };
}

/** The two-level chain several cases push through: infra, and apps that dependsOn infra, each one ConfigMap. */
export function chainFiles(message: string): Record<string, string> {
  return {
    'infra/kustomization.yaml': kustomizationYaml(['config.yaml']),
    'infra/config.yaml': configMap('infra-config', { message }),
    'apps/kustomization.yaml': kustomizationYaml(['config.yaml']),
    'apps/config.yaml': configMap('apps-config', { message }),
  };
}

/** The chain's Flux objects: its GitRepository and the two Kustomizations. */
export const chainObjects = (ns: string, url: string) => [gitRepository(ns, url), kustomization(ns, 'infra', './infra'), kustomization(ns, 'apps', './apps', { dependsOn: ['infra'] })];
