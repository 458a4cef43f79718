// kubeconfig features of kubectl against a real kube-apiserver: impersonation (`as`, `as-groups`, `as-uid`,
// `as-user-extra` in the kubeconfig, `--as`/`--as-group` through loadKubeConfig) must make flux-monitor see exactly
// what the impersonated user may see, and the proxies of the environment (HTTPS_PROXY, https_proxy, NO_PROXY) must
// carry its requests as they carry kubectl's, with a kubeconfig proxy-url first. The harness's admin is
// system:masters, which may impersonate anyone; a CONNECT proxy on loopback counts the tunnels it opens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { ClusterClient, loadKubeConfig, type LoadOptions } from '../../src/cluster/client.js';
import { ApiError, categorize } from '../../src/cluster/errors.js';
import { Reflector } from '../../src/engine/reflector.js';
import type { ResourceType } from '../../src/cluster/discovery.js';
import type { KubeObject } from '../../src/core/types.js';
import { kustomization } from '../helpers/flux.js';
import { startCluster, waitFor, type KubeCluster } from './support.js';

let cluster: KubeCluster;

const KS: ResourceType = { kind: 'Kustomization', group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' };
const ksPath = (ns?: string) => (ns ? `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${ns}/kustomizations` : '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations');
const ALICE = 'alice';
const READERS = 'fm-test-flux-readers';
/** Objects per namespace; alice may read only team-b's. */
const OBJECTS: Record<string, string[]> = { 'team-a': ['a-1', 'a-2'], 'team-b': ['b-1', 'b-2', 'b-3'], 'flux-system': ['fs-1'] };

const ok = (what: string, r: { status: number; text: string }) => {
  if (r.status >= 300 && r.status !== 409) throw new Error(`${what}: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
};

beforeAll(async () => {
  cluster = await startCluster();
  for (const [ns, names] of Object.entries(OBJECTS)) {
    for (const name of names) ok(`create ${ns}/${name}`, await cluster.request('POST', ksPath(ns), kustomization(name, { ns })));
  }
  // alice: get/list/watch Kustomizations in team-b only.
  ok(
    'Role',
    await cluster.request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team-b/roles', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'ks-reader', namespace: 'team-b' },
      rules: [{ apiGroups: ['kustomize.toolkit.fluxcd.io'], resources: ['kustomizations'], verbs: ['get', 'list', 'watch'] }],
    }),
  );
  ok(
    'RoleBinding',
    await cluster.request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team-b/rolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'alice-ks-reader', namespace: 'team-b' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ks-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: ALICE }],
    }),
  );
  // A group that may read Flux objects everywhere (the harness's flux-viewer ClusterRole): only with --as-group.
  ok(
    'ClusterRoleBinding',
    await cluster.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'fm-test-flux-readers' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flux-viewer' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: READERS }],
    }),
  );
});

afterAll(async () => {
  await cluster?.stop();
});

/** A copy of the admin kubeconfig with `user` and `clusterFields` merged into its user and cluster. */
async function adminKubeconfig(name: string, user: Record<string, unknown> = {}, clusterFields: Record<string, unknown> = {}): Promise<string> {
  const cfg = YAML.parse(await readFile(cluster.adminKubeconfigPath, 'utf8'));
  Object.assign(cfg.users[0].user, user);
  Object.assign(cfg.clusters[0].cluster, clusterFields);
  const file = path.join(cluster.dataDir, `${name}.kubeconfig`);
  await writeFile(file, YAML.stringify(cfg), { mode: 0o600 });
  return file;
}

const clientFor = (kubeconfig: string, over: Omit<LoadOptions, 'kubeconfig'> = {}) => new ClusterClient(loadKubeConfig({ kubeconfig, env: {}, ...over }));

const names = (list: unknown) => ((list as { items: KubeObject[] }).items ?? []).map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();
const expected = (...nss: string[]) => nss.flatMap((ns) => OBJECTS[ns]!.map((n) => `${ns}/${n}`)).sort();

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('the request succeeded');
}

/** Who the API server says the client is (SelfSubjectReview). */
async function whoAmI(client: ClusterClient): Promise<{ username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> }> {
  const r = await client.request<{ status: { userInfo: { username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } } }>(
    'POST',
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
  );
  return r.status.userInfo;
}

describe('impersonation against a real kube-apiserver', () => {
  it('the admin kubeconfig with `as: alice` sees exactly team-b, and is forbidden cluster-wide and in team-a', async () => {
    const client = clientFor(await adminKubeconfig('as-alice', { as: ALICE }));
    expect((await whoAmI(client)).username).toBe(ALICE);
    expect(names(await client.request('GET', ksPath('team-b'), { list: true }))).toEqual(expected('team-b'));
    for (const p of [ksPath(), ksPath('team-a'), ksPath('flux-system')]) {
      const err = await failure(client.request('GET', p, { list: true }));
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(403);
      expect(categorize(err).category).toBe('forbidden');
      expect(categorize(err).message).toContain(`"${ALICE}"`);
    }
    // The admin itself sees everything (the check above is the impersonation, not the cluster).
    expect(names(await clientFor(cluster.adminKubeconfigPath).request('GET', ksPath(), { list: true }))).toEqual(expected('team-a', 'team-b', 'flux-system'));
  });

  it('reflectors acting as alice: team-b is listed and watched, the cluster-wide one stops on 403', async () => {
    const client = clientFor(await adminKubeconfig('as-alice-reflector', { as: ALICE }));
    const seen: string[] = [];
    const upserts: string[] = [];
    const reflector = (namespace?: string) =>
      new Reflector({
        client,
        rt: KS,
        namespace,
        pollIntervalMs: () => 1000,
        backoffMs: 10,
        maxBackoffMs: 100,
        events: {
          onReplace: (objs) => seen.push(...objs.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)),
          onUpsert: (o) => upserts.push(`${o.metadata.namespace}/${o.metadata.name}`),
          onDelete: () => undefined,
          onError: () => undefined,
          onRecovered: () => undefined,
        },
      });
    const teamB = reflector('team-b');
    await teamB.start();
    expect(seen.sort()).toEqual(expected('team-b'));
    expect(teamB.mode).toBe('watch');
    await waitFor('the team-b watch to open', () => client.stats.watchesOpen === 1);
    ok('create b-4', await cluster.request('POST', ksPath('team-b'), kustomization('b-4', { ns: 'team-b' })));
    await waitFor('the watch to deliver b-4', () => upserts.includes('team-b/b-4'));
    teamB.stop();
    ok('delete b-4', await cluster.request('DELETE', `${ksPath('team-b')}/b-4`));
    const everywhere = reflector();
    const err = await everywhere.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    everywhere.stop();
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(403);
  });

  it('--as / --as-group / --as-uid (loadKubeConfig impersonate) and as-user-extra reach the API server', async () => {
    const plain = cluster.adminKubeconfigPath;
    // --as alice on a kubeconfig without `as`.
    const asAlice = clientFor(plain, { impersonate: { user: ALICE } });
    expect(names(await asAlice.request('GET', ksPath('team-b'), { list: true }))).toEqual(expected('team-b'));
    expect((await failure(asAlice.request('GET', ksPath(), { list: true })) as ApiError).status).toBe(403);
    // --as-group adds a group that may read everywhere: alice then sees every namespace.
    const withGroup = clientFor(plain, { impersonate: { user: ALICE, groups: [READERS], uid: 'alice-uid-1' } });
    expect(names(await withGroup.request('GET', ksPath(), { list: true }))).toEqual(expected('team-a', 'team-b', 'flux-system'));
    const who = await whoAmI(withGroup);
    expect(who).toMatchObject({ username: ALICE, uid: 'alice-uid-1' });
    expect(who.groups).toContain(READERS);
    // as-user-extra from the kubeconfig, with a key that needs escaping; --as replaces the kubeconfig's `as`.
    const extra = clientFor(await adminKubeconfig('as-extra', { as: 'someone-else', 'as-user-extra': { 'example.com/team': ['blue', 'green'] } }), {
      impersonate: { user: ALICE },
    });
    expect(await whoAmI(extra)).toMatchObject({ username: ALICE, extra: { 'example.com/team': ['blue', 'green'] } });
  });
});

/** A CONNECT proxy on loopback: `hosts` maps the names it is asked for to loopback; counts the tunnels. */
async function startConnectProxy(hosts: Record<string, string>): Promise<{ url: string; tunnels: string[]; auth: Array<string | undefined>; close(): Promise<void> }> {
  const tunnels: string[] = [];
  const auth: Array<string | undefined> = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(405);
    res.end();
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    auth.push(req.headers['proxy-authorization']);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), hosts[host!] ?? host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => (client.destroy(), upstream.destroy()));
      s.on('close', () => sockets.delete(s));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    auth,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('proxies of the environment against a real kube-apiserver', () => {
  // The server under a name only the proxy knows: Go (and flux-monitor) never proxy localhost or 127.0.0.1, and a
  // request that does not go through the proxy cannot even resolve the name. The certificate is for `localhost`.
  const NAME = 'kube.flux-monitor.test';
  let kubeconfig: string;
  let port: number;
  let proxy: Awaited<ReturnType<typeof startConnectProxy>>;
  let other: Awaited<ReturnType<typeof startConnectProxy>>;

  beforeAll(async () => {
    port = Number(new URL(cluster.server).port);
    kubeconfig = await adminKubeconfig('by-name', {}, { server: `https://${NAME}:${port}`, 'tls-server-name': 'localhost' });
    proxy = await startConnectProxy({ [NAME]: '127.0.0.1' });
    other = await startConnectProxy({ [NAME]: '127.0.0.1' });
  });
  afterAll(async () => {
    await proxy?.close();
    await other?.close();
  });

  it('HTTPS_PROXY carries lists and watches through the proxy (CONNECT to the server name)', async () => {
    const before = proxy.tunnels.length;
    const client = clientFor(kubeconfig, { env: { HTTPS_PROXY: proxy.url } });
    expect(names(await client.request('GET', ksPath(), { list: true }))).toEqual(expected('team-a', 'team-b', 'flux-system'));
    const upserts: string[] = [];
    const r = new Reflector({
      client,
      rt: KS,
      namespace: 'team-a',
      pollIntervalMs: () => 1000,
      backoffMs: 10,
      maxBackoffMs: 100,
      events: { onReplace: () => undefined, onUpsert: (o) => upserts.push(o.metadata.name), onDelete: () => undefined, onError: () => undefined, onRecovered: () => undefined },
    });
    await r.start();
    await waitFor('the watch to open', () => client.stats.watchesOpen === 1);
    ok('create a-3', await cluster.request('POST', ksPath('team-a'), kustomization('a-3', { ns: 'team-a' })));
    await waitFor('the watch through the proxy to deliver a-3', () => upserts.includes('a-3'));
    r.stop();
    ok('delete a-3', await cluster.request('DELETE', `${ksPath('team-a')}/a-3`));
    const tunnels = proxy.tunnels.slice(before);
    expect(tunnels.length).toBeGreaterThanOrEqual(3); // the list, the reflector's list, its watch
    expect(new Set(tunnels)).toEqual(new Set([`${NAME}:${port}`]));
  });

  it('https_proxy (lower case) with credentials: Proxy-Authorization is sent to the proxy', async () => {
    const before = proxy.tunnels.length;
    const u = new URL(proxy.url);
    u.username = 'user';
    u.password = 'p@ss';
    await clientFor(kubeconfig, { env: { https_proxy: u.href } }).request('GET', '/version');
    expect(proxy.tunnels.length).toBe(before + 1);
    expect(proxy.auth.at(-1)).toBe('Basic ' + Buffer.from('user:p@ss').toString('base64'));
  });

  it('NO_PROXY matching the server (domain suffix, or the name with its port) goes direct: the proxy sees nothing', async () => {
    for (const noProxy of ['.flux-monitor.test', 'flux-monitor.test', `${NAME}:${port}`, '10.0.0.0/8, *.flux-monitor.test', '*']) {
      const before = proxy.tunnels.length;
      const err = await failure(clientFor(kubeconfig, { env: { HTTPS_PROXY: proxy.url, NO_PROXY: noProxy } }).request('GET', '/version'));
      // Direct, the name does not resolve: the cluster cannot be reached, and the proxy was not asked.
      expect(categorize(err).category).toBe('unreachable');
      expect(proxy.tunnels.length).toBe(before);
    }
    // An entry that does not match (another domain, another port, a CIDR for a name): through the proxy.
    for (const noProxy of ['example.com', `${NAME}:443`, '127.0.0.0/8']) {
      const before = proxy.tunnels.length;
      await clientFor(kubeconfig, { env: { HTTPS_PROXY: proxy.url, no_proxy: noProxy } }).request('GET', '/version');
      expect(proxy.tunnels.length).toBe(before + 1);
    }
  });

  it("the kubeconfig's proxy-url wins over HTTPS_PROXY", async () => {
    const withUrl = await adminKubeconfig('by-name-proxy-url', {}, { server: `https://${NAME}:${port}`, 'tls-server-name': 'localhost', 'proxy-url': other.url });
    const [p0, o0] = [proxy.tunnels.length, other.tunnels.length];
    await clientFor(withUrl, { env: { HTTPS_PROXY: proxy.url } }).request('GET', '/version');
    expect(other.tunnels.length).toBe(o0 + 1);
    expect(proxy.tunnels.length).toBe(p0);
  });

  it('a loopback server is never proxied, as in kubectl', async () => {
    const before = proxy.tunnels.length;
    await clientFor(cluster.adminKubeconfigPath, { env: { HTTPS_PROXY: proxy.url } }).request('GET', '/version');
    expect(proxy.tunnels.length).toBe(before);
  });
});
