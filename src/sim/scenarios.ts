// Scenarios for the FluxPlayer, as plain data: a realistic fleet repository (demo, happy, failure variants)
// and a generated large one for benchmarks.
import type { KubeObject } from '../core/types.js';
import { setupScenario, type FluxPlayer } from './flux-player.js';
import type { Behavior, Scenario, ScenarioObject, SimWorkload } from './scenario-model.js';

export { setupScenario };
export type { Behavior, Scenario, ScenarioObject } from './scenario-model.js';

/** What a push does in a scenario: the scenario's repo/branch head moves to `sha`. Returns the commit number. */
export function pushCommit(player: FluxPlayer, sha: string): number {
  return player.setBranchHead(player.scenario.repo.url, player.scenario.repo.branch, sha);
}

export const FLEET_URL = 'https://github.com/acme/fleet.git';
export const PLATFORM_URL = 'https://github.com/acme/platform-charts.git';

const SRC_V1 = 'source.toolkit.fluxcd.io/v1';
const KS_V1 = 'kustomize.toolkit.fluxcd.io/v1';
const HR_V2 = 'helm.toolkit.fluxcd.io/v2';

function gitRepository(ns: string, name: string, url: string, branch = 'main'): KubeObject {
  return {
    apiVersion: SRC_V1, kind: 'GitRepository', metadata: { name, namespace: ns },
    spec: { interval: '1m0s', url, ref: { branch }, secretRef: { name: 'flux-system' }, timeout: '60s' },
  };
}

function helmRepository(ns: string, name: string, url: string): KubeObject {
  return {
    apiVersion: SRC_V1, kind: 'HelmRepository', metadata: { name, namespace: ns },
    spec: { interval: '1h', url, ...(url.startsWith('oci://') ? { type: 'oci' } : {}) },
  };
}

function kustomization(
  ns: string, name: string, path: string,
  opts: { source?: string; dependsOn?: string[]; wait?: boolean; suspend?: boolean; targetNamespace?: string } = {},
): KubeObject {
  return {
    apiVersion: KS_V1, kind: 'Kustomization', metadata: { name, namespace: ns },
    spec: {
      interval: '10m0s', retryInterval: '2m0s', path, prune: true, timeout: '5m',
      sourceRef: { kind: 'GitRepository', name: opts.source ?? 'flux-system' },
      ...(opts.dependsOn ? { dependsOn: opts.dependsOn.map((n) => ({ name: n })) } : {}),
      ...(opts.wait ? { wait: true } : {}),
      ...(opts.suspend ? { suspend: true } : {}),
      ...(opts.targetNamespace ? { targetNamespace: opts.targetNamespace } : {}),
    },
  };
}

function helmRelease(ns: string, name: string, chart: string, version: string, repo: { name: string; namespace?: string }, values: Record<string, unknown>): KubeObject {
  return {
    apiVersion: HR_V2, kind: 'HelmRelease', metadata: { name, namespace: ns },
    spec: {
      interval: '30m', timeout: '5m',
      chart: { spec: { chart, version, sourceRef: { kind: 'HelmRepository', ...repo }, interval: '12h' } },
      install: { remediation: { retries: 3 } },
      values,
    },
  };
}

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', name });

const INGRESS_IMAGE = 'registry.k8s.io/ingress-nginx/controller:v1.12.1';
/** A tag that does not exist: the new pods cannot pull it. */
const INGRESS_IMAGE_MISSING = 'registry.k8s.io/ingress-nginx/controller:v1.12.99';
const INGRESS_LABELS = { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' };
const T0 = '2025-06-02T09:00:00Z';

function ingressDeployment(image: string): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'ingress-nginx-controller', namespace: 'ingress-nginx', labels: INGRESS_LABELS },
    spec: {
      replicas: 2,
      selector: { matchLabels: INGRESS_LABELS },
      template: { metadata: { labels: INGRESS_LABELS }, spec: { containers: [{ name: 'controller', image, readinessProbe: { httpGet: { path: '/healthz', port: 10254 } } }] } },
    },
  };
}

/** A controller pod of ReplicaSet `ingress-nginx-controller-<hash>`, as the kubelet reports it. */
function ingressPod(hash: string, suffix: string, image: string, state: 'running' | 'imagePullBackOff'): { manifest: KubeObject; status: Record<string, unknown> } {
  const name = `ingress-nginx-controller-${hash}-${suffix}`;
  const manifest: KubeObject = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { ...INGRESS_LABELS, 'pod-template-hash': hash } },
    spec: { containers: [{ name: 'controller', image, readinessProbe: { httpGet: { path: '/healthz', port: 10254 } } }] },
  };
  if (state === 'running') {
    return {
      manifest,
      status: {
        phase: 'Running',
        conditions: [
          { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: T0 },
          { type: 'Initialized', status: 'True', lastTransitionTime: T0 },
          { type: 'Ready', status: 'True', lastTransitionTime: T0 },
          { type: 'ContainersReady', status: 'True', lastTransitionTime: T0 },
          { type: 'PodScheduled', status: 'True', lastTransitionTime: T0 },
        ],
        startTime: T0,
        containerStatuses: [{ name: 'controller', image, imageID: `${image}@sha256:${'e'.repeat(64)}`, ready: true, started: true, restartCount: 0, state: { running: { startedAt: T0 } } }],
      },
    };
  }
  // pkg/kubelet/images/image_manager.go: the back-off message wraps the last pull error.
  const pullError = `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found`;
  return {
    manifest,
    status: {
      phase: 'Pending',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: T0 },
        { type: 'Initialized', status: 'True', lastTransitionTime: T0 },
        { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [controller]', lastTransitionTime: T0 },
        { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [controller]', lastTransitionTime: T0 },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: T0 },
      ],
      startTime: T0,
      containerStatuses: [{
        name: 'controller', image, imageID: '', ready: false, started: false, restartCount: 0,
        state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}": ErrImagePull: ${pullError}` } },
      }],
    },
  };
}

/**
 * ingress-nginx's controller Deployment: rolled out at the initial commit; a pushed commit moves it to an image
 * tag that does not exist, so the rollout hangs with one new pod in ImagePullBackOff (the Deployment
 * controller's status of a rolling update: one updated replica, two old ones still available).
 */
function ingressWorkloads(): Record<string, SimWorkload[]> {
  return {
    '0': [{
      manifest: ingressDeployment(INGRESS_IMAGE),
      status: {
        replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: T0, lastTransitionTime: T0 },
          { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet "ingress-nginx-controller-7d9f8b6c5" has successfully progressed.', lastUpdateTime: T0, lastTransitionTime: T0 },
        ],
      },
      pods: [ingressPod('7d9f8b6c5', 'q4wz8', INGRESS_IMAGE, 'running'), ingressPod('7d9f8b6c5', 'vx2lm', INGRESS_IMAGE, 'running')],
    }],
    '*': [{
      manifest: ingressDeployment(INGRESS_IMAGE_MISSING),
      status: {
        replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: T0, lastTransitionTime: T0 },
          { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: 'ReplicaSet "ingress-nginx-controller-5c8d7f9b4" is progressing.', lastUpdateTime: T0, lastTransitionTime: T0 },
        ],
      },
      pods: [ingressPod('5c8d7f9b4', 'x2x8k', INGRESS_IMAGE_MISSING, 'imagePullBackOff')],
    }],
  };
}

export interface FleetOptions {
  name: string;
  description: string;
  /** redis fails to upgrade for pushed commits (values schema error). */
  redisFails?: boolean;
  /** monitoring-crds fails to build for pushed commits, so monitoring waits on it. */
  monitoringCrdsFails?: boolean;
  /** The GitRepository fails to fetch pushed commits. */
  sourceFails?: boolean;
  /** infra-controllers fails its health checks for pushed commits. */
  healthCheckFails?: boolean;
  /** With healthCheckFails: the health checks run to kustomize-controller's timeout (the Kustomization's spec.timeout, 5m), as they do. */
  healthCheckTimesOut?: boolean;
  /** kustomize-controller's dependency requeue (ms at speed 1). */
  requeueDependencyMs?: number;
}

/**
 * A fleet repository as `flux bootstrap` lays it out: GitRepository flux-system/flux-system → Kustomization
 * flux-system (clusters/production) applying infra-controllers → infra-configs → apps, and monitoring-crds →
 * monitoring. apps applies HelmRepositories and the HelmReleases podinfo and redis, whose values change in every
 * pushed commit. platform-charts (another repository) and what it deploys are unrelated to pushes to the fleet.
 */
export function fleetScenario(o: FleetOptions): Scenario {
  const root = 'flux-system/flux-system';
  const objects: ScenarioObject[] = [
    {
      manifest: gitRepository('flux-system', 'flux-system', FLEET_URL),
      behavior: {
        '*': o.sourceFails
          ? { startDelayMs: 1500, durationMs: 1200, fail: { reason: 'GitOperationFailed', message: "failed to checkout and determine revision: unable to clone '{url}': authentication required: Invalid username or token. Password authentication is not supported for Git operations." } }
          : { startDelayMs: 1500, durationMs: 1000 },
      },
    },
    { manifest: kustomization('flux-system', 'flux-system', './clusters/production'), behavior: { '*': { startDelayMs: 200, durationMs: 800 } } },

    // clusters/production: the Kustomizations below.
    {
      manifest: kustomization('flux-system', 'infra-controllers', './infrastructure/controllers', { wait: true }),
      appliedBy: root,
      behavior: {
        '*': o.healthCheckFails
          ? { startDelayMs: 300, durationMs: 3000, ...(o.healthCheckTimesOut ? { healthMs: 300_000 } : {}), fail: { reason: 'HealthCheckFailed', message: "timeout waiting for: [Deployment/ingress-nginx/ingress-nginx-controller status: 'InProgress']" } }
          : { startDelayMs: 300, durationMs: 2500 },
      },
      inventory: [ns('ingress-nginx')],
      // The Deployment the failing health check waits for, with its pods.
      ...(o.healthCheckFails ? { workloads: ingressWorkloads() } : {}),
    },
    {
      manifest: kustomization('flux-system', 'infra-configs', './infrastructure/configs', { dependsOn: ['infra-controllers'] }),
      appliedBy: root,
      behavior: { '*': { startDelayMs: 300, durationMs: 1200 } },
      inventory: [
        { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', name: 'letsencrypt-prod' },
        { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', name: 'deny-all', namespace: 'apps' },
      ],
    },
    {
      manifest: kustomization('flux-system', 'apps', './apps/production', { dependsOn: ['infra-configs'] }),
      appliedBy: root,
      behavior: { '*': { startDelayMs: 300, durationMs: 1500 } },
      inventory: [ns('apps')],
    },
    {
      manifest: kustomization('flux-system', 'monitoring-crds', './monitoring/crds'),
      appliedBy: root,
      behavior: {
        '*': o.monitoringCrdsFails
          ? {
              startDelayMs: 300, durationMs: 1200,
              fail: {
                reason: 'BuildFailed',
                message: "kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'prometheus-operator-crds.yaml': open /tmp/kustomization-2954761231/monitoring/crds/prometheus-operator-crds.yaml: no such file or directory': must build at directory: not a valid directory: evalsymlink failure on '/tmp/kustomization-2954761231/monitoring/crds/prometheus-operator-crds.yaml' : lstat /tmp/kustomization-2954761231/monitoring/crds/prometheus-operator-crds.yaml: no such file or directory",
              },
            }
          : { startDelayMs: 300, durationMs: 1000 },
      },
      inventory: [{ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: 'prometheuses.monitoring.coreos.com' }],
    },
    {
      manifest: kustomization('flux-system', 'monitoring', './monitoring/stack', { dependsOn: ['monitoring-crds'] }),
      appliedBy: root,
      behavior: { '*': { startDelayMs: 300, durationMs: 1200 } },
      inventory: [ns('monitoring')],
    },

    // infrastructure/controllers
    { manifest: helmRepository('flux-system', 'ingress-nginx', 'https://kubernetes.github.io/ingress-nginx'), appliedBy: 'flux-system/infra-controllers' },
    {
      manifest: helmRelease('ingress-nginx', 'ingress-nginx', 'ingress-nginx', '4.11.3', { name: 'ingress-nginx', namespace: 'flux-system' }, { controller: { replicaCount: 2 } }),
      appliedBy: 'flux-system/infra-controllers',
    },

    // apps/production
    { manifest: helmRepository('apps', 'podinfo', 'https://stefanprodan.github.io/podinfo'), appliedBy: 'flux-system/apps' },
    { manifest: helmRepository('apps', 'bitnami', 'oci://registry-1.docker.io/bitnamicharts'), appliedBy: 'flux-system/apps' },
    {
      manifest: helmRelease('apps', 'podinfo', 'podinfo', '6.7.1', { name: 'podinfo' }, { replicaCount: 2, ingress: { enabled: true, hosts: [{ host: 'podinfo.acme.dev' }] } }),
      appliedBy: 'flux-system/apps',
      commits: { '*': { patch: { spec: { values: { replicaCount: 3 } } } } },
      behavior: { '*': { startDelayMs: 300, durationMs: 2500 } },
    },
    {
      manifest: helmRelease('apps', 'redis', 'redis', '20.6.0', { name: 'bitnami' }, { architecture: 'standalone', auth: { enabled: true } }),
      appliedBy: 'flux-system/apps',
      commits: {
        '*': { patch: { spec: { values: { master: { resources: { limits: { memory: o.redisFails ? 512 : '512Mi' } } } } } } },
      },
      behavior: {
        '*': o.redisFails
          ? {
              startDelayMs: 300, durationMs: 3000,
              fail: { reason: 'UpgradeFailed', message: "values don't meet the specifications of the schema(s) in the following chart(s):\nredis:\n- master.resources.limits.memory: Invalid type. Expected: string, given: integer" },
            }
          : { startDelayMs: 300, durationMs: 3000 },
      },
    },

    // monitoring/stack
    { manifest: helmRepository('monitoring', 'prometheus-community', 'https://prometheus-community.github.io/helm-charts'), appliedBy: 'flux-system/monitoring' },
    {
      manifest: helmRelease('monitoring', 'kube-prometheus-stack', 'kube-prometheus-stack', '66.3.1', { name: 'prometheus-community' }, { grafana: { enabled: true } }),
      appliedBy: 'flux-system/monitoring',
      commits: { '*': { patch: { spec: { values: { grafana: { replicas: 2 } } } } } },
    },

    // Unrelated to pushes to the fleet repository.
    { manifest: gitRepository('flux-system', 'platform-charts', PLATFORM_URL) },
    { manifest: kustomization('flux-system', 'platform', './deploy', { source: 'platform-charts' }) },
    { manifest: helmRepository('flux-system', 'jetstack', 'https://charts.jetstack.io'), appliedBy: 'flux-system/platform' },
    {
      manifest: helmRelease('cert-manager', 'cert-manager', 'cert-manager', '1.16.2', { name: 'jetstack', namespace: 'flux-system' }, { crds: { enabled: true } }),
      appliedBy: 'flux-system/platform',
    },
  ];
  return { name: o.name, description: o.description, repo: { url: FLEET_URL, branch: 'main' }, requeueDependencyMs: o.requeueDependencyMs ?? 2000, objects };
}

/** The demo: podinfo upgrades, redis fails (values schema), monitoring waits on a failed monitoring-crds. ~13 s at speed 1. */
export const demo: Scenario = fleetScenario({
  name: 'demo',
  description: 'A fleet repository push: podinfo upgrades, redis fails its upgrade, monitoring waits on a broken monitoring-crds',
  redisFails: true,
  monitoringCrdsFails: true,
});

/** Every object reconciles the pushed commit successfully. */
export const happy: Scenario = fleetScenario({ name: 'happy', description: 'A fleet repository push where everything succeeds' });

/** The source cannot fetch the pushed commit (authentication required). */
export const sourceFailure: Scenario = fleetScenario({ name: 'source-failure', description: 'The GitRepository fails to fetch the pushed commit', sourceFails: true });

/** infra-controllers fails its health checks, so everything depending on it waits. */
export const healthCheckFailure: Scenario = fleetScenario({
  name: 'health-check-failure', description: 'infra-controllers fails its health checks; dependants wait', healthCheckFails: true,
});

/**
 * The same push, with the health checks running to kustomize-controller's real timeout (spec.timeout 5m): the new ingress
 * controller pod is in ImagePullBackOff (its tag does not exist) from the start, so flux-monitor shows
 * infra-controllers Failing at once and, with fail_fast, ends the session failed after the grace period, long
 * before Flux's HealthCheckFailed.
 */
export const failFast: Scenario = fleetScenario({
  name: 'fail-fast', description: 'infra-controllers waits for a Deployment whose image does not exist; fail-fast decides before Flux', healthCheckFails: true, healthCheckTimesOut: true,
});

/**
 * Everything Flux does succeeds, and Pipelines-as-Code starts two Tekton PipelineRuns for the commit: the
 * build succeeds, the end-to-end tests fail one task. Messages as Tekton's controller writes them
 * (tektoncd/pipeline v1.3.0, pipelinerunstate.go). The demo follows them with `custom_kinds: [tekton-pipelineruns]`.
 */
export const pipelines: Scenario = {
  ...fleetScenario({ name: 'pipelines', description: 'Flux applies the push while its Tekton pipelines run: the build succeeds, the e2e tests fail' }),
  pipelineRuns: [
    {
      namespace: 'ci', name: 'fleet-build', createdAfterMs: 400,
      steps: [
        { afterMs: 300, status: 'Unknown', reason: 'Started', message: '' },
        { afterMs: 1500, status: 'Unknown', reason: 'Running', message: 'Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 2, Skipped: 0' },
        { afterMs: 4000, status: 'True', reason: 'Succeeded', message: 'Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0' },
      ],
    },
    {
      namespace: 'ci', name: 'fleet-e2e', createdAfterMs: 600,
      steps: [
        { afterMs: 300, status: 'Unknown', reason: 'Started', message: '' },
        { afterMs: 2000, status: 'Unknown', reason: 'Running', message: 'Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 3, Skipped: 0' },
        { afterMs: 14000, status: 'False', reason: 'Failed', message: 'Tasks Completed: 3 (Failed: 1, Cancelled 0), Skipped: 1' },
      ],
    },
  ],
};

/**
 * About `n` objects for benchmarks: GitRepository flux-system/fleet, HelmRepository flux-system/charts, and
 * Kustomizations app-<i> (each applying HelmReleases app-<i>-web and app-<i>-worker in team-<i%10>); every
 * 10th Kustomization depends on the previous one; pushed commits change the web values of every 5th app.
 */
export function large(n: number, timing: { ksMs?: number; hrMs?: number } = {}): Scenario {
  const count = Math.max(1, Math.floor((n - 2) / 3));
  const fast: Behavior = { startDelayMs: 100, durationMs: timing.ksMs ?? 400 };
  const hrFast: Behavior = { startDelayMs: 100, durationMs: timing.hrMs ?? 600 };
  const objects: ScenarioObject[] = [
    { manifest: gitRepository('flux-system', 'fleet', FLEET_URL), behavior: { '*': { startDelayMs: 200, durationMs: 300 } } },
    { manifest: helmRepository('flux-system', 'charts', 'https://charts.acme.dev') },
  ];
  for (let i = 0; i < count; i++) {
    const name = `app-${i}`;
    const team = `team-${i % 10}`;
    const deps = i % 10 !== 0 ? [`app-${i - 1}`] : undefined;
    const k = kustomization('flux-system', name, `./apps/${name}`, { source: 'fleet', dependsOn: deps });
    objects.push({ manifest: k, behavior: { '*': fast }, inventory: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace: team }] });
    for (const part of ['web', 'worker']) {
      objects.push({
        manifest: helmRelease(team, `${name}-${part}`, 'service', '2.3.0', { name: 'charts', namespace: 'flux-system' }, { image: { tag: '1.0.0' }, part }),
        appliedBy: `flux-system/${name}`,
        ...(part === 'web' && i % 5 === 0 ? { commits: { '*': { patch: { spec: { values: { image: { tag: '1.1.0' } } } } } } } : {}),
        behavior: { '*': hrFast },
      });
    }
  }
  return {
    name: `large-${n}`, description: `${objects.length} generated Flux objects`, repo: { url: FLEET_URL, branch: 'main' },
    requeueDependencyMs: 500, objects,
  };
}

export const SCENARIOS: Record<string, Scenario> = { demo, happy, 'source-failure': sourceFailure, 'health-check-failure': healthCheckFailure, 'fail-fast': failFast, pipelines };
