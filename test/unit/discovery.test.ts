// API discovery in one request (aggregated discovery), the legacy path's group-versions asked for at once, stale
// group-versions, our order of preference over the server's, and bodies that are not what they claim. The
// simulator's aggregated answer is checked here for its shape and headers, and against a real kube-apiserver
// v1.34 in test/integration/discovery.test.ts. Loopback servers play the odd ones; no timing assertions.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import {
  discoverCustom,
  discoverFlux,
  DISCOVERY_ACCEPT,
  isAggregatedContentType,
  parseApis,
  type DiscoveryResult,
} from '../../src/cluster/discovery.js';
import { ApiError, BadBodyError, categorize, isTransient, MonitorError } from '../../src/cluster/errors.js';
import { KINDS } from '../../src/core/kinds.js';
import type { FluxKind } from '../../src/core/types.js';
import { AGGREGATED_CONTENT_TYPE, negotiateDiscovery } from '../../src/sim/discovery.js';
import type { ApiSimulator, ApiSimulatorOptions } from '../../src/sim/server.js';
import { TEKTON_PIPELINERUNS } from '../../src/sim/resources.js';
import { cleanup, startEngine, startSim as startSimulator } from '../helpers/engine.js';
import { DEFAULT_CONFIG } from '../../src/core/types.js';

const ALL: FluxKind[] = KINDS.map((k) => k.kind);
const SOURCE = 'source.toolkit.fluxcd.io';

const servers: http.Server[] = [];
afterEach(async () => {
  await cleanup();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

const startSim = async (opts: ApiSimulatorOptions = {}): Promise<ApiSimulator> => (await startSimulator(opts)).sim;
const clientAt = (server: string) => new ClusterClient({ files: [], contextName: 'test', server, tls: { insecure: false }, auth: { type: 'none' } });

/** A loopback server answering with `handler`; returns its URL. */
async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const send = (res: http.ServerResponse, status: number, body: unknown, type = 'application/json') => {
  res.writeHead(status, { 'Content-Type': type });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

async function raw(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The result as plain data (Maps to entries), to compare two discoveries. */
const plain = (r: DiscoveryResult) => ({ resources: [...r.resources], missing: r.missing });

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.unreachable('resolved'),
    (e: unknown) => e,
  );
}

describe('the simulator answers discovery as kube-apiserver 1.34 does', () => {
  it('aggregated discovery for the Accept header of client-go and flux-monitor, with the real headers and shape', async () => {
    const sim = await startSim();
    const r = await raw(`${sim.url}/apis`, { Accept: DISCOVERY_ACCEPT });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    expect(r.headers.get('cache-control')).toBe('public');
    expect(r.headers.get('vary')).toBe('Accept');
    const etag = r.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9A-F]{128}"$/);
    const body = JSON.parse(r.text);
    expect(Object.keys(body)).toEqual(['kind', 'apiVersion', 'metadata', 'items']);
    expect(body).toMatchObject({ kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {} });
    const source = body.items.find((i: { metadata: { name: string } }) => i.metadata.name === SOURCE);
    expect(source.versions.map((v: { version: string; freshness: string }) => [v.version, v.freshness])).toEqual([['v1', 'Current']]);
    const git = source.versions[0].resources.find((x: { resource: string }) => x.resource === 'gitrepositories');
    expect(Object.keys(git)).toEqual(['resource', 'responseKind', 'scope', 'singularResource', 'verbs', 'shortNames', 'categories', 'subresources']);
    expect(git).toMatchObject({
      responseKind: { group: SOURCE, version: 'v1', kind: 'GitRepository' },
      scope: 'Namespaced',
      singularResource: 'gitrepository',
      shortNames: ['gitrepo'],
      subresources: [{ subresource: 'status', responseKind: { group: SOURCE, version: 'v1', kind: 'GitRepository' }, verbs: ['get', 'patch', 'update'] }],
    });
    // Built-in types name only their kind.
    const apps = body.items.find((i: { metadata: { name: string } }) => i.metadata.name === 'apps');
    expect(apps.versions[0].resources.find((x: { resource: string }) => x.resource === 'deployments').responseKind).toEqual({ group: '', version: '', kind: 'Deployment' });
    // The core group is /api's, not /apis'.
    expect(body.items.some((i: { metadata: { name?: string } }) => !i.metadata.name)).toBe(false);

    // The same document again with its ETag: 304 without a body.
    const again = await raw(`${sim.url}/apis`, { Accept: DISCOVERY_ACCEPT, 'If-None-Match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');

    // /api aggregated: one group without a name.
    const core = JSON.parse((await raw(`${sim.url}/api`, { Accept: DISCOVERY_ACCEPT })).text);
    expect(core.items).toHaveLength(1);
    expect(core.items[0].metadata).toEqual({});
    expect(core.items[0].versions[0].resources.map((x: { resource: string }) => x.resource)).toContain('namespaces');
  });

  it('the plain APIGroupList without that Accept header, and 406 for a conversion it does not serve', async () => {
    const sim = await startSim();
    for (const accept of [undefined, 'application/json', '*/*', 'application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList']) {
      const r = await raw(`${sim.url}/apis`, accept ? { Accept: accept } : {});
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json');
      expect(JSON.parse(r.text).kind).toBe('APIGroupList');
    }
    // v2beta1 only: refused since Kubernetes 1.33 (a real 1.34 answers 406 NotAcceptable).
    const beta = await raw(`${sim.url}/apis`, { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList' });
    expect(beta.status).toBe(406);
    expect(JSON.parse(beta.text)).toMatchObject({ kind: 'Status', reason: 'NotAcceptable', code: 406 });
    // A q-value below the plain range's puts the plain answer first.
    expect(negotiateDiscovery('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.5,application/json', true)).toBe('plain');
    expect(negotiateDiscovery(DISCOVERY_ACCEPT, true)).toBe('aggregated');
    expect(negotiateDiscovery(DISCOVERY_ACCEPT, false)).toBe('plain');
  });

  it('switched off (a server before 1.26), the same Accept header gets the plain list', async () => {
    const sim = await startSim({ aggregatedDiscovery: false });
    const r = await raw(`${sim.url}/apis`, { Accept: DISCOVERY_ACCEPT });
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(r.text).kind).toBe('APIGroupList');
  });
});

describe('discoverFlux', () => {
  it.each(['current', 'legacy', 'both'] as const)('aggregated: one request, the same result as the legacy path (Flux API %s)', async (fluxApi) => {
    const agg = await startSim({ fluxApi });
    const old = await startSim({ fluxApi, aggregatedDiscovery: false });
    const aggClient = clientAt(agg.url);
    const oldClient = clientAt(old.url);
    const a = await discoverFlux(aggClient, ALL);
    const b = await discoverFlux(oldClient, ALL);
    expect(plain(a)).toEqual(plain(b));
    expect(a.resources.get('GitRepository')?.version).toBe(fluxApi === 'legacy' ? 'v1beta2' : 'v1');
    expect(a.resources.get('HelmRelease')?.version).toBe(fluxApi === 'legacy' ? 'v2beta2' : 'v2');
    expect(a.missing).toEqual(fluxApi === 'legacy' ? ['ExternalArtifact'] : []);
    expect(a.apis?.aggregated).toBe(true);
    expect(b.apis?.aggregated).toBe(false);
    // One request with aggregated discovery; the legacy path: the group list, then one per group at once.
    expect(aggClient.stats.byVerb).toEqual({ get: 1 });
    expect(agg.stats().requestsByVerb).toEqual({ discovery: 1 });
    expect(oldClient.stats.requests).toBe(4);
    expect(old.stats().requestsByVerb).toEqual({ discovery: 4 });
  });

  it('legacy path: the group-versions are requested at once, not one after another', async () => {
    // Each group-version request is held until all three are in flight (or 2 s pass, so a serial client gets
    // its answers and fails the assertion instead of hanging).
    let inFlight = 0;
    let most = 0;
    const held: Array<() => void> = [];
    const url = await serve((req, res) => {
      if (req.url === '/apis') {
        return send(res, 200, {
          kind: 'APIGroupList',
          groups: [SOURCE, 'kustomize.toolkit.fluxcd.io', 'helm.toolkit.fluxcd.io'].map((name) => ({ name, versions: [{ groupVersion: `${name}/${name.startsWith('helm') ? 'v2' : 'v1'}`, version: name.startsWith('helm') ? 'v2' : 'v1' }] })),
        });
      }
      const [, , group, version] = req.url!.split('/');
      inFlight++;
      most = Math.max(most, inFlight);
      const answer = () => {
        inFlight--;
        const kinds = KINDS.filter((k) => k.group === group);
        send(res, 200, { kind: 'APIResourceList', groupVersion: `${group}/${version}`, resources: kinds.map((k) => ({ name: k.plural, kind: k.kind, namespaced: true })) });
      };
      held.push(answer);
      const timer = setTimeout(() => held.splice(0).forEach((f) => f()), 2_000);
      timer.unref();
      if (held.length === 3) {
        clearTimeout(timer);
        held.splice(0).forEach((f) => f());
      }
    });
    const client = clientAt(url);
    const r = await discoverFlux(client, ALL);
    expect(most).toBe(3);
    expect(r.resources.size).toBe(KINDS.length);
    expect(client.stats.requests).toBe(4);
  });

  /** A server answering aggregated discovery from `items`, and plain resource lists from `lists` (else 404). */
  async function aggregatedServer(items: unknown[], lists: Record<string, unknown> = {}, seen: string[] = []): Promise<string> {
    return serve((req, res) => {
      seen.push(req.url!);
      if (req.url === '/apis') return send(res, 200, { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items }, AGGREGATED_CONTENT_TYPE);
      const l = lists[req.url!];
      if (l) return send(res, 200, l);
      send(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
    });
  }
  const res = (group: string, version: string, kind: string, plural: string) => ({ resource: plural, responseKind: { group, version, kind }, scope: 'Namespaced', singularResource: kind.toLowerCase(), verbs: ['get', 'list', 'watch'] });

  it('our order of preference, not the server\'s: v1 over a preferred v1beta2; an older version for a kind the newer lacks', async () => {
    const url = await aggregatedServer([
      {
        metadata: { name: SOURCE },
        versions: [
          // The server prefers v1beta2 (listed first); OCIRepository is only in v1beta2.
          { version: 'v1beta2', resources: [res(SOURCE, 'v1beta2', 'GitRepository', 'gitrepositories'), res(SOURCE, 'v1beta2', 'OCIRepository', 'ocirepositories')], freshness: 'Current' },
          { version: 'v1', resources: [res(SOURCE, 'v1', 'GitRepository', 'gitrepositories')], freshness: 'Current' },
        ],
      },
    ]);
    const client = clientAt(url);
    const r = await discoverFlux(client, ['GitRepository', 'OCIRepository', 'Kustomization']);
    expect(r.resources.get('GitRepository')?.apiVersion).toBe(`${SOURCE}/v1`);
    expect(r.resources.get('OCIRepository')?.apiVersion).toBe(`${SOURCE}/v1beta2`);
    expect(r.missing).toEqual(['Kustomization']);
    expect(client.stats.requests).toBe(1);
  });

  it('legacy path: a kind not in the preferred group-version is looked for in the next one, in a second round', async () => {
    const seen: string[] = [];
    const url = await serve((req, res) => {
      seen.push(req.url!);
      if (req.url === '/apis') {
        return send(res, 200, { kind: 'APIGroupList', groups: [{ name: SOURCE, versions: [{ groupVersion: `${SOURCE}/v1beta2`, version: 'v1beta2' }, { groupVersion: `${SOURCE}/v1`, version: 'v1' }] }] });
      }
      if (req.url === `/apis/${SOURCE}/v1`) return send(res, 200, { kind: 'APIResourceList', resources: [{ name: 'gitrepositories', kind: 'GitRepository' }] });
      if (req.url === `/apis/${SOURCE}/v1beta2`) return send(res, 200, { kind: 'APIResourceList', resources: [{ name: 'ocirepositories', kind: 'OCIRepository' }] });
      send(res, 404, { kind: 'Status', code: 404 });
    });
    const r = await discoverFlux(clientAt(url), ['GitRepository', 'OCIRepository']);
    expect(r.resources.get('GitRepository')?.version).toBe('v1');
    expect(r.resources.get('OCIRepository')?.version).toBe('v1beta2');
    expect(seen).toEqual(['/apis', `/apis/${SOURCE}/v1`, `/apis/${SOURCE}/v1beta2`]);
  });

  it('a stale group-version is asked for directly; its failure is a passing error, not "Flux not installed"', async () => {
    const sim = await startSim();
    sim.setDiscoveryStale(`${SOURCE}/v1`);
    const body = JSON.parse((await raw(`${sim.url}/apis`, { Accept: DISCOVERY_ACCEPT })).text);
    expect(body.items.find((i: { metadata: { name: string } }) => i.metadata.name === SOURCE).versions[0].freshness).toBe('Stale');

    const client = clientAt(sim.url);
    const r = await discoverFlux(client, ALL);
    expect(r.resources.get('GitRepository')?.apiVersion).toBe(`${SOURCE}/v1`);
    expect(r.resources.size).toBe(KINDS.length);
    expect(client.stats.requests).toBe(2); // /apis, then /apis/source.toolkit.fluxcd.io/v1 alone

    sim.failNext({ status: 503, pathMatch: `/apis/${SOURCE}/v1` });
    const err = await rejection(discoverFlux(clientAt(sim.url), ALL));
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(503);
    expect(isTransient(err)).toBe(true);
  });

  it('a stale group-version that has no resources (never fetched by the aggregator) is not trusted either', async () => {
    const seen: string[] = [];
    const url = await aggregatedServer(
      [{ metadata: { name: SOURCE }, versions: [{ version: 'v1', freshness: 'Stale' }] }],
      { [`/apis/${SOURCE}/v1`]: { kind: 'APIResourceList', resources: [{ name: 'gitrepositories', kind: 'GitRepository' }] } },
      seen,
    );
    const r = await discoverFlux(clientAt(url), ['GitRepository']);
    expect(r.resources.get('GitRepository')?.version).toBe('v1');
    expect(seen).toEqual(['/apis', `/apis/${SOURCE}/v1`]);
  });

  it('something that refuses the aggregated Accept header (406) is asked once more for plain JSON', async () => {
    const accepts: string[] = [];
    const url = await serve((req, res) => {
      accepts.push(`${req.url} ${req.headers.accept}`);
      if (req.headers.accept !== 'application/json') return send(res, 406, { kind: 'Status', code: 406, reason: 'NotAcceptable' });
      if (req.url === '/apis') return send(res, 200, { kind: 'APIGroupList', groups: [{ name: SOURCE, versions: [{ groupVersion: `${SOURCE}/v1`, version: 'v1' }] }] });
      send(res, 200, { kind: 'APIResourceList', resources: [{ name: 'gitrepositories', kind: 'GitRepository' }] });
    });
    const r = await discoverFlux(clientAt(url), ['GitRepository']);
    expect(r.resources.get('GitRepository')?.version).toBe('v1');
    expect(accepts).toEqual([`/apis ${DISCOVERY_ACCEPT}`, '/apis application/json', `/apis/${SOURCE}/v1 application/json`]);
  });

  it('an aggregated answer without Flux groups is "Flux not installed", after one request', async () => {
    const sim = await startSim({ fluxApi: 'none' });
    const client = clientAt(sim.url);
    const err = await rejection(discoverFlux(client, ALL));
    expect(err).toBeInstanceOf(MonitorError);
    expect(categorize(err).category).toBe('flux-not-installed');
    expect(client.stats.requests).toBe(1);
  });
});

describe('discovery answers that are not what they claim', () => {
  const AGG = AGGREGATED_CONTENT_TYPE;
  const cases: Array<[string, unknown, string]> = [
    ['an aggregated Content-Type over an APIGroupList', { kind: 'APIGroupList', groups: [] }, AGG],
    ['an aggregated list whose items are not a list', { kind: 'APIGroupDiscoveryList', items: 'flux' }, AGG],
    ['an aggregated list without items', { kind: 'APIGroupDiscoveryList' }, AGG],
    ['an aggregated group that is a number', { kind: 'APIGroupDiscoveryList', items: [1] }, AGG],
    ['an aggregated version without a name', { kind: 'APIGroupDiscoveryList', items: [{ metadata: { name: SOURCE }, versions: [{ resources: [] }] }] }, AGG],
    ['an aggregated resource without a name', { kind: 'APIGroupDiscoveryList', items: [{ metadata: { name: SOURCE }, versions: [{ version: 'v1', resources: [{ scope: 'Namespaced' }] }] }] }, AGG],
    ['an empty JSON object', {}, 'application/json'],
    ['a JSON array', [], 'application/json'],
    ['a JSON string', '"ok"', 'application/json'],
    ['another kind', { kind: 'Status', status: 'Success' }, 'application/json'],
    ['groups that are not a list', { kind: 'APIGroupList', groups: { name: SOURCE } }, 'application/json'],
    ['a group without a name', { kind: 'APIGroupList', groups: [{ versions: [] }] }, 'application/json'],
  ];
  it.each(cases)('%s: a BadBodyError (a passing server-error), never "Flux not installed"', async (_what, body, type) => {
    const url = await serve((_req, res) => send(res, 200, body, type));
    const err = await rejection(discoverFlux(clientAt(url), ALL));
    expect(err).toBeInstanceOf(BadBodyError);
    expect((err as BadBodyError).path).toBe('/apis');
    expect(categorize(err).category).toBe('server-error');
    expect(isTransient(err)).toBe(true);
  });

  it('a group-version answer that is not an APIResourceList is a BadBodyError too', async () => {
    const url = await serve((req, res) => {
      if (req.url === '/apis') return send(res, 200, { kind: 'APIGroupList', groups: [{ name: SOURCE, versions: [{ groupVersion: `${SOURCE}/v1`, version: 'v1' }] }] });
      send(res, 200, { kind: 'Status', status: 'Success' });
    });
    const err = await rejection(discoverFlux(clientAt(url), ['GitRepository']));
    expect(err).toBeInstanceOf(BadBodyError);
    expect((err as BadBodyError).path).toBe(`/apis/${SOURCE}/v1`);
  });

  it('an empty group list of a real shape is an honest "Flux not installed"', async () => {
    const url = await serve((_req, res) => send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] }));
    expect(categorize(await rejection(discoverFlux(clientAt(url), ALL))).category).toBe('flux-not-installed');
  });

  it('a body whose kind is APIGroupDiscoveryList is read as one even if a proxy dropped the Content-Type parameters', () => {
    const apis = parseApis({ kind: 'APIGroupDiscoveryList', items: [{ metadata: { name: SOURCE }, versions: [{ version: 'v1', resources: [{ resource: 'gitrepositories', responseKind: { kind: 'GitRepository' } }] }] }] }, 'application/json');
    expect(apis.aggregated).toBe(true);
    expect(apis.resources.get(`${SOURCE}/v1`)?.get('gitrepositories')).toBe('GitRepository');
  });

  it('the aggregated Content-Type in any parameter order, with more parameters, in v2 and v2beta1', () => {
    expect(isAggregatedContentType('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList')).toBe(true);
    expect(isAggregatedContentType('application/json; as=APIGroupDiscoveryList;v=v2beta1;g=apidiscovery.k8s.io;charset=utf-8')).toBe(true);
    expect(isAggregatedContentType('application/json')).toBe(false);
    expect(isAggregatedContentType('application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList')).toBe(false);
    expect(isAggregatedContentType('application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList')).toBe(false);
  });
});

describe('discoverCustom', () => {
  const TEKTON = { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun' };

  it('reads the aggregated answer at hand: no request, served or not', async () => {
    const sim = await startSim({ customResources: [TEKTON_PIPELINERUNS] });
    const client = clientAt(sim.url);
    const { apis } = await discoverFlux(client, ALL);
    const before = client.stats.requests;
    expect(await discoverCustom(client, TEKTON, apis)).toEqual({ rt: { kind: 'PipelineRun', group: 'tekton.dev', version: 'v1', plural: 'pipelineruns', apiVersion: 'tekton.dev/v1' } });
    expect(await discoverCustom(client, { apiVersion: 'tekton.dev/v1beta1', kind: 'PipelineRun' }, apis)).toEqual({ missing: expect.stringContaining('does not serve tekton.dev/v1beta1') });
    expect(await discoverCustom(client, { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' }, apis)).toEqual({ missing: expect.stringContaining('does not serve argoproj.io/v1alpha1') });
    expect(await discoverCustom(client, { apiVersion: 'tekton.dev/v1', kind: 'TaskRun' }, apis)).toEqual({ missing: 'tekton.dev/v1 has no resource of kind TaskRun' });
    expect(client.stats.requests).toBe(before);
  });

  it('the same answers through one request each without it (legacy) or for a stale group-version', async () => {
    const old = await startSim({ customResources: [TEKTON_PIPELINERUNS], aggregatedDiscovery: false });
    const oldClient = clientAt(old.url);
    const { apis: legacy } = await discoverFlux(oldClient, ALL);
    const before = oldClient.stats.requests;
    expect(await discoverCustom(oldClient, TEKTON, legacy)).toMatchObject({ rt: { plural: 'pipelineruns' } });
    expect(await discoverCustom(oldClient, { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' }, legacy)).toEqual({ missing: expect.stringContaining('does not serve') });
    expect(oldClient.stats.requests).toBe(before + 2);

    const sim = await startSim({ customResources: [TEKTON_PIPELINERUNS] });
    sim.setDiscoveryStale('tekton.dev/v1');
    const client = clientAt(sim.url);
    const { apis } = await discoverFlux(client, ALL);
    const n = client.stats.requests;
    expect(await discoverCustom(client, TEKTON, apis)).toMatchObject({ rt: { plural: 'pipelineruns' } });
    expect(client.stats.requests).toBe(n + 1);
  });
});

describe('a session\'s discovery', () => {
  const custom = (apiVersion: string) => ({
    apiVersion, kind: 'PipelineRun', labelSelector: 'pipelinesascode.tekton.dev/sha={sha}', condition: 'Succeeded', progressingReasons: [], wait: 0, namespaces: [],
  });

  it.each([true, false])('aggregated discovery %s: the Flux kinds and the custom kinds, served or not', async (aggregatedDiscovery) => {
    const { sim, kubeconfig } = await startSimulator({ customResources: [TEKTON_PIPELINERUNS], aggregatedDiscovery });
    const run = startEngine({ kubeconfig, all: true, config: { ...DEFAULT_CONFIG, custom_kinds: [custom('tekton.dev/v1'), custom('tekton.dev/v1beta1')] } });
    await run.session();
    // One request for everything; an older server: the group list, the three Flux group-versions at once, then
    // one per custom kind.
    expect(sim.stats().requestsByVerb.discovery).toBe(aggregatedDiscovery ? 1 : 6);
    expect(run.last()?.warnings).toContain('PipelineRun (tekton.dev/v1beta1) is not followed: the cluster does not serve tekton.dev/v1beta1 (is the CRD of PipelineRun installed?)');
    expect(run.last()?.warnings.filter((w) => w.includes('not followed'))).toHaveLength(1);
  });
});
