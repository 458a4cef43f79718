// The push's timeline (core/timeline.ts, engine/timeline.ts): the moments recorded per object from what the real
// controllers wrote (a recorded transcript, with its condition times), the bounds, and the critical path.
import { describe, expect, it } from 'vitest';
import { barOf, criticalPath, momentOf, orderOf, recordNode, recordSourceReady, TIMELINE_LIMITS, type ObjectMoments, type Timeline } from '../../src/core/timeline.js';
import { computeStatus } from '../../src/core/status.js';
import { buildGraph, objectKey } from '../../src/core/graph.js';
import type { KubeObject, NodeState, SessionState } from '../../src/core/types.js';
import { TimelineRecorder } from '../../src/engine/timeline.js';
import { loadTranscripts, monitoredPush, replay, splitAtPush } from '../helpers/replay.js';

const T0 = Date.parse('2026-11-27T15:46:40Z');
const node = (p: Partial<NodeState> & Pick<NodeState, 'phase'>): NodeState => ({
  key: 'Kustomization/ns/apps',
  kind: 'Kustomization',
  namespace: 'ns',
  name: 'apps',
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  reason: '',
  message: '',
  affected: true,
  settled: false,
  phaseSince: T0,
  firstSeen: T0,
  ...p,
});
const ks = (conditions: Array<Record<string, string>>): KubeObject => ({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name: 'apps', namespace: 'ns' },
  status: { conditions },
});

describe('a moment: the condition time Flux wrote, else when the monitor saw it', () => {
  it('takes the transition time when it can be this change', () => {
    expect(momentOf({ type: 'Ready', status: 'True', lastTransitionTime: '2026-11-27T15:46:45Z' }, T0 + 5_400, T0)).toEqual({ at: T0 + 5_000, from: 'condition', seen: T0 + 5_400 });
  });
  it('allows for the whole-second truncation at the floor', () => {
    expect(momentOf({ type: 'Ready', status: 'True', lastTransitionTime: '2026-11-27T15:46:40Z' }, T0 + 900, T0 + 700)).toEqual({ at: T0, from: 'condition', seen: T0 + 900 });
  });
  it('says `event` for a transition older than the floor (a condition of before the push), one ahead of the clock, or none', () => {
    expect(momentOf({ type: 'Ready', status: 'True', lastTransitionTime: '2026-11-27T15:40:00Z' }, T0 + 3_000, T0)).toEqual({ at: T0 + 3_000, from: 'event' });
    expect(momentOf({ type: 'Ready', status: 'True', lastTransitionTime: '2026-11-27T16:46:40Z' }, T0 + 3_000, T0)).toEqual({ at: T0 + 3_000, from: 'event' });
    expect(momentOf({ type: 'Ready', status: 'True', lastTransitionTime: 'garbage' }, T0 + 3_000, T0)).toEqual({ at: T0 + 3_000, from: 'event' });
    expect(momentOf(undefined, T0 + 3_000, T0)).toEqual({ at: T0 + 3_000, from: 'event' });
  });
});

describe('recordNode', () => {
  it('records a wait on a dependency with its blockers, closed when the object starts, then applied and Ready', () => {
    let m = recordNode(undefined, node({ phase: 'Waiting', reason: 'DependencyNotReady', blockers: ['ns/infra'] }), ks([{ type: 'Ready', status: 'False', reason: 'DependencyNotReady', lastTransitionTime: '2026-11-27T15:46:41Z' }]), T0 + 1_200, T0);
    // The condition says 12:00:41 (cut to the second), seen at 41.2 s: the wait is taken from 41.2 s.
    expect(m?.waits).toEqual([{ from: T0 + 1_200, on: 'dependency', blockers: ['ns/infra'], reason: 'DependencyNotReady' }]);
    // Still waiting: nothing new (the same record).
    const same = recordNode(m, node({ phase: 'Waiting', reason: 'DependencyNotReady', blockers: ['ns/infra'] }), undefined, T0 + 2_000, T0);
    expect(same).toBe(m);
    m = recordNode(m, node({ phase: 'Progressing' }), ks([{ type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'Fetching manifests for revision main@sha1:abc', lastTransitionTime: '2026-11-27T15:46:46Z' }]), T0 + 6_300, T0);
    expect(m?.waits?.[0]?.to).toBe(T0 + 6_300);
    expect(m?.started).toEqual({ at: T0 + 6_000, from: 'condition', seen: T0 + 6_300 });
    m = recordNode(m, node({ phase: 'Progressing' }), ks([{ type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'Running health checks for revision main@sha1:abc with a timeout of 1m0s', lastTransitionTime: '2026-11-27T15:46:46Z' }]), T0 + 6_700, T0);
    expect(m?.applied).toEqual({ at: T0 + 6_700, from: 'event' });
    m = recordNode(m, node({ phase: 'Ready', reason: 'ReconciliationSucceeded' }), ks([{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', lastTransitionTime: '2026-11-27T15:46:48Z' }]), T0 + 8_100, T0);
    expect(m?.ready).toEqual({ at: T0 + 8_000, from: 'condition', seen: T0 + 8_100 });
    expect(m?.applied).toEqual({ at: T0 + 6_700, from: 'event' });
  });

  it('does not record a failure the object had before the push, a Ready that is not the push\'s doing, or an object not affected', () => {
    expect(recordNode(undefined, node({ phase: 'Failed', preexisting: true }), undefined, T0 + 1, T0)).toBeUndefined();
    expect(recordNode(undefined, node({ phase: 'Ready', context: true }), undefined, T0 + 1, T0)).toBeUndefined();
    expect(recordNode(undefined, node({ phase: 'Ready', affected: false }), undefined, T0 + 1, T0)).toBeUndefined();
    expect(recordNode(undefined, node({ phase: 'Failed', reason: 'BuildFailed' }), undefined, T0 + 1, T0)?.failed).toEqual({ at: T0 + 1, from: 'event' });
  });

  it('keeps at most TIMELINE_LIMITS.waits intervals (the first ones and the last), counting those left out', () => {
    let m: ObjectMoments | undefined;
    for (let i = 0; i < 20; i++) {
      m = recordNode(m, node({ phase: 'Waiting', reason: 'DependencyNotReady', blockers: [`ns/d${i}`] }), undefined, T0 + i * 100, T0);
      m = recordNode(m, node({ phase: 'Pending' }), undefined, T0 + i * 100 + 50, T0);
    }
    expect(m!.waits).toHaveLength(TIMELINE_LIMITS.waits);
    expect(m!.waits![0]!.blockers).toEqual(['ns/d0']);
    expect(m!.waits!.at(-1)!.blockers).toEqual(['ns/d19']);
    expect(m!.moreWaits).toBe(20 - TIMELINE_LIMITS.waits);
  });

  it('the wait on a source ends when the source was seen Ready within the second its condition names', () => {
    const out = recordSourceReady('GitRepository/ns/repo', { at: T0 + 2_000, from: 'condition', seen: T0 + 2_400 }, ['Kustomization/ns/a'], () => undefined, T0);
    expect(out.get('Kustomization/ns/a')!.waits![0]!.to).toBe(T0 + 2_400);
  });

  it('a source that has the commit gives its consumers their `source` moment, and a wait on it to those not started', () => {
    const started: ObjectMoments = { started: { at: T0 + 10, from: 'event' } };
    const out = recordSourceReady('GitRepository/ns/repo', { at: T0 + 500, from: 'condition' }, ['Kustomization/ns/a', 'Kustomization/ns/b'], (k) => (k.endsWith('/b') ? started : undefined), T0);
    expect(out.get('Kustomization/ns/a')).toEqual({ source: { at: T0 + 500, from: 'condition' }, waits: [{ from: T0, to: T0 + 500, on: 'source', blockers: ['GitRepository/ns/repo'], reason: 'SourceNotReady' }] });
    expect(out.get('Kustomization/ns/b')).toEqual({ ...started, source: { at: T0 + 500, from: 'condition' } });
  });
});

describe('bars and the critical path', () => {
  it('a bar is waiting, reconciling, health check, then ready, clamped to the axis', () => {
    const m: ObjectMoments = {
      waits: [{ from: T0, to: T0 + 3_000, on: 'dependency', blockers: ['ns/infra'], reason: 'DependencyNotReady' }],
      started: { at: T0 + 3_000, from: 'event' },
      applied: { at: T0 + 5_000, from: 'event' },
      ready: { at: T0 + 9_000, from: 'condition' },
    };
    expect(barOf('k', m, { from: T0, to: T0 + 10_000 }).segments).toEqual([
      { phase: 'waiting', from: T0, to: T0 + 3_000 },
      { phase: 'reconciling', from: T0 + 3_000, to: T0 + 5_000 },
      { phase: 'health', from: T0 + 5_000, to: T0 + 9_000 },
      { phase: 'ready', from: T0 + 9_000, to: T0 + 10_000 },
    ]);
  });

  it('follows the chain that ended last and splits it into Flux waiting and working', () => {
    const timeline: Timeline = {
      objects: {
        'GitRepository/ns/repo': { started: { at: T0 + 1_000, from: 'event' }, ready: { at: T0 + 2_000, from: 'condition' } },
        'Kustomization/ns/infra': { started: { at: T0 + 2_500, from: 'event' }, ready: { at: T0 + 4_000, from: 'condition' } },
        'Kustomization/ns/other': { started: { at: T0 + 2_500, from: 'event' }, ready: { at: T0 + 3_000, from: 'condition' } },
        // The 30 s dependency requeue: infra was Ready at +4 s, apps started at +34 s.
        'Kustomization/ns/apps': { waits: [{ from: T0 + 2_500, to: T0 + 34_000, on: 'dependency', blockers: ['ns/infra'], reason: 'DependencyNotReady' }], started: { at: T0 + 34_000, from: 'event' }, ready: { at: T0 + 36_000, from: 'condition' } },
      },
    };
    const nodes = Object.fromEntries(Object.keys(timeline.objects).map((k) => [k, node({ key: k, phase: 'Ready', settled: true })]));
    const edges = [
      { from: 'Kustomization/ns/infra', to: 'GitRepository/ns/repo', type: 'source' as const },
      { from: 'Kustomization/ns/other', to: 'GitRepository/ns/repo', type: 'source' as const },
      { from: 'Kustomization/ns/apps', to: 'GitRepository/ns/repo', type: 'source' as const },
      { from: 'Kustomization/ns/apps', to: 'Kustomization/ns/infra', type: 'dependsOn' as const },
      { from: 'Kustomization/ns/apps', to: 'Kustomization/ns/other', type: 'dependsOn' as const },
    ];
    const p = criticalPath({ nodes, edges, timeline, startedAt: T0, endedAt: T0 + 36_500, updatedAt: T0 + 36_500 })!;
    expect(p.links.map((l) => [l.key, l.via, l.waitedMs, l.workedMs])).toEqual([
      ['GitRepository/ns/repo', undefined, 1_000, 1_000],
      ['Kustomization/ns/infra', 'source', 500, 1_500],
      ['Kustomization/ns/apps', 'dependsOn', 30_000, 2_000],
    ]);
    expect(p).toMatchObject({ totalMs: 36_000, waitingMs: 31_500, workingMs: 4_500 });
  });
});

describe('ordering moments of two clocks', () => {
  it('an object Ready by a condition time cut to the second ends after one seen Ready earlier in that second', () => {
    // repo: Ready seen at +5.3 s with no usable condition time (event); apps: Ready=True at 12:00:05 (cut), seen at +5.9 s.
    const timeline: Timeline = {
      objects: {
        'GitRepository/ns/repo': { ready: { at: T0 + 5_300, from: 'event' } },
        'Kustomization/ns/apps': { started: { at: T0 + 5_000, from: 'condition', seen: T0 + 5_500 }, ready: { at: T0 + 5_000, from: 'condition', seen: T0 + 5_900 } },
      },
    };
    const nodes = Object.fromEntries(Object.keys(timeline.objects).map((k) => [k, node({ key: k, phase: 'Ready', settled: true })]));
    const edges = [{ from: 'Kustomization/ns/apps', to: 'GitRepository/ns/repo', type: 'source' as const }];
    const p = criticalPath({ nodes, edges, timeline, startedAt: T0, endedAt: T0 + 6_000, updatedAt: T0 + 6_000 })!;
    expect(p.links.map((l) => l.key)).toEqual(['GitRepository/ns/repo', 'Kustomization/ns/apps']);
  });
});

describe('the moments of a real run (chain-success: a dependsOn chain, as the real controllers wrote it)', () => {
  const t = loadTranscripts().find((x) => x.case === 'chain-success')!;
  const push = monitoredPush(t);
  // The recorder's clock: each condition time is a whole second at or before the entry's own time.
  let epoch = -Infinity;
  for (const e of t.entries) for (const c of e.object.status?.conditions ?? []) epoch = Math.max(epoch, Date.parse(c.lastTransitionTime) - e.t);

  it('records, per object, the times Flux wrote, and the wait of apps on infra, on the recorder\'s clock', () => {
    const { before, after } = splitAtPush(t);
    const objects = new Map<string, KubeObject>();
    // The Flux objects (the recorder also kept the controllers' Deployments).
    const flux = (e: { object: KubeObject }) => objectKey(e.object) !== undefined;
    for (const e of before.filter(flux)) objects.set(objectKey(e.object)!, e.object);
    const start = epoch + push.t;
    const state = { startedAt: start, nodes: {} as Record<string, NodeState>, edges: buildGraph(objects).edges, timeline: undefined as Timeline | undefined };
    let now = start;
    const rec = new TimelineRecorder({ state: state as unknown as SessionState, objects, now: () => now, update: (p) => void Object.assign(state, p), published: () => false });
    const judge = (key: string, o: KubeObject) => {
      const res = computeStatus(o, { sha: push.sha, branch: t.branch });
      const [kind, namespace, name] = key.split('/') as [string, string, string];
      state.nodes[key] = node({ key, kind, namespace, name, phase: res.phase, reason: res.reason, blockers: res.blockers });
    };
    // As the engine's first recompute: every object, then each change as it came.
    for (const [key, o] of objects) judge(key, o);
    rec.note();
    for (const e of after.filter(flux)) {
      const key = objectKey(e.object)!;
      objects.set(key, e.object);
      now = epoch + e.t;
      judge(key, e.object);
      state.edges = buildGraph(objects).edges;
      rec.note([key]);
    }
    const tl = state.timeline!.objects;
    const ns = t.namespace;
    const repo = tl[`GitRepository/${ns}/repo`]!;
    const infra = tl[`Kustomization/${ns}/infra`]!;
    const apps = tl[`Kustomization/${ns}/apps`]!;
    expect(repo.ready).toMatchObject({ at: Date.parse('2026-11-27T15:46:44Z'), from: 'condition' });
    expect(infra.source).toEqual(repo.ready);
    expect(infra.started).toMatchObject({ at: Date.parse('2026-11-27T15:46:44Z'), from: 'condition' });
    expect(infra.ready).toMatchObject({ at: Date.parse('2026-11-27T15:46:45Z'), from: 'condition' });
    // apps waited on the source until it had the commit, then on infra until it started.
    expect(apps.waits?.[0]).toMatchObject({ on: 'source', blockers: [`GitRepository/${ns}/repo`], to: orderOf(repo.ready!) });
    const dep = apps.waits?.find((w) => w.on === 'dependency');
    expect(dep).toMatchObject({ blockers: [`${ns}/infra`], reason: 'DependencyNotReady' });
    expect(dep!.to).toBe(orderOf(apps.started!));
    expect(apps.ready!.at).toBeGreaterThanOrEqual(infra.ready!.at);
    const path = criticalPath({ ...state, updatedAt: now, endedAt: now, timeline: state.timeline } as SessionState)!;
    expect(path.links.map((l) => l.key)).toEqual([`GitRepository/${ns}/repo`, `Kustomization/${ns}/infra`, `Kustomization/${ns}/apps`]);
  });

  it('the engine records the timeline in the session state as it runs (replayed, time compressed)', async () => {
    const r = await replay(t);
    const tl = r.state.timeline!.objects;
    const ns = t.namespace;
    const infra = tl[`Kustomization/${ns}/infra`]!;
    const apps = tl[`Kustomization/${ns}/apps`]!;
    expect(infra.ready).toBeDefined();
    expect(apps.ready).toBeDefined();
    expect(apps.ready!.at).toBeGreaterThanOrEqual(infra.ready!.at);
    expect(apps.waits?.some((w) => w.on === 'dependency' && w.blockers.includes(`${ns}/infra`))).toBe(true);
    // Only the push's objects: every recorded key is an affected node of the session.
    for (const k of Object.keys(tl)) expect(r.state.nodes[k]?.affected, k).toBe(true);
  });
});

describe('several clusters', () => {
  it('the merged session keys each cluster\'s moments like its nodes (a source blocker too)', async () => {
    const { mergeClusters } = await import('../../src/core/clusters.js');
    const { newSessionState } = await import('../../src/core/types.js');
    const base = newSessionState({ id: 's1', sha: 'a'.repeat(40), timeoutMs: 60_000, now: T0 }, (u) => u);
    const apps: ObjectMoments = { waits: [{ from: T0, to: T0 + 5, on: 'source', blockers: ['GitRepository/ns/repo'], reason: 'SourceNotReady' }], ready: { at: T0 + 9, from: 'event' } };
    const part = (context: string) => ({ context, state: { ...base, timeline: { objects: { 'Kustomization/ns/apps': apps } } } });
    const merged = mergeClusters(base, [part('prod'), part('staging')]);
    expect(Object.keys(merged.timeline!.objects).sort()).toEqual(['prod/Kustomization/ns/apps', 'staging/Kustomization/ns/apps']);
    expect(merged.timeline!.objects['prod/Kustomization/ns/apps']!.waits![0]!.blockers).toEqual(['prod/GitRepository/ns/repo']);
    expect(mergeClusters(base, [{ context: 'prod' }]).timeline).toBeUndefined();
  });
});
