// Small builders of SessionState for the UI tests (and the docs sample).
import type { Diagnosis, EdgeType, FluxKind, GraphEdge, NodeState, Phase, SessionState } from '../../src/core/types.js';

/** Fixed clock: the session starts at T0. */
export const T0 = Date.UTC(2026, 10, 3, 9, 0, 0);

const API: Record<FluxKind, string> = {
  GitRepository: 'source.toolkit.fluxcd.io/v1',
  OCIRepository: 'source.toolkit.fluxcd.io/v1',
  HelmRepository: 'source.toolkit.fluxcd.io/v1',
  HelmChart: 'source.toolkit.fluxcd.io/v1',
  Bucket: 'source.toolkit.fluxcd.io/v1',
  ExternalArtifact: 'source.toolkit.fluxcd.io/v1',
  Kustomization: 'kustomize.toolkit.fluxcd.io/v1',
  HelmRelease: 'helm.toolkit.fluxcd.io/v2',
};

const TERMINAL: Phase[] = ['Ready', 'Failed', 'Stalled', 'Suspended', 'Superseded'];

/** A node: `node('Kustomization', 'apps', 'Ready', { ... })` in namespace flux-system unless given. */
export function node(kind: FluxKind, name: string, phase: Phase, extra: Partial<NodeState> = {}): NodeState {
  const namespace = extra.namespace ?? 'flux-system';
  return {
    key: `${kind}/${namespace}/${name}`,
    kind,
    namespace,
    name,
    apiVersion: API[kind],
    phase,
    reason: '',
    message: '',
    affected: true,
    settled: TERMINAL.includes(phase),
    phaseSince: T0,
    firstSeen: T0,
    ...extra,
  };
}

export function edge(from: NodeState, to: NodeState, type: EdgeType): GraphEdge {
  return { from: from.key, to: to.key, type };
}

/** A running session with the given nodes and edges. */
export function session(nodes: NodeState[], edges: GraphEdge[] = [], extra: Partial<SessionState> = {}): SessionState {
  return {
    schema: 1,
    id: 'test-session',
    repo: { path: '/src/fleet', url: 'https://github.com/acme/fleet', remote: 'origin', branch: 'main' },
    commit: { sha: '3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b', subject: 'Bump podinfo to 6.5.0' },
    cluster: { context: 'kind-dev', server: 'https://127.0.0.1:6443' },
    startedAt: T0,
    updatedAt: T0,
    timeoutMs: 300_000,
    status: 'running',
    nodes: Object.fromEntries(nodes.map((n) => [n.key, n])),
    edges,
    cycles: [],
    matchedSources: [],
    warnings: [],
    mode: 'watch',
    ...extra,
  };
}

/** A typical fleet: a GitRepository, infra → apps (dependsOn), apps applied a HelmRelease. */
export function fleet(phases: { src?: Phase; infra?: Phase; apps?: Phase; hr?: Phase } = {}) {
  const src = node('GitRepository', 'flux-system', phases.src ?? 'Ready', { reason: 'Succeeded', message: 'stored artifact for revision main@sha1:3f2a9c1d', revision: 'main@sha1:3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b' });
  const infra = node('Kustomization', 'infra', phases.infra ?? 'Ready');
  const apps = node('Kustomization', 'apps', phases.apps ?? 'Progressing');
  const hr = node('HelmRelease', 'podinfo', phases.hr ?? 'Pending', { namespace: 'podinfo' });
  const edges = [edge(infra, src, 'source'), edge(apps, src, 'source'), edge(apps, infra, 'dependsOn'), edge(apps, hr, 'inventory')];
  return { src, infra, apps, hr, edges, state: session([src, infra, apps, hr], edges, { matchedSources: [src.key] }) };
}

/** A realistic session (docs sample): a bootstrap repo, infra ready, apps rolling out, monitoring failing. */
export function sampleSession(): SessionState {
  const at = (s: number) => T0 + s * 1000;
  const src = node('GitRepository', 'flux-system', 'Ready', { reason: 'Succeeded', message: "stored artifact for revision 'main@sha1:3f2a9c1d'", phaseSince: at(2) });
  const helmRepo = node('HelmRepository', 'podinfo', 'Ready', { phaseSince: at(1) });
  const controllers = node('Kustomization', 'infra-controllers', 'Ready', { reason: 'ReconciliationSucceeded', phaseSince: at(9) });
  const configs = node('Kustomization', 'infra-configs', 'Ready', { phaseSince: at(14) });
  const apps = node('Kustomization', 'apps', 'Progressing', { reason: 'Progressing', message: 'Running health checks for revision main@sha1:3f2a9c1d', phaseSince: at(16) });
  const chart = node('HelmChart', 'podinfo-podinfo', 'Ready', { phaseSince: at(18) });
  const release = node('HelmRelease', 'podinfo', 'Progressing', { namespace: 'podinfo', reason: 'Progressing', message: 'Running upgrade action', phaseSince: at(19) });
  const monitoring = node('Kustomization', 'monitoring', 'Failed', {
    reason: 'HealthCheckFailed',
    // kustomize-controller's message, one line (test/fixtures/transcripts/health-check.json).
    message: "health check failed after 30s: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']",
    phaseSince: at(47),
  });
  const tenants = node('Kustomization', 'tenants', 'Waiting', {
    reason: 'DependencyNotReady',
    message: "dependency 'flux-system/monitoring' is not ready",
    blockers: ['flux-system/monitoring'],
    // The engine settles it: what it depends on failed (computeSettled), so it is blocked.
    settled: true,
    blockedBy: monitoring.key,
    phaseSince: at(15),
  });
  const edges = [
    edge(controllers, src, 'source'),
    edge(configs, src, 'source'),
    edge(apps, src, 'source'),
    edge(monitoring, src, 'source'),
    edge(tenants, src, 'source'),
    edge(configs, controllers, 'dependsOn'),
    edge(apps, configs, 'dependsOn'),
    edge(monitoring, controllers, 'dependsOn'),
    edge(tenants, monitoring, 'dependsOn'),
    edge(tenants, apps, 'dependsOn'),
    edge(apps, release, 'inventory'),
    edge(chart, helmRepo, 'source'),
    edge(release, chart, 'source'),
  ];
  return session([src, helmRepo, controllers, configs, apps, chart, release, monitoring, tenants], edges, {
    matchedSources: [src.key],
    updatedAt: at(65),
    warnings: ['cannot watch Buckets (forbidden): polling them every 2s'],
  });
}

/**
 * A diagnosis as the engine makes it for a failing health check: Deployment monitoring/kube-state-metrics with
 * one pod that cannot pull its image, notes, and the Kustomization's Event of the pushed revision.
 */
export function sampleDiagnosis(over: Partial<Diagnosis> = {}): Diagnosis {
  return {
    at: T0 + 48_000,
    revision: 'main@sha1:3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b',
    workloads: [
      {
        kind: 'Deployment',
        namespace: 'monitoring',
        name: 'kube-state-metrics',
        ready: false,
        rollout: { desired: 1, updated: 1, ready: 0, available: 0, generation: 2, observedGeneration: 2 },
        summary: '1/1 updated, 0/1 ready, 0/1 available, 1 old replica; generation 2 observed',
        problems: [],
        pods: [
          {
            name: 'kube-state-metrics-6f7c9d8b5-x2x8k',
            phase: 'Pending',
            problems: [{ reason: 'ImagePullBackOff', container: 'kube-state-metrics', image: 'registry.k8s.io/kube-state-metrics/kube-state-metrics:v9.9.9', message: 'Back-off pulling image "registry.k8s.io/kube-state-metrics/kube-state-metrics:v9.9.9": ErrImagePull: not found' }],
          },
        ],
      },
    ],
    readyWorkloads: 3,
    events: [{ type: 'Warning', reason: 'HealthCheckFailed', message: "health check failed after 30s: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']", count: 2, revision: 'main@sha1:3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b' }],
    notes: ['cannot read pods in monitoring-extra (forbidden)'],
    requests: 4,
    ...over,
  };
}
