// The diagnosis of a failing health check against the real kube-apiserver: a Kustomization whose inventory
// lists Deployments, their pods, and the Kustomization's Events. No kubelet or kube-controller-manager runs, so
// the Deployments' and pods' statuses are written through the /status subresource, with the shapes the
// Deployment controller and the kubelet write (sources in test/unit/workloads.test.ts; the apiserver validates
// them: a status it would never get from the kubelet is rejected). Checks that the diagnosis names the
// Deployment, its rollout state and its pods' reasons, keeps the Events of the pushed revision, and that its
// requests do not grow with the number of healthy objects.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type KubeObject, type MonitorEvent } from '../../src/core/types.js';
import { gitReady, gitRepository, invId, kustomization, ksFailed, ksReady } from '../helpers/flux.js';
import { FluxObjects, SHA_NEW, SHA_OLD, startCluster, startEngine, stopEngines, TUNING, waitFor, type KubeCluster } from './support.js';

let cluster: KubeCluster;
let objs: FluxObjects;

beforeAll(async () => {
  cluster = await startCluster();
  objs = FluxObjects.forCluster(cluster);
});
afterEach(stopEngines);
afterAll(async () => {
  objs?.admin.close();
  await cluster?.stop();
});

const IMAGE = 'ghcr.io/acme/web:2.0.0';
const T = '2026-11-23T08:00:00Z';

/** Creates a Deployment or Pod (the apiserver drops status on create), then writes its status through /status. */
async function createWithStatus(path: string, obj: KubeObject, status: Record<string, unknown>): Promise<KubeObject> {
  const created = await objs.admin.create<KubeObject>(path, obj);
  const name = encodeURIComponent(obj.metadata.name);
  // The apiserver sets a pod's qosClass on create and keeps it immutable, as it is for the kubelet.
  const keep = created.status?.qosClass ? { qosClass: created.status.qosClass } : {};
  return objs.admin.replaceStatus<KubeObject>(`${path}/${name}`, { ...created, status: { ...keep, ...status } });
}

function deployment(ns: string, name: string, replicas: number, owner: Record<string, string>, probe = false): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { ...owner, app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: IMAGE, ...(probe ? { readinessProbe: { httpGet: { path: '/ready', port: 8080 } } } : {}) }] } },
    },
  };
}

function pod(ns: string, name: string, app: string, probe = false): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app, 'pod-template-hash': '7c9f8d6b5' } },
    spec: { containers: [{ name: 'app', image: IMAGE, ...(probe ? { readinessProbe: { httpGet: { path: '/ready', port: 8080 } } } : {}) }] },
  };
}

// pkg/kubelet/status/generate.go: Ready/ContainersReady False, reason ContainersNotReady.
const notReadyConditions = [
  { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: T },
  { type: 'Initialized', status: 'True', lastTransitionTime: T },
  { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]', lastTransitionTime: T },
  { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]', lastTransitionTime: T },
  { type: 'PodScheduled', status: 'True', lastTransitionTime: T },
];
const runningReady = {
  phase: 'Running',
  conditions: [
    { type: 'Initialized', status: 'True', lastTransitionTime: T },
    { type: 'Ready', status: 'True', lastTransitionTime: T },
    { type: 'ContainersReady', status: 'True', lastTransitionTime: T },
    { type: 'PodScheduled', status: 'True', lastTransitionTime: T },
  ],
  startTime: T,
  containerStatuses: [{ name: 'app', image: IMAGE, imageID: `${IMAGE}@sha256:${'e'.repeat(64)}`, ready: true, started: true, restartCount: 0, state: { running: { startedAt: T } } }],
};

interface Seeded {
  ns: string;
  apps: string;
  key: string;
  url: string;
  inventory: string[];
  message: string;
}

/**
 * Namespace `ns` holds the Flux objects, `ns`-apps the workloads: Deployment web (2 replicas: one pod in
 * ImagePullBackOff, one in CrashLoopBackOff), Deployment api (its pod runs, its readiness probe fails) and
 * `healthy` ready Deployments with a ready pod each, all in Kustomization apps's inventory.
 */
async function seed(ns: string, healthy: number): Promise<Seeded> {
  const apps = `${ns}-apps`;
  await objs.ensureNamespace(ns);
  await objs.ensureNamespace(apps);
  const url = `https://github.com/acme/${ns}.git`;
  const owner = { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': ns };
  const deploys = `/apis/apps/v1/namespaces/${apps}/deployments`;
  const pods = `/api/v1/namespaces/${apps}/pods`;
  const inventory = [invId(apps, 'web', 'apps', 'Deployment'), invId(apps, 'api', 'apps', 'Deployment'), invId(apps, 'web', '', 'Service')];
  for (let i = 0; i < healthy; i++) {
    const name = `ok-${i}`;
    inventory.push(invId(apps, name, 'apps', 'Deployment'));
    await createWithStatus(deploys, deployment(apps, name, 1, owner), {
      observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1,
      conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: T, lastTransitionTime: T }],
    });
    await createWithStatus(pods, { ...pod(apps, `${name}-7c9f8d6b5-a1b2c`, name) }, runningReady);
  }
  // The Deployment controller's status of a rollout whose pods never become available (pkg/controller/deployment).
  await createWithStatus(deploys, deployment(apps, 'web', 2, owner), {
    observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 0, availableReplicas: 0, unavailableReplicas: 2,
    conditions: [
      { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.', lastUpdateTime: T, lastTransitionTime: T },
      { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: 'ReplicaSet "web-7c9f8d6b5" is progressing.', lastUpdateTime: T, lastTransitionTime: T },
    ],
  });
  // pkg/kubelet/images: ImagePullBackOff, the back-off message wrapping the last pull error.
  await createWithStatus(pods, pod(apps, 'web-7c9f8d6b5-x2x8k', 'web'), {
    phase: 'Pending', conditions: notReadyConditions, startTime: T,
    containerStatuses: [{
      name: 'app', image: IMAGE, imageID: '', ready: false, started: false, restartCount: 0,
      state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${IMAGE}": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": ${IMAGE}: not found` } },
    }],
  });
  // pkg/kubelet/kuberuntime: CrashLoopBackOff, the last run's termination from the runtime.
  await createWithStatus(pods, pod(apps, 'web-7c9f8d6b5-q4wz8', 'web'), {
    phase: 'Running', conditions: notReadyConditions, startTime: T,
    containerStatuses: [{
      name: 'app', image: IMAGE, imageID: `${IMAGE}@sha256:${'e'.repeat(64)}`, ready: false, started: false, restartCount: 5,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 2m40s restarting failed container=app pod=web-7c9f8d6b5-q4wz8_team(1f2e)' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'panic: missing DATABASE_URL', startedAt: T, finishedAt: T } },
    }],
  });
  await createWithStatus(deploys, deployment(apps, 'api', 1, owner, true), {
    observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 0, availableReplicas: 0, unavailableReplicas: 1,
    conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.', lastUpdateTime: T, lastTransitionTime: T }],
  });
  // Running, started, not ready: the readiness probe fails; the kubelet's prober says why in an Unhealthy Event.
  await createWithStatus(pods, pod(apps, 'api-6d5f8c7b9-z9y8x', 'api', true), {
    phase: 'Running', conditions: notReadyConditions, startTime: T,
    containerStatuses: [{ name: 'app', image: IMAGE, imageID: `${IMAGE}@sha256:${'e'.repeat(64)}`, ready: false, started: true, restartCount: 0, state: { running: { startedAt: T } } }],
  });
  const event = (namespace: string, name: string, body: Record<string, unknown> & { metadata?: Record<string, unknown> }) => {
    const { metadata, ...rest } = body;
    return objs.admin.create(`/api/v1/namespaces/${namespace}/events`, { apiVersion: 'v1', kind: 'Event', metadata: { name, namespace, ...(metadata ?? {}) }, ...rest });
  };
  // pkg/kubelet/prober/prober.go: Warning Unhealthy "Readiness probe failed: <output>".
  await event(apps, 'api-6d5f8c7b9-z9y8x.unhealthy', {
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'api-6d5f8c7b9-z9y8x', namespace: apps, fieldPath: 'spec.containers{app}' },
    reason: 'Unhealthy', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503', type: 'Warning',
    source: { component: 'kubelet', host: 'node-1' }, firstTimestamp: T, lastTimestamp: T, count: 12,
  });

  await objs.create({ ...gitRepository('flux-system', url, 'main', ns), status: gitReady(SHA_OLD) });
  await objs.create({ ...kustomization('apps', { ns }), status: ksReady(SHA_OLD, inventory) });
  const message = `health check failed after 30.01s: timeout waiting for: [Deployment/${apps}/web status: 'InProgress', Deployment/${apps}/api status: 'InProgress']`;
  // kustomize-controller's Events (fluxcd/pkg/runtime AnnotatedEventf): one of the previous revision, one of the pushed one.
  const ksEvent = (name: string, sha: string, reason: string, msg: string, type: string, at: string) =>
    event(ns, name, {
      metadata: { annotations: { 'kustomize.toolkit.fluxcd.io/revision': `main@sha1:${sha}` } },
      involvedObject: { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: 'apps', namespace: ns },
      reason, message: msg, type, source: { component: 'kustomize-controller' }, firstTimestamp: at, lastTimestamp: at, count: 1,
    });
  await ksEvent('apps.1', SHA_OLD, 'ReconciliationSucceeded', 'Reconciliation finished in 1.2s, next run in 10m0s', 'Normal', '2026-11-23T07:00:00Z');
  await ksEvent('apps.2', SHA_NEW, 'HealthCheckFailed', message, 'Warning', new Date().toISOString().replace(/\.\d+Z$/, 'Z'));
  return { ns, apps, key: `Kustomization/${ns}/apps`, url, inventory, message };
}

const diagnosisOf = (events: MonitorEvent[], key: string) =>
  events.filter((e): e is Extract<MonitorEvent, { type: 'diagnosis' }> => e.type === 'diagnosis' && e.key === key).at(-1)?.diagnosis;

describe('diagnosis against a real kube-apiserver', () => {
  it('names the Deployments, their rollout state and their pods’ reasons, with the Events of the pushed revision; requests flat in the healthy objects', async () => {
    const counts: Record<number, number> = {};
    for (const healthy of [3, 30]) {
      const s = await seed(`diag-${healthy}`, healthy);
      const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: s.url });
      await run.session();
      await objs.setStatus({ kind: 'GitRepository', namespace: s.ns, name: 'flux-system' }, gitReady(SHA_NEW));
      // The health check of the pushed commit fails; the inventory stays (kustomize-controller keeps it).
      await objs.setStatus({ kind: 'Kustomization', namespace: s.ns, name: 'apps' }, { ...ksFailed(SHA_NEW, SHA_OLD, 'HealthCheckFailed', s.message), inventory: { entries: s.inventory.map((id) => ({ id, v: 'v1' })) } });
      const final = await run.p;
      expect(final.verdict).toBe('failed');
      const d = diagnosisOf(run.events, s.key)!;
      expect(d, 'a diagnosis event').toBeDefined();
      expect(final.nodes[s.key]!.diagnosis).toEqual(d);
      // The health check names what it waits for: only that is read, whatever else the inventory holds.
      expect(d.readyWorkloads).toBe(0);
      expect(d.notes).toEqual([]);
      // In the health check's order.
      expect(d.workloads.map((w) => `${w.kind} ${w.namespace}/${w.name}`)).toEqual([`Deployment ${s.apps}/web`, `Deployment ${s.apps}/api`]);
      const [web, api] = d.workloads;
      expect(web!.rollout).toEqual({ desired: 2, updated: 2, ready: 0, available: 0, generation: 1, observedGeneration: 1 });
      expect(web!.summary).toBe('2/2 updated, 0/2 ready, 0/2 available; generation 1 observed');
      expect(web!.pods.map((p) => [p.name, p.problems[0]!.reason])).toEqual([
        ['web-7c9f8d6b5-x2x8k', 'ImagePullBackOff'],
        ['web-7c9f8d6b5-q4wz8', 'CrashLoopBackOff'],
      ]);
      expect(web!.pods[0]!.problems[0]).toMatchObject({ image: IMAGE, container: 'app' });
      expect(web!.pods[1]!.problems[0]).toMatchObject({ restarts: 5, lastTermination: { reason: 'Error', exitCode: 1, message: 'panic: missing DATABASE_URL' } });
      expect(api!.pods[0]!.problems[0]).toEqual({ reason: 'Unready', container: 'app', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503' });
      expect(d.events.map((e) => [e.reason, e.revision])).toEqual([['HealthCheckFailed', `main@sha1:${SHA_NEW}`]]);
      counts[healthy] = d.requests;
      expect(run.client().stats.byVerb.diagnose).toBe(d.requests);
    }
    // LIST Deployments web and api (the health check names them: field selectors), LIST the pods of each, LIST
    // the Unhealthy events of their namespace, LIST the Kustomization's Events: the same with 3 or 30 healthy ones.
    expect(counts).toEqual({ 3: 6, 30: 6 });
  });

  it('a Kustomization slow in its health checks: the Deployments of its inventory by the owner labels, one LIST whatever their number', async () => {
    const counts: Record<number, number> = {};
    for (const healthy of [3, 30]) {
      const s = await seed(`diag-slow-${healthy}`, healthy);
      const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: s.url, tuning: { ...TUNING, healthSlowMs: 200, diagnoseEveryMs: 100 } });
      await run.session();
      await objs.setStatus({ kind: 'GitRepository', namespace: s.ns, name: 'flux-system' }, gitReady(SHA_NEW));
      // kustomize-controller applied the commit and waits for its health checks: nothing is named yet.
      const rev = `main@sha1:${SHA_NEW}`;
      await objs.setStatus({ kind: 'Kustomization', namespace: s.ns, name: 'apps' }, {
        observedGeneration: 1,
        lastAttemptedRevision: rev,
        lastAppliedRevision: `main@sha1:${SHA_OLD}`,
        inventory: { entries: s.inventory.map((id) => ({ id, v: 'v1' })) },
        conditions: [
          { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'Reconciliation in progress', observedGeneration: 1, lastTransitionTime: T },
          { type: 'Reconciling', status: 'True', reason: 'Progressing', message: `Running health checks for revision ${rev} with a timeout of 5m0s`, observedGeneration: 1, lastTransitionTime: T },
        ],
      });
      await waitFor('the diagnosis of the slow health check', () => !!diagnosisOf(run.events, s.key));
      const d = diagnosisOf(run.events, s.key)!;
      expect(d.readyWorkloads).toBe(healthy);
      expect(d.workloads.map((w) => w.name)).toEqual(['api', 'web']);
      expect(run.events.find((e) => e.type === 'diagnosis')).toMatchObject({ phase: 'Progressing' });
      counts[healthy] = d.requests;
      run.stop();
      await run.p;
    }
    // GET, one LIST of Deployments (owner labels), the pods of api and web, api's Unhealthy events, the Events.
    expect(counts).toEqual({ 3: 6, 30: 6 });
  });

  it('a user who may not read workloads or events gets one-line notes, and the verdict stays failed', async () => {
    const s = await seed('diag-rbac', 1);
    // limited-user reads Flux objects in team-a only: give it a fleet there whose workloads live in diag-rbac-apps.
    const ns = 'team-a';
    const url = 'https://github.com/acme/diag-rbac-limited.git';
    await objs.create({ ...gitRepository('diag-rbac', url, 'main', ns), status: gitReady(SHA_OLD) });
    await objs.create({ ...kustomization('diag-rbac', { ns, source: 'diag-rbac' }), status: ksReady(SHA_OLD, s.inventory) });
    const run = startEngine({ kubeconfig: cluster.limitedKubeconfigPath, repoUrl: url, config: { ...DEFAULT_CONFIG, timeout: 90, namespaces: ['team-a'] } });
    await run.session();
    await objs.setStatus({ kind: 'GitRepository', namespace: ns, name: 'diag-rbac' }, gitReady(SHA_NEW));
    await objs.setStatus({ kind: 'Kustomization', namespace: ns, name: 'diag-rbac' }, { ...ksFailed(SHA_NEW, SHA_OLD, 'HealthCheckFailed', s.message), inventory: { entries: s.inventory.map((id) => ({ id, v: 'v1' })) } });
    const final = await run.p;
    expect(final.verdict).toBe('failed');
    // (The cluster-wide lists the limited user may not make give their own routine error events at start.)
    expect(run.events.filter((e) => e.type === 'error' && /deployments|pods|events/.test(e.message))).toEqual([]);
    const d = diagnosisOf(run.events, `Kustomization/${ns}/diag-rbac`)!;
    expect(d.notes).toEqual([`cannot read deployments in ${s.apps} (forbidden)`, 'cannot read events in team-a (forbidden)']);
  });
});
