// The monitor engine against the project's API simulator (a real HTTP server speaking the Kubernetes API).
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiSimulator, ApiSimulatorOptions } from '../../src/sim/server.js';
import type { RunOptions } from '../../src/engine/run.js';
import { DEFAULT_CONFIG, type MonitorEvent } from '../../src/core/types.js';
import { cleanup, phasesOf, startEngine, startSim as startSimulator, waitFor } from '../helpers/engine.js';
import { GIT, ks, applyNewCommit as applySimCommit, seedFleet as seedSimFleet } from '../helpers/fleet.js';
import { SHA_NEW, SHA_NEWER, SHA_OLD, T0, cond, gitFailed, gitReady, hrReady, invId, kustomization, ksFailed, ksProgressing, ksReady, ksWaiting } from '../helpers/flux.js';


let sim: ApiSimulator;
let kubeconfig: string;

async function startSim(opts: ApiSimulatorOptions = {}) {
  ({ sim, kubeconfig } = await startSimulator(opts));
}

afterEach(cleanup);

/** The engine on the push of SHA_NEW, the repository named as its SSH remote (the fleet's sources use https). */
const run = (over: Partial<RunOptions> = {}) => startEngine({ repoUrl: 'git@github.com:acme/fleet.git', kubeconfig, ...over });

const seedFleet = () => seedSimFleet(sim);
const applyNewCommit = (hrOutcome: 'ok' | 'fail' = 'ok') => applySimCommit(sim, hrOutcome);

describe('engine against the API simulator', () => {
  it('follows a push to success: affected set, phases, summary', async () => {
    await startSim();
    seedFleet();
    const { p, events } = run();
    await waitFor(() => events.some((e) => e.type === 'session'));
    const session = events.find((e) => e.type === 'session') as Extract<MonitorEvent, { type: 'session' }>;
    expect(session.matchedSources).toEqual(['GitRepository/flux-system/flux-system']);
    expect(session.objects.map((o) => o.key).sort()).toEqual([
      'GitRepository/flux-system/flux-system',
      'HelmRelease/apps/podinfo',
      'Kustomization/flux-system/apps',
      'Kustomization/flux-system/infra',
    ]);
    expect(phasesOf(events, 'Kustomization/flux-system/infra')).toEqual(['Pending']);
    applyNewCommit();
    const final = await p;
    expect(final.verdict).toBe('success');
    const summary = events.at(-1) as Extract<MonitorEvent, { type: 'summary' }>;
    expect(summary.type).toBe('summary');
    expect(summary.exitCode).toBe(0);
    expect(summary.counts.ready).toBe(4);
    expect(phasesOf(events, 'GitRepository/flux-system/flux-system')).toEqual(['Pending', 'Ready']);
    expect(final.nodes['HelmRelease/apps/podinfo']!.phase).toBe('Ready');
    expect(final.edges).toContainEqual({ from: 'Kustomization/flux-system/apps', to: 'Kustomization/flux-system/infra', type: 'dependsOn' });
    expect(final.edges).toContainEqual({ from: 'Kustomization/flux-system/apps', to: 'HelmRelease/apps/podinfo', type: 'inventory' });
  });

  it('reports a failed HelmRelease with its message and exit code 1', async () => {
    await startSim();
    seedFleet();
    const { p, events } = run();
    await waitFor(() => events.some((e) => e.type === 'session'));
    applyNewCommit('fail');
    const final = await p;
    expect(final.verdict).toBe('failed');
    const hr = final.nodes['HelmRelease/apps/podinfo']!;
    expect(hr.phase).toBe('Failed');
    expect(hr.reason).toBe('UpgradeFailed');
    expect(hr.message).toContain('replicaCount');
    expect((events.at(-1) as { exitCode: number }).exitCode).toBe(1);
    expect(final.verdictMessage).toContain('HelmRelease apps/podinfo');
  });

  it('a build failure blocks the dependents, which settle as blocked instead of waiting for the timeout', async () => {
    await startSim();
    seedFleet();
    // A session timeout far beyond the test's: if the dependents waited for it, the test itself would time out.
    const { p } = run({ config: { ...DEFAULT_CONFIG, timeout: 3600 } });
    await new Promise((r) => setTimeout(r, 200));
    sim.setStatus(GIT, gitReady(SHA_NEW));
    sim.setStatus(ks('infra'), ksFailed(SHA_NEW, SHA_OLD, 'BuildFailed', 'kustomize build failed: accumulating resources: missing.yaml not found'));
    sim.setStatus(ks('apps'), ksWaiting(SHA_OLD, 'flux-system/infra', 'main', [invId('apps', 'podinfo', 'helm.toolkit.fluxcd.io', 'HelmRelease')]));
    const final = await p;
    expect(final.verdict).toBe('failed');
    expect(final.nodes['Kustomization/flux-system/infra']!.phase).toBe('Failed');
    expect(final.nodes['Kustomization/flux-system/apps']!.phase).toBe('Waiting');
    expect(final.nodes['Kustomization/flux-system/apps']!.blockers).toEqual(['flux-system/infra']);
    expect(final.nodes['Kustomization/flux-system/apps']!.settled).toBe(true);
    // The HelmRelease is never reached by the commit: pending, blocked by its parent.
    expect(final.nodes['HelmRelease/apps/podinfo']!.phase).toBe('Pending');
    expect(final.nodes['HelmRelease/apps/podinfo']!.settled).toBe(true);
  });

  it('a source that cannot fetch fails the session with the controller message', async () => {
    await startSim();
    seedFleet();
    const { p } = run();
    await new Promise((r) => setTimeout(r, 100));
    sim.setStatus(GIT, gitFailed(SHA_OLD, "failed to checkout and determine revision: unable to clone 'https://github.com/acme/fleet.git': authentication required"));
    const final = await p;
    expect(final.verdict).toBe('failed');
    expect(final.nodes['GitRepository/flux-system/flux-system']!.reason).toBe('GitOperationFailed');
  });

  it('times out with everything it knows', async () => {
    await startSim();
    seedFleet();
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 1 } });
    const final = await p;
    expect(final.verdict).toBe('timeout');
    expect((events.at(-1) as { exitCode: number }).exitCode).toBe(2);
    expect(Object.keys(final.nodes)).toHaveLength(4);
    expect(final.verdictMessage).toMatch(/timed out after 1s: 0 ready/);
  });

  it('keeps going when watches are dropped mid-stream', async () => {
    await startSim();
    seedFleet();
    const { p, events } = run();
    await waitFor(() => events.some((e) => e.type === 'session'));
    await waitFor(() => sim.stats().openWatches >= 4);
    expect(sim.dropWatchesNow()).toBeGreaterThanOrEqual(4);
    sim.setStatus(GIT, gitReady(SHA_NEW)); // happens while no watch is open
    await waitFor(() => sim.stats().watchesStarted >= 8);
    applyNewCommit();
    const final = await p;
    expect(final.verdict).toBe('success');
  });

  it('relists after 410 Gone, silently, and loses no update', async () => {
    await startSim({ historyLimit: 5 });
    seedFleet();
    const { p, events } = run();
    await waitFor(() => events.some((e) => e.type === 'session'));
    await waitFor(() => sim.stats().openWatches >= 4);
    const listsBefore = sim.stats().requestsByVerb.list ?? 0;
    sim.dropWatchesNow();
    // Many changes while disconnected, then compaction: resuming from the old resourceVersion must give 410.
    for (let i = 0; i < 10; i++) sim.setStatus(ks('infra'), ksProgressing(SHA_NEW, SHA_OLD));
    sim.compact();
    applyNewCommit();
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(sim.stats().requestsByVerb.list ?? 0).toBeGreaterThan(listsBefore);
    // A relist is routine (client-go's informers do it silently): no error event for it.
    expect(events.some((e) => e.type === 'error' && e.category === 'gone')).toBe(false);
    expect(final.error).toBeUndefined();
  });

  it('falls back to the namespaces it may read when cluster-wide list is forbidden', async () => {
    await startSim({ allowNamespaces: ['flux-system', 'apps'] });
    seedFleet();
    sim.apply({ ...kustomization('secret-team', { ns: 'team-b' }), status: ksReady(SHA_OLD) });
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 20, namespaces: ['flux-system', 'apps', 'team-b'] } });
    await waitFor(() => events.some((e) => e.type === 'session'));
    const warning = events.find((e) => e.type === 'warning') as { message: string };
    expect(warning.message).toContain('cannot list Flux objects cluster-wide (403)');
    expect(warning.message).toContain('no access to team-b');
    applyNewCommit();
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(final.nodes['HelmRelease/apps/podinfo']!.phase).toBe('Ready');
  });

  it('fails with a forbidden error and a hint when no namespace is readable', async () => {
    await startSim({ allowNamespaces: ['nothing-here'] });
    seedFleet();
    const { p } = run({ config: { ...DEFAULT_CONFIG, timeout: 20, namespaces: ['flux-system'] } });
    const final = await p;
    expect(final.verdict).toBe('error');
    expect(final.error?.category).toBe('forbidden');
    expect(final.error?.hint).toMatch(/namespaces/);
  });

  it('waits for a cluster that cannot be reached, then recovers', async () => {
    await startSim();
    seedFleet();
    await sim.setUnavailable(true);
    const { p, events } = run();
    await waitFor(() => events.some((e) => e.type === 'error' && e.category === 'unreachable' && !e.recovered));
    await sim.setUnavailable(false);
    await waitFor(() => events.some((e) => e.type === 'session'));
    expect(events.some((e) => e.type === 'error' && e.recovered)).toBe(true);
    applyNewCommit();
    const final = await p;
    expect(final.verdict).toBe('success');
  });

  it('an unreachable cluster that never comes back ends as a cluster error (exit 3), not a timeout', async () => {
    await startSim();
    await sim.setUnavailable(true);
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 1 } });
    const final = await p;
    expect(final.verdict).toBe('error');
    expect(final.error?.category).toBe('unreachable');
    expect((events.at(-1) as { exitCode: number }).exitCode).toBe(3);
    // It names the server and the context, and no longer promises to retry once it has stopped.
    const server = sim.url;
    expect(final.error?.message).toMatch(new RegExp(`^cannot reach ${server.replace(/[.:/]/g, '\\$&')} \\(E[A-Z]+\\)$`));
    expect(final.verdictMessage).toMatch(new RegExp(`^cannot reach .*; context ${final.cluster.context}\\. Check the cluster is up and reachable`));
    for (const text of [final.error!.hint, final.verdictMessage!, (events.at(-1) as { message: string }).message]) expect(text).not.toMatch(/retr/);
    // While it was retrying, the live error said so.
    expect(events.find((e) => e.type === 'error')).toMatchObject({ hint: expect.stringContaining('keeps retrying') });
  });

  it('expired credentials give an unauthorized error with a hint', async () => {
    await startSim({ token: 'right' });
    seedFleet();
    await sim.writeKubeconfig(kubeconfig, { token: 'expired' });
    const final = await run().p;
    expect(final.verdict).toBe('error');
    expect(final.error?.category).toBe('unauthorized');
    expect(final.error?.hint).toMatch(/log in again/);
  });

  it('says Flux is not installed when its CRDs are missing', async () => {
    await startSim({ fluxApi: 'none' });
    const final = await run().p;
    expect(final.verdict).toBe('error');
    expect(final.error?.category).toBe('flux-not-installed');
  });

  it('uses the v1beta2/v2beta2 APIs that older Flux serves', async () => {
    await startSim({ fluxApi: 'legacy' });
    seedFleet();
    const { p, events } = run();
    await waitFor(() => events.some((e) => e.type === 'session'));
    applyNewCommit();
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(final.nodes['Kustomization/flux-system/infra']!.apiVersion).toBe('kustomize.toolkit.fluxcd.io/v1beta2');
    expect(final.nodes['HelmRelease/apps/podinfo']!.apiVersion).toBe('helm.toolkit.fluxcd.io/v2beta2');
  });

  it('polls when the watch verb is refused, and says so', async () => {
    await startSim({ disableWatch: 403 });
    seedFleet();
    const { p, events, states } = run({ config: { ...DEFAULT_CONFIG, timeout: 20, polling_interval: 0.25 } });
    await waitFor(() => events.some((e) => e.type === 'session'));
    applyNewCommit();
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(states.some((s) => s.mode === 'poll')).toBe(true);
    // Polling is a degraded mode, said once per kind as a warning, not an error hanging over the session.
    expect(final.error).toBeUndefined();
    expect(final.warnings).toContain('watching kustomizations is not allowed (HTTP 403): polling instead (grant the `watch` verb for live updates)');
  });

  it('reports no matching source as not-found with a hint', async () => {
    await startSim();
    seedFleet();
    const final = await run({ repoUrl: 'https://github.com/acme/unknown.git' }).p;
    expect(final.verdict).toBe('error');
    expect(final.error?.category).toBe('not-found');
    expect(final.error?.hint).toMatch(/--all/);
  });

  it('marks a commit superseded when one that does not contain it (history rewritten) is applied', async () => {
    await startSim();
    seedFleet();
    const { p, events } = run({ relateCommit: async (sha) => ({ relation: sha === SHA_NEWER ? 'diverged' : 'older' }) });
    await waitFor(() => events.some((e) => e.type === 'session'));
    sim.setStatus(GIT, gitReady(SHA_NEWER));
    sim.setStatus(ks('infra'), ksReady(SHA_NEWER));
    sim.setStatus(ks('apps'), ksReady(SHA_NEWER, [invId('apps', 'podinfo', 'helm.toolkit.fluxcd.io', 'HelmRelease')]));
    const final = await p;
    expect(final.nodes['GitRepository/flux-system/flux-system']!.phase).toBe('Superseded');
    expect(final.verdict).toBe('superseded');
  });

  it('follows a later commit that contains the pushed one to its verdict: applied through it', async () => {
    await startSim();
    seedFleet();
    const asked: string[] = [];
    const { p, events } = run({
      relateCommit: async (sha) => {
        asked.push(sha);
        return { relation: sha === SHA_NEWER ? 'contains' : 'older' };
      },
    });
    await waitFor(() => events.some((e) => e.type === 'session'));
    sim.setStatus(GIT, gitReady(SHA_NEWER));
    sim.setStatus(ks('infra'), ksReady(SHA_NEWER));
    sim.setStatus(ks('apps'), ksReady(SHA_NEWER, [invId('apps', 'podinfo', 'helm.toolkit.fluxcd.io', 'HelmRelease')]));
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(final.commit.through).toBe(SHA_NEWER);
    expect(final.verdictMessage).toBe(`commit ${SHA_NEW.slice(0, 7)} is applied through ${SHA_NEWER.slice(0, 7)}, which includes it: 4 ready`);
    expect(final.nodes['Kustomization/flux-system/apps']).toMatchObject({ phase: 'Ready', revision: `main@sha1:${SHA_NEWER}` });
    const summary = events.at(-1);
    expect(summary).toMatchObject({ type: 'summary', verdict: 'success', exitCode: 0, commit: SHA_NEW, through: SHA_NEWER });
    // Asked once per commit: the answer is definitive.
    expect(asked.filter((s) => s === SHA_NEWER)).toHaveLength(1);
  });

  it('a failure on a later commit that contains the pushed one fails the push', async () => {
    await startSim();
    seedFleet();
    const { p, events } = run({ relateCommit: async (sha) => ({ relation: sha === SHA_NEWER ? 'contains' : 'older' }) });
    await waitFor(() => events.some((e) => e.type === 'session'));
    sim.setStatus(GIT, gitReady(SHA_NEWER));
    sim.setStatus(ks('infra'), ksFailed(SHA_NEWER, SHA_OLD, 'BuildFailed', 'kustomize build failed: accumulating resources'));
    const final = await p;
    expect(final.verdict).toBe('failed');
    expect(final.verdictMessage).toMatch(new RegExp(`^commit ${SHA_NEW.slice(0, 7)} failed through ${SHA_NEWER.slice(0, 7)}, which includes it: `));
  });

  it('a commit git cannot place is asked about again (a "no" from a missing object is never kept), and said meanwhile', async () => {
    await startSim();
    seedFleet();
    let reachable = false;
    let asks = 0;
    const { p, events, states } = run({
      relateCommit: async (sha) => {
        if (sha !== SHA_NEWER) return { relation: 'older' };
        asks++;
        return reachable ? { relation: 'contains' } : { relation: 'unknown', reason: 'this clone does not have it and could not fetch it: could not read from remote repository' };
      },
    });
    await waitFor(() => events.some((e) => e.type === 'session'));
    sim.setStatus(GIT, gitReady(SHA_NEWER));
    sim.setStatus(ks('infra'), ksReady(SHA_NEWER));
    sim.setStatus(ks('apps'), ksReady(SHA_NEWER, [invId('apps', 'podinfo', 'helm.toolkit.fluxcd.io', 'HelmRelease')]));
    await waitFor(() => events.some((e) => e.type === 'warning' && e.message.includes('is unknown')));
    const warning = events.find((e) => e.type === 'warning' && e.message.includes('is unknown'));
    expect(warning).toMatchObject({ message: `a source is at ${SHA_NEWER.slice(0, 7)}, and whether it includes ${SHA_NEW.slice(0, 7)} is unknown: this clone does not have it and could not fetch it: could not read from remote repository` });
    expect(states.at(-1)!.status).not.toBe('finished');
    reachable = true;
    const final = await p;
    expect(asks).toBeGreaterThanOrEqual(2);
    expect(final.verdict).toBe('success');
    expect(final.commit.through).toBe(SHA_NEWER);
    // Once placed, the warning is gone from the state.
    expect(final.warnings.some((w) => w.includes('is unknown'))).toBe(false);
  }, 30_000);

  it('a session in which every affected object was deleted is not a success: it says which were deleted', async () => {
    await startSim();
    seedFleet();
    const { p, events, states } = run();
    await waitFor(() => events.some((e) => e.type === 'session'));
    // Children first, each seen gone before the next (watches of different kinds deliver in any order).
    for (const ref of [{ kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' }, ks('apps'), ks('infra'), GIT]) {
      expect(sim.delete(ref)).toBe(true);
      await waitFor(() => states.at(-1)?.nodes[`${ref.kind}/${ref.namespace}/${ref.name}`]?.deleted === true || states.at(-1)?.status === 'finished');
    }
    const final = await p;
    expect(final.verdict).toBe('failed');
    expect(final.timedOut).toBeUndefined();
    expect(final.verdictMessage).toMatch(new RegExp(`^commit ${SHA_NEW.slice(0, 7)} was not applied: every object that would apply it was deleted \\(`));
    expect(final.verdictMessage).toContain('Kustomization flux-system/infra');
  });

  it('a HelmChart built from a HelmRepository is unchanged by the push (not ready with it) until its HelmRelease has the push', async () => {
    const chartKey = 'HelmChart/apps/apps-podinfo';
    const withChart = () => {
      seedFleet();
      // What helm-controller and source-controller write (helm-controller v1.x: status.helmChart "<ns>/<name>";
      // source-controller: Ready=True ChartPullSucceeded on the HelmChart).
      sim.apply({
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'HelmChart',
        metadata: { name: 'apps-podinfo', namespace: 'apps' },
        spec: { chart: 'podinfo', version: '6.x', sourceRef: { kind: 'HelmRepository', name: 'podinfo' }, interval: '5m' },
        status: { observedGeneration: 1, conditions: [cond('Ready', 'True', 'ChartPullSucceeded', "pulled 'podinfo' chart with version '6.5.0'")], artifact: { revision: '6.5.0', digest: 'sha256:' + 'e'.repeat(64), path: 'x', url: 'x', lastUpdateTime: T0 } },
      } as never);
      const hr = sim.get({ kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' })!;
      sim.setStatus({ kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' }, { ...hrReady(hr.metadata.generation!), helmChart: 'apps/apps-podinfo' });
    };

    // The commit never arrives: the chart's Ready is not the push's doing.
    await startSim();
    withChart();
    const failed = run();
    await waitFor(() => failed.events.some((e) => e.type === 'session'));
    sim.setStatus(GIT, gitFailed(SHA_OLD, 'authentication required'));
    const f = await failed.p;
    expect(f.verdict).toBe('failed');
    expect(f.nodes[chartKey]).toMatchObject({ phase: 'Ready', context: true, affected: true });
    const summary = failed.events.at(-1) as Extract<MonitorEvent, { type: 'summary' }>;
    expect(summary.counts).toMatchObject({ ready: 0, unchanged: 1, failed: 1 });
    // --json says of each object what the views say: the chart unchanged, the Kustomizations blocked by the source.
    expect(summary.objects.find((o) => o.key === chartKey)).toMatchObject({ phase: 'Ready', unchanged: true });
    expect(summary.objects.find((o) => o.key === 'Kustomization/flux-system/infra')).toMatchObject({ blocked: true, blockedBy: 'GitRepository/flux-system/flux-system' });
    expect(summary.objects.filter((o) => o.blocked).length).toBe(summary.counts.blocked);
    expect(f.verdictMessage).toMatch(/, 0 ready \(GitRepository flux-system\/flux-system: GitOperationFailed\)$/);
    await sim.stop();

    // The push reaches the HelmRelease: then the chart served it, and counts as ready.
    await startSim();
    withChart();
    const ok = run();
    await waitFor(() => ok.states.at(-1)?.nodes[chartKey]?.context === true);
    applyNewCommit();
    const hr = sim.get({ kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' })!;
    sim.setStatus({ kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' }, { ...hrReady(hr.metadata.generation!), helmChart: 'apps/apps-podinfo' });
    const s = await ok.p;
    expect(s.verdict).toBe('success');
    expect(s.nodes[chartKey]!.context).toBeUndefined();
    expect((ok.events.at(-1) as Extract<MonitorEvent, { type: 'summary' }>).counts).toMatchObject({ ready: 5, unchanged: 0 });
  });

  it('stops with verdict superseded when aborted for a newer push', async () => {
    await startSim();
    seedFleet();
    const ac = new AbortController();
    const { p, events } = run({ signal: ac.signal });
    await waitFor(() => events.some((e) => e.type === 'session'));
    ac.abort('superseded');
    const final = await p;
    expect(final.verdict).toBe('superseded');
    await waitFor(() => sim.stats().openWatches === 0);
  });

  it('auto_reconcile asks Flux to fetch now (reconcile.fluxcd.io/requestedAt)', async () => {
    await startSim();
    seedFleet();
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 20, auto_reconcile: true } });
    await waitFor(() => Boolean(sim.get(GIT)?.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']));
    const token = sim.get(GIT)!.metadata.annotations!['reconcile.fluxcd.io/requestedAt']!;
    expect(Number.isFinite(Date.parse(token))).toBe(true);
    expect(events.some((e) => e.type === 'session')).toBe(true);
    applyNewCommit();
    expect((await p).verdict).toBe('success');
  });

  it('survives 500s and 429 with Retry-After on list', async () => {
    await startSim();
    seedFleet();
    sim.failNext({ status: 500, count: 2, verb: 'list' });
    sim.failNext({ status: 429, count: 1, retryAfterSeconds: 1, verb: 'list' });
    const { p, events } = run();
    await waitFor(() => events.some((e) => e.type === 'session'), 10_000);
    expect(events.some((e) => e.type === 'error' && e.category === 'server-error')).toBe(true);
    applyNewCommit();
    expect((await p).verdict).toBe('success');
  });

  it('reopens a watch that receives a malformed frame', async () => {
    await startSim();
    seedFleet();
    const { p, events } = run();
    await waitFor(() => events.some((e) => e.type === 'session'));
    await waitFor(() => sim.stats().openWatches >= 4);
    const started = sim.stats().watchesStarted;
    sim.malformedWatchFrame();
    await waitFor(() => sim.stats().watchesStarted > started);
    applyNewCommit();
    expect((await p).verdict).toBe('success');
  });

  it('API requests grow with the number of kinds, not of objects', async () => {
    const requestsFor = async (n: number) => {
      await startSim();
      seedFleet();
      for (let i = 0; i < n; i++) sim.apply({ ...kustomization(`extra-${i}`, { dependsOn: ['infra'] }), status: ksReady(SHA_OLD) });
      const { p, events } = run();
      await waitFor(() => events.some((e) => e.type === 'session'));
      applyNewCommit();
      for (let i = 0; i < n; i++) sim.setStatus(ks(`extra-${i}`), ksReady(SHA_NEW));
      const final = await p;
      expect(final.verdict).toBe('success');
      expect(Object.keys(final.nodes).length).toBe(4 + n);
      const r = sim.stats().requests;
      await sim.stop();
      return r;
    };
    const small = await requestsFor(5);
    const large = await requestsFor(500);
    expect(large).toBe(small);
  });
});

/** Tekton's PipelineRun, served as its CRD would serve it (test/tekton/crds.sh has the real CRD for the kube suite). */
const PIPELINERUNS = {
  group: 'tekton.dev', versions: ['v1'], plural: 'pipelineruns', singular: 'pipelinerun', kind: 'PipelineRun', namespaced: true,
  shortNames: ['pr'], categories: ['tekton'], statusSubresource: true, generation: true,
};
const pipelineRun = (name: string, sha: string, extra: { annotations?: Record<string, string> } = {}) => ({
  apiVersion: 'tekton.dev/v1',
  kind: 'PipelineRun',
  metadata: { name, namespace: 'ci', labels: { 'pipelinesascode.tekton.dev/sha': sha }, ...extra },
  spec: { pipelineRef: { name: 'build' } },
});
/** The Succeeded condition as Tekton's controller writes it (tektoncd/pipeline v1.3.0, pipelinerunstate.go). */
const prStatus = (status: string, reason: string, message: string) => ({
  observedGeneration: 1,
  conditions: [{ type: 'Succeeded', status, reason, message, lastTransitionTime: '2026-11-27T10:00:00Z' }],
});
const TEKTON_KIND = {
  apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', labelSelector: 'pipelinesascode.tekton.dev/sha={sha}', condition: 'Succeeded',
  progressingReasons: [], wait: 0, namespaces: [],
};

describe('engine: custom kinds on the API simulator', () => {
  it('follows the PipelineRun of the pushed sha to the verdict and never sees another sha’s', async () => {
    await startSim({ customResources: [PIPELINERUNS] });
    seedFleet();
    sim.apply({ ...pipelineRun('build-old', SHA_OLD), status: prStatus('False', 'Failed', 'Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0') });
    sim.apply({ ...pipelineRun('build-new', SHA_NEW), status: prStatus('Unknown', 'Running', 'Tasks Completed: 0 (Failed: 0, Cancelled 0), Incomplete: 2, Skipped: 0') });
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 20, custom_kinds: [TEKTON_KIND] } });
    await waitFor(() => events.some((e) => e.type === 'session'));
    applyNewCommit();
    await waitFor(() => phasesOf(events, 'HelmRelease/apps/podinfo').at(-1) === 'Ready');
    sim.setStatus({ kind: 'PipelineRun', namespace: 'ci', name: 'build-new' }, prStatus('True', 'Succeeded', 'Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 0'));
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(phasesOf(events, 'PipelineRun/ci/build-new')).toEqual(['Progressing', 'Ready']);
    // Only the server filters by label (nothing here does): the other commit's failed PipelineRun never came.
    expect(final.nodes['PipelineRun/ci/build-old']).toBeUndefined();
  });

  it('says when {sha} can only be the short sha it was given', async () => {
    await startSim({ customResources: [PIPELINERUNS] });
    seedFleet();
    const { p, events } = run({ pushed: { sha: SHA_NEW.slice(0, 7), branch: 'main' }, config: { ...DEFAULT_CONFIG, timeout: 20, custom_kinds: [TEKTON_KIND] } });
    await waitFor(() => events.some((e) => e.type === 'session'));
    applyNewCommit();
    const final = await p;
    expect(final.warnings).toContain(`PipelineRun (tekton.dev/v1): {sha} stands for the full commit sha, but only ${SHA_NEW.slice(0, 7)} is known (pass --revision with the full sha)`);
  });

  it('a label selector the server refuses (400) is one warning, and the session goes on with Flux', async () => {
    await startSim({ customResources: [PIPELINERUNS] });
    seedFleet();
    const bad = { ...TEKTON_KIND, labelSelector: 'pipelinesascode.tekton.dev/sha in ({sha}' };
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 20, custom_kinds: [bad] } });
    await waitFor(() => events.some((e) => e.type === 'session'));
    applyNewCommit();
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(final.warnings.filter((w) => w.includes('PipelineRun'))).toEqual([
      expect.stringMatching(/^PipelineRun \(tekton\.dev\/v1\) is not followed cluster-wide: .*invalid label selector/),
    ]);
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
  });

  it('matches an annotation with {short_sha} here and fails the verdict with the PipelineRun’s reason', async () => {
    await startSim({ customResources: [PIPELINERUNS] });
    seedFleet();
    const short = SHA_NEW.slice(0, 7);
    sim.apply({ ...pipelineRun('build-other', SHA_NEW, { annotations: { 'ci.example.com/commit': 'deadbee' } }), status: prStatus('False', 'Failed', 'x') });
    sim.apply({ ...pipelineRun('build-push', SHA_NEW, { annotations: { 'ci.example.com/commit': short } }), status: prStatus('Unknown', 'Started', '') });
    const kind = { ...TEKTON_KIND, labelSelector: undefined, annotation: { key: 'ci.example.com/commit', value: '{short_sha}' } };
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 20, custom_kinds: [kind] } });
    await waitFor(() => events.some((e) => e.type === 'session'));
    applyNewCommit();
    sim.setStatus({ kind: 'PipelineRun', namespace: 'ci', name: 'build-push' }, prStatus('False', 'PipelineRunTimeout', 'PipelineRun "build-push" failed to finish within "1h0m0s"'));
    const final = await p;
    expect(final.verdict).toBe('failed');
    expect(final.verdictMessage).toContain('(PipelineRun ci/build-push: PipelineRunTimeout)');
    expect(final.nodes['PipelineRun/ci/build-other']).toBeUndefined();
  });
});

describe('engine: a push that reaches the cluster as an OCI artifact built by CI (issue 18)', () => {
  const OCI = { kind: 'OCIRepository', namespace: 'flux-system', name: 'app' };
  const HR = { kind: 'HelmRelease', namespace: 'flux-system', name: 'web' };
  const digestOf = (sha: string) => `sha256:${sha.slice(0, 8).repeat(8)}`;
  /** An OCIRepository's status holding the artifact CI built from `sha` (`flux push artifact --revision main@sha1:<sha>`). */
  const ociReady = (sha: string, reconciling = false) => ({
    observedGeneration: 1,
    conditions: [
      ...(reconciling ? [{ type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'reconciliation in progress', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' }] : []),
      { type: 'Ready', status: 'True', reason: 'Succeeded', message: `stored artifact for digest 'latest@${digestOf(sha)}'`, observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' },
    ],
    artifact: {
      revision: `latest@${digestOf(sha)}`,
      metadata: { 'org.opencontainers.image.source': 'https://github.com/acme/fleet', 'org.opencontainers.image.revision': `main@sha1:${sha}`, 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    },
  });
  /** A HelmRelease with chartRef to the OCIRepository, released from the artifact of `sha` (helm-controller records its digest). */
  const hrFrom = (sha: string) => ({
    observedGeneration: 1,
    lastAttemptedGeneration: 1,
    lastAttemptedRevision: `1.0.0+${digestOf(sha).slice(7, 19)}`,
    lastAttemptedRevisionDigest: `latest@${digestOf(sha)}`,
    history: [{ chartName: 'web', chartVersion: `1.0.0+${digestOf(sha).slice(7, 19)}`, status: 'deployed', version: 1, ociDigest: `latest@${digestOf(sha)}` }],
    conditions: [{ type: 'Ready', status: 'True', reason: 'UpgradeSucceeded', message: 'Helm upgrade succeeded', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' }],
  });
  function seedOci() {
    sim.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', metadata: { name: 'app', namespace: 'flux-system' }, spec: { interval: '1m', url: 'oci://registry.example/app', ref: { tag: 'latest' } } });
    sim.setStatus(OCI, ociReady(SHA_OLD));
    sim.apply({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'web', namespace: 'flux-system' }, spec: { interval: '5m', chartRef: { kind: 'OCIRepository', name: 'app' } } });
    sim.setStatus(HR, hrFrom(SHA_OLD));
  }

  it('no GitRepository: the OCIRepository matches; CI publishes, the HelmRelease (chartRef) follows the artifact digest to success', async () => {
    await startSim();
    seedOci();
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 20, ci_timeout: 20 } });
    await waitFor(() => events.some((e) => e.type === 'session'));
    const session = events.find((e) => e.type === 'session') as Extract<MonitorEvent, { type: 'session' }>;
    expect(session.matchedSources).toEqual(['OCIRepository/flux-system/app']);
    const first = events.find((e) => e.type === 'phase' && e.key === 'OCIRepository/flux-system/app') as Extract<MonitorEvent, { type: 'phase' }>;
    expect(first).toMatchObject({ phase: 'Pending', reason: 'AwaitingArtifact', message: `waiting for an artifact built from abcdef0; the artifact is at main@sha1:${SHA_OLD}` });
    expect(events.find((e) => e.type === 'phase' && e.key === 'HelmRelease/flux-system/web')).toMatchObject({ phase: 'Pending', reason: 'NotApplied' });
    sim.setStatus(OCI, ociReady(SHA_NEW));
    sim.setStatus(HR, hrFrom(SHA_NEW));
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(final.nodes['HelmRelease/flux-system/web']).toMatchObject({ phase: 'Ready', revision: `main@sha1:${SHA_NEW}` });
    expect(final.ci?.artifactAt).toBeDefined();
  });

  it('an ExternalArtifact (Flux 2.7) whose revision names the commit is followed like an OCIRepository, with the Kustomization applying it', async () => {
    await startSim();
    const EA = { kind: 'ExternalArtifact', namespace: 'flux-system', name: 'gen' };
    const eaStatus = (sha: string) => ({
      // ExternalArtifactStatus has artifact and conditions only (source-controller api/v1).
      conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'stored artifact', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' }],
      artifact: { revision: `main@sha1:${sha}`, digest: digestOf(sha), metadata: { 'org.opencontainers.image.source': 'https://github.com/acme/fleet.git' } },
    });
    sim.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'ExternalArtifact', metadata: { name: 'gen', namespace: 'flux-system' }, spec: { sourceRef: { apiVersion: 'source.extensions.fluxcd.io/v1beta1', kind: 'ArtifactGenerator', name: 'gen' } } });
    sim.setStatus(EA, eaStatus(SHA_OLD));
    sim.apply({ ...kustomization('apps'), spec: { ...kustomization('apps').spec, sourceRef: { kind: 'ExternalArtifact', name: 'gen' } }, status: ksReady(SHA_OLD) });
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 20, ci_timeout: 20 } });
    await waitFor(() => events.some((e) => e.type === 'session'));
    const session = events.find((e) => e.type === 'session') as Extract<MonitorEvent, { type: 'session' }>;
    expect(session.matchedSources).toEqual(['ExternalArtifact/flux-system/gen']);
    expect(session.objects.map((o) => o.key).sort()).toEqual(['ExternalArtifact/flux-system/gen', 'Kustomization/flux-system/apps']);
    expect(phasesOf(events, 'ExternalArtifact/flux-system/gen')).toEqual(['Pending']);
    sim.setStatus(EA, eaStatus(SHA_NEW));
    sim.setStatus(ks('apps'), ksReady(SHA_NEW));
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(final.nodes['ExternalArtifact/flux-system/gen']).toMatchObject({ phase: 'Ready', revision: `main@sha1:${SHA_NEW}` });
  });

  it('CI never publishes: the session ends at ci_timeout, not timeout, and says it waited for CI; a Reconciling blip is still waiting', async () => {
    await startSim();
    seedOci();
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 60, ci_timeout: 1 } });
    await waitFor(() => events.some((e) => e.type === 'session'));
    // source-controller polling the registry on a reconcile request: Reconciling=True with the old artifact.
    sim.setStatus(OCI, ociReady(SHA_OLD, true));
    await waitFor(() => phasesOf(events, 'OCIRepository/flux-system/app').includes('Progressing'));
    sim.setStatus(OCI, ociReady(SHA_OLD));
    const final = await p;
    expect(final.verdict).toBe('timeout');
    expect(final.timeoutMs).toBe(1000);
    expect(final.ci).toEqual({ timeoutMs: 1000 });
    expect(final.verdictMessage).toBe(`timed out after 1s waiting for CI (ci_timeout): OCIRepository flux-system/app: waiting for an artifact built from abcdef0; the artifact is at main@sha1:${SHA_OLD}`);
  });

  it('once the artifact is there, timeout counts from its arrival', async () => {
    await startSim();
    seedOci();
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 1, ci_timeout: 60 } });
    await waitFor(() => events.some((e) => e.type === 'session'));
    sim.setStatus(OCI, ociReady(SHA_NEW));
    const final = await p;
    // The HelmRelease never gets the new chart: Flux's part times out after `timeout`, counted from the artifact.
    expect(final.verdict).toBe('timeout');
    expect(final.ci?.artifactAt).toBeGreaterThanOrEqual(final.startedAt);
    expect(final.timeoutMs).toBe(final.ci!.artifactAt! - final.startedAt + 1000);
    expect(final.verdictMessage).toMatch(/^timed out after \d+s: 1 ready/);
  });
});
