// Several clusters per push (issue 13 item 2): the worst-verdict order, the merge of the clusters' states and
// its split back for the views (pure), and the engine following one commit on two API simulators at once
// (one Monitor per context), with a cluster that fails, one that cannot be reached and an unknown context.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { clusterKey, mergeClusters, splitClusters, type ClusterPart, type MergeMemo } from '../../src/core/clusters.js';
import { deepFreeze, DEFAULT_CONFIG, EXIT_CODES, newSessionState, VERDICT_SEVERITY, worstVerdict, type MonitorEvent, type NodeState, type SessionState, type Verdict } from '../../src/core/types.js';
import { ApiSimulator } from '../../src/sim/server.js';
import { followedContexts, runMonitor, type RunOptions } from '../../src/engine/run.js';
import { SHA_NEW, SHA_OLD, gitReady, gitRepository, helmRelease, hrFailed, hrReady, invId, kustomization, ksProgressing, ksReady } from '../helpers/flux.js';
import { cleanup, FLEET_URL as URL_, startEngine, startSim, waitFor, type SimCluster } from '../helpers/engine.js';
import { applyNewCommit, seedFleet } from '../helpers/fleet.js';
import { mergeKubeconfigs } from '../helpers/kubeconfig.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { runDetachedSession } from '../../src/session/monitor-process.js';
import { statePaths } from '../../src/session/paths.js';
import { readHistory, readSessionFile, sessionFile } from '../../src/session/store.js';
import { resolveWatchedBranches } from '../../src/session/branches.js';

const SHA = SHA_NEW;

function node(key: string, over: Partial<NodeState> = {}): NodeState {
  const [kind, namespace, name] = key.split('/') as [NodeState['kind'], string, string];
  return { key, kind, namespace: namespace!, name: name!, apiVersion: 'v1', phase: 'Ready', reason: 'ReconciliationSucceeded', message: '', affected: true, settled: true, phaseSince: 0, firstSeen: 0, ...over };
}

function clusterState(context: string, over: Partial<SessionState> = {}): SessionState {
  return {
    ...newSessionState({ id: 's1', sha: SHA, context, server: `https://${context}.example:6443`, timeoutMs: 60_000, now: 1000 }, (u) => u),
    status: 'running',
    ...over,
  };
}

describe('worst verdict', () => {
  it('orders every verdict once, failed first and success last', () => {
    expect([...VERDICT_SEVERITY].sort()).toEqual(Object.keys(EXIT_CODES).sort());
    expect(VERDICT_SEVERITY[0]).toBe('failed');
    expect(VERDICT_SEVERITY.at(-1)).toBe('success');
  });

  it.each<[Verdict[], Verdict]>([
    [['success', 'success'], 'success'],
    [['success', 'failed'], 'failed'],
    [['error', 'failed'], 'failed'],
    [['success', 'error'], 'error'],
    [['timeout', 'error'], 'error'],
    [['timeout', 'success'], 'timeout'],
    [['blocked', 'success'], 'blocked'],
    [['stopped', 'blocked'], 'stopped'],
    [['superseded', 'success'], 'superseded'],
    [['superseded', 'superseded'], 'superseded'],
  ])('worst of %j is %s', (vs, want) => {
    expect(worstVerdict(vs)).toBe(want);
    expect(worstVerdict([...vs].reverse())).toBe(want);
  });

  it('none for no verdicts', () => {
    expect(worstVerdict([])).toBeUndefined();
  });
});

describe('merging the clusters of a session', () => {
  const base = newSessionState({ id: 's1', sha: SHA, branch: 'main', repoUrl: 'https://github.com/acme/fleet.git', timeoutMs: 60_000, now: 1000 }, (u) => u);

  it('prefixes keys with the context, keeps each cluster apart, and is running until every cluster has a verdict', () => {
    const a = clusterState('prod', {
      nodes: { 'Kustomization/flux-system/apps': node('Kustomization/flux-system/apps'), 'Kustomization/flux-system/infra': node('Kustomization/flux-system/infra') },
      edges: [{ from: 'Kustomization/flux-system/apps', to: 'Kustomization/flux-system/infra', type: 'dependsOn' }],
      matchedSources: ['GitRepository/flux-system/flux-system'],
      warnings: ['cannot list Flux objects cluster-wide (403)'],
      status: 'finished',
      verdict: 'success',
      verdictMessage: 'commit abcdef0 is applied: 2 ready',
      endedAt: 5000,
    });
    const b = clusterState('staging', {
      nodes: {
        'Kustomization/flux-system/apps': node('Kustomization/flux-system/apps', { phase: 'Pending', settled: true, blockedBy: 'Kustomization/flux-system/infra' }),
        'Kustomization/flux-system/infra': node('Kustomization/flux-system/infra', { phase: 'Failed', reason: 'BuildFailed' }),
      },
    });
    const running = mergeClusters(base, [
      { context: 'prod', state: a },
      { context: 'staging', state: b },
    ]);
    expect(running.status).toBe('running');
    expect(running.verdict).toBeUndefined();
    expect(Object.keys(running.nodes).sort()).toEqual([
      'prod/Kustomization/flux-system/apps',
      'prod/Kustomization/flux-system/infra',
      'staging/Kustomization/flux-system/apps',
      'staging/Kustomization/flux-system/infra',
    ]);
    expect(running.nodes['staging/Kustomization/flux-system/apps']).toMatchObject({ cluster: 'staging', key: 'staging/Kustomization/flux-system/apps', blockedBy: 'staging/Kustomization/flux-system/infra' });
    expect(running.edges).toEqual([{ from: 'prod/Kustomization/flux-system/apps', to: 'prod/Kustomization/flux-system/infra', type: 'dependsOn' }]);
    expect(running.matchedSources).toEqual(['prod/GitRepository/flux-system/flux-system']);
    expect(running.warnings).toEqual(['prod: cannot list Flux objects cluster-wide (403)']);
    expect(running.cluster.context).toBe('prod, staging');
    expect(running.clusters!.map((c) => [c.context, c.status, c.verdict])).toEqual([
      ['prod', 'finished', 'success'],
      ['staging', 'running', undefined],
    ]);

    const done = mergeClusters(base, [
      { context: 'prod', state: a },
      { context: 'staging', state: { ...b, status: 'finished', verdict: 'failed', verdictMessage: 'commit abcdef0 failed: 1 failed', endedAt: 9000 } },
    ]);
    expect(done.status).toBe('finished');
    expect(done.verdict).toBe('failed');
    expect(done.endedAt).toBe(9000);
    expect(done.verdictMessage).toBe('failed on 1 of 2 clusters — staging: commit abcdef0 failed: 1 failed; prod: success');
  });

  it('with a memo, gives what it gives without one, as the clusters’ states move', () => {
    const memo: MergeMemo = new Map();
    const a1 = clusterState('prod', { nodes: { 'Kustomization/flux-system/apps': node('Kustomization/flux-system/apps', { phase: 'Pending', settled: false }) } });
    const b1 = clusterState('staging', { nodes: { 'Kustomization/flux-system/apps': node('Kustomization/flux-system/apps') } });
    const a2 = { ...a1, nodes: { 'Kustomization/flux-system/apps': node('Kustomization/flux-system/apps') } }; // a new record, as the monitor makes
    const a3 = { ...a2, warnings: ['something'] }; // the same record, with a warning
    const steps: ClusterPart[][] = [
      [{ context: 'prod', state: a1 }, { context: 'staging' }],
      [{ context: 'prod', state: a1 }, { context: 'staging', state: b1 }],
      [{ context: 'prod', state: a2 }, { context: 'staging', state: b1 }],
      [{ context: 'prod', state: a3 }, { context: 'staging', state: b1 }],
      [{ context: 'prod', state: a3 }, { context: 'staging', state: b1 }],
    ];
    for (const parts of steps) expect(mergeClusters(base, parts, memo)).toEqual(mergeClusters(base, parts));
    expect(mergeClusters(base, steps[4]!, memo).nodes['prod/Kustomization/flux-system/apps']!.phase).toBe('Ready');
  });

  it('with a memo, copies only the nodes a new record changed; the unchanged ones keep their merged object', () => {
    const memo: MergeMemo = new Map();
    const apps = node('Kustomization/flux-system/apps', { phase: 'Progressing', settled: false });
    const infra = node('Kustomization/flux-system/infra', { blockedBy: 'Kustomization/flux-system/apps' });
    const a1 = deepFreeze(clusterState('prod', { nodes: { [apps.key]: apps, [infra.key]: infra } }));
    const m1 = mergeClusters(base, [{ context: 'prod', state: a1 }], memo);
    expect(m1.nodes['prod/Kustomization/flux-system/apps']!.phase).toBe('Progressing');
    // What the engine publishes after a status write: a new state and record, a new object for the changed node.
    const a2 = deepFreeze({ ...a1, nodes: { ...a1.nodes, [apps.key]: { ...apps, phase: 'Ready' as const, settled: true } } });
    const m2 = mergeClusters(base, [{ context: 'prod', state: a2 }], memo);
    expect(m2).toEqual(mergeClusters(base, [{ context: 'prod', state: a2 }]));
    expect(m2.nodes['prod/Kustomization/flux-system/apps']!.phase).toBe('Ready');
    expect(m2.nodes['prod/Kustomization/flux-system/infra']).toBe(m1.nodes['prod/Kustomization/flux-system/infra']);
    expect(m2.nodes['prod/Kustomization/flux-system/apps']).not.toBe(m1.nodes['prod/Kustomization/flux-system/apps']);
    // The merge before is as it was: a reader holding it sees no change.
    expect(m1.nodes['prod/Kustomization/flux-system/apps']!.phase).toBe('Progressing');
    expect(m1.nodes['prod/Kustomization/flux-system/infra']!.blockedBy).toBe('prod/Kustomization/flux-system/apps');
  });

  it('a cluster that never published (still connecting) is starting, and holds the verdict back', () => {
    const a = clusterState('prod', { status: 'finished', verdict: 'success', verdictMessage: 'ok', endedAt: 2000 });
    const m = mergeClusters(base, [{ context: 'prod', state: a }, { context: 'dr' }]);
    expect(m.status).toBe('running');
    expect(m.clusters![1]).toMatchObject({ context: 'dr', status: 'starting' });
    expect(m.verdict).toBeUndefined();
  });

  it('splits back into one single-cluster state per cluster, equal to what each monitor had', () => {
    const nodes = { 'Kustomization/flux-system/apps': node('Kustomization/flux-system/apps', { blockedBy: 'Kustomization/flux-system/infra' }), 'Kustomization/flux-system/infra': node('Kustomization/flux-system/infra') };
    const edges = [{ from: 'Kustomization/flux-system/apps', to: 'Kustomization/flux-system/infra', type: 'dependsOn' as const }];
    const a = clusterState('prod', { nodes, edges, matchedSources: ['GitRepository/flux-system/flux-system'], mode: 'watch' });
    const b = clusterState('staging', {
      status: 'finished',
      verdict: 'error',
      verdictMessage: 'cannot reach',
      error: { category: 'unreachable', message: 'cannot reach', hint: 'check' },
      endedAt: 3000,
    });
    const parts = splitClusters(mergeClusters(base, [{ context: 'prod', state: a }, { context: 'staging', state: b }]));
    expect(parts.map((p) => p.cluster.context)).toEqual(['prod', 'staging']);
    expect(parts[0]!.state.nodes).toEqual(nodes);
    expect(parts[0]!.state.edges).toEqual(edges);
    expect(parts[0]!.state.cluster).toEqual({ context: 'prod', server: 'https://prod.example:6443' });
    expect(parts[0]!.state.clusters).toBeUndefined();
    expect(parts[1]!.state).toMatchObject({ status: 'finished', verdict: 'error', error: { category: 'unreachable' }, nodes: {} });
    expect(splitClusters(a)).toEqual([]);
  });
});

// ---- the engine, one Monitor per context, on two API simulators --------------------------------------------------

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fm-clusters-'));
});
afterEach(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** A simulator with the usual fleet as Flux left it after SHA_OLD (helpers/fleet.ts). */
async function fleetSim(): Promise<SimCluster> {
  const c = await startSim();
  seedFleet(c.sim, { unrelated: false });
  return c;
}

/** Flux applying SHA_NEW on one simulator: the HelmRelease upgrade succeeds or fails. */
const applyNew = (sim: ApiSimulator, hrOutcome: 'ok' | 'fail') => applyNewCommit(sim, hrOutcome);

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const run = (over: Partial<RunOptions> & { kubeconfig: string }) => startEngine({ config: { ...DEFAULT_CONFIG, timeout: 30 }, ...over });

const sessionOf = (events: MonitorEvent[], cluster: string) => events.some((e) => e.type === 'session' && e.cluster === cluster);
type Summary = Extract<MonitorEvent, { type: 'summary' }>;

describe('the engine on several clusters', () => {
  it('which contexts: --context flags, else the context, else config.contexts; duplicates once', () => {
    const config = { ...DEFAULT_CONFIG, contexts: ['a', 'b'] };
    expect(followedContexts({ config })).toEqual(['a', 'b']);
    expect(followedContexts({ config, context: 'c' })).toEqual(['c']);
    expect(followedContexts({ config, contexts: ['x', 'y', 'x'] })).toEqual(['x', 'y']);
    expect(followedContexts({ config: DEFAULT_CONFIG })).toEqual([]);
  });

  it('succeeds on one cluster and fails on the other: overall failed, one subtree per cluster', async () => {
    const prod = await fleetSim();
    const staging = await fleetSim();
    const kubeconfig = await mergeKubeconfigs([{ context: 'prod', file: prod.kubeconfig }, { context: 'staging', file: staging.kubeconfig }], join(dir, 'two.kubeconfig'));
    const r = run({ kubeconfig, contexts: ['prod', 'staging'] });
    await waitFor('both session events', () => sessionOf(r.events, 'prod') && sessionOf(r.events, 'staging'));
    applyNew(prod.sim, 'ok');
    applyNew(staging.sim, 'fail');
    const final = await r.p;

    expect(final.verdict).toBe('failed');
    expect(final.clusters!.map((c) => [c.context, c.verdict])).toEqual([
      ['prod', 'success'],
      ['staging', 'failed'],
    ]);
    expect(final.nodes['prod/HelmRelease/apps/podinfo']).toMatchObject({ cluster: 'prod', phase: 'Ready' });
    expect(final.nodes['staging/HelmRelease/apps/podinfo']).toMatchObject({ cluster: 'staging', phase: 'Failed', reason: 'UpgradeFailed' });
    expect(Object.keys(final.nodes)).toHaveLength(8);
    expect(final.verdictMessage).toMatch(/^failed on 1 of 2 clusters — staging: commit abcdef0 failed: .*HelmRelease apps\/podinfo: UpgradeFailed.*; prod: success$/);
    expect(final.clusters!.map((c) => c.server)).toEqual([prod.sim.url, staging.sim.url]);

    // Every event says its cluster (keys as on that cluster); the last is the overall summary.
    const last = r.events.at(-1) as Summary;
    expect(last).toMatchObject({ type: 'summary', verdict: 'failed', exitCode: 1 });
    expect(last.cluster).toBeUndefined();
    expect(last.clusters!.map((c) => [c.context, c.verdict, c.exitCode])).toEqual([
      ['prod', 'success', 0],
      ['staging', 'failed', 1],
    ]);
    expect(last.counts).toMatchObject({ ready: 7, failed: 1 });
    expect(last.objects.find((o) => o.cluster === 'staging' && o.key === 'HelmRelease/apps/podinfo')).toMatchObject({ phase: 'Failed' });
    expect(r.events.slice(0, -1).every((e) => e.cluster === 'prod' || e.cluster === 'staging')).toBe(true);
    const phase = r.events.find((e) => e.type === 'phase' && e.cluster === 'staging' && e.key === 'HelmRelease/apps/podinfo' && e.phase === 'Failed');
    expect(phase).toBeDefined();
    const perCluster = r.events.filter((e): e is Summary => e.type === 'summary' && e.cluster !== undefined);
    expect(perCluster.map((e) => [e.cluster, e.verdict]).sort()).toEqual([
      ['prod', 'success'],
      ['staging', 'failed'],
    ]);
    // The views' split gives each cluster its own single-cluster state.
    const [p, s] = splitClusters(final);
    expect(p!.state.verdict).toBe('success');
    expect(s!.state.nodes['HelmRelease/apps/podinfo']!.phase).toBe('Failed');
  });

  it('a cluster nobody answers on does not stop the other: its result comes through, the unreachable one ends in error', async () => {
    const prod = await fleetSim();
    const port = await closedPort();
    const kubeconfig = await mergeKubeconfigs([{ context: 'prod', file: prod.kubeconfig }, { context: 'dr', server: `https://127.0.0.1:${port}` }], join(dir, 'two.kubeconfig'));
    const r = run({ kubeconfig, contexts: ['prod', 'dr'], config: { ...DEFAULT_CONFIG, timeout: 12 } });
    await waitFor('prod session', () => sessionOf(r.events, 'prod'));
    applyNew(prod.sim, 'ok');
    // prod's verdict comes while dr is still being retried (its timeout, 12 s, leaves prod ample time).
    await waitFor('prod summary', () => r.events.some((e) => e.type === 'summary' && e.cluster === 'prod'));
    expect(r.events.find((e) => e.type === 'summary' && e.cluster === 'prod')).toMatchObject({ verdict: 'success' });
    const mid = r.states.at(-1)!;
    expect(mid.status).toBe('running');
    expect(mid.clusters!.find((c) => c.context === 'dr')!.error).toMatchObject({ category: 'unreachable' });
    expect(r.events.some((e) => e.type === 'error' && e.cluster === 'dr' && e.category === 'unreachable')).toBe(true);

    const final = await r.p;
    expect(final.verdict).toBe('error');
    expect(EXIT_CODES[final.verdict!]).toBe(3);
    expect(final.clusters!.map((c) => [c.context, c.verdict])).toEqual([
      ['prod', 'success'],
      ['dr', 'error'],
    ]);
    expect(final.clusters![1]!.error).toMatchObject({ category: 'unreachable' });
    expect(Object.values(final.nodes).filter((n) => n.cluster === 'prod' && n.phase === 'Ready')).toHaveLength(4);
    expect(final.verdictMessage).toMatch(/^error on 1 of 2 clusters — dr: .*; prod: success$/);
  });

  it('a context missing from the kubeconfig is that cluster’s error at once; the other runs to its verdict', async () => {
    const prod = await fleetSim();
    const r = run({ kubeconfig: prod.kubeconfig, contexts: ['flux-sim', 'nope'] });
    await waitFor('nope summary', () => r.events.some((e) => e.type === 'summary' && e.cluster === 'nope'));
    expect(r.events.find((e) => e.type === 'error' && e.cluster === 'nope')).toMatchObject({ category: 'config', message: 'context "nope" is not in the kubeconfig' });
    await waitFor('flux-sim session', () => sessionOf(r.events, 'flux-sim'));
    applyNew(prod.sim, 'ok');
    const final = await r.p;
    expect(final.clusters!.map((c) => [c.context, c.verdict])).toEqual([
      ['flux-sim', 'success'],
      ['nope', 'error'],
    ]);
    expect(final.verdict).toBe('error');
  });

  it('one context is the single-cluster session, unchanged: no cluster field, no clusters, keys not prefixed', async () => {
    const prod = await fleetSim();
    const r = run({ kubeconfig: prod.kubeconfig, contexts: ['flux-sim'] });
    await waitFor('session', () => r.events.some((e) => e.type === 'session'));
    applyNew(prod.sim, 'ok');
    const final = await r.p;
    expect(final.verdict).toBe('success');
    expect(final.clusters).toBeUndefined();
    expect(final.cluster.context).toBe('flux-sim');
    expect(Object.keys(final.nodes)).toContain('HelmRelease/apps/podinfo');
    expect(r.events.every((e) => !('cluster' in e))).toBe(true);
    expect((r.events.at(-1) as Summary).clusters).toBeUndefined();
  });

  it('stopping stops every cluster', async () => {
    const prod = await fleetSim();
    const staging = await fleetSim();
    const kubeconfig = await mergeKubeconfigs([{ context: 'prod', file: prod.kubeconfig }, { context: 'staging', file: staging.kubeconfig }], join(dir, 'two.kubeconfig'));
    const ac = new AbortController();
    const r = run({ kubeconfig, contexts: ['prod', 'staging'], signal: ac.signal });
    await waitFor('both session events', () => sessionOf(r.events, 'prod') && sessionOf(r.events, 'staging'));
    ac.abort('stopped');
    const final = await r.p;
    expect(final.verdict).toBe('stopped');
    expect(final.clusters!.map((c) => c.verdict)).toEqual(['stopped', 'stopped']);
    expect(clusterKey('prod', 'HelmRelease/apps/podinfo') in final.nodes).toBe(true);
  });
});

describe('the detached monitor after a push', () => {
  it('follows every context of the hook configuration and records each cluster in the session file and history', async () => {
    const prod = await fleetSim();
    const staging = await fleetSim();
    const kubeconfig = await mergeKubeconfigs([{ context: 'prod', file: prod.kubeconfig }, { context: 'staging', file: staging.kubeconfig }], join(dir, 'two.kubeconfig'));
    const repo = join(dir, 'repo');
    mkdirSync(join(repo, '.kiro', 'hooks'), { recursive: true });
    writeFileSync(join(repo, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml'), 'config:\n  timeout: 30s\n  notify: never\n  contexts: [prod, staging]\n');
    // KUBECONFIG as the hook's environment has it; no --context: the configuration says which clusters.
    const env = { PATH: process.env.PATH, KUBECONFIG: kubeconfig, XDG_STATE_HOME: join(dir, 'state') };
    const paths = statePaths(env);
    const done = runDetachedSession({ id: '20261127-120000-abcdef01', repoPath: repo, branch: 'main', sha: SHA_NEW, url: URL_, pushedAt: Date.now(), paths, env, writeIntervalMs: 20, log: () => {} });
    const file = sessionFile(paths, '20261127-120000-abcdef01');
    await waitFor('both clusters listed in the session file', () => {
      try {
        return readSessionFile(file).clusters?.every((c) => c.status === 'running') ?? false;
      } catch {
        return false;
      }
    });
    applyNew(prod.sim, 'ok');
    applyNew(staging.sim, 'fail');
    expect(await done).toBe(1);
    const stored = readSessionFile(file);
    expect(stored.verdict).toBe('failed');
    expect(stored.clusters!.map((c) => [c.context, c.verdict])).toEqual([
      ['prod', 'success'],
      ['staging', 'failed'],
    ]);
    expect(stored.nodes['staging/HelmRelease/apps/podinfo']!.phase).toBe('Failed');
    const h = readHistory(paths).entries.at(-1)!;
    expect(h.verdict).toBe('failed');
    expect(h.clusters).toEqual([
      { context: 'prod', verdict: 'success', leadMs: expect.any(Number) },
      { context: 'staging', verdict: 'failed', leadMs: expect.any(Number) },
    ]);
  });
});

describe('which branches the hooks watch, with several clusters', () => {
  it('asks every configured context (those that answer) which branches their GitRepositories track', async () => {
    const prod = await fleetSim();
    const staging = await fleetSim();
    staging.sim.apply({ ...gitRepository('release', URL_, 'release/1.x'), status: gitReady(SHA_OLD, 'release/1.x') });
    const port = await closedPort();
    const kubeconfig = await mergeKubeconfigs(
      [{ context: 'prod', file: prod.kubeconfig }, { context: 'staging', file: staging.kubeconfig }, { context: 'dr', server: `https://127.0.0.1:${port}` }],
      join(dir, 'three.kubeconfig'),
    );
    const config = { ...DEFAULT_CONFIG, contexts: ['prod', 'staging', 'dr'] };
    const w = await resolveWatchedBranches(config, URL_, { kubeconfig });
    expect(w.source).toBe('cluster');
    expect([...w.patterns].sort()).toEqual(['main', 'release/1.x']);
    // Without contexts, only the current context (prod) is asked.
    expect((await resolveWatchedBranches(DEFAULT_CONFIG, URL_, { kubeconfig })).patterns).toEqual(['main']);
    // None answers: the default, saying why.
    const down = await resolveWatchedBranches({ ...DEFAULT_CONFIG, contexts: ['dr'] }, URL_, { kubeconfig });
    expect(down.source).toBe('default');
  });
});

describe('clustersVerdictMessage', () => {
  it("joins each cluster's message as one clause: no '.;' where a message ended with a period", async () => {
    const { clustersVerdictMessage } = await import('../../src/core/clusters.js');
    const msg = clustersVerdictMessage([
      { context: 'dead', verdict: 'error', verdictMessage: 'context "dead" is not in the kubeconfig. Known contexts: east.' },
      { context: 'gone', verdict: 'error', verdictMessage: 'cannot reach https://10.0.0.1:6443 (ECONNREFUSED); context gone. Check the cluster is up.' },
      { context: 'east', verdict: 'success', verdictMessage: 'commit abcdef0 is applied: 4 ready' },
    ] as never);
    expect(msg).toBe(
      'error on 2 of 3 clusters — dead: context "dead" is not in the kubeconfig. Known contexts: east; gone: cannot reach https://10.0.0.1:6443 (ECONNREFUSED); context gone. Check the cluster is up; east: success',
    );
    expect(msg).not.toContain('.;');
  });
});
