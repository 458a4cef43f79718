// The incremental recompute (Monitor.recomputeChanged) against the full one: two monitors watch the same simulator,
// one with `tuning.incremental: false`; after each batch of random status writes both must show the same nodes
// (phase, reason, message, revision, settled, blockedBy, …), and each must have said every phase change.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiSimulator } from '../../src/sim/server.js';
import { Monitor } from '../../src/engine/monitor.js';
import { ClusterClient, loadKubeConfig } from '../../src/cluster/client.js';
import { DEFAULT_CONFIG, type CommitRelation, type KubeObject, type MonitorEvent, type NodeState } from '../../src/core/types.js';
import { SHA_NEW, T0, cond, SHA_NEWER, SHA_OLD, gitFailed, gitReady, gitRepository, helmRelease, hrFailed, hrReady, invId, kustomization, ksFailed, ksProgressing, ksReady, ksWaiting } from '../helpers/flux.js';
import { mulberry32 } from '../helpers/rng.js';
import { cleanup, FLEET_URL as URL_, startSim, waitFor } from '../helpers/engine.js';


let sim: ApiSimulator;
let kubeconfig: string;

beforeEach(async () => {
  ({ sim, kubeconfig } = await startSim());
});
afterEach(cleanup);

/** A HelmChart that helm-controller made for HelmRelease `hr` from the HelmRepository podinfo. */
function helmChart(hr: string) {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'HelmChart',
    metadata: { name: `apps-${hr}`, namespace: 'apps' },
    spec: { chart: hr, version: '6.x', sourceRef: { kind: 'HelmRepository', name: 'podinfo' }, interval: '5m' },
  };
}

/** source-controller's status of a HelmChart: pulled (Ready=True ChartPullSucceeded) or not (ChartPullError). */
function chartStatus(ok: boolean) {
  return ok
    ? { observedGeneration: 1, conditions: [cond('Ready', 'True', 'ChartPullSucceeded', "pulled 'podinfo' chart with version '6.5.0'")], artifact: { revision: '6.5.0', digest: 'sha256:' + 'e'.repeat(64), path: 'x', url: 'x', lastUpdateTime: T0 } }
    : { observedGeneration: 1, conditions: [cond('Ready', 'False', 'ChartPullError', 'chart pull error: no chart version found for podinfo-6.x')] };
}

interface Ks {
  name: string;
  deps: string[];
  inventory: string[];
}

/**
 * The fleet: the pushed repository's source; Kustomizations in dependsOn chains, each applying HelmReleases, one
 * applying two other Kustomizations (nested inventory); an `anchor` Kustomization that stays Progressing so the
 * session never concludes; another repository's source and Kustomization.
 */
function seed(): { kss: Ks[]; hrs: string[] } {
  sim.apply({ ...gitRepository('flux-system', URL_), status: gitReady(SHA_OLD) });
  const kss: Ks[] = [];
  const hrs: string[] = [];
  for (let i = 0; i < 8; i++) {
    const name = `ks-${i}`;
    const deps = i % 4 === 0 ? [] : [`ks-${i - 1}`];
    const inventory: string[] = [];
    for (const part of ['web', 'worker']) {
      const hr = `${name}-${part}`;
      inventory.push(invId('apps', hr, 'helm.toolkit.fluxcd.io', 'HelmRelease'));
      const o = sim.apply(helmRelease(hr));
      // Its HelmChart, built from a HelmRepository (status.helmChart, as helm-controller writes it): a source the
      // push cannot move, Unchanged until the HelmRelease is Ready with the push.
      sim.apply({ ...helmChart(hr), status: chartStatus(true) } as KubeObject);
      sim.setStatus({ kind: 'HelmRelease', namespace: 'apps', name: hr }, { ...hrReady(o.metadata.generation!), helmChart: `apps/apps-${hr}` });
      hrs.push(hr);
    }
    kss.push({ name, deps, inventory });
  }
  // ks-parent applies ks-6 and ks-7 (their delivery depends on it).
  kss.push({ name: 'ks-parent', deps: [], inventory: ['ks-6', 'ks-7'].map((k) => invId('flux-system', k, 'kustomize.toolkit.fluxcd.io', 'Kustomization')) });
  for (const k of kss) sim.apply({ ...kustomization(k.name, { dependsOn: k.deps.length ? k.deps : undefined }), status: ksReady(SHA_OLD, k.inventory) });
  sim.apply({ ...kustomization('anchor'), status: ksProgressing(SHA_NEW, SHA_OLD) });
  sim.apply({ ...gitRepository('other', 'https://github.com/acme/other.git'), status: gitReady(SHA_OLD) });
  sim.apply({ ...kustomization('other-app', { source: 'other' }), status: ksReady(SHA_OLD) });
  return { kss, hrs };
}

function start(incremental: boolean, relateCommit?: (sha: string) => Promise<CommitRelation>) {
  const events: MonitorEvent[] = [];
  const client = new ClusterClient(loadKubeConfig({ kubeconfig }));
  const ac = new AbortController();
  const m = new Monitor({
    client,
    pushed: { sha: SHA_NEW, branch: 'main' },
    target: { repoUrl: 'git@github.com:acme/fleet.git', branch: 'main' },
    config: { ...DEFAULT_CONFIG, timeout: 120 },
    sessionId: incremental ? 'incremental' : 'full',
    signal: ac.signal,
    tuning: { backoffMs: 20, maxBackoffMs: 200, stallMs: 5000, diagnosis: false, incremental },
    onEvent: (e) => events.push(e),
    relateCommit,
  });
  const done = m.run();
  return { m, events, done, stop: () => ac.abort('stopped') };
}

/** What a node shows, less the times (the two monitors handle events at slightly different moments). */
function shown(n: NodeState) {
  const { phaseSince: _p, firstSeen: _f, ...rest } = n;
  return rest;
}

function lastPhases(events: MonitorEvent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) if (e.type === 'phase') out.set(e.key, e.phase);
  return out;
}

describe('incremental recompute', () => {
  it.each([1, 2, 3, 4])('gives the same nodes as the full recompute on random change sequences (seed %i)', async (seedNo) => {
    const { kss, hrs } = seed();
    const rand = mulberry32(seedNo);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const full = start(false);
    const incr = start(true);
    try {
      await waitFor(() => [full, incr].every((x) => x.events.some((e) => e.type === 'session')));
      for (let step = 0; step < 40; step++) {
        // A batch of 1-4 writes, then both monitors must have seen them all.
        const written: Array<{ key: string; rv: string }> = [];
        const writes = 1 + Math.floor(rand() * 4);
        for (let w = 0; w < writes; w++) {
          const r = rand();
          let ref: { kind: string; namespace: string; name: string };
          let status: Record<string, unknown>;
          if (r < 0.1) {
            ref = { kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' };
            status = pick([gitReady(SHA_NEW), gitReady(SHA_NEW), gitReady(SHA_OLD), gitFailed(SHA_OLD, 'authentication required'), gitReady(SHA_NEWER)]);
          } else if (r < 0.6) {
            const k = pick(kss);
            ref = { kind: 'Kustomization', namespace: 'flux-system', name: k.name };
            const inventory = { entries: k.inventory.map((id) => ({ id, v: 'v2' })) };
            const s = pick<Record<string, unknown>>([
              ksReady(SHA_NEW, k.inventory),
              ksReady(SHA_NEW, k.inventory),
              { ...ksProgressing(SHA_NEW, SHA_OLD), inventory },
              { ...ksProgressing(SHA_NEW, SHA_OLD), inventory },
              ksReady(SHA_OLD, k.inventory),
              { ...ksFailed(SHA_NEW, SHA_OLD, 'BuildFailed', 'kustomize build failed: accumulating resources'), inventory },
              ksWaiting(SHA_OLD, k.deps[0] ?? 'ks-0', 'main', k.inventory),
              // Now and then without its inventory: the graph changes (a full recompute in both).
              ...(rand() < 0.2 ? [ksProgressing(SHA_NEW, SHA_OLD)] : []),
            ]);
            status = s;
          } else {
            const name = pick(hrs);
            ref = { kind: 'HelmRelease', namespace: 'apps', name };
            const gen = sim.get(ref)!.metadata.generation!;
            status = { ...pick([hrReady(gen), hrReady(gen), hrFailed(gen, 'install retries exhausted'), hrReady(gen, '6.6.0')]), helmChart: `apps/apps-${name}` };
            if (rand() < 0.3) {
              // Its chart too, now and then: pulled, or failing to pull.
              const chart = { kind: 'HelmChart', namespace: 'apps', name: `apps-${name}` };
              const c = sim.setStatus(chart, chartStatus(rand() < 0.7));
              written.push({ key: `HelmChart/apps/apps-${name}`, rv: c.metadata.resourceVersion! });
            }
          }
          const o: KubeObject = sim.setStatus(ref, status);
          written.push({ key: `${ref.kind}/${ref.namespace}/${ref.name}`, rv: o.metadata.resourceVersion! });
        }
        const last = new Map(written.map((w) => [w.key, w.rv]));
        await waitFor(() => [full, incr].every((x) => [...last].every(([key, rv]) => !x.m.state.nodes[key] || x.m.state.nodes[key]!.resourceVersion === rv)));
        // Let any recompute already scheduled run.
        await new Promise((r) => setTimeout(r, 30));
        const a = Object.values(full.m.state.nodes).map(shown);
        const b = Object.values(incr.m.state.nodes).map(shown);
        expect(b, `step ${step}`).toEqual(a);
        for (const x of [full, incr]) {
          const said = lastPhases(x.events);
          for (const n of Object.values(x.m.state.nodes)) expect(said.get(n.key), `${x.m.state.id} ${n.key} at step ${step}`).toBe(n.phase);
        }
      }
      expect(full.m.state.status).toBe('running');
      expect(incr.m.state.status).toBe('running');
      expect(full.m.recomputes.incremental).toBe(0);
      // Both ways were taken: incremental, and full where a blocker came or went or the graph changed.
      expect(incr.m.recomputes.incremental).toBeGreaterThanOrEqual(5);
      expect(incr.m.recomputes.full).toBeGreaterThanOrEqual(2);
    } finally {
      full.stop();
      incr.stop();
      await Promise.all([full.done, incr.done]);
    }
  });

  it.each([false, true])('keeps the time in phase of an object superseded through its source across recomputes (incremental: %s)', async (incremental) => {
    // The source fetched a newer commit: what it feeds is Superseded (UpstreamSuperseded, written by the settle
    // propagation over the phase of the object's own status). Later status writes elsewhere recompute the state.
    sim.apply({ ...gitRepository('flux-system', URL_), status: gitReady(SHA_NEWER) });
    sim.apply({ ...kustomization('app'), status: ksReady(SHA_OLD) });
    sim.apply({ ...kustomization('anchor'), status: ksProgressing(SHA_NEW, SHA_OLD) });
    const x = start(incremental, async (sha) => ({ relation: sha === SHA_NEWER ? 'diverged' : 'older' }));
    const APP = 'Kustomization/flux-system/app';
    try {
      await waitFor(() => x.m.state.nodes[APP]?.reason === 'UpstreamSuperseded');
      const since = x.m.state.nodes[APP]!.phaseSince;
      expect(x.m.state.nodes[APP]!.phase).toBe('Superseded');
      for (let i = 0; i < 3; i++) {
        const before = x.m.recomputes.full + x.m.recomputes.incremental;
        await waitFor(() => Date.now() > since + 5 * (i + 1));
        const o = sim.setStatus({ kind: 'Kustomization', namespace: 'flux-system', name: 'anchor' }, { ...ksProgressing(SHA_NEW, SHA_OLD), lastHandledReconcileAt: String(i) });
        await waitFor(() => x.m.state.nodes['Kustomization/flux-system/anchor']?.resourceVersion === o.metadata.resourceVersion && x.m.recomputes.full + x.m.recomputes.incremental > before);
        expect(x.m.state.nodes[APP]).toMatchObject({ phase: 'Superseded', reason: 'UpstreamSuperseded', phaseSince: since });
      }
      if (!incremental) expect(x.m.recomputes.incremental).toBe(0);
    } finally {
      x.stop();
      await x.done;
    }
  });

  it.each([false, true])('starts the time in phase when an unchanged object becomes superseded through its source (incremental: %s)', async (incremental) => {
    // app's own status never changes; its source moving on to a newer commit rewrites it to Superseded.
    sim.apply({ ...gitRepository('flux-system', URL_), status: gitReady(SHA_OLD) });
    sim.apply({ ...kustomization('app'), status: ksReady(SHA_OLD) });
    sim.apply({ ...kustomization('anchor'), status: ksProgressing(SHA_NEW, SHA_OLD) });
    const x = start(incremental, async (sha) => ({ relation: sha === SHA_NEWER ? 'diverged' : 'older' }));
    const APP = 'Kustomization/flux-system/app';
    try {
      await waitFor(() => x.m.state.nodes[APP]?.phase === 'Pending');
      const pendingSince = x.m.state.nodes[APP]!.phaseSince;
      await waitFor(() => Date.now() > pendingSince + 5);
      const written = Date.now();
      sim.setStatus({ kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' }, gitReady(SHA_NEWER));
      await waitFor(() => x.m.state.nodes[APP]?.reason === 'UpstreamSuperseded');
      expect(x.m.state.nodes[APP]!.phase).toBe('Superseded');
      expect(x.m.state.nodes[APP]!.phaseSince).toBeGreaterThanOrEqual(written);
    } finally {
      x.stop();
      await x.done;
    }
  });
});
