// The API simulator against @kubernetes/client-node itself (and raw HTTP where the client hides details).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig, PatchStrategy, Watch, makeInformer, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiSimulator, type ApiSimulatorOptions } from '../../src/sim/server.js';
import { cleanup, startSim as startSimulator } from '../helpers/engine.js';
import type { KubeObject } from '../../src/core/types.js';

const SRC = { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' };
const KS = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' };

afterEach(cleanup);

const startSim = async (opts: ApiSimulatorOptions = {}): Promise<ApiSimulator> => (await startSimulator(opts)).sim;

function gitRepo(ns: string, name: string, extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: ns },
    spec: { interval: '1m', url: `https://github.com/acme/${name}.git`, ref: { branch: 'main' } },
    ...extra,
  };
}

function clientFor(sim: ApiSimulator, opts: Parameters<ApiSimulator['kubeconfig']>[0] = {}): { kc: KubeConfig; api: CustomObjectsApi } {
  const kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfig(opts));
  return { kc, api: kc.makeApiClient(CustomObjectsApi) };
}

async function getJson(sim: ApiSimulator, path: string, token?: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(sim.url + path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** Collects watch events until `until` says stop (or the watch ends); resolves with the events and the done error. */
function collectWatch(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  until: (events: Array<{ type: string; obj: any }>) => boolean,
): Promise<{ events: Array<{ type: string; obj: any }>; err: unknown; controller?: AbortController }> {
  return new Promise((resolve) => {
    const events: Array<{ type: string; obj: any }> = [];
    let controller: AbortController | undefined;
    let finished = false;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      controller?.abort();
      resolve({ events, err, controller });
    };
    void new Watch(kc)
      .watch(path, query, (type, obj) => {
        events.push({ type, obj });
        if (until(events)) finish(null);
      }, (err) => finish(err === undefined ? 'closed' : err))
      .then((c) => {
        controller = c;
        if (finished) c.abort();
      });
  });
}

describe('discovery', () => {
  it('serves /api, /apis, group versions with status subresources, and /version', async () => {
    const sim = await startSim();
    const api = await getJson(sim, '/api');
    expect(api.body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const apis = await getJson(sim, '/apis');
    expect(apis.body.kind).toBe('APIGroupList');
    const helm = apis.body.groups.find((g: any) => g.name === 'helm.toolkit.fluxcd.io');
    expect(helm.preferredVersion).toEqual({ groupVersion: 'helm.toolkit.fluxcd.io/v2', version: 'v2' });
    const src = await getJson(sim, '/apis/source.toolkit.fluxcd.io/v1');
    expect(src.body.kind).toBe('APIResourceList');
    const names = src.body.resources.map((r: any) => r.name);
    expect(names).toEqual(expect.arrayContaining([
      'gitrepositories', 'gitrepositories/status', 'ocirepositories', 'helmrepositories', 'helmcharts', 'buckets', 'buckets/status',
    ]));
    const gr = src.body.resources.find((r: any) => r.name === 'gitrepositories');
    expect(gr).toMatchObject({ kind: 'GitRepository', namespaced: true, shortNames: ['gitrepo'], categories: ['all', 'fluxcd', 'fluxcd-sources'] }); // as the real GitRepository CRD lists them
    expect(gr.verbs).toEqual(expect.arrayContaining(['get', 'list', 'watch', 'patch', 'update']));
    const core = await getJson(sim, '/api/v1');
    expect(core.body.resources.map((r: any) => r.name)).toEqual(expect.arrayContaining(['namespaces', 'events']));
    const version = await getJson(sim, '/version');
    expect(version.body).toMatchObject({ major: '1', minor: '34', gitVersion: 'v1.34.1' });
  });

  it('legacy mode serves only the beta versions; none mode has no Flux groups', async () => {
    const legacy = await startSim({ fluxApi: 'legacy' });
    legacy.apply(gitRepo('flux-system', 'a'));
    const ks = await getJson(legacy, '/apis/kustomize.toolkit.fluxcd.io');
    expect(ks.body.preferredVersion.version).toBe('v1beta2');
    expect((await getJson(legacy, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories')).status).toBe(404);
    const list = await getJson(legacy, '/apis/source.toolkit.fluxcd.io/v1beta2/gitrepositories');
    expect(list.body.items[0].apiVersion).toBe('source.toolkit.fluxcd.io/v1beta2');

    const none = await startSim({ fluxApi: 'none' });
    const apis = await getJson(none, '/apis');
    // Only the built-in groups are left: apps (the Flux controllers' Deployments, workloads) and batch (Jobs).
    expect(apis.body.groups.map((g: { name: string }) => g.name)).toEqual(['apps', 'batch']);
    const missing = await getJson(none, '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
  });

  it('both mode prefers the current version and converts apiVersion per request', async () => {
    const sim = await startSim({ fluxApi: 'both' });
    sim.apply(gitRepo('flux-system', 'a'));
    const g = await getJson(sim, '/apis/source.toolkit.fluxcd.io');
    expect(g.body.versions.map((v: any) => v.version)).toEqual(['v1', 'v1beta2']);
    const old = await getJson(sim, '/apis/source.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/gitrepositories/a');
    expect(old.body.apiVersion).toBe('source.toolkit.fluxcd.io/v1beta2');
  });
});

describe('CRUD through client-node', () => {
  it('lists cluster-wide and per namespace with kind List and apiVersion on items', async () => {
    const sim = await startSim();
    sim.apply(gitRepo('flux-system', 'fleet'));
    sim.apply(gitRepo('apps', 'podinfo'));
    const { api } = clientFor(sim);
    const all: any = await api.listClusterCustomObject(SRC);
    expect(all.kind).toBe('GitRepositoryList');
    expect(all.apiVersion).toBe('source.toolkit.fluxcd.io/v1');
    expect(all.items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`)).toEqual(['apps/podinfo', 'flux-system/fleet']);
    expect(all.items[0]).toMatchObject({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository' });
    expect(Number(all.metadata.resourceVersion)).toBeGreaterThan(0);
    const ns: any = await api.listNamespacedCustomObject({ ...SRC, namespace: 'apps' });
    expect(ns.items).toHaveLength(1);
    const bySelector: any = await api.listClusterCustomObject({ ...SRC, fieldSelector: 'metadata.name=fleet' });
    expect(bySelector.items.map((i: any) => i.metadata.name)).toEqual(['fleet']);
  });

  it('creates (status dropped but for the CRD default, generation 1), rejects duplicates with 409 AlreadyExists and unknown namespaces with 404', async () => {
    const sim = await startSim();
    sim.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } });
    const { api } = clientFor(sim);
    const created: any = await api.createNamespacedCustomObject({
      ...SRC, namespace: 'apps', body: gitRepo('apps', 'podinfo', { status: { observedGeneration: 9 } }),
    });
    expect(created.metadata).toMatchObject({ generation: 1, namespace: 'apps' });
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.creationTimestamp).toMatch(/Z$/);
    // The status given is dropped; what remains is the default every real Flux CRD declares for status.
    expect(created.status).toEqual({ observedGeneration: -1 });
    const dup = await api.createNamespacedCustomObject({ ...SRC, namespace: 'apps', body: gitRepo('apps', 'podinfo') }).catch((e) => e);
    expect(dup.code).toBe(409);
    expect(JSON.parse(dup.body)).toMatchObject({ reason: 'AlreadyExists', message: 'gitrepositories.source.toolkit.fluxcd.io "podinfo" already exists' });
    const noNs = await api.createNamespacedCustomObject({ ...SRC, namespace: 'nope', body: gitRepo('nope', 'x') }).catch((e) => e);
    expect(noNs.code).toBe(404);
    expect(JSON.parse(noNs.body).message).toBe('namespaces "nope" not found');
  });

  it('get of a missing object is a NotFound Status', async () => {
    const sim = await startSim();
    const { api } = clientFor(sim);
    const err = await api.getNamespacedCustomObject({ ...SRC, namespace: 'flux-system', name: 'missing' }).catch((e) => e);
    expect(err.code).toBe(404);
    expect(JSON.parse(err.body)).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404,
      message: 'gitrepositories.source.toolkit.fluxcd.io "missing" not found',
      details: { name: 'missing', group: 'source.toolkit.fluxcd.io', kind: 'gitrepositories' },
    });
  });

  it('bumps generation only on spec changes; main-resource writes ignore status; /status writes ignore spec', async () => {
    const sim = await startSim();
    sim.apply(gitRepo('flux-system', 'fleet'));
    const { api } = clientFor(sim);
    const ref = { ...SRC, namespace: 'flux-system', name: 'fleet' };
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

    const labelled: any = await api.patchNamespacedCustomObject({ ...ref, body: { metadata: { labels: { team: 'a' } } } }, merge);
    expect(labelled.metadata.generation).toBe(1);
    expect(labelled.metadata.labels).toEqual({ team: 'a' });

    const specChanged: any = await api.patchNamespacedCustomObject({ ...ref, body: { spec: { interval: '5m' } } }, merge);
    expect(specChanged.metadata.generation).toBe(2);
    expect(specChanged.spec.url).toBe('https://github.com/acme/fleet.git');

    const statusViaMain: any = await api.patchNamespacedCustomObject({ ...ref, body: { status: { observedGeneration: 2 } } }, merge);
    expect(statusViaMain.status).toEqual({ observedGeneration: -1 });
    expect(statusViaMain.metadata.resourceVersion).toBe(specChanged.metadata.resourceVersion); // no-op: not written

    const withStatus: any = await api.patchNamespacedCustomObjectStatus(
      { ...ref, body: { spec: { interval: '9m' }, status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True' }] } } },
      merge,
    );
    expect(withStatus.status.observedGeneration).toBe(2);
    expect(withStatus.spec.interval).toBe('5m');
    expect(withStatus.metadata.generation).toBe(2);

    // Default patch type of client-node 1.x is JSON patch.
    const jp: any = await api.patchNamespacedCustomObject({ ...ref, body: [{ op: 'replace', path: '/spec/interval', value: '10m' }] });
    expect(jp.spec.interval).toBe('10m');
    expect(jp.metadata.generation).toBe(3);
    expect(jp.status.observedGeneration).toBe(2);

    const badTest = await api.patchNamespacedCustomObject({ ...ref, body: [{ op: 'test', path: '/spec/interval', value: 'x' }] }).catch((e) => e);
    expect(badTest.code).toBe(422);
  });

  it('PUT with a stale resourceVersion is a 409 Conflict; PUT keeps the status', async () => {
    const sim = await startSim();
    sim.apply(gitRepo('flux-system', 'fleet', { status: { observedGeneration: 1 } }));
    const { api } = clientFor(sim);
    const ref = { ...SRC, namespace: 'flux-system', name: 'fleet' };
    const cur: any = await api.getNamespacedCustomObject(ref);
    const updated: any = await api.replaceNamespacedCustomObject({ ...ref, body: { ...cur, spec: { ...cur.spec, interval: '2m' }, status: {} } });
    expect(updated.metadata.generation).toBe(2);
    expect(updated.status).toEqual({ observedGeneration: 1 });
    const stale = await api.replaceNamespacedCustomObject({ ...ref, body: cur }).catch((e) => e);
    expect(stale.code).toBe(409);
    expect(JSON.parse(stale.body)).toMatchObject({
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on gitrepositories.source.toolkit.fluxcd.io "fleet": the object has been modified; please apply your changes to the latest version and try again',
    });
    const statusPut: any = await api.replaceNamespacedCustomObjectStatus({ ...ref, body: { ...updated, status: { observedGeneration: 2 } } });
    expect(statusPut.status).toEqual({ observedGeneration: 2 });
  });

  it('deletes, honouring finalizers with a deletionTimestamp until they are removed', async () => {
    const sim = await startSim();
    sim.apply(gitRepo('flux-system', 'plain'));
    const heldMeta = { name: 'held', namespace: 'flux-system', finalizers: ['finalizers.fluxcd.io'] };
    sim.apply(gitRepo('flux-system', 'held', { metadata: heldMeta as KubeObject['metadata'] }));
    const { api } = clientFor(sim);
    await api.deleteNamespacedCustomObject({ ...SRC, namespace: 'flux-system', name: 'plain' });
    expect(sim.get({ kind: 'GitRepository', namespace: 'flux-system', name: 'plain' })).toBeUndefined();
    const held: any = await api.deleteNamespacedCustomObject({ ...SRC, namespace: 'flux-system', name: 'held' });
    expect(held.metadata.deletionTimestamp).toBeDefined();
    expect(held.metadata.generation).toBe(2);
    await api.patchNamespacedCustomObject(
      { ...SRC, namespace: 'flux-system', name: 'held', body: { metadata: { finalizers: null } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(sim.get({ kind: 'GitRepository', namespace: 'flux-system', name: 'held' })).toBeUndefined();
  });
});

describe('pagination', () => {
  it('pages with limit/continue like the real server and expires continue tokens after compaction', async () => {
    const sim = await startSim();
    for (let i = 0; i < 25; i++) sim.apply(gitRepo(`ns-${i % 3}`, `repo-${String(i).padStart(2, '0')}`));
    const { api } = clientFor(sim);
    const seen: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    let firstRv: string | undefined;
    do {
      const page: any = await api.listClusterCustomObject({ ...SRC, limit: 10, _continue: cont });
      firstRv ??= page.metadata.resourceVersion;
      expect(page.metadata.resourceVersion).toBe(firstRv);
      seen.push(...page.items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`));
      cont = page.metadata.continue;
      if (cont) expect(page.metadata.remainingItemCount).toBe(25 - seen.length);
      pages++;
    } while (cont);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    expect([...seen].sort()).toEqual(seen);

    const first: any = await api.listClusterCustomObject({ ...SRC, limit: 5 });
    sim.apply(gitRepo('ns-0', 'late'));
    sim.compact();
    const gone = await api.listClusterCustomObject({ ...SRC, limit: 5, _continue: first.metadata.continue }).catch((e) => e);
    expect(gone.code).toBe(410);
    expect(JSON.parse(gone.body)).toMatchObject({ reason: 'Expired', code: 410 });
  });

  it('lists 10,000 objects in one response and in pages', async () => {
    const sim = await startSim();
    for (let i = 0; i < 10_000; i++) {
      sim.apply({
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization',
        metadata: { name: `ks-${i}`, namespace: `team-${i % 20}` },
        spec: { interval: '10m', path: `./apps/${i}`, prune: true, sourceRef: { kind: 'GitRepository', name: 'fleet', namespace: 'flux-system' } },
        status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: 'Applied revision: main@sha1:abc' }] },
      });
    }
    const { api } = clientFor(sim);
    const all: any = await api.listClusterCustomObject(KS);
    expect(all.items).toHaveLength(10_000);
    const page: any = await api.listNamespacedCustomObject({ ...KS, namespace: 'team-7', limit: 100 });
    expect(page.items).toHaveLength(100);
    expect(page.metadata.remainingItemCount).toBe(400);
  });
});

describe('watch through client-node', () => {
  it('sends synthetic ADDED for existing objects, then live events', async () => {
    const sim = await startSim();
    sim.apply(gitRepo('flux-system', 'fleet'));
    const { kc } = clientFor(sim);
    const done = collectWatch(kc, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories', {}, (ev) => ev.length >= 3);
    await waitFor(() => sim.stats().openWatches === 1);
    sim.setStatus({ kind: 'GitRepository', namespace: 'flux-system', name: 'fleet' }, { observedGeneration: 1 });
    sim.delete({ kind: 'GitRepository', namespace: 'flux-system', name: 'fleet' });
    const { events } = await done;
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(events[1]!.obj.status).toEqual({ observedGeneration: 1 });
    expect(events[0]!.obj.apiVersion).toBe('source.toolkit.fluxcd.io/v1');
  });

  it('resumes from a resourceVersion by replaying later events only', async () => {
    const sim = await startSim();
    const a = sim.apply(gitRepo('flux-system', 'a'));
    sim.apply(gitRepo('flux-system', 'b'));
    sim.apply(gitRepo('apps', 'c'));
    const { kc } = clientFor(sim);
    const { events } = await collectWatch(
      kc, '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories',
      { resourceVersion: a.metadata.resourceVersion }, (ev) => ev.length >= 1,
    );
    expect(events.map((e) => `${e.type} ${e.obj.metadata.name}`)).toEqual(['ADDED b']);
  });

  it('answers a resourceVersion older than the window with an ERROR 410 Expired event and closes', async () => {
    const sim = await startSim();
    const a = sim.apply(gitRepo('flux-system', 'a'));
    sim.apply(gitRepo('flux-system', 'b'));
    sim.compact();
    const { kc } = clientFor(sim);
    const { events, err } = await collectWatch(kc, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories', { resourceVersion: a.metadata.resourceVersion }, () => false);
    expect(events).toHaveLength(1);
    expect(events[0]!.type).toBe('ERROR');
    expect(events[0]!.obj).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 });
    expect(events[0]!.obj.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
    expect(err).toBeNull(); // stream ended normally
  });

  it('bounds the window: events that fell out of historyLimit are expired too', async () => {
    const sim = await startSim({ historyLimit: 5 });
    const first = sim.apply(gitRepo('flux-system', 'a'));
    for (let i = 0; i < 10; i++) sim.apply(gitRepo('flux-system', `x${i}`));
    const res = await fetch(`${sim.url}/apis/source.toolkit.fluxcd.io/v1/gitrepositories?watch=true&resourceVersion=${first.metadata.resourceVersion}`);
    const text = await res.text();
    expect(JSON.parse(text.trim()).object.reason).toBe('Expired');
  });

  it('sends BOOKMARK events when allowed and closes the stream after timeoutSeconds', async () => {
    const sim = await startSim({ bookmarkIntervalMs: 50 });
    const { kc } = clientFor(sim);
    const { events, err } = await collectWatch(kc, '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations', { allowWatchBookmarks: true, timeoutSeconds: 1 }, () => false);
    expect(err).toBeNull();
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.type === 'BOOKMARK')).toBe(true);
    expect(events[0]!.obj).toMatchObject({ kind: 'Kustomization', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' });
    expect(events[0]!.obj.metadata.resourceVersion).toBe(sim.resourceVersion);
  });

  it('forgets a watch when its client goes away', async () => {
    const sim = await startSim();
    const ctl = new AbortController();
    const res = await fetch(`${sim.url}/apis/source.toolkit.fluxcd.io/v1/gitrepositories?watch=true`, { signal: ctl.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    await waitFor(() => sim.stats().openWatches === 1);
    ctl.abort();
    await waitFor(() => sim.stats().openWatches === 0);
    sim.apply(gitRepo('flux-system', 'after')); // no writes to a closed stream
    expect(sim.stats().watchesStarted).toBe(1);
  });

  it('filters watch events by label selector', async () => {
    const sim = await startSim();
    const { kc } = clientFor(sim);
    const done = collectWatch(kc, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories', { labelSelector: 'team in (a,b),!skip' }, (ev) => ev.length >= 1);
    await waitFor(() => sim.stats().openWatches === 1);
    sim.apply(gitRepo('flux-system', 'other', { metadata: { name: 'other', namespace: 'flux-system', labels: { team: 'c' } } }));
    sim.apply(gitRepo('flux-system', 'skipped', { metadata: { name: 'skipped', namespace: 'flux-system', labels: { team: 'a', skip: 'y' } } }));
    sim.apply(gitRepo('flux-system', 'mine', { metadata: { name: 'mine', namespace: 'flux-system', labels: { team: 'b' } } }));
    const { events } = await done;
    expect(events.map((e) => e.obj.metadata.name)).toEqual(['mine']);
  });
});

describe('informer and watch semantics', () => {
  it('client-node informer relists after a watch resumes from a compacted resourceVersion (410)', async () => {
    const sim = await startSim();
    sim.apply(gitRepo('flux-system', 'a'));
    const { kc, api } = clientFor(sim);
    const informer = makeInformer(kc, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories', () => api.listClusterCustomObject(SRC) as never);
    const errors: unknown[] = [];
    let connects = 0;
    informer.on('error', (e) => errors.push(e));
    informer.on('connect', () => connects++);
    await informer.start();
    try {
      await waitFor(() => sim.stats().openWatches === 1);
      const listsBefore = sim.stats().requestsByVerb.list ?? 0;
      sim.apply(gitRepo('flux-system', 'b'));
      await waitFor(() => informer.list().length === 2);
      // The watch ends cleanly; before the informer re-watches, c is added and the history compacted: the
      // re-watch from b's resourceVersion gets 410 and the informer relists.
      sim.closeWatchesNow();
      sim.apply(gitRepo('flux-system', 'c'));
      sim.compact();
      await waitFor(() => informer.list().length === 3 && sim.stats().openWatches === 1);
      expect((sim.stats().requestsByVerb.list ?? 0)).toBeGreaterThan(listsBefore);
      expect(connects).toBeGreaterThanOrEqual(2);
      expect(errors).toEqual([]);
    } finally {
      await informer.stop();
    }
  });

  it('sendInitialEvents ends the initial ADDED events with the initial-events-end bookmark', async () => {
    const sim = await startSim();
    sim.apply(gitRepo('flux-system', 'a'));
    const ctl = new AbortController();
    const res = await fetch(`${sim.url}/apis/source.toolkit.fluxcd.io/v1/gitrepositories?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`, { signal: ctl.signal });
    const reader = res.body!.getReader();
    let text = '';
    while (text.split('\n').length < 3) text += new TextDecoder().decode((await reader.read()).value);
    ctl.abort();
    const [added, bookmark] = text.split('\n').map((l) => (l ? JSON.parse(l) : undefined));
    expect(added.type).toBe('ADDED');
    expect(bookmark).toMatchObject({ type: 'BOOKMARK', object: { metadata: { annotations: { 'k8s.io/initial-events-end': 'true' } } } });
  });
});

describe('kubectl', () => {
  it('answers Table requests with the Flux printer columns', async () => {
    const sim = await startSim();
    sim.apply(gitRepo('flux-system', 'fleet', {
      status: { conditions: [{ type: 'Ready', status: 'False', reason: 'GitOperationFailed', message: 'auth failed' }] },
    }));
    const res = await fetch(`${sim.url}/apis/source.toolkit.fluxcd.io/v1/gitrepositories`, {
      headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json' },
    });
    const table = await res.json();
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'URL', 'Age', 'Ready', 'Status']);
    expect(table.rows[0].cells).toEqual(['fleet', 'https://github.com/acme/fleet.git', expect.stringMatching(/^\d+s$/), 'False', 'auth failed']);
    expect(table.rows[0].object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'fleet', namespace: 'flux-system' } });
  });

  const kubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
  it.skipIf(!kubectl)('kubectl get/patch work against the simulator', async () => {
    const sim = await startSim();
    sim.apply(gitRepo('flux-system', 'fleet'));
    const dir = await mkdtemp(join(tmpdir(), 'sim-kubectl-'));
    const env = { ...process.env, KUBECONFIG: await sim.writeKubeconfig(join(dir, 'config')), HOME: dir };
    // Async: the simulator runs in this process.
    const run = async (...args: string[]) => (await promisify(execFile)(kubectl!, args, { env, encoding: 'utf8', timeout: 20_000 })).stdout;
    expect(await run('get', 'gitrepo', '-A')).toMatch(/flux-system\s+fleet\s+https:\/\/github.com\/acme\/fleet.git/);
    await run('patch', 'gitrepositories.source.toolkit.fluxcd.io', 'fleet', '-n', 'flux-system', '--type', 'merge', '-p', '{"spec":{"interval":"5m"}}');
    expect(JSON.parse(await run('get', 'gitrepo', 'fleet', '-n', 'flux-system', '-o', 'json')).metadata.generation).toBe(2);
  });
});

describe('auth and RBAC injection', () => {
  it('401 without the right bearer token; works with it', async () => {
    const sim = await startSim({ token: 's3cret' });
    const { api: wrong } = clientFor(sim, { token: 'nope' });
    const err = await wrong.listClusterCustomObject(SRC).catch((e) => e);
    expect(err.code).toBe(401);
    // client-node drops the body of a 401; the raw response carries the Status.
    const raw = await getJson(sim, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories', 'nope');
    expect(raw.body).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    const { api } = clientFor(sim);
    const ok: any = await api.listClusterCustomObject(SRC);
    expect(ok.items).toEqual([]);
    const kc = sim.kubeconfig();
    expect(kc).toContain('token: s3cret');
    expect(kc).toContain('insecure-skip-tls-verify: true');
  });

  it('403 with the real message shape for forbidden namespaces and cluster scope', async () => {
    const sim = await startSim({ forbidNamespaces: ['secret'], forbidClusterWide: true, user: 'jane' });
    sim.apply(gitRepo('secret', 'x'));
    sim.apply(gitRepo('apps', 'y'));
    const { api } = clientFor(sim);
    const cluster = await api.listClusterCustomObject(SRC).catch((e) => e);
    expect(cluster.code).toBe(403);
    expect(JSON.parse(cluster.body)).toMatchObject({
      reason: 'Forbidden', code: 403,
      message: 'gitrepositories.source.toolkit.fluxcd.io is forbidden: User "jane" cannot list resource "gitrepositories" in API group "source.toolkit.fluxcd.io" at the cluster scope',
    });
    const ns = await api.getNamespacedCustomObject({ ...SRC, namespace: 'secret', name: 'x' }).catch((e) => e);
    expect(JSON.parse(ns.body).message).toBe(
      'gitrepositories.source.toolkit.fluxcd.io "x" is forbidden: User "jane" cannot get resource "gitrepositories" in API group "source.toolkit.fluxcd.io" in the namespace "secret"',
    );
    const allowed: any = await api.listNamespacedCustomObject({ ...SRC, namespace: 'apps' });
    expect(allowed.items).toHaveLength(1);
    // The admin token is not subject to RBAC injection.
    const { api: admin } = clientFor(sim, { admin: true });
    expect(((await admin.listClusterCustomObject(SRC)) as any).items).toHaveLength(2);
  });

  it('allowNamespaces restricts to those namespaces and forbids cluster scope', async () => {
    const sim = await startSim({ allowNamespaces: ['apps'] });
    const other = await getJson(sim, '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories');
    expect(other.status).toBe(403);
    expect((await getJson(sim, '/apis/source.toolkit.fluxcd.io/v1/namespaces/apps/gitrepositories')).status).toBe(200);
    expect((await getJson(sim, '/api/v1/namespaces')).status).toBe(403);
  });

  it('disableWatch rejects the watch verb (403 by default, 405 on request) while lists work', async () => {
    const sim = await startSim({ disableWatch: true });
    const w = await getJson(sim, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories?watch=true');
    expect(w.status).toBe(403);
    expect(w.body.message).toContain('cannot watch resource "gitrepositories"');
    sim.disableWatch = 405;
    expect((await getJson(sim, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories?watch=1')).body.reason).toBe('MethodNotAllowed');
    expect((await getJson(sim, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories')).status).toBe(200);
  });
});

describe('fault injection', () => {
  it('failNext answers the next matching requests with the given status and Retry-After', async () => {
    const sim = await startSim();
    sim.failNext({ status: 429, count: 2, retryAfterSeconds: 3, pathMatch: '/kustomizations' });
    const other = await getJson(sim, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories');
    expect(other.status).toBe(200);
    const first = await getJson(sim, '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations');
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('3');
    expect(first.body).toMatchObject({ kind: 'Status', reason: 'TooManyRequests', code: 429, details: { retryAfterSeconds: 3 } });
    expect((await getJson(sim, '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations')).status).toBe(429);
    expect((await getJson(sim, '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations')).status).toBe(200);

    sim.failNext({ status: 500, verb: 'list' });
    const { api } = clientFor(sim);
    const err = await api.listClusterCustomObject(SRC).catch((e) => e);
    expect(err.code).toBe(500);
    expect(JSON.parse(err.body).reason).toBe('InternalError');
    sim.failNext({ status: 503 });
    expect((await getJson(sim, '/version')).body.reason).toBe('ServiceUnavailable');
  });

  it('dropWatchesNow ends open watches with an error on the client', async () => {
    const sim = await startSim();
    const { kc } = clientFor(sim);
    const done = collectWatch(kc, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories', {}, () => false);
    await waitFor(() => sim.stats().openWatches === 1);
    expect(sim.dropWatchesNow()).toBe(1);
    const { err } = await done;
    expect(err).toBeInstanceOf(Error);
    expect(sim.stats().openWatches).toBe(0);
  });

  it('malformedWatchFrame sends a broken JSON line on open watches', async () => {
    const sim = await startSim();
    const ctl = new AbortController();
    const res = await fetch(`${sim.url}/apis/source.toolkit.fluxcd.io/v1/gitrepositories?watch=true`, { signal: ctl.signal });
    const reader = res.body!.getReader();
    await waitFor(() => sim.stats().openWatches === 1);
    sim.malformedWatchFrame();
    sim.apply(gitRepo('flux-system', 'after'));
    let text = '';
    while (text.split('\n').length < 3) text += new TextDecoder().decode((await reader.read()).value);
    const lines = text.split('\n');
    expect(() => JSON.parse(lines[0]!)).toThrow();
    expect(JSON.parse(lines[1]!).object.metadata.name).toBe('after');
    ctl.abort();
  });

  it('stallWatches holds events back, then delivers them in order', async () => {
    const sim = await startSim();
    const { kc } = clientFor(sim);
    const got: string[] = [];
    const done = collectWatch(kc, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories', {}, (ev) => {
      got.push(ev[ev.length - 1]!.obj.metadata.name);
      return ev.length >= 2;
    });
    await waitFor(() => sim.stats().openWatches === 1);
    sim.stallWatches(1500);
    sim.apply(gitRepo('flux-system', 'one'));
    sim.apply(gitRepo('flux-system', 'two'));
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([]);
    const { events } = await done;
    expect(events.map((e) => e.obj.metadata.name)).toEqual(['one', 'two']);
  });

  it('setUnavailable refuses connections, then serves again on the same port', async () => {
    const sim = await startSim();
    sim.apply(gitRepo('flux-system', 'fleet'));
    const url = sim.url;
    await sim.setUnavailable(true);
    const err = await fetch(`${url}/version`).catch((e) => e);
    expect(err.cause?.code).toBe('ECONNREFUSED');
    await sim.setUnavailable(false);
    expect(sim.url).toBe(url);
    const back = await getJson(sim, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories');
    expect(back.body.items).toHaveLength(1);
  });
});

describe('stats and kubeconfig', () => {
  it('counts user requests by verb and watches; admin requests apart; resettable', async () => {
    const sim = await startSim();
    const { api } = clientFor(sim);
    await api.listClusterCustomObject(SRC);
    await fetch(`${sim.url}/apis`);
    await api.getNamespacedCustomObject({ ...SRC, namespace: 'x', name: 'y' }).catch(() => undefined);
    const { api: admin } = clientFor(sim, { admin: true });
    await admin.listClusterCustomObject(SRC);
    const s = sim.stats();
    expect(s.requests).toBe(3);
    expect(s.requestsByVerb).toEqual({ list: 1, discovery: 1, get: 1 });
    expect(s.adminRequests).toBe(1);
    sim.resetStats();
    expect(sim.stats().requests).toBe(0);
  });

  it('writes the kubeconfig with mode 0600', async () => {
    const { mkdtemp, stat, readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const sim = await startSim({ token: 't' });
    const dir = await mkdtemp(join(tmpdir(), 'sim-kc-'));
    const path = await sim.writeKubeconfig(join(dir, 'config'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const kc = new KubeConfig();
    kc.loadFromString(await readFile(path, 'utf8'));
    expect(kc.getCurrentCluster()?.server).toBe(sim.url);
    expect(kc.getCurrentUser()?.token).toBe('t');
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
