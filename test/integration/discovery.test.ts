// Discovery against a real kube-apiserver v1.34 with the real Flux CRDs: its aggregated answer (one request)
// gives the same result as the legacy path (the plain APIGroupList and one request per group-version), for the
// admin and for a user with no more than system:discovery on /apis; and the simulator's aggregated answer is
// the real one for the Flux groups, headers included (test/unit/discovery.test.ts covers the rest).
import https from 'node:https';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, loadKubeConfig, type RequestOptions } from '../../src/cluster/client.js';
import { discoverCustom, discoverFlux, DISCOVERY_ACCEPT, type DiscoveryResult } from '../../src/cluster/discovery.js';
import { KINDS } from '../../src/core/kinds.js';
import type { FluxKind } from '../../src/core/types.js';
import { ApiSimulator } from '../../src/sim/server.js';
import { startCluster, waitFor, type KubeCluster } from './support.js';

const ALL: FluxKind[] = KINDS.map((k) => k.kind);

let cluster: KubeCluster;
let sim: ApiSimulator;
beforeAll(async () => {
  cluster = await startCluster();
  sim = new ApiSimulator();
  await sim.start();
}, 900_000);
afterAll(async () => {
  await sim?.stop();
  await cluster?.stop();
});

const clientFor = (kubeconfig: string) => new ClusterClient(loadKubeConfig({ kubeconfig, env: {} }));

/** A client whose requests ask for the plain answers only (`Accept: application/json`), as a server before 1.26 gives them. */
function plainOnly(client: ClusterClient): ClusterClient {
  const request = client.request.bind(client);
  client.request = <T>(method: string, path: string, o: RequestOptions = {}) => request<T>(method, path, { ...o, accept: undefined });
  return client;
}

const plain = (r: DiscoveryResult) => ({ resources: [...r.resources], missing: r.missing });

/** One GET with the given headers, with the kubeconfig's TLS client certificate; the raw status, headers and body. */
function rawGet(kubeconfig: string | undefined, url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const tls = kubeconfig ? loadKubeConfig({ kubeconfig, env: {} }).tls : {};
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const r = mod.request(url, { headers, agent: false, ...tls }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    r.on('error', reject);
    r.end();
  });
}

const fluxItems = (doc: { items: Array<{ metadata: { name?: string } }> }) => doc.items.filter((i) => i.metadata.name?.endsWith('.toolkit.fluxcd.io'));

describe('discovery against a real kube-apiserver v1.34', () => {
  it('the aggregated answer gives the legacy path\'s result in one request, for the admin and a limited user', async () => {
    // The CRDs are Established and in the legacy discovery (the harness waits for it); wait for them in the
    // aggregated document too rather than assume both are updated at once.
    await waitFor('the Flux groups in aggregated discovery', async () => {
      const r = await rawGet(cluster.adminKubeconfigPath, `${cluster.server}/apis`, { Accept: DISCOVERY_ACCEPT });
      return fluxItems(JSON.parse(r.text)).length === 3;
    });
    for (const kubeconfig of [cluster.adminKubeconfigPath, cluster.limitedKubeconfigPath]) {
      const client = clientFor(kubeconfig);
      const agg = await discoverFlux(client, ALL);
      expect(agg.apis?.aggregated).toBe(true);
      expect(client.stats.requests).toBe(1);
      expect(client.stats.byVerb).toEqual({ get: 1 });

      const legacyClient = plainOnly(clientFor(kubeconfig));
      const old = await discoverFlux(legacyClient, ALL);
      expect(old.apis?.aggregated).toBe(false);
      // The group list, then source, kustomize and helm at once.
      expect(legacyClient.stats.requests).toBe(4);

      expect(plain(agg)).toEqual(plain(old));
      expect(agg.missing).toEqual([]);
      expect([...agg.resources.values()].map((r) => r.apiVersion)).toEqual(KINDS.map((k) => `${k.group}/${k.versions[0]}`));
    }
  });

  it('the custom kinds read from the aggregated answer are what one request each finds', async () => {
    const client = clientFor(cluster.adminKubeconfigPath);
    const { apis } = await discoverFlux(client, ALL);
    const legacy = plainOnly(clientFor(cluster.adminKubeconfigPath));
    const kinds = [
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository' },
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'PipelineRun' },
      { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun' },
      { apiVersion: 'apps/v1', kind: 'Deployment' },
    ];
    const before = client.stats.requests;
    for (const c of kinds) expect(await discoverCustom(client, c, apis)).toEqual(await discoverCustom(legacy, c));
    expect(client.stats.requests).toBe(before);
    expect(legacy.stats.requests).toBe(kinds.length);
  });

  it('the simulator answers the same aggregated document for the Flux groups, with the same headers', async () => {
    const real = await rawGet(cluster.adminKubeconfigPath, `${cluster.server}/apis`, { Accept: DISCOVERY_ACCEPT });
    const mine = await rawGet(undefined, `${sim.url}/apis`, { Accept: DISCOVERY_ACCEPT });
    expect(real.status).toBe(200);
    expect(mine.status).toBe(200);
    for (const h of ['content-type', 'cache-control', 'vary']) expect(mine.headers[h], h).toBe(real.headers[h]);
    expect(mine.headers.etag).toMatch(/^"[0-9A-F]{128}"$/);
    expect(real.headers.etag).toMatch(/^"[0-9A-F]{128}"$/);
    const realDoc = JSON.parse(real.text);
    const simDoc = JSON.parse(mine.text);
    expect(Object.keys(simDoc)).toEqual(Object.keys(realDoc));
    expect({ ...simDoc, items: [] }).toEqual({ ...realDoc, items: [] });
    expect(fluxItems(simDoc)).toEqual(fluxItems(realDoc));

    // The real server's ETag answers 304 to If-None-Match, as the simulator's does.
    const again = await rawGet(cluster.adminKubeconfigPath, `${cluster.server}/apis`, { Accept: DISCOVERY_ACCEPT, 'If-None-Match': real.headers.etag! });
    expect(again.status).toBe(304);

    // Without the aggregated media type: the plain list on both; v2beta1 alone: 406 on both.
    for (const [accept, status, type] of [
      ['application/json', 200, 'application/json'],
      ['application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList', 406, 'application/json'],
    ] as const) {
      const r = await rawGet(cluster.adminKubeconfigPath, `${cluster.server}/apis`, { Accept: accept });
      const s = await rawGet(undefined, `${sim.url}/apis`, { Accept: accept });
      expect([s.status, s.headers['content-type']]).toEqual([r.status, r.headers['content-type']]);
      expect([r.status, r.headers['content-type']]).toEqual([status, type]);
      expect(JSON.parse(s.text).kind).toBe(JSON.parse(r.text).kind);
    }
  });
});
