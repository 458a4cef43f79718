// Connection loss against a real kube-apiserver: watches cut under the engine while the server stays up (with
// changes made meanwhile, and without any), the apiserver killed and restarted mid-session, a session started
// while the apiserver is down, and watches that stay quiet on a healthy server. An outage is one error event and
// one recovery (with its duration); relists, a short 429 while the server starts and quiet watches are not errors.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kustomization, ksReady } from '../helpers/flux.js';
import { applyApps, applyInfra, applyNew, fetchNew, keyOf, ksBuilding, seedFleet } from './fleet.js';
import type { ClusterClient, WatchCallbacks } from '../../src/cluster/client.js';
import { ApiError } from '../../src/cluster/errors.js';
import {
  KINDS,
  errorsOf,
  phasesOf,
  type Ref,
  SHA_NEW,
  startEngine,
  TUNING,
  useGatedCluster,
  waitFor,
} from './support.js';

const g = useGatedCluster({ beforeAll, afterEach, afterAll });

const unreachableReported = (events: Parameters<typeof errorsOf>[0]) => errorsOf(events).some((e) => e.category === 'unreachable' && !e.recovered);

/** Counts the watch events the engine's client delivers from now on. */
function countWatchEvents(client: ClusterClient): { events: number } {
  const seen = { events: 0 };
  const watch = client.watch.bind(client);
  client.watch = (path: string, query: Record<string, string>, cb: WatchCallbacks, ...rest: [number?, number?]) =>
    watch(path, query, { ...cb, onEvent: (ev) => (seen.events++, cb.onEvent(ev)) }, ...rest);
  return seen;
}

/** Records the status of every failed request the engine's client makes from now on, and of watch ERROR events. */
function recordFailedStatuses(client: ClusterClient): number[] {
  const statuses: number[] = [];
  const request = client.request.bind(client);
  client.request = (async (...args: Parameters<ClusterClient['request']>) => {
    try {
      return await request(...args);
    } catch (err) {
      if (err instanceof ApiError) statuses.push(err.status);
      throw err;
    }
  }) as ClusterClient['request'];
  const watch = client.watch.bind(client);
  client.watch = (path: string, query: Record<string, string>, cb: WatchCallbacks, ...rest: [number?, number?]) =>
    watch(
      path,
      query,
      {
        ...cb,
        onEvent: (ev) => (ev.type === 'ERROR' && statuses.push(ev.object?.code), cb.onEvent(ev)),
        onClose: (err) => (err instanceof ApiError && statuses.push(err.status), cb.onClose(err)),
      },
      ...rest,
    );
  return statuses;
}

/** The error events of one outage: reported once, recovered once, with how long it lasted. */
function expectOneOutage(events: Parameters<typeof errorsOf>[0], category = 'unreachable') {
  const errors = errorsOf(events);
  expect(errors).toEqual([
    expect.objectContaining({ category, recovered: false }),
    expect.objectContaining({ category, recovered: true, outageMs: expect.any(Number) }),
  ]);
  return errors[1]!.outageMs!;
}

describe('engine against a real kube-apiserver: connection loss', () => {
  it('resumes its watches after a connection cut and sees every change made meanwhile, without relisting', async () => {
    const f = await seedFleet(g.objs, 'cut');
    const run = startEngine({ kubeconfig: g.gatedKubeconfig, repoUrl: f.url });
    await run.session();
    await waitFor('one watch per kind', () => run.client().stats.watchesOpen === KINDS);
    await fetchNew(g.objs, f);
    await run.phase(keyOf(f.git), 'Ready');
    const listsBefore = run.client().stats.byVerb.get;

    expect(g.gate.cut()).toBeGreaterThanOrEqual(KINDS);
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
    // Resumed from the last resourceVersion (the watch cache replays), so no LIST and no 410. (The one read that
    // confirms the verdict is counted apart, as 'confirm'.)
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
    await waitFor('one watch per kind', () => run.client().stats.watchesOpen === KINDS);
    g.gate.cut();
    await waitFor('the engine to report the g.cluster unreachable', () => unreachableReported(run.events));
    const delivered = countWatchEvents(run.client());
    g.gate.open();
    await waitFor('the error to clear', () => run.states.at(-1)!.error === undefined, 60_000);
    // Reported as soon as the watches were accepted again, not when something finally arrived on them.
    expect(delivered.events).toBe(0);
    expectOneOutage(run.events);
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

    const listsBefore = run.client().stats.byVerb.get!;
    const failed = recordFailedStatuses(run.client());

    // Written just before the kill: the engine may or may not have received it; it must end up with it.
    await applyInfra(g.objs, f);
    const beforeKill = Date.now();
    await g.cluster.stopApiserver();
    await waitFor('the engine to report the g.cluster unreachable', () => unreachableReported(run.events));
    const reported = Date.now();
    expect(run.states.at(-1)!.error?.category).toBe('unreachable');
    expect(run.states.at(-1)!.status).toBe('running');

    const beforeStart = Date.now();
    await g.cluster.startApiserver();
    // Written right after the restart.
    await applyApps(g.objs, f);

    const final = await run.p;
    const finished = Date.now();
    expect(final.verdict).toBe('success');
    expect(final.nodes[keyOf(f.infra)]!.phase).toBe('Ready');
    expect(final.nodes[keyOf(f.hr)]!.phase).toBe('Ready');
    expect(phasesOf(run.events, keyOf(f.infra)).at(-1)).toBe('Ready');
    // The restarted watch cache starts at the current revision: watches resumed from older versions got 410
    // (at least the kinds without objects, whose version is that of their first list) and relisted.
    const gone = failed.filter((s) => s === 410).length;
    expect(gone).toBeGreaterThan(0);
    expect(run.client().stats.byVerb.get! - listsBefore).toBeGreaterThanOrEqual(gone);
    // One outage, one recovery; nothing for the relists, nor for what a starting apiserver answers meanwhile
    // (503 before its handlers are ready, 429 "storage is (re)initializing" until its watch cache is).
    const outageMs = expectOneOutage(run.events);
    // It began before it was seen and ended after the apiserver was started again (causal bounds, not timings).
    expect(outageMs).toBeGreaterThanOrEqual(beforeStart - reported);
    expect(outageMs).toBeLessThanOrEqual(finished - beforeKill);
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
    await fetchNew(g.objs, f);
    await applyNew(g.objs, f);
    const final = await run.p;
    expect(final.verdict).toBe('success');
    expectOneOutage(run.events);
    expect(final.error).toBeUndefined();
  });

  it('watches that stay quiet on a healthy apiserver are re-opened without a word', async () => {
    const f = await seedFleet(g.objs, 'quiet');
    // A short stall limit: every watch of this quiet fleet outlives it many times over (no change, no bookmark yet).
    const run = startEngine({ kubeconfig: g.cluster.adminKubeconfigPath, repoUrl: f.url, tuning: { ...TUNING, stallMs: 1000 } });
    await run.session();
    const delivered = countWatchEvents(run.client());
    const started = run.client().stats.watchesStarted;
    const gets = run.client().stats.byVerb.get;
    await waitFor('every watch to be re-opened a few times', () => run.client().stats.watchesStarted >= started + 3 * KINDS, 60_000);
    expect(errorsOf(run.events)).toEqual([]);
    expect(run.states.at(-1)!.error).toBeUndefined();
    expect(run.client().stats.byVerb.get).toBe(gets); // resumed, never relisted
    await fetchNew(g.objs, f);
    await applyNew(g.objs, f);
    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(delivered.events).toBeGreaterThan(0);
    expect(errorsOf(run.events)).toEqual([]);
    expect(final.error).toBeUndefined();
  });
});
