// 410 Gone from a real kube-apiserver: without the watch cache every watch is served by etcd, so once etcd is
// compacted past the engine's resourceVersion its resumed watches are answered 410 and it must relist.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kustomization, ksReady } from '../helpers/flux.js';
import { applyInfra, fetchNew, keyOf, ksBuilding, seedFleet } from './fleet.js';
import {
  errorsOf,
  FluxObjects,
  kubeconfigWithServer,
  SHA_NEW,
  serverPort,
  startCluster,
  startEngine,
  stopEngines,
  TcpGate,
  waitFor,
  type KubeCluster,
  type Ref,
} from './support.js';

let cluster: KubeCluster;
let objs: FluxObjects;
let gate: TcpGate;
let gatedKubeconfig: string;

beforeAll(async () => {
  cluster = await startCluster({ watchCache: false });
  objs = FluxObjects.forCluster(cluster);
  gate = new TcpGate({ host: '127.0.0.1', port: serverPort(cluster) });
  await gate.start();
  gatedKubeconfig = await kubeconfigWithServer(cluster.adminKubeconfigPath, `https://127.0.0.1:${gate.port}`, `${cluster.dataDir}/gated.kubeconfig`);
});
afterEach(async () => {
  gate?.open();
  await stopEngines();
});
afterAll(async () => {
  await gate?.stop();
  objs?.admin.close();
  await cluster?.stop();
});

describe('engine against a real kube-apiserver: 410 Gone after etcd compaction', () => {
  it('relists every kind after 410 and loses nothing: updates, creations and deletions made while disconnected', async () => {
    const f = await seedFleet(objs, 'compacted');
    const run = startEngine({ kubeconfig: gatedKubeconfig, repoUrl: f.url });
    await run.session();
    await waitFor('one watch per kind', () => run.client().stats.watchesOpen === 7);
    const seen = await fetchNew(objs, f);
    await run.phase(keyOf(f.git), 'Ready');
    const listsBefore = run.client().stats.byVerb.get;

    gate.cut();
    await waitFor('the engine to report the cluster unreachable', () => errorsOf(run.events).some((e) => e.category === 'unreachable'));
    // While disconnected: infra builds and applies; the push removed podinfo (apps pruned it); a new
    // Kustomization appeared. Then etcd forgets that history.
    await ksBuilding(objs, f.infra);
    await applyInfra(objs, f);
    await objs.delete(f.hr);
    await objs.setStatus(f.apps, ksReady(SHA_NEW));
    const extra: Ref = { kind: 'Kustomization', namespace: f.ns, name: 'extra' };
    await objs.create({ ...kustomization('extra', { ns: f.ns, source: f.git.name, dependsOn: [f.infra.name] }), status: ksReady(SHA_NEW) });
    const compactedAt = await cluster.compactEtcd();
    // The last version the engine saw is now older than the compaction: resuming from it must be refused.
    expect(Number(seen.metadata.resourceVersion)).toBeLessThan(compactedAt);
    gate.open();

    const final = await run.p;
    expect(final.verdict).toBe('success');
    const gone = errorsOf(run.events).filter((e) => e.category === 'gone' && !e.recovered);
    expect(gone.length).toBeGreaterThan(0);
    expect(gone[0]!).toMatchObject({ status: 410 });
    // Each kind resumed from a compacted resourceVersion, so each relisted.
    expect(run.client().stats.byVerb.get! - listsBefore!).toBeGreaterThanOrEqual(7);
    expect(final.nodes[keyOf(f.infra)]!.phase).toBe('Ready');
    expect(final.nodes[keyOf(f.apps)]!.phase).toBe('Ready');
    expect(final.nodes[keyOf(extra)]).toMatchObject({ phase: 'Ready', affected: true });
    // The deletion was only visible through the relist: the node stays, marked deleted, out of the verdict.
    expect(final.nodes[keyOf(f.hr)]).toMatchObject({ deleted: true, reason: 'Deleted', settled: true });
    // Recovered: no error left on the session.
    expect(final.error).toBeUndefined();
  });
});
