// `flux-monitor mcp` against a hostile caller: an agent talked into a call by text in what it reads. Whoever
// starts the server chooses the kubeconfig, its contexts, the directories tools may use and whether anything is
// written to the cluster; a call (or a repository's hook file) that names anything else is refused with an
// `isError` result naming the flag that allows it. Each case here is what such a caller would send.
import { existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { stringify as yaml } from 'yaml';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { MonitorEvent } from '../../src/core/types.js';
import mcp, { MAX_WAITING_CALLS, readOnlyClient, serveStdio, type McpContext } from '../../src/commands/mcp.js';
import type { ClusterClient } from '../../src/cluster/client.js';
import type { StatePaths } from '../../src/session/paths.js';
import { processStartToken } from '../../src/session/proc.js';
import { sessionFile, writeJsonAtomic, type StoredSession } from '../../src/session/store.js';
import type { ApiSimulator } from '../../src/sim/server.js';
import { SHA_NEW, gitReady, ksReady } from '../helpers/flux.js';
import { errorText, resultJson, useMcp } from '../helpers/mcp.js';
import { eventually } from '../helpers/e2e.js';
import { FLEET_URL } from '../helpers/engine.js';

const URL_ = FLEET_URL;
const GIT = { kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' };
const KS = { kind: 'Kustomization', namespace: 'flux-system', name: 'apps' };

const mcpTest = useMcp('fm-hostile-mcp-');
let dir: string;
let paths: StatePaths;
let stderr: string[];
beforeEach(() => {
  ({ dir, paths, stderr } = mcpTest);
});
const { io, connect, git, session } = mcpTest;

/** A repository at `path` with one commit and `origin` = URL_; with `hook`, its hook file's `config:` block. */
function newRepo(path: string, hook?: Record<string, unknown>): { path: string; head: string } {
  mkdirSync(path, { recursive: true });
  git(path, 'init', '-q', '-b', 'main');
  git(path, 'remote', 'add', 'origin', URL_);
  if (hook) {
    mkdirSync(join(path, '.kiro', 'hooks'), { recursive: true });
    writeFileSync(join(path, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml'), yaml({ name: 'x', trigger: 'post-push', config: hook }));
  }
  git(path, 'commit', '-q', '--allow-empty', '-m', 'initial');
  return { path, head: git(path, 'rev-parse', 'HEAD') };
}

/** A kubeconfig file whose one context `evil` uses `user` against `server`. */
function hostileKubeconfig(path: string, user: Record<string, unknown>, server = 'https://127.0.0.1:1'): string {
  writeFileSync(
    path,
    yaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'evil', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'evil',
    }),
  );
  return path;
}

describe('hostile MCP calls', () => {
  let sim: ApiSimulator;
  let kubeconfig: string;

  beforeEach(async () => {
    // The server's kubeconfig: one context, flux-sim.
    ({ sim, kubeconfig } = await mcpTest.simFleet());
  });

  const watchArgs = (over: Record<string, unknown> = {}) => ({ revision: SHA_NEW, repoUrl: URL_, branch: 'main', timeout: '20s', ...over });

  it('a kubeconfig argument whose user execs `/bin/sh -c touch MARKER` is refused: nothing runs', async () => {
    const marker = join(dir, 'MARKER');
    const exec = { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: '/bin/sh', args: ['-c', `touch ${marker}`], interactiveMode: 'Never' } };
    const evil = hostileKubeconfig(join(dir, 'evil-kubeconfig'), exec);
    const client = await connect({ kubeconfig });
    const results: unknown[] = [];
    for (const path of [evil, 'evil-kubeconfig', '']) {
      results.push(await client.callTool({ name: 'watch_commit', arguments: watchArgs({ kubeconfig: path, context: 'evil' }) }));
    }
    // Let an exec that had started finish (nothing should have).
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(marker)).toBe(false);
    expect(sim.stats().requests).toBe(0);
    for (const r of results) expect(errorText(r)).toMatch(/^kubeconfig: refused: .*flux-monitor mcp --kubeconfig PATH/);
  });

  it('a kubeconfig argument with a tokenFile and a server the caller chose is refused: the file is sent nowhere', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const listener = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(401).end();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    mcpTest.onCleanup(() => new Promise((r) => listener.close(r)));
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'the-users-secret\n');
    const evil = hostileKubeconfig(join(dir, 'evil-kubeconfig'), { tokenFile: secret }, `http://127.0.0.1:${(listener.address() as AddressInfo).port}`);
    const client = await connect({ kubeconfig });
    const r = await client.callTool({ name: 'watch_commit', arguments: watchArgs({ kubeconfig: evil, timeout: '3s' }) });
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.map((h) => h.authorization)).toEqual([]);
    expect(errorText(r)).toMatch(/^kubeconfig: refused/);
  });

  it("a context that is not in the server's kubeconfig is refused, naming --kubeconfig", async () => {
    const client = await connect({ kubeconfig });
    expect(errorText(await client.callTool({ name: 'watch_commit', arguments: watchArgs({ context: 'prod' }) }))).toMatch(
      new RegExp(`^context "prod": refused: not a context of the server's kubeconfig \\(${kubeconfig.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)\nhint: its contexts: flux-sim\\. .*flux-monitor mcp --kubeconfig PATH`),
    );
    expect(errorText(await client.callTool({ name: 'watch_commit', arguments: watchArgs({ contexts: ['flux-sim', 'prod'] }) }))).toMatch(/^context "prod": refused/);
    expect(sim.stats().requests).toBe(0);
  });

  it('with --context, a context of the kubeconfig that is not one of them is refused, naming --context', async () => {
    const client = await connect({ kubeconfig, contexts: ['staging'] });
    expect(errorText(await client.callTool({ name: 'watch_commit', arguments: watchArgs({ context: 'flux-sim' }) }))).toMatch(
      /^context "flux-sim": refused: not one of the contexts this server may use \(staging\); flux-monitor mcp --context flux-sim allows it/,
    );
    expect(sim.stats().requests).toBe(0);
  });

  it("a repository's hook file cannot choose a context the server does not allow", async () => {
    const repo = newRepo(join(dir, 'repo'), { contexts: ['prod'] });
    const client = await connect({ kubeconfig });
    expect(errorText(await client.callTool({ name: 'watch_commit', arguments: { repo: repo.path, timeout: '5s' } }))).toMatch(
      /^context "prod" \(contexts: of \.kiro\/hooks\/flux-reconciliation-monitor\.yaml\): refused: not a context of the server's kubeconfig/,
    );
    // Nor name a kubeconfig: the hook file has no such key (src/config/load.ts), so it is an invalid file.
    const named = newRepo(join(dir, 'repo2'), { kubeconfig: join(dir, 'evil-kubeconfig') });
    expect(errorText(await client.callTool({ name: 'watch_commit', arguments: { repo: named.path, timeout: '5s' } }))).toMatch(/unknown key "config\.kubeconfig"/);
    expect(sim.stats().requests).toBe(0);
  });

  it('a repository outside the roots is refused, naming --repo, by every tool', async () => {
    const root = join(dir, 'root');
    const inside = newRepo(join(root, 'inside'));
    const outside = newRepo(join(dir, 'outside'));
    const client = await connect({ kubeconfig, repo: root });
    for (const repo of [outside.path, '../outside', '..', '/']) {
      for (const [name, args] of [
        ['watch_commit', watchArgs({ repo })],
        ['get_session', { repo }],
        ['list_history', { repo }],
      ] as const) {
        const text = errorText(await client.callTool({ name, arguments: args }));
        expect(text).toMatch(/^repo .*: refused: .* is outside the directories this server may use \(.*\/root\); flux-monitor mcp --repo \/.* allows it/);
      }
    }
    // Inside the root: allowed.
    expect(resultJson(await client.callTool({ name: 'list_history', arguments: { repo: 'inside' } }))).toEqual([]);
    expect(resultJson(await client.callTool({ name: 'get_session', arguments: { repo: inside.path } }))).toMatchObject({ session: null });
    expect(sim.stats().requests).toBe(0);
  });

  it("list_history for a directory under a root that is no repository is an error, never every repository's history", async () => {
    const root = join(dir, 'root');
    newRepo(join(root, 'inside'));
    mkdirSync(join(root, 'plain'), { recursive: true });
    const client = await connect({ kubeconfig, repo: root });
    expect(errorText(await client.callTool({ name: 'list_history', arguments: { repo: 'plain' } }))).toBe(`repo: not a git repository: ${realpathSync(join(root, 'plain'))}`);
  });

  it('durations past the limits are refused in the words of the flags, numbers included', async () => {
    const client = await connect({ kubeconfig });
    for (const [timeout, shown] of [[0, '0'], [2_160_000, '2160000'], ['600h', '600h']] as const) {
      expect(errorText(await client.callTool({ name: 'watch_commit', arguments: watchArgs({ timeout }) }))).toContain(`timeout: must be a positive duration between 1s and 24h (got "${shown}")`);
    }
    for (const [failFastGrace, shown] of [[7200, '7200'], ['2h', '2h'], ['-1s', '-1s']] as const) {
      expect(errorText(await client.callTool({ name: 'watch_commit', arguments: watchArgs({ failFastGrace }) }))).toMatch(new RegExp(`^failFastGrace: .*\\(got "${shown}"\\)`));
    }
  });

  it('a symlink inside a root that leads out of it is refused; several --repo roots are each allowed', async () => {
    const root = join(dir, 'root');
    mkdirSync(root);
    const outside = newRepo(join(dir, 'outside'));
    symlinkSync(outside.path, join(root, 'link'));
    const client = await connect({ kubeconfig, repo: root });
    for (const repo of ['link', join(root, 'link'), 'link/.kiro', 'link/missing/deeper']) {
      expect(errorText(await client.callTool({ name: 'watch_commit', arguments: watchArgs({ repo }) }))).toMatch(
        new RegExp(`^repo ${repo.replace(/[/.]/g, '\\$&')}: refused: ${outside.path}.* is outside .*flux-monitor mcp --repo ${outside.path}`),
      );
    }
    const second = await connect({ kubeconfig, repos: [root, outside.path] });
    expect(resultJson(await second.callTool({ name: 'list_history', arguments: { repo: 'link' } }))).toEqual([]);
    expect(resultJson(await second.callTool({ name: 'list_history', arguments: { repo: outside.path } }))).toEqual([]);
  });

  it('--read-only: autoReconcile is refused, auto_reconcile of the hook file is ignored, and nothing is PATCHed', async () => {
    const repo = newRepo(join(dir, 'repo'), { auto_reconcile: true });
    const client = await connect({ kubeconfig, readOnly: true });
    expect(errorText(await client.callTool({ name: 'watch_commit', arguments: watchArgs({ autoReconcile: true }) }))).toMatch(
      /^autoReconcile: refused: this server is read-only \(flux-monitor mcp --read-only\)/,
    );
    expect(sim.stats().requests).toBe(0);

    // The repository asks for auto_reconcile: the watch runs, warns, and only reads.
    const progress: string[] = [];
    const call = client.callTool({ name: 'watch_commit', arguments: { repo: repo.path, timeout: '1m' } }, undefined, { onprogress: (p) => void progress.push(p.message ?? '') });
    await eventually(() => progress.some((m) => m.startsWith('Kustomization flux-system/apps: ')), 30_000, 'the watch to start');
    sim.setStatus(GIT, gitReady(repo.head));
    sim.setStatus(KS, ksReady(repo.head));
    const events = resultJson(await call) as MonitorEvent[];
    expect(events.at(-1)).toMatchObject({ type: 'summary', verdict: 'success' });
    expect(events[1]).toMatchObject({ type: 'warning', message: expect.stringMatching(/^auto_reconcile of .* is ignored: this server is read-only/) });
    const verbs = sim.stats().requestsByVerb;
    expect(Object.keys(verbs)).toContain('list');
    for (const v of Object.keys(verbs)) expect(['list', 'watch', 'get', 'discovery']).toContain(v);
    expect(verbs.patch).toBeUndefined();
  });

  it("--read-only: the API client of a watch sends GET requests only, whatever the engine asks", async () => {
    const sent: string[] = [];
    const client = { request: async (method: string, path: string) => (sent.push(`${method} ${path}`), {}) } as unknown as ClusterClient;
    readOnlyClient(client);
    await client.request('GET', '/apis/source.toolkit.fluxcd.io/v1/gitrepositories?watch=1');
    for (const method of ['PATCH', 'POST', 'PUT', 'DELETE']) {
      await expect(client.request(method, '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/x')).rejects.toMatchObject({
        info: { category: 'forbidden', message: expect.stringMatching(new RegExp(`^${method} .*: refused: the MCP server is read-only`)) },
      });
    }
    expect(sent).toEqual(['GET /apis/source.toolkit.fluxcd.io/v1/gitrepositories?watch=1']);
  });

  it('tool annotations say what each tool does: watch_commit writes only without --read-only', async () => {
    const byName = async (ctx: Partial<McpContext>) => Object.fromEntries((await (await connect(ctx)).listTools()).tools.map((t) => [t.name, t.annotations]));
    const rw = await byName({ kubeconfig });
    expect(rw.watch_commit).toEqual({ readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true });
    const ro = await byName({ kubeconfig, readOnly: true });
    expect(ro.watch_commit).toEqual({ readOnlyHint: true, openWorldHint: true });
    for (const a of [rw, ro]) {
      expect(a.get_session).toEqual({ readOnlyHint: true, openWorldHint: false });
      expect(a.list_history).toEqual({ readOnlyHint: true, openWorldHint: false });
    }
  });

  it(`at most ${MAX_WAITING_CALLS} watch_commit and waiting get_session calls at once: the next one is a clear error`, async () => {
    const me = { pid: process.pid, pidStart: processStartToken(process.pid) };
    const running: StoredSession = { ...session('s-run'), status: 'running', verdict: undefined, verdictMessage: undefined, endedAt: undefined, ...me };
    writeJsonAtomic(sessionFile(paths, 's-run'), running);
    const client = await connect({ kubeconfig });
    const progress = new Map<number, number>();
    const waits = Array.from({ length: MAX_WAITING_CALLS }, (_, i) =>
      client.callTool({ name: 'get_session', arguments: { id: 's-run', wait: true } }, undefined, {
        onprogress: () => void progress.set(i, (progress.get(i) ?? 0) + 1),
        timeout: 600_000,
      }),
    );
    await eventually(() => progress.size === MAX_WAITING_CALLS, 30_000, 'every waiting call to be under way');
    const tooMany = /^(watch_commit|get_session): refused: too many calls under way: this server runs at most \d+ watch_commit and waiting get_session calls at once\nhint: wait for one/;
    expect(errorText(await client.callTool({ name: 'watch_commit', arguments: watchArgs() }))).toMatch(tooMany);
    expect(errorText(await client.callTool({ name: 'get_session', arguments: { id: 's-run', wait: true } }))).toMatch(tooMany);
    // What does not wait still answers.
    expect(resultJson(await client.callTool({ name: 'get_session', arguments: { id: 's-run' } }))).toMatchObject({ liveness: 'running' });
    expect(sim.stats().requests).toBe(0);
    writeJsonAtomic(sessionFile(paths, 's-run'), { ...running, status: 'finished', verdict: 'success', updatedAt: 3000, endedAt: 3000 });
    for (const w of await Promise.all(waits)) expect(resultJson(w)).toMatchObject({ verdict: 'success' });
    // The slots are free again.
    expect(resultJson(await client.callTool({ name: 'get_session', arguments: { id: 's-run', wait: true } }))).toMatchObject({ verdict: 'success' });
  });

  it('the events a call keeps are bounded: the oldest go, a warning says how many, the session and summary stay', async () => {
    const client = await connect({ kubeconfig, maxEvents: 2 });
    const progress: string[] = [];
    const call = client.callTool({ name: 'watch_commit', arguments: watchArgs() }, undefined, { onprogress: (p) => void progress.push(p.message ?? '') });
    await eventually(() => progress.includes('Kustomization flux-system/apps: Pending (NotApplied)'), 30_000, 'the watch to start');
    sim.setStatus(GIT, gitReady(SHA_NEW));
    await eventually(() => progress.includes('GitRepository flux-system/flux-system: Ready (Succeeded)'), 30_000, 'the source Ready');
    sim.setStatus(KS, ksReady(SHA_NEW));
    const events = resultJson(await call) as MonitorEvent[];
    expect(events[0]).toMatchObject({ type: 'session' });
    expect(events[1]).toMatchObject({ type: 'warning', message: expect.stringMatching(/^\d+ earlier events are left out: a call keeps at most 2 events/) });
    expect(events.slice(2, -1).length).toBeLessThanOrEqual(2);
    expect(events.at(-1)).toMatchObject({ type: 'summary', verdict: 'success' });
    expect(progress.filter((m) => / (Pending|Ready) /.test(m) || /: (Pending|Ready)/.test(m)).length).toBeGreaterThan(2);
  });
});

describe('the MCP server on stdio', () => {
  /** `flux-monitor mcp ARGS` in-process, with a client over its stdin/stdout. */
  async function start(argv: string[] = [], ctx?: Partial<McpContext>): Promise<{ client: Client; send: (line: string) => void; lines: () => Array<Record<string, unknown>>; done: Promise<number> }> {
    const toServer = new PassThrough();
    const fromServer = new PassThrough();
    const out: string[] = [];
    fromServer.on('data', (d) => out.push(String(d)));
    const serverIo = { ...io(), stdin: toServer as unknown as NodeJS.ReadStream, stdout: fromServer as unknown as NodeJS.WriteStream };
    const done = ctx ? serveStdio({ io: serverIo, ...ctx }) : mcp.run(argv, serverIo);
    const client = new Client({ name: 'hostile', version: '1' });
    await client.connect(new StdioServerTransport(fromServer, toServer));
    mcpTest.onCleanup(async () => {
      await client.close();
      toServer.end();
      await done;
    });
    return {
      client,
      send: (line) => void toServer.write(line),
      lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
      done,
    };
  }

  it('a line that is not JSON is answered with a JSON-RPC Parse error (-32700, id null); JSON that is no message with -32600', async () => {
    const s = await start([], {});
    s.send('this is not json\n');
    await eventually(() => s.lines().some((l) => l.id === null), 30_000, 'the parse error answer');
    expect(s.lines().find((l) => l.id === null)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.stringMatching(/^Parse error/) } });
    s.send('{"hello": "world"}\n');
    await eventually(() => s.lines().filter((l) => l.id === null).length === 2, 30_000, 'the invalid request answer');
    expect(s.lines().filter((l) => l.id === null)[1]).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
    // The server still serves.
    expect((await s.client.listTools()).tools).toHaveLength(3);
  });

  it('`mcp --read-only --kubeconfig K --context C --repo R` starts the server with them', async () => {
    const k = join(dir, 'kubeconfig');
    hostileKubeconfig(k, {});
    const root = join(dir, 'root');
    mkdirSync(root);
    const s = await start(['--read-only', '--kubeconfig', k, '--context', 'evil', '--repo', root]);
    const { tools } = await s.client.listTools();
    expect(tools.find((t) => t.name === 'watch_commit')!.annotations).toMatchObject({ readOnlyHint: true });
    const call = (args: Record<string, unknown>) => s.client.callTool({ name: 'watch_commit', arguments: { revision: SHA_NEW, repoUrl: URL_, branch: 'main', ...args } });
    expect(errorText(await call({ autoReconcile: true }))).toMatch(/^autoReconcile: refused/);
    expect(errorText(await call({ repo: dir }))).toMatch(/flux-monitor mcp --repo /);
    expect(errorText(await call({ kubeconfig: k }))).toMatch(/^kubeconfig: refused/);
    expect(stderr.join('')).toMatch(/flux-monitor mcp: serving .*repositories: .*\/root; kubeconfig: .*\/kubeconfig; contexts: evil; read-only/);
  });

  it('`mcp` refuses a --kubeconfig or --repo that does not exist when it starts', async () => {
    await expect(mcp.run(['--kubeconfig', join(dir, 'nope')], io())).rejects.toThrow(/^--kubeconfig .*nope: no such file$/);
    await expect(mcp.run(['--repo', join(dir, 'nope')], io())).rejects.toThrow(/^--repo .*nope: no such directory$/);
  });

  it('what the commands log on behalf of a tool carries the prefix of mcp, not `flux-monitor status:`', async () => {
    const client = await connect({ kubeconfig: join(dir, 'none') });
    expect(resultJson(await client.callTool({ name: 'get_session', arguments: { id: 'nope' } }))).toMatchObject({ session: null });
    const log = stderr.join('');
    expect(log).toContain('flux-monitor mcp: get_session: no session "nope"');
    expect(log).not.toMatch(/^flux-monitor(?: status| history)?: /m);
  });
});
