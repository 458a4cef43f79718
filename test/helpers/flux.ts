// Builders of Flux objects with real Flux status shapes, for tests.
import type { KubeObject } from '../../src/core/types.js';

export const T0 = '2026-11-23T08:00:00Z';

export const cond = (type: string, status: string, reason: string, message: string, observedGeneration = 1, lastTransitionTime = T0) => ({
  type,
  status,
  reason,
  message,
  observedGeneration,
  lastTransitionTime,
});

export function gitRepository(name: string, url: string, branch = 'main', ns = 'flux-system'): KubeObject {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: ns },
    spec: { interval: '1m', url, ref: { branch } },
  };
}

export function gitReady(sha: string, branch = 'main', gen = 1) {
  const revision = `${branch}@sha1:${sha}`;
  return {
    observedGeneration: gen,
    conditions: [cond('Ready', 'True', 'Succeeded', `stored artifact for revision '${revision}'`, gen), cond('ArtifactInStorage', 'True', 'Succeeded', `stored artifact for revision '${revision}'`, gen)],
    artifact: { revision, digest: 'sha256:' + 'a'.repeat(64), path: 'gitrepository/x/y.tar.gz', url: 'http://source-controller/x.tar.gz', lastUpdateTime: T0 },
  };
}

export function gitFailed(oldSha: string, message: string, branch = 'main') {
  return {
    ...gitReady(oldSha, branch),
    conditions: [cond('Ready', 'False', 'GitOperationFailed', message), cond('FetchFailed', 'True', 'GitOperationFailed', message)],
  };
}

export function kustomization(name: string, opts: { source?: string; dependsOn?: string[]; ns?: string; suspend?: boolean } = {}): KubeObject {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: opts.ns ?? 'flux-system' },
    spec: {
      interval: '10m',
      path: `./${name}`,
      prune: true,
      sourceRef: { kind: 'GitRepository', name: opts.source ?? 'flux-system' },
      ...(opts.dependsOn ? { dependsOn: opts.dependsOn.map((d) => ({ name: d })) } : {}),
      ...(opts.suspend ? { suspend: true } : {}),
    },
  };
}

export function ksReady(sha: string, inventory: string[] = [], branch = 'main', gen = 1) {
  const rev = `${branch}@sha1:${sha}`;
  return {
    observedGeneration: gen,
    lastAttemptedRevision: rev,
    lastAppliedRevision: rev,
    conditions: [cond('Ready', 'True', 'ReconciliationSucceeded', `Applied revision: ${rev}`, gen), cond('Healthy', 'True', 'Succeeded', 'Health check passed', gen)],
    inventory: { entries: inventory.map((id) => ({ id, v: 'v2' })) },
  };
}

export function ksProgressing(attempted: string, applied: string, branch = 'main') {
  return {
    observedGeneration: 1,
    lastAttemptedRevision: `${branch}@sha1:${attempted}`,
    lastAppliedRevision: `${branch}@sha1:${applied}`,
    conditions: [cond('Ready', 'Unknown', 'Progressing', 'Reconciliation in progress'), cond('Reconciling', 'True', 'Progressing', `Building manifests for revision ${branch}@sha1:${attempted}`)],
  };
}

export function ksFailed(attempted: string, applied: string, reason: string, message: string, branch = 'main') {
  return {
    observedGeneration: 1,
    lastAttemptedRevision: `${branch}@sha1:${attempted}`,
    lastAppliedRevision: `${branch}@sha1:${applied}`,
    conditions: [cond('Ready', 'False', reason, message), cond('Reconciling', 'True', 'ProgressingWithRetry', message)],
  };
}

export function ksWaiting(applied: string, dep: string, branch = 'main', inventory: string[] = []) {
  return {
    inventory: { entries: inventory.map((id) => ({ id, v: 'v2' })) },
    observedGeneration: 1,
    lastAttemptedRevision: `${branch}@sha1:${applied}`,
    lastAppliedRevision: `${branch}@sha1:${applied}`,
    conditions: [cond('Ready', 'False', 'DependencyNotReady', `dependency '${dep}' is not ready`)],
  };
}

export function helmRelease(name: string, ns = 'apps', repo = 'podinfo'): KubeObject {
  return {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name, namespace: ns },
    spec: { interval: '5m', chart: { spec: { chart: name, version: '6.x', sourceRef: { kind: 'HelmRepository', name: repo } } }, values: { replicaCount: 1 } },
  };
}

/**
 * A Helm release history entry with every field helm-controller's CRD requires (status.history[] of
 * helm.toolkit.fluxcd.io/v2: name, namespace, version, status, chartName, chartVersion, configDigest, digest,
 * firstDeployed, lastDeployed), as helm-controller v1.6 writes it.
 */
export function releaseEntry(chartVersion: string, status: string, version: number, name = 'podinfo', namespace = 'apps') {
  return {
    name,
    namespace,
    version,
    status,
    chartName: 'podinfo',
    chartVersion,
    appVersion: chartVersion.replace(/\+.*$/, ''),
    configDigest: 'sha256:' + 'c'.repeat(64),
    digest: 'sha256:' + 'd'.repeat(64),
    firstDeployed: T0,
    lastDeployed: T0,
  };
}

export function hrReady(gen: number, version = '6.5.0') {
  return {
    observedGeneration: gen,
    lastAttemptedGeneration: gen,
    lastAttemptedRevision: version,
    history: [releaseEntry(version, 'deployed', gen)],
    conditions: [cond('Ready', 'True', 'UpgradeSucceeded', `Helm upgrade succeeded for release apps/podinfo.v${gen} with chart podinfo@${version}`, gen), cond('Released', 'True', 'UpgradeSucceeded', 'ok', gen)],
  };
}

export function hrFailed(gen: number, message: string, version = '6.5.0') {
  return {
    observedGeneration: gen,
    lastAttemptedGeneration: gen,
    lastAttemptedRevision: version,
    failures: 1,
    history: [releaseEntry(version, 'failed', gen)],
    conditions: [cond('Ready', 'False', 'UpgradeFailed', message, gen), cond('Released', 'False', 'UpgradeFailed', message, gen)],
  };
}

export const invId = (ns: string, name: string, group: string, kind: string) => `${ns}_${name}_${group}_${kind}`;

export const SHA_OLD = '1111111111111111111111111111111111111111';
export const SHA_NEW = 'abcdef0123456789abcdef0123456789abcdef01';
export const SHA_NEWER = '9999999999999999999999999999999999999999';
