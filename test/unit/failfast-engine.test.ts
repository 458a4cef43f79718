// The fail-fast part of the engine (src/engine/failfast.ts) alone, through a fake EngineContext (test/helpers/engine-context.ts): a Kustomization
// running its health checks (the conditions kustomize-controller writes, checkHealth), a Deployment and its pods
// in the kubelet's shapes, read through the part's `read` hook instead of an API server. The clock is the test's.
import { describe, expect, it } from 'vitest';
import type { KubeObject, MonitorEvent, NodeState } from '../../src/core/types.js';
import { FailFast } from '../../src/engine/failfast.js';
import { fakeEngineContext, type FakeEngineContext } from '../helpers/engine-context.js';

const SHA = 'a'.repeat(40);
const T0 = Date.parse('2026-06-02T10:00:00Z');
const KEY = 'Kustomization/flux-system/apps';
const REV = `main@sha1:${SHA}`;
const HEALTH = `Running health checks for revision ${REV} with a timeout of 5m0s`;
const IMAGE = 'registry.example/web:1.2.99';

type Fake = FakeEngineContext;

function fake(): Fake {
  return fakeEngineContext({ sha: SHA, now: T0, timeoutMs: 600_000 });
}

/** The Kustomization as kustomize-controller leaves it while the health checks run (Healthy=Unknown set at their start). */
function kustomization(startedAt: number): KubeObject {
  const t = new Date(startedAt).toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'apps', namespace: 'flux-system', generation: 2 },
    spec: { wait: true, timeout: '5m' },
    status: {
      observedGeneration: 1,
      lastAttemptedRevision: REV,
      conditions: [
        { type: 'Reconciling', status: 'True', reason: 'Progressing', message: HEALTH, lastTransitionTime: t },
        { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'Reconciliation in progress', lastTransitionTime: t },
        { type: 'Healthy', status: 'Unknown', reason: 'Progressing', message: HEALTH, lastTransitionTime: t },
      ],
    },
  };
}

function progressingNode(over: Partial<NodeState> = {}): NodeState {
  return {
    key: KEY, kind: 'Kustomization', namespace: 'flux-system', name: 'apps', apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    phase: 'Progressing', reason: 'Progressing', message: HEALTH, revision: REV, affected: true, settled: false, phaseSince: T0, firstSeen: T0, ...over,
  };
}

const deployment: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'apps' }, spec: { selector: { matchLabels: { app: 'web' } } }, status: {} };

/** pkg/kubelet: the container `web` of pod web-7d9f8b6c5-x2x8k in a state. */
function pod(state: 'pull-not-found' | 'running' | 'crash'): KubeObject {
  const cs =
    state === 'pull-not-found'
      ? { name: 'web', image: IMAGE, ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${IMAGE}": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": ${IMAGE}: not found` } } }
      : state === 'running'
        ? { name: 'web', image: IMAGE, ready: false, restartCount: 0, state: { running: { startedAt: '2026-06-02T10:00:20Z' } } }
        : { name: 'web', image: IMAGE, ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=web pod=web-7d9f8b6c5-x2x8k_apps(0b5f)' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } };
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-7d9f8b6c5-x2x8k', namespace: 'apps', labels: { app: 'web' } }, spec: {}, status: { phase: 'Pending', containerStatuses: [cs] } };
}

/** A FailFast over a fake session whose pods the test sets; `reads` counts the reads. */
function setup(enabled: boolean) {
  const m = fake();
  m.objectsMap.set(KEY, kustomization(T0 - 10_000));
  m.update({ nodes: { [KEY]: progressingNode() } });
  let pods: KubeObject[] = [];
  const concluded: string[] = [];
  let reads = 0;
  const ff = new FailFast(m, {
    enabled,
    graceMs: 30_000,
    everyMs: 3_000,
    conclude: (msg) => void concluded.push(msg),
    read: async (_n, collect) => {
      reads++;
      collect(deployment, pods);
    },
  });
  /** Moves the clock to `t` ms after T0 and lets the part look (and its read finish). */
  const at = async (t: number) => {
    m.clock = T0 + t;
    ff.tick();
    await new Promise((r) => setImmediate(r));
  };
  return { m, ff, concluded, at, setPods: (p: KubeObject[]) => (pods = p), reads: () => reads };
}

const phases = (m: Fake) => m.events.filter((e): e is Extract<MonitorEvent, { type: 'phase' }> => e.type === 'phase').map((e) => e.phase);

describe('FailFast: Failing while the evidence holds, the verdict after the grace period', () => {
  it('Failing as soon as a rule matches, with the evidence and Flux\'s deadline; back to Progressing when it clears', async () => {
    const { m, at, setPods } = setup(true);
    setPods([pod('pull-not-found')]);
    await at(0);
    const n = m.state.nodes[KEY]!;
    expect(n.phase).toBe('Failing');
    expect(n.reason).toBe('ImagePullBackOff');
    expect(n.failing).toMatchObject({
      since: T0,
      failFastAt: T0 + 30_000,
      flux: { action: 'health checks', timeout: '5m0s', deadline: T0 - 10_000 + 300_000 },
      evidence: [{ rule: 'image-unavailable', text: `pod web-7d9f8b6c5-x2x8k: ImagePullBackOff: ${IMAGE} (not found)` }],
    });
    expect(n.message).toContain('Flux gives up in 4m50s (its health checks time out after 5m0s)');
    const ev = m.events.at(-1) as Extract<MonitorEvent, { type: 'phase' }>;
    expect(ev).toMatchObject({ type: 'phase', key: KEY, phase: 'Failing', previous: 'Progressing', failing: n.failing });
    // The image arrives (CI finished pushing it): the evidence is gone, the object is Progressing again.
    setPods([pod('running')]);
    await at(3_000);
    expect(m.state.nodes[KEY]!.phase).toBe('Progressing');
    expect(m.state.nodes[KEY]!.failing).toBeUndefined();
    expect(phases(m)).toEqual(['Failing', 'Progressing']);
  });

  it('a transient failure that clears inside the grace period does not end the session; evidence that holds does, after the grace period', async () => {
    const { m, at, setPods, concluded } = setup(true);
    setPods([pod('pull-not-found')]);
    await at(0);
    setPods([pod('running')]);
    for (let t = 3_000; t <= 36_000; t += 3_000) await at(t);
    expect(concluded).toEqual([]);
    // Then a crash loop, from 39 s: the grace counts from then.
    setPods([pod('crash')]);
    await at(39_000);
    expect(m.state.nodes[KEY]!.phase).toBe('Failing');
    for (let t = 42_000; t < 69_000; t += 3_000) await at(t);
    expect(concluded).toEqual([]);
    await at(69_000);
    expect(concluded).toHaveLength(1);
    expect(concluded[0]).toMatch(/^commit aaaaaaa failed \(fail-fast\): Kustomization flux-system\/apps: pod web-7d9f8b6c5-x2x8k: CrashLoopBackOff: 3 restarts, last run: Error \(exit code 1\), held 30s; Flux has not decided yet \(Flux gives up in 3m41s \(its health checks time out after 5m0s\)\)$/);
    expect(m.state.failFast).toEqual({ key: KEY, since: T0 + 39_000, at: T0 + 69_000, fluxDeadline: T0 + 290_000 });
    // Once: later looks do not conclude again.
    await at(72_000);
    expect(concluded).toHaveLength(1);
  });

  it('without fail_fast: Failing, never a verdict of its own', async () => {
    const { m, at, setPods, concluded } = setup(false);
    setPods([pod('crash')]);
    for (let t = 0; t <= 120_000; t += 3_000) await at(t);
    expect(m.state.nodes[KEY]!.phase).toBe('Failing');
    expect(m.state.nodes[KEY]!.failing!.failFastAt).toBeUndefined();
    expect(concluded).toEqual([]);
    expect(m.state.failFast).toBeUndefined();
  });

  it('after a recompute: Failing is put back over the rebuilt node without a phase event; Flux\'s own failure replaces it', async () => {
    const { m, ff, at, setPods, reads } = setup(false);
    setPods([pod('crash')]);
    await at(0);
    const events = m.events.length;
    // The recompute rebuilt the node from the Kustomization (still running its health checks).
    m.update({ nodes: { ...m.state.nodes, [KEY]: progressingNode({ resourceVersion: '7' }) } });
    ff.overlay();
    expect(m.state.nodes[KEY]).toMatchObject({ phase: 'Failing', resourceVersion: '7', phaseSince: T0 });
    expect(m.events.length).toBe(events);
    // Flux gave up: HealthCheckFailed. The node is Flux's, and the part lets it go.
    m.objectsMap.set(KEY, { ...kustomization(T0 - 10_000), status: { conditions: [{ type: 'Ready', status: 'False', reason: 'HealthCheckFailed', message: 'health check failed after 5m0s' }] } });
    const failed = progressingNode({ phase: 'Failed', reason: 'HealthCheckFailed', message: 'health check failed after 5m0s' });
    m.update({ nodes: { ...m.state.nodes, [KEY]: failed } });
    ff.overlay();
    expect(m.state.nodes[KEY]).toBe(failed);
    const before = reads();
    await at(3_000);
    await at(6_000);
    expect(reads()).toBe(before);
    expect(m.state.nodes[KEY]).toBe(failed);
  });

  it('reads only objects Flux waits for: a Kustomization building, or not affected, is not read', async () => {
    const { m, at, setPods, reads } = setup(true);
    setPods([pod('crash')]);
    m.objectsMap.set(KEY, { ...kustomization(T0), status: { conditions: [{ type: 'Reconciling', status: 'True', reason: 'Progressing', message: `Building manifests for revision ${REV} with a timeout of 5m0s` }] } });
    await at(0);
    m.objectsMap.set(KEY, kustomization(T0));
    m.update({ nodes: { [KEY]: progressingNode({ affected: false }) } });
    await at(3_000);
    expect(reads()).toBe(0);
    expect(m.state.nodes[KEY]!.phase).toBe('Progressing');
  });
});
