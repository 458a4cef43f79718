// RestClient: kubeconfig parsing, errors, pagination, and TLS with client certificates (a local HTTPS server
// that requires a client certificate stands in for a real kube-apiserver).
import { mkdtemp, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TLSSocket } from 'node:tls';
import { ApiSimulator } from '../../src/sim/server.js';
import { optionsFromKubeconfig, resourcePath, RestClient, RestError } from '../../src/sim/rest.js';

// Test-only PKI (EC P-256, valid for 100 years): a CA, a server certificate for 127.0.0.1 and a client
// certificate with O=system:masters, as envtest-style clusters use.
const CA_CRT = `-----BEGIN CERTIFICATE-----
MIIBjDCCATOgAwIBAgIUcZCzQLLXDkBJcEInnnu9ZbZGglUwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQZmx1eC1zaW0tdGVzdC1jYTAgFw0yNjExMjMwOTE5MzVaGA8y
MTI2MTAzMDA5MTkzNVowGzEZMBcGA1UEAwwQZmx1eC1zaW0tdGVzdC1jYTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABFWmbrMg59W90Y8biAxuOMT7/qTcgopjZJw9
c3grQPnxgvwu1mPcnVg3sOigvMCEEegFD/01rHCvxcxyPFrYuwmjUzBRMB0GA1Ud
DgQWBBTppVHKqtuStEGCW9Q9bqXQM+YhKjAfBgNVHSMEGDAWgBTppVHKqtuStEGC
W9Q9bqXQM+YhKjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIHdR
dm7G6tVeUi56OwtphWsyIPid4AFqL9OOyRdmpRz2AiBUNzHCxRIBZel7QzGEqv6E
oO/lhDSbIXVLw0Q7bx/5oA==
-----END CERTIFICATE-----\n`;
const SERVER_CRT = `-----BEGIN CERTIFICATE-----
MIIBpjCCAUygAwIBAgIUDNZw7sPOx7GBrYnB/77os41by04wCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQZmx1eC1zaW0tdGVzdC1jYTAgFw0yNjExMjMwOTE5MzVaGA8y
MTI2MTAzMDA5MTkzNVowFDESMBAGA1UEAwwJMTI3LjAuMC4xMFkwEwYHKoZIzj0C
AQYIKoZIzj0DAQcDQgAE/cd77gAbOY6TYdvvLfb09IWV+vIoLETqijpmoJEwPY1L
1QE57vPjPOcBPBeDDLjknjxfWswKDcDxSotwCkOaOaNzMHEwGgYDVR0RBBMwEYcE
fwAAAYIJbG9jYWxob3N0MBMGA1UdJQQMMAoGCCsGAQUFBwMBMB0GA1UdDgQWBBT9
L8l5BT8OUg/mch5QhG6yRTaOgzAfBgNVHSMEGDAWgBTppVHKqtuStEGCW9Q9bqXQ
M+YhKjAKBggqhkjOPQQDAgNIADBFAiEA9M/8McIzzADn4QvE0whiIwiPcbmsBEuL
L45nvDZDE4gCIEpwLFh765onGhqirv79+lmWHpVLQHKpvgvI6ujuNilY
-----END CERTIFICATE-----\n`;
const SERVER_KEY = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIHaLB0BghJaWBcJMPjSp3xgBp1ZfkOYk8mXu97JGt+vfoAoGCCqGSM49
AwEHoUQDQgAE/cd77gAbOY6TYdvvLfb09IWV+vIoLETqijpmoJEwPY1L1QE57vPj
POcBPBeDDLjknjxfWswKDcDxSotwCkOaOQ==
-----END EC PRIVATE KEY-----\n`;
const CLIENT_CRT = `-----BEGIN CERTIFICATE-----
MIIBpjCCAUugAwIBAgIUDNZw7sPOx7GBrYnB/77os41by08wCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQZmx1eC1zaW0tdGVzdC1jYTAgFw0yNjExMjMwOTE5MzVaGA8y
MTI2MTAzMDA5MTkzNVowLzEXMBUGA1UECgwOc3lzdGVtOm1hc3RlcnMxFDASBgNV
BAMMC2ZsdXgtcGxheWVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcdoreOi6
sBZgbXdt/mrHo6gDjED8Dq9TVSl7oywehLY4VE4IqKlX12TtYxrcEfry6anMHn9u
LGBFwe5vAfFU8aNXMFUwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFICa
k/XDse52f0YH3/AvXBWQ9R4qMB8GA1UdIwQYMBaAFOmlUcqq25K0QYJb1D1updAz
5iEqMAoGCCqGSM49BAMCA0kAMEYCIQChNOyQeEcez96xrVK5uGtOSWnQqtDpfWAw
OVH8EWYXugIhAK2pZjZPta6VKwgjRZLxwfBx0aS7J/s/zmPHVPjflEs9
-----END CERTIFICATE-----\n`;
const CLIENT_KEY = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIBWxQv4yLaBABDcjSYEbokQE8uvEGapsO9k1HRDuyUTroAoGCCqGSM49
AwEHoUQDQgAEcdoreOi6sBZgbXdt/mrHo6gDjED8Dq9TVSl7oywehLY4VE4IqKlX
12TtYxrcEfry6anMHn9uLGBFwe5vAfFU8Q==
-----END EC PRIVATE KEY-----\n`;

const b64 = (s: string) => Buffer.from(s).toString('base64');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('resourcePath', () => {
  it('builds group, core, namespaced and subresource paths', () => {
    expect(resourcePath({ group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' })).toBe('/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations');
    expect(resourcePath({ group: '', version: 'v1', plural: 'namespaces', name: 'apps' })).toBe('/api/v1/namespaces/apps');
    expect(resourcePath({ group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases', namespace: 'apps', name: 'redis', subresource: 'status' }))
      .toBe('/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/redis/status');
  });
});

describe('kubeconfig parsing', () => {
  it('reads inline data, tokens and the current context', () => {
    const text = [
      'apiVersion: v1', 'kind: Config', 'current-context: prod',
      'clusters:',
      '- name: prod', '  cluster:', '    server: https://10.1.2.3:6443', `    certificate-authority-data: ${b64(CA_CRT)}`, '    tls-server-name: kube.local',
      '- name: dev', '  cluster:', '    server: http://127.0.0.1:1', '    insecure-skip-tls-verify: true',
      'users:',
      '- name: admin', '  user:', `    client-certificate-data: ${b64(CLIENT_CRT)}`, `    client-key-data: ${b64(CLIENT_KEY)}`,
      '- name: dev', '  user:', '    token: abc',
      'contexts:',
      '- name: prod', '  context: {cluster: prod, user: admin}',
      '- name: dev', '  context: {cluster: dev, user: dev}',
    ].join('\n');
    const prod = optionsFromKubeconfig(text);
    expect(prod.server).toBe('https://10.1.2.3:6443');
    expect(prod.ca?.toString()).toBe(CA_CRT);
    expect(prod.cert?.toString()).toBe(CLIENT_CRT);
    expect(prod.key?.toString()).toBe(CLIENT_KEY);
    expect(prod.tlsServerName).toBe('kube.local');
    expect(prod.token).toBeUndefined();
    const dev = optionsFromKubeconfig(text, { context: 'dev' });
    expect(dev).toMatchObject({ server: 'http://127.0.0.1:1', token: 'abc', insecureSkipTLSVerify: true });
    expect(() => optionsFromKubeconfig(text, { context: 'nope' })).toThrow(/context nope not found/);
  });

  it('resolves certificate files relative to the kubeconfig', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-rest-'));
    await writeFile(join(dir, 'ca.crt'), CA_CRT);
    await writeFile(join(dir, 'token'), 'from-file\n');
    await writeFile(join(dir, 'config'), [
      'current-context: c', 'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", certificate-authority: ca.crt}}]',
      'users: [{name: u, user: {tokenFile: token}}]', 'contexts: [{name: c, context: {cluster: c, user: u}}]',
    ].join('\n'));
    const client = RestClient.fromKubeconfig(join(dir, 'config'));
    cleanups.push(() => client.close());
    const opts = optionsFromKubeconfig(await import('node:fs').then((fs) => fs.readFileSync(join(dir, 'config'), 'utf8')), { baseDir: dir });
    expect(opts.ca?.toString()).toBe(CA_CRT);
    expect(opts.token).toBe('from-file');
    expect(client.server).toBe('https://127.0.0.1:6443');
  });
});

describe('against the simulator', () => {
  it('creates, reads, patches, writes status, pages and deletes; errors carry status and body', async () => {
    const sim = new ApiSimulator({ token: 'tok' });
    await sim.start();
    cleanups.push(() => sim.stop());
    const client = RestClient.fromKubeconfigString(sim.kubeconfig());
    cleanups.push(() => client.close());
    await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } });
    const coll = '/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases';
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      await client.create(coll, { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name }, spec: { interval: '5m', values: { n: 1 } } });
    }
    const page = await client.list(coll, { limit: 2 });
    expect(page.items.map((i) => i.metadata.name)).toEqual(['a', 'b']);
    expect(page.metadata.continue).toBeTruthy();
    const all = await client.listAll(coll, {}, 2);
    expect(all.items.map((i) => i.metadata.name)).toEqual(['a', 'b', 'c', 'd', 'e']);

    const patched = await client.mergePatch(`${coll}/a`, { spec: { values: { n: 2 } } });
    expect(patched.metadata.generation).toBe(2);
    const st = await client.mergePatchStatus(`${coll}/a`, { status: { observedGeneration: 2 } });
    expect(st.status).toEqual({ observedGeneration: 2 });
    const replaced = await client.replaceStatus(`${coll}/a`, { ...st, status: { observedGeneration: 3 } });
    expect(replaced.status.observedGeneration).toBe(3);
    const put = await client.replace(`${coll}/a`, { ...replaced, spec: { interval: '1m' } });
    expect(put.metadata.generation).toBe(3);
    const jp = await client.jsonPatch(`${coll}/a`, [{ op: 'add', path: '/metadata/labels', value: { x: 'y' } }]);
    expect(jp.metadata.labels).toEqual({ x: 'y' });

    await client.delete(`${coll}/b`);
    const err = await client.get(`${coll}/b`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestError);
    expect((err as RestError).status).toBe(404);
    expect((err as RestError).reason).toBe('NotFound');
    expect((err as RestError).body).toMatchObject({ kind: 'Status', code: 404 });

    const anon = new RestClient({ server: sim.url });
    cleanups.push(() => anon.close());
    const unauth = await anon.get('/apis').catch((e: unknown) => e);
    expect((unauth as RestError).status).toBe(401);
  });

  it('rejects with the network error when the server is down', async () => {
    const sim = new ApiSimulator();
    await sim.start();
    const client = new RestClient({ server: sim.url });
    cleanups.push(() => client.close());
    await sim.stop();
    const err = await client.get('/version').catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});

describe('TLS with client certificates', () => {
  it('verifies the server against the CA and presents the client certificate', async () => {
    const server = https.createServer({ cert: SERVER_CRT, key: SERVER_KEY, ca: CA_CRT, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'APIVersions', versions: ['v1'], subject: peer.subject }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as { port: number }).port;
    const kubeconfig = [
      'current-context: envtest',
      `clusters: [{name: envtest, cluster: {server: "https://127.0.0.1:${port}", certificate-authority-data: ${b64(CA_CRT)}}}]`,
      `users: [{name: admin, user: {client-certificate-data: ${b64(CLIENT_CRT)}, client-key-data: ${b64(CLIENT_KEY)}}}]`,
      'contexts: [{name: envtest, context: {cluster: envtest, user: admin}}]',
    ].join('\n');
    const client = RestClient.fromKubeconfigString(kubeconfig);
    cleanups.push(() => client.close());
    const body = await client.get<{ subject: { CN: string; O: string } }>('/api');
    expect(body.subject).toMatchObject({ CN: 'flux-player', O: 'system:masters' });

    // Without the client certificate the handshake is refused; with a wrong CA the server is not trusted.
    const noCert = new RestClient({ server: `https://127.0.0.1:${port}`, ca: CA_CRT });
    cleanups.push(() => noCert.close());
    await expect(noCert.get('/api')).rejects.toThrow();
    const untrusted = new RestClient({ server: `https://127.0.0.1:${port}`, cert: CLIENT_CRT, key: CLIENT_KEY });
    cleanups.push(() => untrusted.close());
    await expect(untrusted.get('/api')).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });
});
