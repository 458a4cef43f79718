// The diagnosis of a failing health check, through the engine, against the API simulator: what it reads (the
// Kustomization's inventory, the workloads, the pods of the one not ready, the Kustomization's Events), what it
// finds, the requests it makes (flat in the number of healthy objects), RBAC notes, slow health checks, and
// what the session ends with (the diagnosis event, the summary, the state). Pod statuses have the kubelet's
// shapes (see test/unit/workloads.test.ts for their sources).
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiSimulator, ApiSimulatorOptions } from '../../src/sim/server.js';
import type { RunOptions } from '../../src/engine/run.js';
import { cleanup, FLEET_URL, startEngine, startSim as startSimulator, waitFor } from '../helpers/engine.js';
import { diagnosisTrigger } from '../../src/core/verdict.js';
import type { KubeObject, MonitorEvent } from '../../src/core/types.js';
import type { ClientStats } from '../../src/cluster/client.js';
import { cond, gitReady, gitRepository, invId, kustomization, ksFailed, ksReady, SHA_NEW, SHA_OLD } from '../helpers/flux.js';

const URL_ = FLEET_URL;
const KS = { kind: 'Kustomization', namespace: 'flux-system', name: 'apps' };
const KS_KEY = 'Kustomization/flux-system/apps';
const IMAGE = 'ghcr.io/acme/web:2.0.0';
const HEALTH_MSG = "health check failed after 30s: timeout waiting for: [Deployment/team/web status: 'InProgress']";

let sim: ApiSimulator;
let kubeconfig: string;

async function startSim(opts: ApiSimulatorOptions = {}) {
  ({ sim, kubeconfig } = await startSimulator(opts));
}

afterEach(cleanup);

const owner = { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' };

function deployment(name: string, replicas: number, status: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name, namespace: 'team', labels: { ...owner, app: name } },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: IMAGE }] } } },
    status: { observedGeneration: 1, ...status },
  };
}

function pod(name: string, app: string, status: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'team', labels: { app } }, spec: { containers: [{ name: 'app', image: IMAGE }] }, status };
}

const running = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'app', image: IMAGE, ready: true, started: true, restartCount: 0, state: { running: { startedAt: '2026-11-23T08:00:00Z' } } }] };
const notReady = [
  { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]' },
  { type: 'PodScheduled', status: 'True' },
];

let inventory: string[] = [];

/** Kustomization apps applies Deployment team/web (never ready: one pod cannot pull, one crash-loops) and `healthy` ready Deployments. */
function seed(healthy: number) {
  sim.apply({ ...gitRepository('flux-system', URL_), status: gitReady(SHA_OLD) });
  inventory = [invId('team', 'web', 'apps', 'Deployment'), invId('team', 'web', '', 'Service')];
  for (let i = 0; i < healthy; i++) {
    const name = `ok-${i}`;
    inventory.push(invId('team', name, 'apps', 'Deployment'));
    sim.apply(deployment(name, 1, { replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }));
    sim.apply(pod(`${name}-6d5f8c7b9-a1b2c`, name, running));
  }
  sim.apply({ ...kustomization('apps'), status: ksReady(SHA_OLD, inventory) });
  sim.apply(deployment('web', 2, {
    replicas: 2, updatedReplicas: 2, readyReplicas: 0, availableReplicas: 0, unavailableReplicas: 2,
    conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }],
  }));
  sim.apply(pod('web-7c9f8d6b5-x2x8k', 'web', {
    phase: 'Pending', conditions: notReady,
    containerStatuses: [{ name: 'app', image: IMAGE, ready: false, started: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${IMAGE}": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "${IMAGE}": ${IMAGE}: not found` } } }],
  }));
  sim.apply(pod('web-7c9f8d6b5-q4wz8', 'web', {
    phase: 'Running', conditions: notReady,
    containerStatuses: [{
      name: 'app', image: IMAGE, ready: false, started: false, restartCount: 5,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 2m40s restarting failed container=app pod=web-7c9f8d6b5-q4wz8_team(1f2e)' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'panic: connect to postgres://app:hunter2@db:5432 failed' } },
    }],
  }));
  // kustomize-controller's events: one of the previous revision, one of the pushed one.
  const event = (name: string, sha: string, reason: string, message: string, at: string) =>
    sim.apply({
      apiVersion: 'v1', kind: 'Event',
      metadata: { name, namespace: 'flux-system', annotations: { 'kustomize.toolkit.fluxcd.io/revision': `main@sha1:${sha}` } },
      involvedObject: { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: 'apps', namespace: 'flux-system' },
      reason, message, type: reason === 'HealthCheckFailed' ? 'Warning' : 'Normal', lastTimestamp: at, count: 1,
      source: { component: 'kustomize-controller' },
    } as KubeObject);
  event('apps.old', SHA_OLD, 'ReconciliationSucceeded', 'Reconciliation finished in 2s', '2026-11-23T07:00:00Z');
  event('apps.new', SHA_NEW, 'HealthCheckFailed', HEALTH_MSG, new Date().toISOString());
}

const run = (over: Partial<RunOptions> = {}) => startEngine({ kubeconfig, ...over });

/** The health check of the pushed commit fails. */
function failHealthCheck() {
  sim.setStatus({ kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' }, gitReady(SHA_NEW));
  // kustomize-controller keeps the inventory of what it applied when the health check fails.
  sim.setStatus(KS, { ...ksFailed(SHA_NEW, SHA_OLD, 'HealthCheckFailed', HEALTH_MSG), inventory: { entries: inventory.map((id) => ({ id, v: 'v1' })) } });
}

const diagnosisOf = (events: MonitorEvent[]) =>
  events.filter((e): e is Extract<MonitorEvent, { type: 'diagnosis' }> => e.type === 'diagnosis' && e.key === KS_KEY).at(-1)?.diagnosis;

describe('diagnosis of a failing health check', () => {
  it('names the Deployment, its rollout state and its pods’ reasons; keeps the Events of the pushed revision; requests flat in the healthy objects', async () => {
    const requests: number[] = [];
    for (const healthy of [2, 40]) {
      await startSim();
      seed(healthy);
      const r = run();
      await waitFor(() => r.events.some((e) => e.type === 'session'));
      failHealthCheck();
      const final = await r.p;
      expect(final.verdict).toBe('failed');
      const d = diagnosisOf(r.events)!;
      expect(d, 'a diagnosis event').toBeDefined();
      // The health check names what it waits for: only that is read.
      expect(d.readyWorkloads).toBe(0);
      expect(d.workloads).toHaveLength(1);
      const web = d.workloads[0]!;
      expect(web).toMatchObject({ kind: 'Deployment', namespace: 'team', name: 'web', ready: false, rollout: { desired: 2, updated: 2, ready: 0, available: 0, generation: 1, observedGeneration: 1 } });
      expect(web.summary).toBe('2/2 updated, 0/2 ready, 0/2 available; generation 1 observed');
      expect(web.pods.map((p) => [p.name, p.problems[0]!.reason])).toEqual([
        ['web-7c9f8d6b5-x2x8k', 'ImagePullBackOff'],
        ['web-7c9f8d6b5-q4wz8', 'CrashLoopBackOff'],
      ]);
      expect(web.pods[0]!.problems[0]!.image).toBe(IMAGE);
      // The container's last termination, sanitised: no password in the session or the JSON.
      expect(web.pods[1]!.problems[0]!.lastTermination).toEqual({ reason: 'Error', exitCode: 1, message: 'panic: connect to postgres://***@db:5432 failed' });
      expect(JSON.stringify(final)).not.toContain('hunter2');
      expect(JSON.stringify(r.events)).not.toContain('hunter2');
      // Only the Event of the pushed revision.
      expect(d.events.map((e) => e.reason)).toEqual(['HealthCheckFailed']);
      expect(d.events[0]!.revision).toBe(`main@sha1:${SHA_NEW}`);
      // In the final state and in the summary, for those who read only the last line.
      expect(final.nodes[KS_KEY]!.diagnosis).toEqual(d);
      const summary = r.events.at(-1);
      expect(summary?.type).toBe('summary');
      expect((summary as Extract<MonitorEvent, { type: 'summary' }>).objects.find((o) => o.key === KS_KEY)!.diagnosis).toEqual(d);
      // The diagnosis event comes before the summary.
      expect(r.events.findIndex((e) => e.type === 'diagnosis')).toBeLessThan(r.events.length - 1);
      requests.push(d.requests);
      await sim.stop();
    }
    // LIST Deployment team/web (the health check names it: a field selector), LIST its pods, LIST the
    // Kustomization's Events. The Kustomization's inventory is not even read.
    expect(requests).toEqual([3, 3]);
  });

  it('a namespace RBAC forbids gives a note, never an error verdict', async () => {
    await startSim({ forbidNamespaces: ['team'] });
    seed(1);
    const r = run();
    await waitFor(() => r.events.some((e) => e.type === 'session'));
    failHealthCheck();
    const final = await r.p;
    expect(final.verdict).toBe('failed');
    expect(r.events.filter((e) => e.type === 'error')).toEqual([]);
    const d = diagnosisOf(r.events)!;
    expect(d.notes).toEqual(['cannot read deployments in team (forbidden)']);
    expect(d.workloads).toEqual([]);
  });

  it('a Kustomization slow in its health checks is diagnosed before it fails; the diagnosis goes when it is Ready', async () => {
    await startSim();
    seed(2);
    let stats: ClientStats | undefined;
    const r = run({ onClient: (c) => (stats = c.stats), tuning: { backoffMs: 20, maxBackoffMs: 200, stallMs: 2000, settleDelayMs: 300, healthSlowMs: 100, diagnoseEveryMs: 50 } });
    await waitFor(() => r.events.some((e) => e.type === 'session'));
    sim.setStatus({ kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' }, gitReady(SHA_NEW));
    const rev = `main@sha1:${SHA_NEW}`;
    sim.setStatus(KS, {
      observedGeneration: 1,
      lastAttemptedRevision: rev,
      lastAppliedRevision: `main@sha1:${SHA_OLD}`,
      inventory: { entries: inventory.map((id) => ({ id, v: 'v1' })) },
      conditions: [cond('Ready', 'Unknown', 'Progressing', 'Reconciliation in progress'), cond('Reconciling', 'True', 'Progressing', `Running health checks for revision ${rev} with a timeout of 5m0s`)],
    });
    await waitFor(() => !!diagnosisOf(r.events));
    const d = diagnosisOf(r.events)!;
    // Nothing named yet: the workloads of the inventory, one LIST of Deployments in team by the owner labels.
    expect(d.workloads.map((w) => w.name)).toEqual(['web']);
    expect(d.readyWorkloads).toBe(2);
    expect(d.requests).toBe(4);
    expect(stats!.byVerb.diagnose).toBe(4);
    expect(r.events.find((e) => e.type === 'diagnosis')).toMatchObject({ phase: 'Progressing' });
    sim.setStatus(KS, ksReady(SHA_NEW, [invId('team', 'web', 'apps', 'Deployment')]));
    const final = await r.p;
    expect(final.verdict).toBe('success');
    expect(final.nodes[KS_KEY]!.diagnosis).toBeUndefined();
  });

  it('reads nothing for a failure that is not about workloads (a build error)', async () => {
    await startSim();
    seed(1);
    let stats: ClientStats | undefined;
    const r = run({ onClient: (c) => (stats = c.stats) });
    await waitFor(() => r.events.some((e) => e.type === 'session'));
    sim.setStatus({ kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' }, gitReady(SHA_NEW));
    sim.setStatus(KS, ksFailed(SHA_NEW, SHA_OLD, 'BuildFailed', 'kustomize build failed: accumulating resources: missing.yaml: no such file or directory'));
    const final = await r.p;
    expect(final.verdict).toBe('failed');
    expect(r.events.some((e) => e.type === 'diagnosis')).toBe(false);
    expect(stats!.byVerb.diagnose).toBeUndefined();
  });
});

describe('diagnosisTrigger: which states are diagnosed', () => {
  // helm v4 pkg/kube/statuswait.go: "resource %s/%s/%s not ready. status: %s, message: %s", then the context error.
  const helmWait = 'Helm upgrade failed for release team/web with chart web@1.2.0: resource Deployment/team/web not ready. status: InProgress, message: Deployment is not ready: team/web. 0 out of 2 expected pods are ready\ncontext deadline exceeded';
  it.each([
    ['Kustomization', 'Failed', 'HealthCheckFailed', HEALTH_MSG, 'failed'],
    ['Kustomization', 'Failed', 'BuildFailed', 'kustomize build failed: missing.yaml', undefined],
    ['Kustomization', 'Failed', 'ReconciliationFailed', 'ConfigMap/team/x dry-run failed: invalid', undefined],
    ['Kustomization', 'Progressing', 'Progressing', 'Running health checks for revision main@sha1:abc with a timeout of 5m0s', 'health'],
    ['Kustomization', 'Progressing', 'Progressing', 'Building manifests for revision main@sha1:abc', undefined],
    ['HelmRelease', 'Failed', 'UpgradeFailed', helmWait, 'failed'],
    ['HelmRelease', 'Stalled', 'RetriesExceeded', 'Failed to install after 1 attempt(s): context deadline exceeded', 'failed'],
    ['HelmRelease', 'Failed', 'UpgradeFailed', "Helm upgrade failed for release apps/redis with chart redis@20.6.0: values don't meet the specifications of the schema(s)", undefined],
    ['GitRepository', 'Failed', 'GitOperationFailed', 'timeout while cloning', undefined],
    // Failing (fail-fast): Flux still waits, a workload it waits for settles it.
    ['Kustomization', 'Failing', 'CrashLoopBackOff', 'pod web-1: CrashLoopBackOff: 3 restarts; Flux gives up in 4m12s', 'failed'],
    ['HelmRelease', 'Failing', 'CreateContainerConfigError', "pod web-1: CreateContainerConfigError: couldn't find key A in ConfigMap team/web", 'failed'],
  ] as const)('%s %s %s', (kind, phase, reason, message, expected) => {
    expect(diagnosisTrigger({ kind, phase, reason, message })).toBe(expected);
  });
});
