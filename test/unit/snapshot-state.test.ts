// Immutable, versioned session states (issue 25 item 4): the engine publishes a new state for each change and never
// changes one it has made, sharing what did not change. A reader (the live view, the session writer, the merge of
// several clusters) keeps the state it was given, without a copy, and tells an unchanged node by its identity.
// The tests run with FLUX_MONITOR_FREEZE_STATES=1 (vitest.config.ts): every state the engine makes is deep-frozen,
// so that any write to one throws in every engine test, this one included.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiSimulator } from '../../src/sim/server.js';
import { Monitor } from '../../src/engine/monitor.js';
import { ClusterClient, loadKubeConfig } from '../../src/cluster/client.js';
import { buildGraph } from '../../src/core/graph.js';
import { computeSettled } from '../../src/core/verdict.js';
import { deepFreeze, DEFAULT_CONFIG, type KubeObject, type MonitorEvent, type NodeState, type SessionState } from '../../src/core/types.js';
import { SHA_NEW, SHA_OLD, gitReady, gitRepository, helmRelease, hrReady, invId, kustomization, ksFailed, ksProgressing, ksReady, ksWaiting } from '../helpers/flux.js';

let sim: ApiSimulator;
let dir: string;
let kubeconfig: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-snap-'));
  sim = new ApiSimulator();
  await sim.start();
  kubeconfig = await sim.writeKubeconfig(join(dir, 'kubeconfig'));
});
afterEach(async () => {
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const waitFor = async (what: string, pred: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

const INFRA = 'Kustomization/flux-system/infra';
const APPS = 'Kustomization/flux-system/apps';
const LEAF = 'Kustomization/flux-system/leaf';
const HR = 'HelmRelease/apps/podinfo';

describe('the states the engine publishes', () => {
  // At once (small fleets), and paced (large fleets: several recomputes between two publications, which change the
  // engine's own record in place until it is published; publishGapMs forces the pace a 10,000-node fleet sets).
  it.each([undefined, 150])('are never changed once published; a change makes new objects for what changed only (publication gap %s ms)', async (publishGapMs) => {
    // The pushed repository's source; infra ← apps (dependsOn), apps applying a HelmRelease; a leaf Kustomization
    // nothing depends on; an `anchor` that stays Progressing so that the session does not conclude.
    sim.apply({ ...gitRepository('flux-system', 'https://github.com/acme/fleet.git'), status: gitReady(SHA_NEW) });
    const hrInv = [invId('apps', 'podinfo', 'helm.toolkit.fluxcd.io', 'HelmRelease')];
    sim.apply({ ...kustomization('infra'), status: ksReady(SHA_NEW) });
    sim.apply({ ...kustomization('apps', { dependsOn: ['infra'] }), status: { ...ksProgressing(SHA_NEW, SHA_OLD), inventory: { entries: hrInv.map((id) => ({ id, v: 'v2' })) } } });
    const hr = sim.apply(helmRelease('podinfo'));
    sim.setStatus({ kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' }, hrReady(hr.metadata.generation!));
    sim.apply({ ...kustomization('leaf'), status: ksProgressing(SHA_NEW, SHA_OLD) });
    sim.apply({ ...kustomization('anchor'), status: ksProgressing(SHA_NEW, SHA_OLD) });

    // Each published state with a deep copy made when it was published: what a reader holding it saw then.
    const seen: Array<{ state: SessionState; copy: SessionState }> = [];
    const events: MonitorEvent[] = [];
    const ac = new AbortController();
    const m = new Monitor({
      client: new ClusterClient(loadKubeConfig({ kubeconfig })),
      pushed: { sha: SHA_NEW, branch: 'main' },
      target: { repoUrl: 'https://github.com/acme/fleet.git', branch: 'main' },
      config: { ...DEFAULT_CONFIG, timeout: 120 },
      sessionId: 'snap',
      signal: ac.signal,
      tuning: { backoffMs: 20, maxBackoffMs: 200, stallMs: 5000, diagnosis: false, publishGapMs },
      onState: (s) => seen.push({ state: s, copy: structuredClone(s) }),
      onEvent: (e) => events.push(e),
    });
    const done = m.run();
    const last = () => seen.at(-1)?.state;
    try {
      await waitFor('the first recompute', () => events.some((e) => e.type === 'session'));
      expect(last()!.nodes[APPS]!.phase).toBe('Progressing');

      // One status write to an object nothing depends on (the incremental recompute): a new state and a new nodes
      // record, a new object for that node, every other node the same object as in the state before.
      const from = seen.length;
      sim.setStatus({ kind: 'Kustomization', namespace: 'flux-system', name: 'leaf' }, ksReady(SHA_NEW));
      await waitFor('leaf Ready', () => last()!.nodes[LEAF]!.phase === 'Ready');
      expect(m.recomputes.incremental).toBeGreaterThan(0);
      const at = seen.findIndex((x, i) => i >= from && x.state.nodes[LEAF]!.phase === 'Ready');
      const before = seen[at - 1]!.state;
      const after = seen[at]!.state;
      expect(after).not.toBe(before);
      expect(after.nodes).not.toBe(before.nodes);
      expect(after.nodes[LEAF]).not.toBe(before.nodes[LEAF]);
      expect(before.nodes[LEAF]!.phase).toBe('Progressing');
      expect(Object.keys(after.nodes).sort()).toEqual(Object.keys(before.nodes).sort());
      for (const k of Object.keys(after.nodes)) if (k !== LEAF) expect(after.nodes[k], k).toBe(before.nodes[k]);
      expect(after.edges).toBe(before.edges);

      // A burst of writes: with a publication gap, several recomputes between two publications.
      const burst = { states: seen.length, recomputes: m.recomputes.incremental + m.recomputes.full };
      for (let i = 0; i < 6; i++) {
        sim.setStatus({ kind: 'Kustomization', namespace: 'flux-system', name: 'leaf' }, i % 2 ? ksReady(SHA_NEW) : ksProgressing(SHA_NEW, SHA_OLD));
        await new Promise((r) => setTimeout(r, 15));
      }
      await waitFor('the burst published', () => last()!.nodes[LEAF]!.phase === 'Ready' && m.recomputes.incremental + m.recomputes.full - burst.recomputes >= 3);
      if (publishGapMs) expect(seen.length - burst.states).toBeLessThan(m.recomputes.incremental + m.recomputes.full - burst.recomputes);

      // A failure that settles what waits for it (the full recompute and the settle propagation, which used to
      // rewrite `settled` and `blockedBy` on the node objects in place).
      sim.setStatus({ kind: 'Kustomization', namespace: 'flux-system', name: 'infra' }, ksFailed(SHA_NEW, SHA_OLD, 'BuildFailed', 'kustomize build failed'));
      sim.setStatus({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' }, ksWaiting(SHA_OLD, 'infra', 'main', hrInv));
      await waitFor('apps blocked by infra', () => last()!.nodes[APPS]!.blockedBy === INFRA && last()!.nodes[APPS]!.settled);
      const blocked = last()!;
      // And back: infra Ready again, apps no longer blocked (the blocker and settled mark go, on a new object).
      sim.setStatus({ kind: 'Kustomization', namespace: 'flux-system', name: 'infra' }, ksReady(SHA_NEW));
      sim.setStatus({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' }, { ...ksProgressing(SHA_NEW, SHA_OLD), inventory: { entries: hrInv.map((id) => ({ id, v: 'v2' })) } });
      await waitFor('apps unblocked', () => last()!.nodes[APPS]!.phase === 'Progressing' && !last()!.nodes[APPS]!.blockedBy);
      expect(blocked.nodes[APPS]).toMatchObject({ phase: 'Waiting', settled: true, blockedBy: INFRA });
      expect(blocked.nodes[INFRA]!.phase).toBe('Failed');

      // An object deleted: its node stays, marked deleted, in a new object.
      const hrBefore = last()!.nodes[HR]!;
      sim.delete({ kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' });
      await waitFor('the HelmRelease deleted', () => last()!.nodes[HR]?.deleted === true);
      expect(hrBefore.deleted).toBeUndefined();
    } finally {
      ac.abort('stopped');
    }
    const final = await done;
    expect(final.status).toBe('finished');
    expect(seen.length).toBeGreaterThan(5);
    // Every state a reader was given is still what it was when given (nodes, warnings, status, verdict…).
    for (const [i, { state, copy }] of seen.entries()) expect(state, `state ${i}`).toEqual(copy);
    // A node object shared by two states is the same in both; a node that changed is a new object.
    for (let i = 1; i < seen.length; i++) {
      for (const [k, n] of Object.entries(seen[i]!.copy.nodes)) {
        const prev = seen[i - 1]!;
        if (seen[i]!.state.nodes[k] === prev.state.nodes[k]) expect(n, `${k} in state ${i}`).toEqual(prev.copy.nodes[k]);
      }
    }
    if (process.env.FLUX_MONITOR_FREEZE_STATES === '1') {
      // The tests' debug mode: a write to a published state throws, so that no engine test can pass with one.
      expect(Object.isFrozen(final) && Object.isFrozen(final.nodes) && Object.isFrozen(final.nodes[APPS]) && Object.isFrozen(final.warnings)).toBe(true);
      expect(() => ((final.nodes[APPS] as { settled: boolean }).settled = false)).toThrow(TypeError);
      expect(() => (final.warnings as string[]).push('x')).toThrow(TypeError);
    }
  });
});

describe('computeSettled', () => {
  const node = (key: string, phase: NodeState['phase'], over: Partial<NodeState> = {}): NodeState => {
    const [kind, namespace, name] = key.split('/') as [string, string, string];
    return { key, kind, namespace, name, phase, reason: phase, message: '', affected: true, settled: false, phaseSince: 0, firstSeen: 0, ...over };
  };
  const objects = () => {
    const ks = (name: string, dependsOn?: string[]): KubeObject => ({ ...kustomization(name, { dependsOn }), status: ksReady(SHA_OLD) });
    return new Map([INFRA, APPS, LEAF].map((k) => [k, ks(k.split('/')[2]!, k === APPS ? ['infra'] : undefined)]));
  };

  it('changes no node object: a node whose settled state, blocker or phase changes is replaced in the record', () => {
    const g = buildGraph(objects());
    const given = deepFreeze({
      [INFRA]: node(INFRA, 'Failed'),
      [APPS]: node(APPS, 'Waiting', { blockers: ['flux-system/infra'] }),
      [LEAF]: node(LEAF, 'Progressing'),
    });
    const nodes = { ...given };
    computeSettled(nodes, g, []);
    expect(nodes[INFRA]).toEqual({ ...given[INFRA], settled: true });
    expect(nodes[INFRA]).not.toBe(given[INFRA]);
    expect(nodes[APPS]).toMatchObject({ settled: true, blockedBy: INFRA });
    expect(nodes[APPS]).not.toBe(given[APPS]);
    expect(given[APPS]!.settled).toBe(false);
    // Unchanged: the same object.
    expect(nodes[LEAF]).toBe(given[LEAF]);
  });

  it('keeps the object of a node settled again the same way, and gives a new one when its blocker goes', () => {
    const g = buildGraph(objects());
    const settled = deepFreeze({
      [INFRA]: node(INFRA, 'Failed', { settled: true }),
      [APPS]: node(APPS, 'Waiting', { blockers: ['flux-system/infra'], settled: true, blockedBy: INFRA }),
    });
    const again = { ...settled };
    computeSettled(again, g, []);
    expect(again[INFRA]).toBe(settled[INFRA]);
    expect(again[APPS]).toBe(settled[APPS]);
    const recovered = { ...settled, [INFRA]: node(INFRA, 'Progressing') };
    computeSettled(recovered, g, []);
    expect(recovered[APPS]).not.toBe(settled[APPS]);
    expect(recovered[APPS]).toMatchObject({ settled: false });
    expect(recovered[APPS]!.blockedBy).toBeUndefined();
    expect(settled[APPS]!.blockedBy).toBe(INFRA);
  });
});
