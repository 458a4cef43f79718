// A hostile or broken "API server" at the transport: what a proxy's login page, a captive portal, a body cut short,
// an endless body, a watch line sent in thousands of pieces or a 503 with Retry-After must do to the client and
// the reflector, and the kubeconfig features of kubectl the client follows (impersonation, proxies of the
// environment). A loopback HTTP server plays the cluster. No timing assertions: waits are bounded by conditions.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ClusterClient, loadKubeConfig, MAX_BODY_BYTES, MAX_ERROR_BODY_BYTES, type WatchEvent } from '../../src/cluster/client.js';
import { ApiError, BadBodyError, categorize, isTransient, MonitorError } from '../../src/cluster/errors.js';
import { LineSplitter } from '../../src/cluster/lines.js';
import { noProxyMatches, proxyFromEnvironment } from '../../src/cluster/proxy.js';
import { Reflector, type ReflectorEvents } from '../../src/engine/reflector.js';
import type { ResourceType } from '../../src/cluster/discovery.js';
import type { CategorizedError, KubeObject } from '../../src/core/types.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

const servers: http.Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A loopback HTTP server answering with `handler` (request bodies read first); returns its URL. */
async function serve(handler: Handler): Promise<string> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const clientAt = (server: string) =>
  new ClusterClient({ files: [], contextName: 'test', server, tls: { insecure: false }, auth: { type: 'none' } });

const RT: ResourceType = { kind: 'Kustomization', group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' };
const LIST_PATH = '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations';
const ks = (name: string, rv: string) => ({ apiVersion: RT.apiVersion, kind: RT.kind, metadata: { name, namespace: 'flux-system', resourceVersion: rv, uid: `uid-${name}` } });
const LIST = JSON.stringify({ apiVersion: RT.apiVersion, kind: 'KustomizationList', metadata: { resourceVersion: '10' }, items: [ks('infra', '5'), ks('apps', '7')] });
const LOGIN_PAGE = '<!DOCTYPE html><html><head><title>Sign in to continue</title></head><body><form action="/login">…</form></body></html>';

const json = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body);
};
const html = (res: http.ServerResponse, body = LOGIN_PAGE) => {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(body);
};

/** The 2xx bodies that are not a list, each with how it is served. */
const NOT_A_LIST: Array<[string, (res: http.ServerResponse) => void]> = [
  ['an HTML login page (200 text/html)', (res) => html(res)],
  ['JSON cut short (Content-Length of what is sent)', (res) => json(res, 200, LIST.slice(0, Math.floor(LIST.length / 2)))],
  ['JSON cut short inside the items', (res) => json(res, 200, LIST.slice(0, LIST.indexOf('"apps"')))],
  ['an empty body', (res) => json(res, 200, '')],
  ['JSON that is not a list (a Status)', (res) => json(res, 200, '{"kind":"Status","status":"Success"}')],
  ['a JSON array', (res) => json(res, 200, '[]')],
  ['a JSON string', (res) => json(res, 200, '"items"')],
  ['items that are not an array', (res) => json(res, 200, '{"kind":"KustomizationList","items":{"a":1}}')],
];

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    const v = await p;
    return { resolvedWith: v };
  } catch (err) {
    return err;
  }
}

describe('a 2xx answer that is not JSON is never "no objects"', () => {
  for (const [what, answer] of NOT_A_LIST) {
    it(`a LIST answered with ${what} fails as a transient server-error`, async () => {
      const client = clientAt(await serve((_req, res) => answer(res)));
      const err = await rejection(client.request('GET', LIST_PATH, { list: true }));
      expect(err).toBeInstanceOf(BadBodyError);
      expect(categorize(err)).toMatchObject({ category: 'server-error', status: 200 });
      expect(isTransient(err)).toBe(true);
    });
  }

  it('a well-formed LIST still parses (items, an empty list, items: null)', async () => {
    const bodies = [LIST, '{"kind":"KustomizationList","metadata":{"resourceVersion":"3"},"items":[]}', '{"kind":"KustomizationList","items":null}'];
    let i = 0;
    const client = clientAt(await serve((_req, res) => json(res, 200, bodies[i++]!)));
    expect(await client.request('GET', LIST_PATH, { list: true })).toEqual(JSON.parse(LIST));
    expect(await client.request('GET', LIST_PATH, { list: true })).toMatchObject({ items: [] });
    expect(await client.request('GET', LIST_PATH, { list: true })).toMatchObject({ items: null });
  });

  it('a GET or a PATCH answered 200 with an HTML page, cut-short JSON or nothing fails; 204 is no body', async () => {
    const answers: Array<(res: http.ServerResponse) => void> = [
      (res) => html(res),
      (res) => json(res, 200, '{"metadata":{"name":"deploy"'),
      (res) => json(res, 200, ''),
      (res) => html(res),
      (res) => (res.writeHead(204), res.end()),
    ];
    let i = 0;
    const client = clientAt(await serve((_req, res) => answers[i++]!(res)));
    const path = '/apis/apps/v1/namespaces/flux-system/deployments/source-controller';
    for (let k = 0; k < 3; k++) {
      const err = await rejection(client.request('GET', path));
      expect(err).toBeInstanceOf(BadBodyError);
      expect(categorize(err).category).toBe('server-error');
    }
    // auto_reconcile's annotation: a PATCH "accepted" by a login page did not happen.
    const patch = await rejection(client.request('PATCH', `${LIST_PATH}/infra`, { body: { metadata: {} }, contentType: 'application/merge-patch+json' }));
    expect(patch).toBeInstanceOf(BadBodyError);
    expect(await client.request('DELETE', `${LIST_PATH}/infra`)).toBeUndefined();
  });

  it('the error names the status and the content type, not the page', async () => {
    const client = clientAt(await serve((_req, res) => html(res)));
    const c = categorize(await rejection(client.request('GET', LIST_PATH, { list: true })));
    expect(c.message).toMatch(/HTTP 200/);
    expect(c.message).toMatch(/text\/html/);
    expect(c.message).not.toMatch(/Sign in/);
    expect(c.hint).toMatch(/proxy/);
  });
});

/** A reflector on `server`, recording what it reports; `sleeps` records every delay it asks for. */
function reflect(server: string, over: { pollOnly?: boolean } = {}) {
  const replaced: string[][] = [];
  const upserts: string[] = [];
  const deletes: string[] = [];
  const errors: Array<{ err: CategorizedError; fatal: boolean }> = [];
  let recovered = 0;
  const sleeps: number[] = [];
  const events: ReflectorEvents = {
    onReplace: (objs: KubeObject[]) => replaced.push(objs.map((o) => o.metadata.name)),
    onUpsert: (o) => upserts.push(o.metadata.name),
    onDelete: (o) => deletes.push(o.metadata.name),
    onError: (err, fatal) => errors.push({ err, fatal }),
    onRecovered: () => recovered++,
  };
  const r = new Reflector({
    client: clientAt(server),
    rt: RT,
    events,
    pollIntervalMs: () => 1,
    pollOnly: over.pollOnly,
    backoffMs: 1,
    maxBackoffMs: 2,
    stallMs: 60_000,
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((res) => setTimeout(res, 1));
    },
  });
  return { r, replaced, upserts, deletes, errors, sleeps, recovered: () => recovered };
}

const until = async (pred: () => boolean, what: string) => {
  const end = Date.now() + 20_000;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('the reflector keeps the objects it knew when a LIST answer is not a list', () => {
  it('polling: a login page and cut-short JSON between good lists delete nothing; the failure is reported and recovered', async () => {
    // 1: the list; 2-3: a login page and a truncated body; 4: the list again (recovery); then the list for ever.
    const answers = [(res: http.ServerResponse) => json(res, 200, LIST), (res: http.ServerResponse) => html(res), NOT_A_LIST[1]![1]];
    let lists = 0;
    const server = await serve((_req, res) => (answers[lists++] ?? answers[0]!)(res));
    const f = reflect(server, { pollOnly: true });
    await f.r.start();
    await until(() => lists >= 5 && f.recovered() > 0, 'two bad lists and a good one');
    f.r.stop();
    expect(f.replaced).toEqual([['infra', 'apps']]);
    expect(f.deletes).toEqual([]);
    expect(f.errors.length).toBeGreaterThanOrEqual(1);
    expect(f.errors.every((e) => e.err.category === 'server-error' && !e.fatal)).toBe(true);
  });

  it('watching: the relist after 410 Gone answered by a login page does not replace the kind with nothing', async () => {
    let lists = 0;
    let watches = 0;
    const server = await serve((req, res) => {
      if (/[?&]watch=true/.test(req.url ?? '')) {
        watches++;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        // The first watch: too old (410, relist). Later ones stay open.
        if (watches === 1) res.end('{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}\n');
        else res.flushHeaders();
        return;
      }
      lists++;
      if (lists === 1 || lists >= 4) json(res, 200, LIST);
      else html(res);
    });
    const f = reflect(server);
    await f.r.start();
    await until(() => lists >= 4 && f.replaced.length >= 2, 'the relist to succeed');
    f.r.stop();
    // The first list, then the relist that worked: never an empty replacement in between.
    expect(f.replaced).toEqual([
      ['infra', 'apps'],
      ['infra', 'apps'],
    ]);
    expect(f.deletes).toEqual([]);
    expect(f.errors.map((e) => [e.err.category, e.fatal])).toEqual([
      ['server-error', false],
      ['server-error', false],
    ]);
    expect(f.recovered()).toBe(1);
  });
});

describe('bodies have a size limit', () => {
  /** Streams `total` bytes of an endless-looking JSON string, as fast as the client reads; counts what it wrote. */
  function endless(status: number, total: number, written: { bytes: number; closed: boolean }): Handler {
    return (_req, res) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 'x');
      res.write('{"message":"');
      written.bytes += 12;
      const pump = () => {
        while (written.bytes < total) {
          written.bytes += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end('"}');
      };
      res.on('close', () => (written.closed = true));
      pump();
    };
  }

  it('a non-LIST 2xx body larger than MAX_BODY_BYTES is cut off and fails (the connection is closed)', async () => {
    const written = { bytes: 0, closed: false };
    const client = clientAt(await serve(endless(200, 2 * MAX_BODY_BYTES, written)));
    const err = await rejection(client.request('GET', '/apis/apps/v1/namespaces/x/deployments/big'));
    expect(err).toBeInstanceOf(BadBodyError);
    expect((err as BadBodyError).what).toMatch(/larger than/);
    expect(categorize(err).category).toBe('server-error');
    await until(() => written.closed, 'the server to see the connection closed');
    // It stopped reading near the limit, not at the end of the body.
    expect(written.bytes).toBeLessThan(2 * MAX_BODY_BYTES);
  });

  it('an error answer keeps at most MAX_ERROR_BODY_BYTES of its body', async () => {
    const written = { bytes: 0, closed: false };
    const client = clientAt(await serve(endless(500, 16 * MAX_ERROR_BODY_BYTES, written)));
    const err = await rejection(client.request('GET', '/apis/apps/v1/namespaces/x/deployments/big'));
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(500);
    // What is kept, however it parsed (the whole body would be a 16 MB JSON Status).
    expect(JSON.stringify((err as ApiError).body).length).toBeLessThanOrEqual(MAX_ERROR_BODY_BYTES + 2);
  });
});

describe('watch streams', () => {
  /** Opens one watch and resolves with its events and how it ended. */
  function watchOnce(client: ClusterClient): Promise<{ events: WatchEvent[]; err: unknown }> {
    return new Promise((resolve) => {
      const events: WatchEvent[] = [];
      void client.watch(LIST_PATH, {}, { onEvent: (ev) => events.push(ev), onClose: (err) => resolve({ events, err }) }, 60_000, 60_000);
    });
  }

  it('a long event line sent in thousands of small chunks is read once (bytes scanned ≤ bytes received)', async () => {
    const big = { ...ks('infra', '11'), status: { conditions: [{ type: 'Ready', status: 'False', message: 'x'.repeat(4 * 1024 * 1024) }] } };
    const line = Buffer.from(JSON.stringify({ type: 'MODIFIED', object: big }) + '\n');
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      let at = 0;
      const pump = () => {
        while (at < line.length) {
          const piece = line.subarray(at, at + 1024);
          at += piece.length;
          // Small writes, each flushed on its own (setNoDelay): the client sees thousands of chunks.
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.socket?.setNoDelay(true);
      pump();
    });
    const client = clientAt(server);
    const { events, err } = await watchOnce(client);
    expect(err).toBeUndefined();
    expect(events).toHaveLength(1);
    expect(events[0]!.object.status.conditions[0].message).toHaveLength(4 * 1024 * 1024);
    // Rescanning the unfinished line on each chunk would look at ~chunks × line / 2 bytes (gigabytes here).
    expect(client.stats.watchScannedBytes).toBeGreaterThan(0);
    expect(client.stats.watchScannedBytes).toBeLessThanOrEqual(line.length);
  });

  it('LineSplitter: each byte is looked at once, whatever the chunking; lines split across chunks are whole', () => {
    const text = 'a'.repeat(100_000) + '\n' + 'é✓'.repeat(1000) + '\n\nlast';
    const buf = Buffer.from(text);
    for (const size of [1, 3, 1000, buf.length]) {
      const s = new LineSplitter(1 << 20);
      const lines: string[] = [];
      const results = new Set<string>();
      for (let i = 0; i < buf.length; i += size) results.add(s.write(buf.subarray(i, i + size), (l) => (lines.push(l), true)));
      expect([...results]).toEqual(['ok']);
      expect(lines).toEqual(['a'.repeat(100_000), 'é✓'.repeat(1000), '']);
      expect(s.pending).toBe(4);
      expect(s.scanned).toBe(buf.length);
    }
    // A line longer than the limit, with or without its newline, is refused.
    expect(new LineSplitter(10).write(Buffer.from('x'.repeat(11)), () => true)).toBe('too-large');
    expect(new LineSplitter(10).write(Buffer.from('x'.repeat(11) + '\n'), () => true)).toBe('too-large');
  });

  it('a 200 watch answered with an HTML page (no newline at its end) ends with an error, not as a normal close', async () => {
    const client = clientAt(await serve((_req, res) => html(res)));
    const { events, err } = await watchOnce(client);
    expect(events).toEqual([]);
    expect(err).toMatchObject({ code: 'EPROTO_FRAME' });
    expect(categorize(err).category).toBe('server-error');
  });

  it('a watch error answer with an endless body keeps at most MAX_ERROR_BODY_BYTES of it', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const { err } = await watchOnce(clientAt(server));
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(502);
    expect(String((err as ApiError).body).length).toBeLessThanOrEqual(MAX_ERROR_BODY_BYTES);
  });
});

describe('a watch the server closes at once', () => {
  it('answered 200 and closed without an event, again and again: re-opened after a backoff each time, silently', async () => {
    let watches = 0;
    const server = await serve((req, res) => {
      if (!/[?&]watch=true/.test(req.url ?? '')) return json(res, 200, LIST);
      watches++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end();
    });
    const f = reflect(server);
    await f.r.start();
    await until(() => watches >= 6, 'a few watches');
    f.r.stop();
    // A wait before every watch after the first (a tight loop would ask for none), and nothing reported.
    expect(f.sleeps.length).toBeGreaterThanOrEqual(5);
    expect(f.errors).toEqual([]);
    expect(f.replaced).toEqual([['infra', 'apps']]);
  });
});

describe('Retry-After on a 503', () => {
  it('a watch answered 503 with Retry-After waits as asked before the next watch', async () => {
    let watches = 0;
    const server = await serve((req, res) => {
      if (!/[?&]watch=true/.test(req.url ?? '')) return json(res, 200, LIST);
      watches++;
      if (watches === 1) return json(res, 503, '{"kind":"Status","code":503,"message":"the server is shutting down"}', { 'Retry-After': '7' });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
    });
    const f = reflect(server);
    await f.r.start();
    await until(() => watches >= 2, 'the second watch');
    f.r.stop();
    // The wait before the second watch: Retry-After (7 s), not the 1 ms backoff.
    expect(f.sleeps).toContain(7000);
    expect(f.errors.map((e) => [e.err.category, e.err.status])).toEqual([['server-error', 503]]);
  });

  it('a LIST answered 503 with Retry-After waits as asked before listing again', async () => {
    let lists = 0;
    const server = await serve((req, res) => {
      if (/[?&]watch=true/.test(req.url ?? '')) return void (res.writeHead(200), res.flushHeaders());
      lists++;
      if (lists === 1) return json(res, 503, '{"kind":"Status","code":503}', { 'Retry-After': '3' });
      json(res, 200, LIST);
    });
    const f = reflect(server);
    await f.r.start();
    f.r.stop();
    expect(lists).toBe(2);
    expect(f.sleeps).toContain(3000);
    expect(f.replaced).toEqual([['infra', 'apps']]);
  });
});

describe('kubeconfig: impersonation and proxies, as kubectl', () => {
  function kubeconfigFile(server: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
    const dir = mkdtempSync(join(tmpdir(), 'fm-hostile-'));
    dirs.push(dir);
    const file = join(dir, 'kubeconfig');
    writeFileSync(
      file,
      YAML.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server, ...cluster } }],
        users: [{ name: 'u', user: { token: 'tok', ...user } }],
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'ctx',
      }),
    );
    return file;
  }

  it('as, as-uid, as-groups and as-user-extra become the Impersonate-* headers of every request and watch', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const server = await serve((req, res) => {
      seen.push(req.headers);
      if (/[?&]watch=true/.test(req.url ?? '')) return void res.end();
      json(res, 200, LIST);
    });
    const kubeconfig = kubeconfigFile(server, {
      as: 'alice',
      'as-uid': '1234',
      'as-groups': ['devs', 'flux-readers'],
      'as-user-extra': { 'example.com/team': ['a', 'b'], scopes: ['view'] },
    });
    const client = new ClusterClient(loadKubeConfig({ kubeconfig, env: {} }));
    await client.request('GET', LIST_PATH, { list: true });
    await new Promise<void>((resolve) => void client.watch(LIST_PATH, {}, { onEvent: () => undefined, onClose: () => resolve() }));
    expect(seen).toHaveLength(2);
    for (const h of seen) {
      expect(h['impersonate-user']).toBe('alice');
      expect(h['impersonate-uid']).toBe('1234');
      expect(h['impersonate-group']).toBe('devs, flux-readers'); // two headers, joined by Node
      expect(h['impersonate-extra-example.com%2fteam']).toBe('a, b'); // `/` escaped as client-go does (%2F; Node lower-cases names)
      expect(h['impersonate-extra-scopes']).toBe('view');
      expect(h.authorization).toBe('Bearer tok');
    }
  });

  it('--as and --as-group replace the kubeconfig fields they name; without as, nothing is impersonated', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const server = await serve((req, res) => (seen.push(req.headers), json(res, 200, LIST)));
    const kubeconfig = kubeconfigFile(server, { as: 'alice', 'as-groups': ['devs'], 'as-uid': '1' });
    await new ClusterClient(loadKubeConfig({ kubeconfig, env: {}, impersonate: { user: 'bob', groups: ['ops'] } })).request('GET', '/api');
    expect(seen[0]).toMatchObject({ 'impersonate-user': 'bob', 'impersonate-group': 'ops', 'impersonate-uid': '1' });
    const plain = kubeconfigFile(server, {});
    await new ClusterClient(loadKubeConfig({ kubeconfig: plain, env: {} })).request('GET', '/api');
    expect(Object.keys(seen[1]!).filter((k) => k.startsWith('impersonate-'))).toEqual([]);
    await new ClusterClient(loadKubeConfig({ kubeconfig: plain, env: {}, impersonate: { user: 'carol' } })).request('GET', '/api');
    expect(seen[2]!['impersonate-user']).toBe('carol');
  });

  it('groups, a uid or extra without a user to act as is a config error, as in kubectl', () => {
    const kubeconfig = kubeconfigFile('https://127.0.0.1:1', { 'as-groups': ['devs'] });
    expect(() => loadKubeConfig({ kubeconfig, env: {} })).toThrow(/without impersonating a user/);
    try {
      loadKubeConfig({ kubeconfig: kubeconfigFile('https://127.0.0.1:1', {}), env: {}, impersonate: { groups: ['x'] } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MonitorError);
      expect(categorize(err).category).toBe('config');
    }
    expect(() => loadKubeConfig({ kubeconfig: kubeconfigFile('https://127.0.0.1:1', { as: 'a\r\nX-Evil: 1' }), env: {} })).toThrow(/control character/);
  });

  it('HTTPS_PROXY / HTTP_PROXY / NO_PROXY pick the proxy as Go does', () => {
    const env = (e: Record<string, string>) => e as NodeJS.ProcessEnv;
    const p = (server: string, e: Record<string, string>) => proxyFromEnvironment(server, env(e))?.url;
    expect(p('https://k8s.example.com:6443', { HTTPS_PROXY: 'http://proxy:3128' })).toBe('http://proxy:3128/');
    expect(p('https://k8s.example.com:6443', { https_proxy: 'proxy.corp:3128' })).toBe('http://proxy.corp:3128/');
    expect(p('https://k8s.example.com:6443', { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:1' })).toBe('http://upper:1/');
    expect(p('https://k8s.example.com', { HTTP_PROXY: 'http://proxy:3128' })).toBeUndefined(); // no fallback
    expect(p('http://k8s.example.com', { HTTP_PROXY: 'http://proxy:3128' })).toBe('http://proxy:3128/');
    expect(proxyFromEnvironment('https://k8s.example.com', env({ HTTPS_PROXY: 'socks5://s:1080' }))).toEqual({ url: 'socks5://s:1080', from: 'HTTPS_PROXY' });
    // Never for loopback.
    for (const s of ['https://localhost:6443', 'https://127.0.0.1:6443', 'https://127.3.4.5', 'https://[::1]:6443']) {
      expect(p(s, { HTTPS_PROXY: 'http://proxy:3128' })).toBeUndefined();
    }
    // NO_PROXY: domains and subdomains, leading dot and *., ports, IPs and CIDRs, *.
    const np = (server: string, noProxy: string) => p(server, { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: noProxy });
    expect(np('https://k8s.example.com', 'example.com')).toBeUndefined();
    expect(np('https://example.com', 'example.com')).toBeUndefined();
    expect(np('https://example.com', '.example.com')).toBeDefined();
    expect(np('https://k8s.example.com', '*.example.com')).toBeUndefined();
    expect(np('https://notexample.com', 'example.com')).toBeDefined();
    expect(np('https://k8s.example.com:6443', 'k8s.example.com:6443')).toBeUndefined();
    expect(np('https://k8s.example.com:6443', 'k8s.example.com:443')).toBeDefined();
    expect(np('https://k8s.example.com', 'k8s.example.com:443')).toBeUndefined();
    expect(np('https://10.1.2.3:6443', '10.0.0.0/8')).toBeUndefined();
    expect(np('https://11.1.2.3:6443', '10.0.0.0/8')).toBeDefined();
    expect(np('https://10.1.2.3:6443', '10.1.2.3')).toBeUndefined();
    expect(np('https://[fd00::5]:6443', 'fd00::/8')).toBeUndefined();
    expect(np('https://10.1.2.3', 'example.com, 10.1.2.0/24')).toBeUndefined();
    expect(np('https://anything', '*')).toBeUndefined();
    expect(p('https://K8S.Example.COM', { HTTPS_PROXY: 'http://proxy:3128', no_proxy: 'k8s.example.com' })).toBeUndefined();
    expect(noProxyMatches('10.0.0.0/8', 'ten.example.com', '443')).toBe(false); // a CIDR never matches a name
    expect(() => proxyFromEnvironment('https://k8s.example.com', env({ HTTPS_PROXY: 'ftp://proxy:21' }))).toThrow(/unsupported proxy scheme/);
  });

  it('a kubeconfig proxy-url wins over HTTPS_PROXY; a proxy of the environment is used like proxy-url', () => {
    const kubeconfig = kubeconfigFile('https://k8s.example.com:6443', {}, { 'proxy-url': 'http://kube-proxy:8888' });
    expect(loadKubeConfig({ kubeconfig, env: { HTTPS_PROXY: 'http://env-proxy:3128' } }).proxy).toEqual({ url: 'http://kube-proxy:8888', from: 'proxy-url' });
    const plain = kubeconfigFile('https://k8s.example.com:6443', {});
    const cfg = loadKubeConfig({ kubeconfig: plain, env: { HTTPS_PROXY: 'http://env-proxy:3128' } });
    expect(cfg.proxy).toEqual({ url: 'http://env-proxy:3128/', from: 'HTTPS_PROXY' });
    expect(cfg.needsLibrary).toBe('HTTPS_PROXY');
    expect(loadKubeConfig({ kubeconfig: plain, env: { HTTPS_PROXY: 'http://env-proxy:3128', NO_PROXY: '.example.com' } }).proxy).toBeUndefined();
    expect(() => loadKubeConfig({ kubeconfig: plain, env: { HTTPS_PROXY: 'ftp://x:1' } })).toThrow(MonitorError);
  });
});
