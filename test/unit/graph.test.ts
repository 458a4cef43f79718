// The object graph, matching and the affected set (pure), and the settle/verdict rules of the engine.
import { describe, expect, it } from 'vitest';
import { affectedSet, buildGraph, correlatedSet, findCycles, inventoryKey, matchSources, objectKey, trackedBranch } from '../../src/engine/graph.js';
import { computeSettled, decideVerdict } from '../../src/engine/monitor.js';
import type { KubeObject, NodeState, SessionState } from '../../src/core/types.js';
import { gitRepository, helmRelease, invId, kustomization } from '../helpers/flux.js';

const FLEET = 'https://github.com/acme/fleet.git';

function objects(...objs: KubeObject[]): Map<string, KubeObject> {
  return new Map(objs.map((o) => [objectKey(o)!, o]));
}

function withInventory(o: KubeObject, ids: string[]): KubeObject {
  return { ...o, status: { inventory: { entries: ids.map((id) => ({ id, v: 'v1' })) } } };
}

describe('graph', () => {
  it('parses inventory ids of Flux kinds only', () => {
    expect(inventoryKey('apps_podinfo_helm.toolkit.fluxcd.io_HelmRelease')).toBe('HelmRelease/apps/podinfo');
    expect(inventoryKey('flux-system_podinfo_source.toolkit.fluxcd.io_HelmRepository')).toBe('HelmRepository/flux-system/podinfo');
    expect(inventoryKey('apps_podinfo_apps_Deployment')).toBeUndefined();
    expect(inventoryKey('_apps__Namespace')).toBeUndefined();
    expect(inventoryKey('garbage')).toBeUndefined();
  });

  it('builds dependsOn, source and inventory edges; namespaces default to the object’s own', () => {
    const hr = helmRelease('podinfo', 'apps', 'podinfo');
    hr.spec.dependsOn = [{ name: 'redis' }];
    hr.status = { helmChart: 'flux-system/apps-podinfo' };
    const ks = withInventory(kustomization('apps', { dependsOn: ['infra'] }), [invId('apps', 'podinfo', 'helm.toolkit.fluxcd.io', 'HelmRelease'), invId('flux-system', 'apps', 'kustomize.toolkit.fluxcd.io', 'Kustomization')]);
    const g = buildGraph(objects(ks, hr));
    expect(g.edges).toEqual(
      expect.arrayContaining([
        { from: 'Kustomization/flux-system/apps', to: 'Kustomization/flux-system/infra', type: 'dependsOn' },
        { from: 'Kustomization/flux-system/apps', to: 'GitRepository/flux-system/flux-system', type: 'source' },
        { from: 'Kustomization/flux-system/apps', to: 'HelmRelease/apps/podinfo', type: 'inventory' },
        { from: 'HelmRelease/apps/podinfo', to: 'HelmRelease/apps/redis', type: 'dependsOn' },
        { from: 'HelmRelease/apps/podinfo', to: 'HelmRepository/apps/podinfo', type: 'source' },
        { from: 'HelmRelease/apps/podinfo', to: 'HelmChart/flux-system/apps-podinfo', type: 'source' },
      ]),
    );
    // A Kustomization listing itself in its inventory (flux-system bootstrap) makes no self edge.
    expect(g.edges.some((e) => e.from === e.to)).toBe(false);
  });

  it('finds dependsOn cycles once each, and none in a DAG', () => {
    const e = (from: string, to: string) => ({ from, to, type: 'dependsOn' as const });
    expect(findCycles([e('a', 'b'), e('b', 'c'), e('c', 'a'), e('c', 'd')])).toEqual([['a', 'b', 'c']]);
    expect(findCycles([e('a', 'a')])).toEqual([['a']]);
    expect(findCycles([e('a', 'b'), e('b', 'c'), e('a', 'c')])).toEqual([]);
    // A long chain does not overflow the stack.
    const chain = Array.from({ length: 20_000 }, (_, i) => e(`n${i}`, `n${i + 1}`));
    expect(findCycles(chain)).toEqual([]);
  });

  it('reports a dependsOn cycle between Kustomizations', () => {
    const a = kustomization('a', { dependsOn: ['b'] });
    const b = kustomization('b', { dependsOn: ['a'] });
    expect(buildGraph(objects(a, b)).cycles).toEqual([['Kustomization/flux-system/a', 'Kustomization/flux-system/b']]);
  });

  it('matches GitRepositories by normalised URL and tracked branch', () => {
    const https = gitRepository('https', FLEET, 'main');
    const ssh = gitRepository('ssh', 'ssh://git@github.com/ACME/fleet', 'main');
    const otherBranch = gitRepository('staging', FLEET, 'staging');
    const byName = { ...gitRepository('byname', FLEET), spec: { url: FLEET, ref: { name: 'refs/heads/main' } } };
    const pinned = { ...gitRepository('pinned', FLEET), spec: { url: FLEET, ref: { commit: 'abc' } } };
    const noRef = { ...gitRepository('noref', FLEET), spec: { url: FLEET } };
    const other = gitRepository('other', 'https://github.com/acme/other.git');
    const objs = objects(https, ssh, otherBranch, byName, pinned, noRef, other);
    expect(matchSources(objs, { repoUrl: 'git@github.com:acme/fleet.git', branch: 'main' })).toEqual([
      'GitRepository/flux-system/byname',
      'GitRepository/flux-system/https',
      'GitRepository/flux-system/ssh',
    ]);
    // Flux's default ref is the master branch.
    expect(trackedBranch(noRef)).toBe('master');
    expect(matchSources(objs, { repoUrl: FLEET, branch: 'master' })).toEqual(['GitRepository/flux-system/noref']);
    expect(matchSources(objs, { repoUrl: undefined, branch: 'main' })).toEqual([]);
  });

  it('matches tag pushes to sources that follow that tag or a semver range', () => {
    const tag = { ...gitRepository('tag', FLEET), spec: { url: FLEET, ref: { tag: 'v1.2.0' } } };
    const semver = { ...gitRepository('semver', FLEET), spec: { url: FLEET, ref: { semver: '>=1.0.0' } } };
    const branch = gitRepository('branch', FLEET, 'main');
    expect(matchSources(objects(tag, semver, branch), { repoUrl: FLEET, tag: 'v1.2.0' })).toEqual(['GitRepository/flux-system/semver', 'GitRepository/flux-system/tag']);
  });

  it('affected set: consumers, inventories and dependents, transitively; unrelated objects stay out', () => {
    const src = gitRepository('flux-system', FLEET);
    const infra = kustomization('infra');
    const apps = withInventory(kustomization('apps', { dependsOn: ['infra'] }), [invId('apps', 'podinfo', 'helm.toolkit.fluxcd.io', 'HelmRelease')]);
    const hr = helmRelease('podinfo', 'apps');
    const afterHr = { ...helmRelease('web', 'apps'), spec: { ...helmRelease('web', 'apps').spec, dependsOn: [{ name: 'podinfo' }] } };
    const otherSrc = gitRepository('other', 'https://github.com/acme/other.git');
    const otherKs = kustomization('other-app', { source: 'other' });
    const g = buildGraph(objects(src, infra, apps, hr, afterHr, otherSrc, otherKs));
    const matched = matchSources(g.objects, { repoUrl: FLEET, branch: 'main' });
    expect([...affectedSet(g, matched)].sort()).toEqual([
      'GitRepository/flux-system/flux-system',
      'HelmRelease/apps/podinfo',
      'HelmRelease/apps/web',
      'Kustomization/flux-system/apps',
      'Kustomization/flux-system/infra',
    ]);
    // Only what takes its source from the pushed repository carries its commits.
    expect([...correlatedSet(g, matched)].sort()).toEqual(['GitRepository/flux-system/flux-system', 'Kustomization/flux-system/apps', 'Kustomization/flux-system/infra']);
  });
});

function node(key: string, phase: NodeState['phase'], extra: Partial<NodeState> = {}): NodeState {
  const [kind, namespace, name] = key.split('/') as [NodeState['kind'], string, string];
  return { key, kind, namespace, name, apiVersion: 'v1', phase, reason: '', message: '', affected: true, settled: false, phaseSince: 0, firstSeen: 0, ...extra };
}

describe('settle and verdict', () => {
  const src = gitRepository('flux-system', FLEET);
  const infra = kustomization('infra');
  const apps = withInventory(kustomization('apps', { dependsOn: ['infra'] }), [invId('apps', 'podinfo', 'helm.toolkit.fluxcd.io', 'HelmRelease')]);
  const hr = helmRelease('podinfo', 'apps');
  const g = buildGraph(objects(src, infra, apps, hr));
  const matched = ['GitRepository/flux-system/flux-system'];
  const state = (nodes: NodeState[]): SessionState => ({
    schema: 1, id: 's', repo: {}, commit: { sha: 'abc' }, cluster: {}, startedAt: 0, updatedAt: 0, timeoutMs: 1, status: 'running',
    nodes: Object.fromEntries(nodes.map((n) => [n.key, n])), edges: [], cycles: [], matchedSources: matched, warnings: [],
  });

  it('a dependent waiting on a failed dependency, and what that dependent applies, are settled (blocked)', () => {
    const nodes = {
      'GitRepository/flux-system/flux-system': node('GitRepository/flux-system/flux-system', 'Ready'),
      'Kustomization/flux-system/infra': node('Kustomization/flux-system/infra', 'Failed'),
      'Kustomization/flux-system/apps': node('Kustomization/flux-system/apps', 'Waiting', { blockers: ['flux-system/infra'] }),
      'HelmRelease/apps/podinfo': node('HelmRelease/apps/podinfo', 'Pending'),
    };
    computeSettled(nodes, g, matched);
    expect(Object.values(nodes).map((n) => n.settled)).toEqual([true, true, true, true]);
    expect(decideVerdict(state(Object.values(nodes)))).toBe('failed');
  });

  it('waiting on a dependency that is still progressing is not settled', () => {
    const nodes = {
      'Kustomization/flux-system/infra': node('Kustomization/flux-system/infra', 'Progressing'),
      'Kustomization/flux-system/apps': node('Kustomization/flux-system/apps', 'Waiting', { blockers: ['flux-system/infra'] }),
    };
    computeSettled(nodes, g, matched);
    expect(nodes['Kustomization/flux-system/apps'].settled).toBe(false);
  });

  it('what a superseded parent would apply is superseded too, and the verdict says so', () => {
    const nodes = {
      'GitRepository/flux-system/flux-system': node('GitRepository/flux-system/flux-system', 'Superseded'),
      'Kustomization/flux-system/infra': node('Kustomization/flux-system/infra', 'Superseded'),
      'Kustomization/flux-system/apps': node('Kustomization/flux-system/apps', 'Superseded'),
      'HelmRelease/apps/podinfo': node('HelmRelease/apps/podinfo', 'Pending'),
    };
    computeSettled(nodes, g, matched);
    expect(nodes['HelmRelease/apps/podinfo']).toMatchObject({ phase: 'Superseded', reason: 'UpstreamSuperseded', settled: true });
    expect(decideVerdict(state(Object.values(nodes)))).toBe('superseded');
  });

  it('all ready (suspended ones aside) is a success', () => {
    const nodes = [node('GitRepository/flux-system/flux-system', 'Ready'), node('Kustomization/flux-system/infra', 'Ready'), node('Kustomization/flux-system/apps', 'Suspended')];
    expect(decideVerdict(state(nodes))).toBe('success');
  });
});
