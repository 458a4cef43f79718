// The FluxPlayer driving scenarios on the simulator, read back through REST like a monitor would.
import { afterEach, describe, expect, it } from 'vitest';
import type { Condition, KubeObject } from '../../src/core/types.js';
import { FluxPlayer } from '../../src/sim/flux-player.js';
import { RestClient } from '../../src/sim/rest.js';
import { demo, happy, healthCheckFailure, large, pushCommit, setupScenario, sourceFailure, type Scenario } from '../../src/sim/scenarios.js';
import { ApiSimulator, type ApiSimulatorOptions } from '../../src/sim/server.js';
import type { StoreEvent } from '../../src/sim/store.js';
import { startSimulatedCluster } from '../../src/sim/index.js';
import { KINDS } from '../../src/core/kinds.js';
import { startSim } from '../helpers/engine.js';

const OLD = '1111111111111111111111111111111111111111';
const NEW = '2222222222222222222222222222222222222222';
const NEWER = '3333333333333333333333333333333333333333';
const OLD_REV = `main@sha1:${OLD}`;
const NEW_REV = `main@sha1:${NEW}`;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Rig {
  sim: ApiSimulator;
  client: RestClient;
  player: FluxPlayer;
  /** Every change the simulator stored, in order. */
  history: StoreEvent[];
  get(kind: string, ns: string, name: string): Promise<KubeObject>;
}

/** The object's path at the served version (the legacy API: the previous one), from src/core/kinds.ts. */
function objectPath(kind: string, ns: string, name: string, legacy: boolean): string {
  const k = KINDS.find((x) => x.kind === kind)!;
  return `/apis/${k.group}/${k.versions[legacy ? 1 : 0]}/namespaces/${ns}/${k.plural}/${name}`;
}

async function rig(scenario: Scenario, opts: { sim?: ApiSimulatorOptions; speed?: number } = {}): Promise<Rig> {
  const { sim, stop } = await startSim(opts.sim);
  cleanups.push(stop);
  const client = RestClient.fromKubeconfigString(sim.kubeconfig({ admin: true }));
  cleanups.push(() => client.close());
  await setupScenario(client, scenario, OLD);
  const history: StoreEvent[] = [];
  sim.store.subscribe((e) => history.push(e));
  const player = new FluxPlayer(client, scenario, { speed: opts.speed ?? 20, tickMs: 20 });
  cleanups.push(() => player.stop());
  const legacy = opts.sim?.fluxApi === 'legacy';
  return { sim, client, player, history, get: (kind, ns, name) => client.get(objectPath(kind, ns, name, legacy)) };
}

function cond(o: KubeObject, type: string): Condition | undefined {
  return (o.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met in time; last value: ${JSON.stringify(v).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Ready reasons an object went through, in order, without repeats. */
function readyReasons(history: StoreEvent[], kind: string, ns: string, name: string): string[] {
  const out: string[] = [];
  for (const e of history) {
    if (e.obj.kind !== kind || e.obj.metadata.namespace !== ns || e.obj.metadata.name !== name) continue;
    const r = cond(e.obj, 'Ready')?.reason ?? '-';
    if (out[out.length - 1] !== r) out.push(r);
  }
  return out;
}

describe('setupScenario', () => {
  it('creates the demo objects in their steady state at the initial commit', async () => {
    const { get, sim } = await rig(demo);
    const src = await get('GitRepository', 'flux-system', 'flux-system');
    expect(src.status?.artifact?.revision).toBe(OLD_REV);
    expect(cond(src, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded', message: `stored artifact for revision '${OLD_REV}'` });
    expect(src.status?.observedGeneration).toBe(1);

    const apps = await get('Kustomization', 'flux-system', 'apps');
    expect(apps.status).toMatchObject({ lastAppliedRevision: OLD_REV, lastAttemptedRevision: OLD_REV, observedGeneration: 1 });
    expect(cond(apps, 'Ready')).toMatchObject({ status: 'True', reason: 'ReconciliationSucceeded', message: `Applied revision: ${OLD_REV}` });
    expect(apps.status?.inventory?.entries).toEqual(expect.arrayContaining([
      { id: 'apps_podinfo_helm.toolkit.fluxcd.io_HelmRelease', v: 'v2' },
      { id: 'apps_redis_helm.toolkit.fluxcd.io_HelmRelease', v: 'v2' },
      { id: 'apps_podinfo_source.toolkit.fluxcd.io_HelmRepository', v: 'v1' },
      { id: '_apps__Namespace', v: 'v1' },
    ]));
    const root = await get('Kustomization', 'flux-system', 'flux-system');
    expect(root.status?.inventory?.entries).toContainEqual({ id: 'flux-system_monitoring_kustomize.toolkit.fluxcd.io_Kustomization', v: 'v1' });

    const podinfo = await get('HelmRelease', 'apps', 'podinfo');
    expect(podinfo.metadata.labels).toMatchObject({ 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' });
    expect(podinfo.status).toMatchObject({ observedGeneration: 1, lastAttemptedGeneration: 1, lastAttemptedRevision: '6.7.1', helmChart: 'apps/apps-podinfo' });
    expect(podinfo.status?.history).toHaveLength(1);
    expect(podinfo.status?.history[0]).toMatchObject({ chartName: 'podinfo', chartVersion: '6.7.1', status: 'deployed', version: 1, name: 'podinfo', namespace: 'apps' });
    expect(cond(podinfo, 'Ready')).toMatchObject({ status: 'True', reason: 'InstallSucceeded', message: 'Helm install succeeded for release apps/podinfo.v1 with chart podinfo@6.7.1' });
    const chart = await get('HelmChart', 'apps', 'apps-podinfo');
    expect(chart.spec).toMatchObject({ chart: 'podinfo', version: '6.7.1', sourceRef: { kind: 'HelmRepository', name: 'podinfo' } });
    expect(cond(chart, 'Ready')).toMatchObject({ status: 'True', reason: 'ChartPullSucceeded', message: "pulled 'podinfo' chart with version '6.7.1'" });

    // The unrelated repository has its own commit.
    const other = await get('GitRepository', 'flux-system', 'platform-charts');
    expect(other.status?.artifact?.revision).toMatch(/^main@sha1:[0-9a-f]{40}$/);
    expect(other.status?.artifact?.revision).not.toBe(OLD_REV);
    // Every condition has the metav1.Condition required fields.
    for (const o of sim.list()) {
      for (const c of (o.status?.conditions ?? []) as Condition[]) {
        expect(c.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(c.reason).toMatch(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/);
        expect(typeof c.message).toBe('string');
      }
    }
  });
});

describe('FluxPlayer on the demo scenario', () => {
  it('plays a push to the expected final statuses', async () => {
    const r = await rig(demo);
    const platformRv = (await r.get('Kustomization', 'flux-system', 'platform')).metadata.resourceVersion;
    await r.player.start();
    expect(pushCommit(r.player, NEW)).toBe(1);

    // (Flux writes conditions first, then the rest of the status: wait for the fields too.)
    const redis = await until(() => r.get('HelmRelease', 'apps', 'redis'), (o) => cond(o, 'Ready')?.reason === 'UpgradeFailed' && o.status?.failures === 1);
    const podinfo = await until(() => r.get('HelmRelease', 'apps', 'podinfo'), (o) => cond(o, 'Ready')?.reason === 'UpgradeSucceeded' && !cond(o, 'Reconciling'));
    const monitoring = await until(() => r.get('Kustomization', 'flux-system', 'monitoring'), (o) => cond(o, 'Ready')?.message === "dependency 'flux-system/monitoring-crds' is not ready");

    const src = await r.get('GitRepository', 'flux-system', 'flux-system');
    expect(src.status?.artifact?.revision).toBe(NEW_REV);
    expect(cond(src, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded', message: `stored artifact for revision '${NEW_REV}'` });
    for (const name of ['flux-system', 'infra-controllers', 'infra-configs', 'apps']) {
      const k = await r.get('Kustomization', 'flux-system', name);
      expect(cond(k, 'Ready'), name).toMatchObject({ status: 'True', reason: 'ReconciliationSucceeded', message: `Applied revision: ${NEW_REV}` });
      expect(k.status?.lastAppliedRevision).toBe(NEW_REV);
      expect(cond(k, 'Reconciling')).toBeUndefined();
    }
    const controllers = await r.get('Kustomization', 'flux-system', 'infra-controllers');
    expect(cond(controllers, 'Healthy')).toMatchObject({ status: 'True', reason: 'Succeeded' });

    // podinfo: new generation from the applied commit, upgraded; history newest first.
    expect(podinfo.metadata.generation).toBe(2);
    expect(podinfo.spec.values.replicaCount).toBe(3);
    expect(podinfo.status).toMatchObject({ observedGeneration: 2, lastAttemptedGeneration: 2, lastAttemptedReleaseAction: 'upgrade' });
    expect(podinfo.status?.history.map((h: { version: number; status: string }) => `${h.version}:${h.status}`)).toEqual(['2:deployed', '1:superseded']);
    expect(cond(podinfo, 'Ready')?.message).toBe('Helm upgrade succeeded for release apps/podinfo.v2 with chart podinfo@6.7.1');

    // redis: the upgrade failed on the values schema, before Helm made a release: as helm-controller leaves it,
    // Reconciling stays True (reason Progressing, the action's message), no Stalled, history unchanged.
    expect(cond(redis, 'Ready')).toMatchObject({ status: 'False', reason: 'UpgradeFailed' });
    expect(cond(redis, 'Ready')?.message).toMatch(/^Helm upgrade failed for release apps\/redis with chart redis@20\.6\.0: values don't meet the specifications/);
    expect(cond(redis, 'Reconciling')).toMatchObject({ status: 'True', reason: 'Progressing', message: "Running 'upgrade' action with timeout of 5m0s" });
    expect(cond(redis, 'Stalled')).toBeUndefined();
    expect(redis.status?.history.map((h: { version: number; status: string }) => `${h.version}:${h.status}`)).toEqual(['1:deployed']);
    expect(redis.status).toMatchObject({ failures: 1, lastAttemptedRevision: '20.6.0', lastAttemptedReleaseAction: 'upgrade' });
    expect(redis.status?.upgradeFailures).toBeUndefined();

    // monitoring-crds failed to build the new commit; monitoring waits on it.
    const crds = await r.get('Kustomization', 'flux-system', 'monitoring-crds');
    expect(cond(crds, 'Ready')).toMatchObject({ status: 'False', reason: 'BuildFailed' });
    expect(cond(crds, 'Ready')?.message).toMatch(/^kustomize build failed: /);
    expect(cond(crds, 'Reconciling')).toMatchObject({ status: 'True', reason: 'ProgressingWithRetry', message: `Building manifests for revision ${NEW_REV} with a timeout of 5m0s` });
    expect(crds.status).toMatchObject({ lastAttemptedRevision: NEW_REV, lastAppliedRevision: OLD_REV });
    expect(cond(monitoring, 'Ready')).toMatchObject({ status: 'False', reason: 'DependencyNotReady' });
    expect(monitoring.status?.lastAppliedRevision).toBe(OLD_REV);
    // kube-prometheus-stack was not delivered: still the old spec.
    expect((await r.get('HelmRelease', 'monitoring', 'kube-prometheus-stack')).metadata.generation).toBe(1);

    // Order: configs waited for controllers, apps for configs; sources went through Progressing first.
    expect(readyReasons(r.history, 'Kustomization', 'flux-system', 'infra-configs')).toEqual(
      expect.arrayContaining(['DependencyNotReady', 'Progressing', 'ReconciliationSucceeded']),
    );
    expect(readyReasons(r.history, 'Kustomization', 'flux-system', 'infra-configs').at(-1)).toBe('ReconciliationSucceeded');
    expect(readyReasons(r.history, 'GitRepository', 'flux-system', 'flux-system')).toEqual(['Progressing', 'Succeeded']);
    const lastApplied = (name: string) => r.history.findIndex((e) => e.obj.kind === 'Kustomization' && e.obj.metadata.name === name && e.obj.status?.lastAppliedRevision === NEW_REV);
    expect(lastApplied('infra-controllers')).toBeLessThan(lastApplied('infra-configs'));
    expect(lastApplied('infra-configs')).toBeLessThan(lastApplied('apps'));

    // Unrelated objects untouched; events recorded with the revision annotation.
    expect((await r.get('Kustomization', 'flux-system', 'platform')).metadata.resourceVersion).toBe(platformRv);
    const events = r.sim.list('Event');
    const ksEvent = events.find((e) => (e as { involvedObject?: { name?: string } }).involvedObject?.name === 'apps' && (e as { reason?: string }).reason === 'ReconciliationSucceeded');
    expect(ksEvent?.metadata.annotations?.['kustomize.toolkit.fluxcd.io/revision']).toBe(NEW_REV);
    expect(r.player.errors).toBe(0);
  });

  it('handles reconcile requests, suspension and a second push', async () => {
    const r = await rig(happy);
    await r.client.mergePatch(objectPath('Kustomization', 'flux-system', 'apps', false), { spec: { suspend: true } });
    await r.player.start();
    pushCommit(r.player, NEW);
    await until(() => r.get('Kustomization', 'flux-system', 'infra-configs'), (o) => o.status?.lastAppliedRevision === NEW_REV);
    const suspended = await r.get('Kustomization', 'flux-system', 'apps');
    expect(suspended.status?.lastAttemptedRevision).toBe(OLD_REV);

    // A reconcile request on a Kustomization is handled (lastHandledReconcileAt) without a new revision.
    const token = '2026-01-01T00:00:00.123456789Z';
    await r.client.mergePatch(objectPath('Kustomization', 'flux-system', 'infra-configs', false), {
      metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': token } },
    });
    const handled = await until(() => r.get('Kustomization', 'flux-system', 'infra-configs'), (o) => o.status?.lastHandledReconcileAt === token);
    expect(cond(handled, 'Ready')?.reason).toBe('ReconciliationSucceeded');

    // Resume, push again: a requested source reconcile fetches at once; everything ends on the newest commit.
    await r.client.mergePatch(objectPath('Kustomization', 'flux-system', 'apps', false), { spec: { suspend: false } });
    expect(pushCommit(r.player, NEWER)).toBe(2);
    await r.client.mergePatch(objectPath('GitRepository', 'flux-system', 'flux-system', false), {
      metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': 'now-1' } },
    });
    const apps = await until(() => r.get('Kustomization', 'flux-system', 'apps'), (o) => o.status?.lastAppliedRevision === `main@sha1:${NEWER}`);
    expect(cond(apps, 'Ready')?.status).toBe('True');
    expect((await r.get('GitRepository', 'flux-system', 'flux-system')).status?.lastHandledReconcileAt).toBe('now-1');
    const redis = await until(() => r.get('HelmRelease', 'apps', 'redis'), (o) => cond(o, 'Ready')?.reason === 'UpgradeSucceeded' && !cond(o, 'Reconciling'));
    expect(redis.status?.history[0]).toMatchObject({ status: 'deployed', version: 2 });
    // monitoring is not blocked in the happy scenario.
    await until(() => r.get('Kustomization', 'flux-system', 'monitoring'), (o) => o.status?.lastAppliedRevision === `main@sha1:${NEWER}`);
  });

  it('source failure: the GitRepository fails and nothing downstream moves', async () => {
    const r = await rig(sourceFailure);
    await r.player.start();
    pushCommit(r.player, NEW);
    const src = await until(() => r.get('GitRepository', 'flux-system', 'flux-system'), (o) => cond(o, 'Ready')?.status === 'False');
    expect(cond(src, 'Ready')).toMatchObject({ reason: 'GitOperationFailed' });
    expect(cond(src, 'Ready')?.message).toContain("unable to clone 'https://github.com/acme/fleet.git': authentication required");
    expect(cond(src, 'FetchFailed')?.status).toBe('True');
    expect(src.status?.artifact?.revision).toBe(OLD_REV);
    await new Promise((res) => setTimeout(res, 300));
    const apps = await r.get('Kustomization', 'flux-system', 'apps');
    expect(apps.status?.lastAttemptedRevision).toBe(OLD_REV);
    expect(cond(apps, 'Ready')?.status).toBe('True');
  });

  it('health check failure keeps dependants waiting', async () => {
    const r = await rig(healthCheckFailure);
    await r.player.start();
    pushCommit(r.player, NEW);
    const c = await until(() => r.get('Kustomization', 'flux-system', 'infra-controllers'), (o) => cond(o, 'Ready')?.reason === 'HealthCheckFailed');
    expect(cond(c, 'Ready')?.message).toMatch(/^health check failed after [\d.]+s: timeout waiting for: \[Deployment\/ingress-nginx\/ingress-nginx-controller status: 'InProgress'\]$/);
    expect(cond(c, 'Healthy')).toMatchObject({ status: 'False', reason: 'HealthCheckFailed' });
    expect(c.status?.lastAppliedRevision).toBe(OLD_REV);
    const configs = await until(() => r.get('Kustomization', 'flux-system', 'infra-configs'), (o) => cond(o, 'Ready')?.message === "dependency 'flux-system/infra-controllers' is not ready");
    expect(configs.status?.lastAttemptedRevision).toBe(OLD_REV);
  });

  it('works with the legacy Flux API versions (discovery)', async () => {
    const r = await rig(happy, { sim: { fluxApi: 'legacy' } });
    const ks = await r.get('Kustomization', 'flux-system', 'apps');
    expect(ks.apiVersion).toBe('kustomize.toolkit.fluxcd.io/v1beta2');
    expect(ks.status?.inventory?.entries).toContainEqual({ id: 'apps_podinfo_helm.toolkit.fluxcd.io_HelmRelease', v: 'v2beta2' });
    await r.player.start();
    pushCommit(r.player, NEW);
    await until(() => r.get('HelmRelease', 'apps', 'podinfo'), (o) => cond(o, 'Ready')?.reason === 'UpgradeSucceeded');
  });

  it('refuses to start without the Flux CRDs', async () => {
    const sim = new ApiSimulator({ fluxApi: 'none' });
    await sim.start();
    cleanups.push(() => sim.stop());
    const client = new RestClient({ server: sim.url });
    cleanups.push(() => client.close());
    await expect(new FluxPlayer(client, demo).start()).rejects.toThrow(/not served/);
    await expect(setupScenario(client, demo, OLD)).rejects.toThrow(/not served/);
  });

  it('keeps going through an API server outage', async () => {
    const r = await rig(happy);
    await r.player.start();
    pushCommit(r.player, NEW);
    await until(() => r.get('GitRepository', 'flux-system', 'flux-system'), (o) => o.status?.artifact?.revision === NEW_REV);
    await r.sim.setUnavailable(true);
    await until(async () => r.player.errors, (n) => n > 0);
    await r.sim.setUnavailable(false);
    await until(() => r.get('HelmRelease', 'apps', 'redis'), (o) => cond(o, 'Ready')?.reason === 'UpgradeSucceeded');
  });
});

describe('startSimulatedCluster', () => {
  it('brings up simulator, steady state and player; a push reaches the non-admin user', async () => {
    const cluster = await startSimulatedCluster({ scenario: happy, sim: { token: 'user-token' }, player: { speed: 20, tickMs: 20 } });
    cleanups.push(() => cluster.stop());
    expect(cluster.initialSha).toMatch(/^[0-9a-f]{40}$/);
    const user = RestClient.fromKubeconfigString(cluster.sim.kubeconfig());
    cleanups.push(() => user.close());
    const path = objectPath('GitRepository', 'flux-system', 'flux-system', false);
    expect((await user.get(path)).status?.artifact?.revision).toBe(`main@sha1:${cluster.initialSha}`);
    expect(cluster.push(NEW)).toBe(1);
    await until(() => user.get(path), (o) => o.status?.artifact?.revision === NEW_REV);
    expect(cluster.sim.stats().requests).toBeGreaterThan(0);
    expect(cluster.sim.stats().adminRequests).toBeGreaterThan(cluster.sim.stats().requests);
  });
});

describe('large scenario', () => {
  it('generates about n objects and plays a push over them', async () => {
    const scenario = large(302, { ksMs: 100, hrMs: 100 });
    expect(scenario.objects).toHaveLength(302);
    const r = await rig(scenario, { speed: 5 });
    expect(r.sim.list().filter((o) => o.kind !== 'HelmChart')).toHaveLength(302);
    await r.player.start();
    pushCommit(r.player, NEW);
    // app-99 depends (transitively) on app-90; its web release is one of the changed ones? (every 5th app).
    const last = await until(() => r.get('Kustomization', 'flux-system', 'app-99'), (o) => o.status?.lastAppliedRevision === NEW_REV, 60_000);
    expect(cond(last, 'Ready')?.status).toBe('True');
    const web = await until(() => r.get('HelmRelease', 'team-5', 'app-95-web'), (o) => cond(o, 'Ready')?.reason === 'UpgradeSucceeded', 60_000);
    expect(web.spec.values.image.tag).toBe('1.1.0');
    const worker = await r.get('HelmRelease', 'team-5', 'app-95-worker');
    expect(worker.metadata.generation).toBe(1);
  }, 90_000);
});
