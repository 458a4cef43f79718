// 410 Gone from a real kube-apiserver: without the watch cache every watch is served by etcd, so once etcd is
// compacted past the engine's resourceVersion its resumed watches are answered 410 and it must relist.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kustomization, ksReady } from '../helpers/flux.js';
import { applyInfra, fetchNew, keyOf, ksBuilding, seedFleet } from './fleet.js';
import {
  KINDS,
  errorsOf,
  type Ref,
  SHA_NEW,
  startEngine,
  useGatedCluster,
  waitFor,
} from './support.js';

const g = useGatedCluster({ beforeAll, afterEach, afterAll }, { watchCache: false });

describe('engine against a real kube-apiserver: 410 Gone after etcd compaction', () => {
  it('relists every kind after 410 and loses nothing: updates, creations and deletions made while disconnected', async () => {
    const f = await seedFleet(g.objs, 'compacted');
    const run = startEngine({ kubeconfig: g.gatedKubeconfig, repoUrl: f.url });
    await run.session();
    await waitFor('one watch per kind', () => run.client().stats.watchesOpen === KINDS);
    const seen = await fetchNew(g.objs, f);
    await run.phase(keyOf(f.git), 'Ready');
    const listsBefore = run.client().stats.byVerb.get;

    g.gate.cut();
    await waitFor('the engine to report the g.cluster unreachable', () => errorsOf(run.events).some((e) => e.category === 'unreachable'));
    // While disconnected: infra builds and applies; the push removed podinfo (apps pruned it); a new
    // Kustomization appeared. Then etcd forgets that history.
    await ksBuilding(g.objs, f.infra);
    await applyInfra(g.objs, f);
    await g.objs.delete(f.hr);
    await g.objs.setStatus(f.apps, ksReady(SHA_NEW));
    const extra: Ref = { kind: 'Kustomization', namespace: f.ns, name: 'extra' };
    await g.objs.create({ ...kustomization('extra', { ns: f.ns, source: f.git.name, dependsOn: [f.infra.name] }), status: ksReady(SHA_NEW) });
    const compactedAt = await g.cluster.compactEtcd();
    // The last version the engine saw is now older than the compaction: resuming from it must be refused.
    expect(Number(seen.metadata.resourceVersion)).toBeLessThan(compactedAt);
    g.gate.open();

    const final = await run.p;
    expect(final.verdict).toBe('success');
    // Each kind resumed from a compacted resourceVersion, so each relisted.
    expect(run.client().stats.byVerb.get! - listsBefore!).toBeGreaterThanOrEqual(KINDS);
    // Relisting is routine, like client-go's informers: the cut is one outage, the 410s are not errors.
    expect(errorsOf(run.events)).toEqual([
      expect.objectContaining({ category: 'unreachable', recovered: false }),
      expect.objectContaining({ category: 'unreachable', recovered: true, outageMs: expect.any(Number) }),
    ]);
    expect(final.nodes[keyOf(f.infra)]!.phase).toBe('Ready');
    expect(final.nodes[keyOf(f.apps)]!.phase).toBe('Ready');
    expect(final.nodes[keyOf(extra)]).toMatchObject({ phase: 'Ready', affected: true });
    // The deletion was only visible through the relist: the node stays, marked deleted, out of the verdict.
    expect(final.nodes[keyOf(f.hr)]).toMatchObject({ deleted: true, reason: 'Deleted', settled: true });
    // Recovered: no error left on the session.
    expect(final.error).toBeUndefined();
  });
});
