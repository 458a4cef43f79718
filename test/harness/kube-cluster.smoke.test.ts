import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startKubeCluster, type KubeCluster } from './kube-cluster.js';

// Uses only the kubeconfig files, as flux-monitor itself would.
async function getWithKubeconfig(file: string, apiPath: string): Promise<{ status: number; body: any }> {
  const cfg = YAML.parse(readFileSync(file, 'utf8'));
  const ctx = cfg.contexts.find((c: any) => c.name === cfg['current-context']).context;
  const cluster = cfg.clusters.find((c: any) => c.name === ctx.cluster).cluster;
  const user = cfg.users.find((u: any) => u.name === ctx.user).user;
  const dec = (s?: string) => (s ? Buffer.from(s, 'base64').toString() : undefined);
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(apiPath, cluster.server), {
      ca: dec(cluster['certificate-authority-data']),
      cert: dec(user['client-certificate-data']),
      key: dec(user['client-key-data']),
      headers: user.token ? { authorization: `Bearer ${user.token}` } : {},
      agent: false,
    }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('real kube-apiserver harness', () => {
  let cluster: KubeCluster;

  beforeAll(async () => {
    cluster = await startKubeCluster({ log: (s) => console.log(s) });
  }, 900_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('serves the real Flux CRDs to the admin kubeconfig', async () => {
    const r = await getWithKubeconfig(cluster.adminKubeconfigPath, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions');
    expect(r.status).toBe(200);
    const names = r.body.items.map((i: any) => i.metadata.name).sort();
    expect(names).toEqual([
      'buckets.source.toolkit.fluxcd.io',
      'externalartifacts.source.toolkit.fluxcd.io',
      'gitrepositories.source.toolkit.fluxcd.io',
      'helmcharts.source.toolkit.fluxcd.io',
      'helmreleases.helm.toolkit.fluxcd.io',
      'helmrepositories.source.toolkit.fluxcd.io',
      'kustomizations.kustomize.toolkit.fluxcd.io',
      'ocirepositories.source.toolkit.fluxcd.io',
    ]);
  });

  it('limits limited-user to namespace team-a', async () => {
    const all = await getWithKubeconfig(cluster.limitedKubeconfigPath, '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations');
    expect(all.status).toBe(403);
    const teamA = await getWithKubeconfig(cluster.limitedKubeconfigPath, '/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/team-a/kustomizations');
    expect(teamA.status).toBe(200);
    const teamB = await getWithKubeconfig(cluster.limitedKubeconfigPath, '/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/team-b/kustomizations');
    expect(teamB.status).toBe(403);
  });

  it('rejects bad credentials with 401', async () => {
    const r = await getWithKubeconfig(cluster.badCredsKubeconfigPath, '/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/team-a/kustomizations');
    expect(r.status).toBe(401);
  });

  it('kubeconfigs load in @kubernetes/client-node', async () => {
    const { KubeConfig, CustomObjectsApi } = await import('@kubernetes/client-node');
    const api = (file: string) => {
      const kc = new KubeConfig();
      kc.loadFromFile(file);
      return kc.makeApiClient(CustomObjectsApi);
    };
    const hr = { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' };
    expect((await api(cluster.adminKubeconfigPath).listClusterCustomObject(hr)).items).toEqual([]);
    expect((await api(cluster.limitedKubeconfigPath).listNamespacedCustomObject({ ...hr, namespace: 'team-a' })).items).toEqual([]);
    await expect(api(cluster.limitedKubeconfigPath).listClusterCustomObject(hr)).rejects.toMatchObject({ code: 403 });
    await expect(api(cluster.badCredsKubeconfigPath).listClusterCustomObject(hr)).rejects.toMatchObject({ code: 401 });
  });

  it('stores a Flux status of the real shape through the status subresource, and rejects one that is not', async () => {
    const base = '/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/team-a/kustomizations';
    const created = await cluster.request('POST', base, {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'apps' },
      spec: { interval: '1m', path: './apps', prune: true, sourceRef: { kind: 'GitRepository', name: 'repo' } },
    });
    expect(created.status).toBe(201);
    // The real CRD's schema defaults spec fields, as the apiserver does for kustomize-controller's own CRD.
    expect(created.body.spec.force).toBe(false);
    const status = {
      observedGeneration: 1,
      lastAppliedRevision: 'main@sha1:' + 'a'.repeat(40),
      conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: 'Applied revision: main@sha1:' + 'a'.repeat(40), observedGeneration: 1, lastTransitionTime: '2026-11-27T10:00:00Z' }],
    };
    const patched = await cluster.request('PATCH', `${base}/apps/status`, { status }, { contentType: 'application/merge-patch+json' });
    expect(patched.status).toBe(200);
    const limited = await cluster.request('GET', `${base}/apps`, undefined, { as: 'limited' });
    expect(limited.body.status).toEqual(status);
    // A condition without the fields metav1.Condition requires is refused by the real schema.
    const bad = await cluster.request('PATCH', `${base}/apps/status`, { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { contentType: 'application/merge-patch+json' });
    expect(bad.status).toBe(422);
  });

  it('survives an apiserver restart; the restarted watch cache answers 410 for older versions', async () => {
    const base = '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories';
    const created = await cluster.request('POST', base, { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'repo' }, spec: { interval: '1m', url: 'https://example.invalid/repo.git' } });
    expect(created.status).toBe(201);
    await cluster.request('PATCH', `${base}/repo`, { metadata: { labels: { a: 'b' } } }, { contentType: 'application/merge-patch+json' });

    await cluster.stopApiserver();
    await expect(cluster.request('GET', base)).rejects.toThrow(/ECONNREFUSED/);
    await cluster.startApiserver();
    expect((await cluster.request('GET', `${base}/repo`)).status).toBe(200);

    const watch = await cluster.request('GET', `${base}?watch=true&resourceVersion=${created.body.metadata.resourceVersion}&timeoutSeconds=1`);
    expect(JSON.parse(watch.text.split('\n')[0])).toMatchObject({ type: 'ERROR', object: { code: 410 } });
  });
});

describe('etcd compaction without the watch cache', () => {
  let cluster: KubeCluster;

  beforeAll(async () => {
    cluster = await startKubeCluster({ watchCache: false });
  }, 900_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('gives 410 Gone for compacted resourceVersions', async () => {
    const base = '/apis/helm.toolkit.fluxcd.io/v2/namespaces/team-b/helmreleases';
    const created = await cluster.request('POST', base, {
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: { name: 'podinfo' },
      spec: { interval: '5m', chart: { spec: { chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'podinfo' } } } },
    });
    expect(created.status).toBe(201);
    const rv = created.body.metadata.resourceVersion;
    const patched = await cluster.request('PATCH', `${base}/podinfo`, { metadata: { labels: { a: 'b' } } }, { contentType: 'application/merge-patch+json' });
    expect((await cluster.request('GET', `${base}?resourceVersion=${rv}&resourceVersionMatch=Exact`)).status).toBe(200);

    expect(await cluster.compactEtcd()).toBeGreaterThan(Number(rv));
    expect((await cluster.request('GET', `${base}?resourceVersion=${rv}&resourceVersionMatch=Exact`)).status).toBe(410);
    const watch = await cluster.request('GET', `${base}?watch=true&resourceVersion=${rv}&timeoutSeconds=1`);
    expect(JSON.parse(watch.text.split('\n')[0])).toMatchObject({ type: 'ERROR', object: { code: 410 } });
    // Nothing newer than the latest object version was lost: that watch is still fine.
    const latest = await cluster.request('GET', `${base}?watch=true&resourceVersion=${patched.body.metadata.resourceVersion}&timeoutSeconds=1`);
    expect(latest.text).toBe('');
  });
});
