// The object graph, matching and the affected set (pure), and the settle/verdict rules of the engine.
import { describe, expect, it } from 'vitest';
import { affectedSet, buildGraph, correlatedSet, effectiveRef, findCycles, followsTag, inventoryKey, matchSources, objectKey, trackedBranch, trackedTag } from '../../src/core/graph.js';
import { computeSettled, decideVerdict } from '../../src/core/verdict.js';
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

  it('a semver range matches a pushed tag only when the tag satisfies it (prereleases only when the range names one)', () => {
    const caret = { ...gitRepository('caret', FLEET), spec: { url: FLEET, ref: { semver: '^1.2' } } };
    const pre = { ...gitRepository('pre', FLEET), spec: { url: FLEET, ref: { semver: '>=2.0.0-0' } } };
    const bad = { ...gitRepository('bad', FLEET), spec: { url: FLEET, ref: { semver: 'latest' } } };
    const objs = objects(caret, pre, bad);
    expect(matchSources(objs, { repoUrl: FLEET, tag: 'v1.4.0' })).toEqual(['GitRepository/flux-system/caret']);
    expect(matchSources(objs, { repoUrl: FLEET, tag: '1.2.0' })).toEqual(['GitRepository/flux-system/caret']);
    expect(matchSources(objs, { repoUrl: FLEET, tag: 'v1.1.9' })).toEqual([]);
    expect(matchSources(objs, { repoUrl: FLEET, tag: 'v2.0.0-rc.1' })).toEqual(['GitRepository/flux-system/pre']);
    expect(matchSources(objs, { repoUrl: FLEET, tag: 'v2.1.0' })).toEqual(['GitRepository/flux-system/pre']);
    expect(matchSources(objs, { repoUrl: FLEET, tag: 'latest' })).toEqual([]);
    // A tag push never matches branch-following sources, and a branch push never matches tag-following ones.
    expect(matchSources(objects(caret, gitRepository('main', FLEET, 'main')), { repoUrl: FLEET, branch: 'main' })).toEqual(['GitRepository/flux-system/main']);
  });

  describe('spec.ref precedence: commit > name > semver > tag > branch (source-controller), default branch master', () => {
    const withRef = (name: string, ref: Record<string, string> | undefined): KubeObject => ({ ...gitRepository(name, FLEET), spec: ref ? { url: FLEET, ref } : { url: FLEET } });
    const all = { commit: 'a'.repeat(40), name: 'refs/heads/dev', semver: '>=1.0.0', tag: 'v0.1.0', branch: 'main' };
    const cases: Array<[string, Record<string, string> | undefined, ReturnType<typeof effectiveRef>]> = [
      ['commit shadows everything', all, { type: 'commit', commit: 'a'.repeat(40) }],
      ['name (refs/heads/) shadows semver, tag and branch', { ...all, commit: '' }, { type: 'branch', branch: 'dev' }],
      ['name (refs/tags/) is a tag', { name: 'refs/tags/v9.9.9', semver: '>=1.0.0', tag: 'v0.1.0', branch: 'main' }, { type: 'tag', tag: 'v9.9.9' }],
      ['another name follows no branch nor tag', { name: 'refs/pull/1/head', semver: '>=1.0.0', tag: 'v0.1.0', branch: 'main' }, { type: 'ref', name: 'refs/pull/1/head' }],
      ['semver shadows tag and branch', { semver: '>=1.0.0', tag: 'v0.1.0', branch: 'main' }, { type: 'semver', range: '>=1.0.0' }],
      ['tag shadows branch', { tag: 'v0.1.0', branch: 'main' }, { type: 'tag', tag: 'v0.1.0' }],
      ['branch', { branch: 'main' }, { type: 'branch', branch: 'main' }],
      ['empty fields count as absent', { commit: '', name: '', semver: '', tag: '', branch: 'dev' }, { type: 'branch', branch: 'dev' }],
      ['an empty ref is the master branch', {}, { type: 'branch', branch: 'master' }],
      ['no ref is the master branch', undefined, { type: 'branch', branch: 'master' }],
    ];
    it.each(cases)('%s', (_, ref, expected) => {
      expect(effectiveRef(withRef('x', ref))).toEqual(expected);
    });

    it('decides which pushes each level follows', () => {
      const commit = withRef('commit', all);
      const name = withRef('name', { ...all, commit: '' });
      const nameTag = withRef('nametag', { name: 'refs/tags/v9.9.9', semver: '>=1.0.0', tag: 'v0.1.0', branch: 'main' });
      const pull = withRef('pull', { name: 'refs/pull/1/head', semver: '>=1.0.0', tag: 'v0.1.0', branch: 'main' });
      const semver = withRef('semver', { semver: '>=1.0.0', tag: 'v0.1.0', branch: 'main' });
      const tag = withRef('tag', { tag: 'v0.1.0', branch: 'main' });
      const branch = withRef('branch', { branch: 'main' });
      const objs = objects(commit, name, nameTag, pull, semver, tag, branch);
      const key = (n: string) => `GitRepository/flux-system/${n}`;
      expect(matchSources(objs, { repoUrl: FLEET, branch: 'main' })).toEqual([key('branch')]);
      expect(matchSources(objs, { repoUrl: FLEET, branch: 'dev' })).toEqual([key('name')]);
      expect(matchSources(objs, { repoUrl: FLEET, tag: 'v0.1.0' })).toEqual([key('tag')]); // semver >=1.0.0 shadows its tag v0.1.0
      expect(matchSources(objs, { repoUrl: FLEET, tag: 'v1.5.0' })).toEqual([key('semver')]);
      expect(matchSources(objs, { repoUrl: FLEET, tag: 'v9.9.9' })).toEqual([key('nametag'), key('semver')]);
      expect(matchSources(objs, { repoUrl: FLEET, tag: 'v1.0.0' })).toEqual([key('semver')]);
      expect(matchSources(objs, { repoUrl: FLEET })).toEqual([]); // neither branch nor tag: nothing
      expect([trackedBranch(commit), trackedTag(commit), followsTag(commit, 'v1.0.0')]).toEqual([undefined, undefined, false]);
      expect([trackedBranch(pull), trackedTag(pull), followsTag(pull, 'v1.0.0')]).toEqual([undefined, undefined, false]);
      expect([trackedBranch(semver), trackedTag(semver), followsTag(semver, 'v0.1.0'), followsTag(semver, 'v1.0.0')]).toEqual([undefined, undefined, false, true]);
      expect([trackedBranch(tag), trackedTag(tag)]).toEqual([undefined, 'v0.1.0']);
      expect([trackedBranch(nameTag), trackedTag(nameTag)]).toEqual([undefined, 'v9.9.9']);
    });
  });

  it('affected set: consumers, inventories, dependents and the chart sources of HelmReleases, transitively; unrelated objects stay out', () => {
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
      // Where an affected HelmRelease gets its chart: when the chart cannot be had, the failure is there.
      'HelmRepository/apps/podinfo',
      'Kustomization/flux-system/apps',
      'Kustomization/flux-system/infra',
    ]);
    // Only what takes its source from the pushed repository carries its commits.
    expect([...correlatedSet(g, matched)].sort()).toEqual(['GitRepository/flux-system/flux-system', 'Kustomization/flux-system/apps', 'Kustomization/flux-system/infra']);
  });
});

describe('sources built by CI: OCIRepository and ExternalArtifact (issue 18)', () => {
  const SHA = '0d950d6b8f1946edbee53b368fb9e2f9da40ffbe';
  const artifactSource = (kind: 'OCIRepository' | 'ExternalArtifact', name: string, metadata?: Record<string, string>, revision = `latest@sha256:${'f'.repeat(64)}`): KubeObject => ({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind,
    metadata: { name, namespace: 'flux-system' },
    spec: kind === 'OCIRepository' ? { url: `oci://registry.example/${name}`, ref: { tag: 'latest' }, interval: '1m' } : {},
    status: { artifact: { revision, ...(metadata ? { metadata } : {}) } },
  });
  const pushedAs = (source: string, revision?: string) => ({
    'org.opencontainers.image.source': source,
    'org.opencontainers.image.revision': revision ?? '',
    'org.opencontainers.image.created': '2026-11-27T17:00:00Z',
  });
  const key = (kind: string, name: string) => `${kind}/flux-system/${name}`;

  it('an OCIRepository matches when its artifact comes from the pushed repository (URLs normalised as for git) and its revision names the pushed branch', () => {
    const objs = objects(
      artifactSource('OCIRepository', 'https-main', pushedAs('https://github.com/acme/fleet', `main@sha1:${SHA}`)),
      artifactSource('OCIRepository', 'ssh-main', pushedAs('git@github.com:acme/fleet.git', `main@sha1:${SHA}`)),
      artifactSource('OCIRepository', 'legacy-main', pushedAs(FLEET, `main/${SHA}`)),
      artifactSource('OCIRepository', 'dev', pushedAs(FLEET, `dev@sha1:${SHA}`)),
      artifactSource('OCIRepository', 'other-repo', pushedAs('https://github.com/acme/other', `main@sha1:${SHA}`)),
      artifactSource('OCIRepository', 'commit-only', pushedAs(FLEET, `sha1:${SHA}`)),
      artifactSource('OCIRepository', 'no-metadata'),
      { ...artifactSource('OCIRepository', 'no-artifact'), status: {} },
    );
    // No GitRepository follows the repository at all: the OCIRepositories still match.
    expect(matchSources(objs, { repoUrl: FLEET, branch: 'main' })).toEqual([key('OCIRepository', 'https-main'), key('OCIRepository', 'legacy-main'), key('OCIRepository', 'ssh-main')]);
    expect(matchSources(objs, { repoUrl: FLEET, branch: 'dev' })).toEqual([key('OCIRepository', 'dev')]);
  });

  it('an artifact of the pushed repository without a revision annotation matches (its phase says what is missing)', () => {
    const objs = objects(artifactSource('OCIRepository', 'unannotated', pushedAs(FLEET)));
    expect(matchSources(objs, { repoUrl: FLEET, branch: 'main' })).toEqual([key('OCIRepository', 'unannotated')]);
    expect(matchSources(objs, { repoUrl: 'https://github.com/acme/other', branch: 'main' })).toEqual([]);
  });

  it('a tag push matches the artifact CI built for that tag', () => {
    const objs = objects(artifactSource('OCIRepository', 'release', pushedAs(FLEET, `v1.2.0@sha1:${SHA}`)), artifactSource('OCIRepository', 'main', pushedAs(FLEET, `main@sha1:${SHA}`)));
    expect(matchSources(objs, { repoUrl: FLEET, tag: 'v1.2.0' })).toEqual([key('OCIRepository', 'release')]);
  });

  it('an ExternalArtifact matches by the same annotations, or by its own revision naming the branch', () => {
    const objs = objects(
      artifactSource('ExternalArtifact', 'annotated', pushedAs(FLEET, `main@sha1:${SHA}`)),
      artifactSource('ExternalArtifact', 'own-revision', { 'org.opencontainers.image.source': FLEET }, `main@sha1:${SHA}`),
      artifactSource('ExternalArtifact', 'digest-only', undefined, `v1.0.0@sha256:${'e'.repeat(64)}`),
    );
    expect(matchSources(objs, { repoUrl: FLEET, branch: 'main' })).toEqual([key('ExternalArtifact', 'annotated'), key('ExternalArtifact', 'own-revision')]);
  });

  it('what consumes a matched OCIRepository is affected and correlated: a Kustomization (sourceRef) and a HelmRelease (chartRef)', () => {
    const oci = artifactSource('OCIRepository', 'app', pushedAs(FLEET, `main@sha1:${SHA}`));
    const ks = kustomization('app');
    ks.spec.sourceRef = { kind: 'OCIRepository', name: 'app' };
    const hr = { ...helmRelease('web', 'flux-system'), spec: { interval: '5m', chartRef: { kind: 'OCIRepository', name: 'app' } } };
    const ea = kustomization('from-ea');
    ea.spec.sourceRef = { kind: 'ExternalArtifact', name: 'ea' };
    const g = buildGraph(objects(oci, ks, hr, ea, artifactSource('ExternalArtifact', 'ea', pushedAs(FLEET, `main@sha1:${SHA}`))));
    const matched = matchSources(g.objects, { repoUrl: FLEET, branch: 'main' });
    expect(matched).toEqual([key('ExternalArtifact', 'ea'), key('OCIRepository', 'app')]);
    expect([...affectedSet(g, matched)].sort()).toEqual([key('ExternalArtifact', 'ea'), 'HelmRelease/flux-system/web', 'Kustomization/flux-system/app', 'Kustomization/flux-system/from-ea', key('OCIRepository', 'app')]);
    expect([...correlatedSet(g, matched)].sort()).toEqual([key('ExternalArtifact', 'ea'), 'HelmRelease/flux-system/web', 'Kustomization/flux-system/app', 'Kustomization/flux-system/from-ea', key('OCIRepository', 'app')]);
  });
});

describe('affected set: where a HelmRelease gets its chart (issue 17)', () => {
  const apps = withInventory(kustomization('apps'), [invId('apps', 'web', 'helm.toolkit.fluxcd.io', 'HelmRelease')]);
  const affected = (hr: KubeObject, ...more: KubeObject[]) => {
    const g = buildGraph(objects(gitRepository('flux-system', FLEET), apps, hr, ...more));
    return [...affectedSet(g, matchSources(g.objects, { repoUrl: FLEET, branch: 'main' }))].sort();
  };

  it('the HelmChart helm-controller made for chart.spec (status.helmChart) is in the tree under the HelmRelease', () => {
    const hr = { ...helmRelease('web', 'apps'), status: { helmChart: 'apps/apps-web' } };
    expect(affected(hr)).toContain('HelmChart/apps/apps-web');
  });

  it('a chartRef to an OCIRepository is in the tree: when it cannot be pulled, the failure is there', () => {
    const hr = { ...helmRelease('web', 'apps'), spec: { interval: '5m', chartRef: { kind: 'OCIRepository', name: 'web-chart' } } };
    const oci = { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', metadata: { name: 'web-chart', namespace: 'apps' }, spec: { url: 'oci://registry.example/charts/web', interval: '5m' } } as KubeObject;
    expect(affected(hr, oci)).toContain('OCIRepository/apps/web-chart');
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
