// Connection loss against a real kube-apiserver: watches cut under the engine while the server stays up (with
// changes made meanwhile, and without any), the apiserver killed and restarted mid-session, and a session
// started while the apiserver is down.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kustomization, ksReady } from '../helpers/flux.js';
import { applyApps, applyInfra, applyNew, fetchNew, keyOf, ksBuilding, seedFleet } from './fleet.js';
import {
  errorsOf,
  phasesOf,
  type Ref,
  SHA_NEW,
  startEngine,
  useGatedCluster,
  waitFor,
} from './support.js';

const g = useGatedCluster({ beforeAll, afterEach, afterAll });

const unreachableReported = (events: Parameters<typeof errorsOf>[0]) => errorsOf(events).some((e) => e.category === 'unreachable' && !e.recovered);

describe('engine against a real kube-apiserver: connection loss', () => {
  it('resumes its watches after a connection cut and sees every change made meanwhile, without relisting', async () => {
    const f = await seedFleet(g.objs, 'cut');
    const run = startEngine({ kubeconfig: g.gatedKubeconfig, repoUrl: f.url });
    await run.session();
    await waitFor('one watch per kind', () => run.client().stats.watchesOpen === 7);
    await fetchNew(g.objs, f);
    await run.phase(keyOf(f.git), 'Ready');
    const listsBefore = run.client().stats.byVerb.get;

    expect(g.gate.cut()).toBeGreaterThanOrEqual(7);
    await waitFor('the engine to report the g.cluster unreachable', () => unreachableReported(run.events));
    // Changes the engine cannot see now: a status moving twice, a spec change, a new affected object.
    await ksBuilding(g.objs, f.infra);
    await applyNew(g.objs, f);
    const extra: Ref = { kind: 'Kustomization', namespace: f.ns, name: 'extra' };
    await g.objs.create({ ...kustomization('extra', { ns: f.ns, source: f.git.name, dependsOn: [f.infra.name] }), status: ksReady(SHA_NEW) });
    expect(run.states.at(-1)!.nodes[keyOf(extra)]).toBeUndefined();
    g.gate.open();

    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(final.nodes[keyOf(f.hr)]!.phase).toBe('Ready');
    expect(final.nodes[keyOf(f.infra)]!.phase).toBe('Ready');
    expect(final.nodes[keyOf(extra)]).toMatchObject({ phase: 'Ready', affected: true });
    // Resumed from the last resourceVersion (the watch cache replays), so no LIST and no 410.
    expect(run.client().stats.byVerb.get).toBe(listsBefore);
    expect(errorsOf(run.events).some((e) => e.category === 'gone')).toBe(false);
    expect(errorsOf(run.events).some((e) => e.recovered)).toBe(true);
    expect(final.error).toBeUndefined();
    expect(final.mode).toBe('watch');
  });

  it('reports the recovery once the watches are back, even when nothing changed meanwhile', async () => {
    const f = await seedFleet(g.objs, 'quiet-cut');
    const run = startEngine({ kubeconfig: g.gatedKubeconfig, repoUrl: f.url });
    await run.session();
    await waitFor('one watch per kind', () => run.client().stats.watchesOpen === 7);
    g.gate.cut();
    await waitFor('the engine to report the g.cluster unreachable', () => unreachableReported(run.events));
    const t = Date.now();
    g.gate.open();
    await waitFor('the error to clear', () => run.states.at(-1)!.error === undefined, 60_000);
    expect(Date.now() - t).toBeLessThan(10_000);
    await fetchNew(g.objs, f);
    await applyNew(g.objs, f);
    expect((await run.p).verdict).toBe('success');
  });

  it('the apiserver killed and restarted mid-session: unreachable, recovered, no update lost, right verdict', async () => {
    const f = await seedFleet(g.objs, 'restart');
    const run = startEngine({ kubeconfig: g.cluster.adminKubeconfigPath, repoUrl: f.url });
    await run.session();
    await fetchNew(g.objs, f);
    await run.phase(keyOf(f.git), 'Ready');

    // Written just before the kill: the engine may or may not have received it; it must end up with it.
    await applyInfra(g.objs, f);
    await g.cluster.stopApiserver();
    await waitFor('the engine to report the g.cluster unreachable', () => unreachableReported(run.events));
    expect(run.states.at(-1)!.error?.category).toBe('unreachable');
    expect(run.states.at(-1)!.status).toBe('running');

    await g.cluster.startApiserver();
    // Written right after the restart.
    await applyApps(g.objs, f);

    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(final.nodes[keyOf(f.infra)]!.phase).toBe('Ready');
    expect(final.nodes[keyOf(f.hr)]!.phase).toBe('Ready');
    expect(phasesOf(run.events, keyOf(f.infra)).at(-1)).toBe('Ready');
    expect(errorsOf(run.events).some((e) => e.recovered)).toBe(true);
    expect(final.error).toBeUndefined();
  });

  it('a session started while the apiserver is down waits for it, then monitors normally', async () => {
    const f = await seedFleet(g.objs, 'late-start');
    await g.cluster.stopApiserver({ graceful: true });
    let run: ReturnType<typeof startEngine>;
    try {
      run = startEngine({ kubeconfig: g.cluster.adminKubeconfigPath, repoUrl: f.url });
      await waitFor('the engine to report the g.cluster unreachable', () => unreachableReported(run.events));
      expect(run.states.at(-1)!.status).toBe('starting');
    } finally {
      await g.cluster.startApiserver();
    }
    const session = await run.session();
    expect(session.matchedSources).toEqual([keyOf(f.git)]);
    expect(errorsOf(run.events).some((e) => e.recovered && e.category === 'unreachable')).toBe(true);
    await fetchNew(g.objs, f);
    await applyNew(g.objs, f);
    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(final.error).toBeUndefined();
  });
});
