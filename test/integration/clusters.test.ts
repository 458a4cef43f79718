// One push followed on two real kube-apiservers (issue 13 item 2): a kubeconfig with two contexts, one Monitor
// per context, one subtree per cluster and one overall verdict, the worst of the two.
//
// Statuses are written by hand through /status in the shapes the real controllers write (test/helpers/flux.ts,
// via test/integration/fleet.ts): the GitRepository's Ready/ArtifactInStorage with artifact.revision
// `main@sha1:<sha>` as source-controller writes it, the Kustomization's Reconciling "Building manifests for
// revision …" then Ready ReconciliationSucceeded "Applied revision: …" with lastAppliedRevision as
// kustomize-controller writes it (test/fixtures/transcripts/chain-success.json), and the HelmRelease's
// Ready/Released False UpgradeFailed with status.history as helm-controller v1.6 writes it
// (test/fixtures/transcripts/helm-remediated.json).
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type MonitorEvent } from '../../src/core/types.js';
import { splitClusters } from '../../src/core/clusters.js';
import { createPlainPrinter } from '../../src/ui/plain.js';
import { applyNew, fetchNew, keyOf, seedFleet } from './fleet.js';
import { FluxObjects, startCluster, startEngine, stopEngines, waitFor, type KubeCluster } from './support.js';
import { mergeKubeconfigs } from '../helpers/kubeconfig.js';

let east: KubeCluster;
let west: KubeCluster;
let eastObjs: FluxObjects;
let westObjs: FluxObjects;
let kubeconfig: string;

beforeAll(async () => {
  // Two apiservers (each with its etcd), started one after the other: the machine is shared.
  east = await startCluster();
  west = await startCluster();
  eastObjs = FluxObjects.forCluster(east);
  westObjs = FluxObjects.forCluster(west);
  kubeconfig = await mergeKubeconfigs(
    [
      { context: 'east', file: east.adminKubeconfigPath },
      { context: 'west', file: west.adminKubeconfigPath },
    ],
    join(east.dataDir, 'two-clusters.kubeconfig'),
  );
});
afterEach(stopEngines);
afterAll(async () => {
  eastObjs?.admin.close();
  westObjs?.admin.close();
  await Promise.all([east?.stop(), west?.stop()]);
});

type Summary = Extract<MonitorEvent, { type: 'summary' }>;
const sessionOn = (events: MonitorEvent[], cluster: string) => events.some((e) => e.type === 'session' && e.cluster === cluster);

describe('one push on two real clusters', () => {
  it('applied on east, failed on west: overall failed, each cluster its own subtree and verdict', async () => {
    // The same repository on both clusters, as Flux left it after the previous commit.
    const fe = await seedFleet(eastObjs, 'multi-a');
    const fw = await seedFleet(westObjs, 'multi-a');
    const run = startEngine({ kubeconfig, repoUrl: fe.url, contexts: ['east', 'west'] });
    await waitFor('both clusters listed', () => sessionOn(run.events, 'east') && sessionOn(run.events, 'west'));
    const sessions = run.events.filter((e): e is Extract<MonitorEvent, { type: 'session' }> => e.type === 'session');
    expect(sessions.map((s) => [s.cluster, s.context, s.matchedSources]).sort()).toEqual([
      ['east', 'east', [keyOf(fe.git)]],
      ['west', 'west', [keyOf(fw.git)]],
    ]);

    await fetchNew(eastObjs, fe);
    await applyNew(eastObjs, fe, 'ok');
    await fetchNew(westObjs, fw);
    await applyNew(westObjs, fw, 'fail');
    const final = await run.p;

    expect(final.verdict).toBe('failed');
    expect(final.clusters!.map((c) => [c.context, c.server, c.verdict])).toEqual([
      ['east', east.server, 'success'],
      ['west', west.server, 'failed'],
    ]);
    const [e, w] = splitClusters(final);
    expect(Object.keys(e!.state.nodes).sort()).toEqual(fe.affected);
    expect(Object.keys(w!.state.nodes).sort()).toEqual(fw.affected);
    expect(Object.values(e!.state.nodes).map((n) => n.phase)).toEqual(['Ready', 'Ready', 'Ready', 'Ready']);
    expect(w!.state.nodes[keyOf(fw.hr)]).toMatchObject({ phase: 'Failed', reason: 'UpgradeFailed' });
    expect(w!.state.nodes[keyOf(fw.apps)]!.phase).toBe('Ready');
    expect(final.nodes[`west/${keyOf(fw.hr)}`]!.message).toContain('replicaCount');
    expect(w!.state.edges).toContainEqual({ from: keyOf(fw.apps), to: keyOf(fw.infra), type: 'dependsOn' });

    const last = run.events.at(-1) as Summary;
    expect(last).toMatchObject({ type: 'summary', verdict: 'failed', exitCode: 1 });
    expect(last.clusters!.map((c) => [c.context, c.verdict])).toEqual([
      ['east', 'success'],
      ['west', 'failed'],
    ]);
    // Phase events name their cluster and carry the key as it is on that cluster.
    const westHr = run.events.filter((x) => x.type === 'phase' && x.cluster === 'west' && x.key === keyOf(fw.hr)).map((x) => (x as { phase: string }).phase);
    expect(westHr.at(-1)).toBe('Failed');

    // The plain printer: one block per cluster, each with its verdict line, then the overall one.
    let out = '';
    const printer = createPlainPrinter({ write: (s: string) => (out += s) }, { verbosity: 'normal', ascii: true });
    printer.finish(final);
    expect(out).toMatch(/^\[east\] \[PASS\] Succeeded after .*: commit abcdef0 is applied: 4 ready$/m);
    expect(out).toMatch(/^\[west\] \[FAIL\] Failed after .*HelmRelease multi-a\/podinfo: UpgradeFailed/m);
    expect(out).toMatch(/^\[FAIL\] Failed after .*: failed on 1 of 2 clusters — west: .*; east: success$/m);
  });

  it('west goes down mid-session: east’s success still comes through; west is reported unreachable; overall timeout', async () => {
    const fe = await seedFleet(eastObjs, 'multi-b');
    await seedFleet(westObjs, 'multi-b');
    const run = startEngine({ kubeconfig, repoUrl: fe.url, contexts: ['east', 'west'], config: { ...DEFAULT_CONFIG, timeout: 20 } });
    await waitFor('both clusters listed', () => sessionOn(run.events, 'east') && sessionOn(run.events, 'west'));

    await west.stopApiserver();
    await waitFor('west reported unreachable', () => run.events.some((e) => e.type === 'error' && e.cluster === 'west' && !e.recovered && e.category === 'unreachable'), 60_000);
    await fetchNew(eastObjs, fe);
    await applyNew(eastObjs, fe, 'ok');
    // East's verdict, while west is still down and its monitor still retrying.
    await waitFor('east’s summary', () => run.events.some((e) => e.type === 'summary' && e.cluster === 'east'), 60_000);
    expect(run.events.find((e) => e.type === 'summary' && e.cluster === 'east')).toMatchObject({ verdict: 'success', exitCode: 0 });
    const mid = run.states.at(-1)!;
    expect(mid.status).toBe('running');
    expect(mid.clusters!.find((c) => c.context === 'west')!.error).toMatchObject({ category: 'unreachable' });

    const final = await run.p;
    // West saw the cluster before it went away: what it knew is kept, and its session timed out unreachable.
    expect(final.clusters!.map((c) => [c.context, c.verdict])).toEqual([
      ['east', 'success'],
      ['west', 'timeout'],
    ]);
    expect(final.clusters![1]!.error).toMatchObject({ category: 'unreachable' });
    expect(final.verdict).toBe('timeout');
    expect(final.timedOut).toBe(true);
    expect(final.verdictMessage).toMatch(/^timed out on 1 of 2 clusters — west: timed out after 20s: .*\(unreachable: .*\); east: success$/);
    expect((run.events.at(-1) as Summary).exitCode).toBe(2);
    expect(Object.values(final.nodes).filter((n) => n.cluster === 'east').every((n) => n.phase === 'Ready')).toBe(true);

    await west.startApiserver();
  });

  it('west is down from the start: east’s success comes through; west ends in error, unreachable; overall error', async () => {
    const fe = await seedFleet(eastObjs, 'multi-c');
    await west.stopApiserver();
    try {
      const run = startEngine({ kubeconfig, repoUrl: fe.url, contexts: ['east', 'west'], config: { ...DEFAULT_CONFIG, timeout: 15 } });
      await waitFor('east listed', () => sessionOn(run.events, 'east'));
      await fetchNew(eastObjs, fe);
      await applyNew(eastObjs, fe, 'ok');
      await waitFor('east’s summary', () => run.events.some((e) => e.type === 'summary' && e.cluster === 'east'), 60_000);
      expect(run.events.find((e) => e.type === 'summary' && e.cluster === 'east')).toMatchObject({ verdict: 'success' });
      expect(run.events.some((e) => e.type === 'error' && e.cluster === 'west' && e.category === 'unreachable')).toBe(true);
      expect(run.events.some((e) => e.type === 'session' && e.cluster === 'west')).toBe(false);

      const final = await run.p;
      expect(final.clusters!.map((c) => [c.context, c.verdict, c.error?.category])).toEqual([
        ['east', 'success', undefined],
        ['west', 'error', 'unreachable'],
      ]);
      expect(final.verdict).toBe('error');
      expect((run.events.at(-1) as Summary).exitCode).toBe(3);
      expect(final.verdictMessage).toMatch(/^error on 1 of 2 clusters — west: .*; east: success$/);
    } finally {
      await west.startApiserver();
    }
  });
});
