// `flux-monitor mcp`: the tool handlers, through the SDK's own Client (in memory, and over stdio streams), against
// an isolated state directory and the API simulator. The tools must answer with what the commands print.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ListRootsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { MonitorEvent, SessionState } from '../../src/core/types.js';
import { parseArgs } from '../../src/commands/args.js';
import history from '../../src/commands/history.js';
import status from '../../src/commands/status.js';
import { WATCH_FLAGS } from '../../src/commands/watch.js';
import type { CommandIO } from '../../src/commands/types.js';
import { createMcpServer, NOT_IN_REPO_MCP, serveStdio, WATCH_COMMIT_ARGS, watchFlags, type McpContext } from '../../src/commands/mcp.js';
import { statePaths, type StatePaths } from '../../src/session/paths.js';
import { processStartToken } from '../../src/session/proc.js';
import { appendHistory, historyEntry, sessionFile, writeJsonAtomic, type StoredSession } from '../../src/session/store.js';
import { ApiSimulator } from '../../src/sim/server.js';
import { SHA_NEW, SHA_OLD, gitReady, gitRepository, kustomization, ksReady } from '../helpers/flux.js';

const URL_ = 'https://github.com/acme/fleet.git';
const GIT = { kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' };
const KS = { kind: 'Kustomization', namespace: 'flux-system', name: 'apps' };

let dir: string;
let paths: StatePaths;
let env: NodeJS.ProcessEnv;
let stderr: string[];
const cleanup: Array<() => Promise<unknown> | unknown> = [];

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'fm-mcp-')));
  env = { XDG_STATE_HOME: join(dir, 'state'), HOME: join(dir, 'home'), PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1' };
  paths = statePaths(env);
  stderr = [];
});

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function sink(into: string[]): NodeJS.WriteStream {
  return { write: (s: string) => (into.push(String(s)), true), isTTY: false } as unknown as NodeJS.WriteStream;
}

function io(cwd = dir, stdout: string[] = []): CommandIO {
  return { stdout: sink(stdout), stderr: sink(stderr), stdin: new PassThrough() as unknown as NodeJS.ReadStream, env, cwd };
}

/** The output of a command run in-process with the same state directory. */
async function cli(cmd: { run(argv: string[], io: CommandIO): Promise<number> }, argv: string[], cwd = dir): Promise<unknown> {
  const out: string[] = [];
  await cmd.run(argv, io(cwd, out));
  return JSON.parse(out.join(''));
}

/** A Client connected in memory; with `roots`, it offers them (MCP roots: the workspace it has open). */
async function connect(ctx: Partial<McpContext> = {}, roots?: string[]): Promise<Client> {
  const { server } = createMcpServer({ io: io(), ...ctx });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test', version: '1' }, roots ? { capabilities: { roots: { listChanged: true } } } : {});
  if (roots) client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: roots.map((r) => ({ uri: pathToFileURL(r).href })) }));
  await server.connect(a);
  await client.connect(b);
  cleanup.push(() => client.close(), () => server.close());
  return client;
}

function resultJson(r: unknown): unknown {
  const res = r as CallToolResult;
  expect(res.isError ?? false).toBe(false);
  expect(res.content).toHaveLength(1);
  return JSON.parse((res.content[0] as { text: string }).text);
}

function errorText(r: unknown): string {
  const res = r as CallToolResult;
  expect(res.isError).toBe(true);
  return (res.content[0] as { text: string }).text;
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, env: { ...env, GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'd@x', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'd@x' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function newRepo(name = 'repo'): string {
  const repo = join(dir, name);
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'commit', '-q', '--allow-empty', '-m', 'initial');
  return repo;
}

function session(id: string, over: Partial<StoredSession> = {}): StoredSession {
  const s: SessionState = {
    schema: 1,
    id,
    repo: { path: join(dir, 'repo'), branch: 'main', remote: 'origin' },
    commit: { sha: 'a'.repeat(40), subject: 'deploy' },
    cluster: {},
    startedAt: 1000,
    updatedAt: 2000,
    timeoutMs: 300_000,
    status: 'finished',
    verdict: 'success',
    verdictMessage: 'commit aaaaaaa is ready',
    endedAt: 2000,
    nodes: {},
    edges: [],
    cycles: [],
    matchedSources: [],
    warnings: [],
  };
  return { ...s, pushedAt: over.startedAt ?? 1000, ...over };
}

const me = () => ({ pid: process.pid, pidStart: processStartToken(process.pid) });

async function waitFor<T>(fn: () => T | undefined | false, what: string): Promise<T> {
  for (let i = 0; i < 1000; i++) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('mcp tools', () => {
  it('lists watch_commit, get_session and list_history with their argument schemas', async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['watch_commit', 'get_session', 'list_history']);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(byName.watch_commit!.inputSchema.properties ?? {})).toEqual(Object.keys(WATCH_COMMIT_ARGS));
    expect(Object.keys(byName.get_session!.inputSchema.properties ?? {}).sort()).toEqual(['id', 'repo', 'wait']);
    expect(Object.keys(byName.list_history!.inputSchema.properties ?? {}).sort()).toEqual(['all', 'limit', 'repo']);
    for (const t of tools) {
      expect(t.inputSchema.required ?? []).toEqual([]);
      expect(t.description!.length).toBeGreaterThan(80);
    }
    expect(byName.get_session!.annotations?.readOnlyHint).toBe(true);
    expect(byName.list_history!.annotations?.readOnlyHint).toBe(true);
  });

  it('watch_commit arguments stand for the flags of `flux-monitor watch` (never --kubeconfig: the server chooses it)', () => {
    const argv = ['--revision', 'abc1234', '--branch', 'dev', '--repo-url', URL_, '--remote', 'up', '--context', 'kind',
      '--timeout', '90', '--poll-interval', '2s', '--all', '--namespace', 'a', '--namespace', 'b', '--auto-reconcile'];
    const fromTool = watchFlags({
      revision: 'abc1234', branch: 'dev', repoUrl: URL_, remote: 'up', context: 'kind', timeout: 90, pollInterval: '2s',
      all: true, namespaces: ['a', 'b'], autoReconcile: true, output: 'summary', repo: '/elsewhere',
    });
    expect(fromTool).toEqual(parseArgs(argv, WATCH_FLAGS));
    expect(watchFlags({ all: false, namespaces: [] })).toEqual({ flags: {}, positionals: [] });
    // Several clusters: `contexts` is --context given once per context.
    expect(watchFlags({ contexts: ['east', 'west'], context: 'ignored' })).toEqual(parseArgs(['--context', 'east', '--context', 'west'], WATCH_FLAGS));
  });

  it('get_session without a session answers {"session": null, message} as `status --json` does', async () => {
    const client = await connect();
    const r = resultJson(await client.callTool({ name: 'get_session', arguments: {} }));
    // What `status --json` says outside a repository, in the words of the tool's arguments.
    expect(await cli(status, ['--json'])).toEqual({ session: null, message: expect.stringMatching(/^not inside a git repository, and no session yet: .*--repo PATH/) });
    expect(r).toEqual({ session: null, message: NOT_IN_REPO_MCP });
    const unknown = resultJson(await client.callTool({ name: 'get_session', arguments: { id: 'nope' } }));
    expect(unknown).toEqual({ session: null, message: 'no session "nope" (see `flux-monitor history`)' });
    expect(unknown).toEqual(await cli(status, ['nope', '--json']));
  });

  it('get_session right after a push answers for that push (its commit and state), not with the previous session', async () => {
    const repo = newRepo();
    writeJsonAtomic(sessionFile(paths, 's-old'), session('s-old', { startedAt: Date.now() - 60_000, pushedAt: Date.now() - 60_000 }));
    const sha = 'b'.repeat(40);
    mkdirSync(paths.intents, { recursive: true });
    // hooks/pre-push's intent, with this process standing for the git push still running.
    writeFileSync(join(paths.intents, String(process.pid)), `flux-monitor-intent 1\nremote origin\nurl https://example.invalid/r.git\ndir ${repo}\nrefs/heads/main ${sha} refs/heads/main ${'a'.repeat(40)}\n`);
    const client = await connect({ repo });
    const r = resultJson(await client.callTool({ name: 'get_session', arguments: {} }));
    expect(r).toMatchObject({ session: null, commit: sha, branch: 'main', state: 'pushing' });
    expect(JSON.stringify(r)).not.toContain('s-old');
  });

  it("get_session reads the session of the repository's newest push, or one by ID, as `status --json`", async () => {
    const repo = newRepo();
    writeJsonAtomic(sessionFile(paths, 's-old'), session('s-old', { startedAt: 1000 }));
    writeJsonAtomic(sessionFile(paths, 's-new'), session('s-new', { startedAt: 5000, verdict: 'failed', verdictMessage: 'apps failed' }));
    writeJsonAtomic(sessionFile(paths, 's-other'), session('s-other', { startedAt: 9000, repo: { path: '/elsewhere', branch: 'main' } }));
    const client = await connect({ io: io(repo) });

    const newest = resultJson(await client.callTool({ name: 'get_session', arguments: {} }));
    expect(newest).toMatchObject({ id: 's-new', verdict: 'failed', liveness: 'finished' });
    expect(newest).toEqual(await cli(status, ['--json'], repo));
    const byId = resultJson(await client.callTool({ name: 'get_session', arguments: { id: 's-ol' } }));
    expect(byId).toMatchObject({ id: 's-old', liveness: 'finished' });
    expect(byId).toEqual(await cli(status, ['s-old', '--json']));
    // A repository given by path, relative to the server's directory.
    const client2 = await connect();
    expect(resultJson(await client2.callTool({ name: 'get_session', arguments: { repo: 'repo' } }))).toMatchObject({ id: 's-new' });
    expect(errorText(await client2.callTool({ name: 'get_session', arguments: { repo: 'missing' } }))).toMatch(/^not a git repository: /);
  });

  it("the default repository is --repo, else the client's workspace root (MCP roots), else the working directory", async () => {
    const repo = newRepo();
    const other = newRepo('other');
    writeJsonAtomic(sessionFile(paths, 's-ws'), session('s-ws'));
    appendHistory(paths, historyEntry(session('s-ws')));
    const none = { session: null, message: expect.stringMatching(/^no session for .*\/other yet/) };
    expect(resultJson(await (await connect({ io: io(other) })).callTool({ name: 'get_session', arguments: {} }))).toEqual(none);
    const client = await connect({ io: io(other) }, [repo, other]);
    expect(resultJson(await client.callTool({ name: 'get_session', arguments: {} }))).toMatchObject({ id: 's-ws' });
    expect(resultJson(await client.callTool({ name: 'list_history', arguments: {} }))).toMatchObject([{ id: 's-ws' }]);
    expect(resultJson(await client.callTool({ name: 'get_session', arguments: { repo: '.' } }))).toMatchObject({ id: 's-ws' });
    expect(resultJson(await (await connect({ repo: other }, [repo])).callTool({ name: 'get_session', arguments: {} }))).toEqual(none);
  });

  it('get_session with wait follows a running session to its end, with progress', async () => {
    const repo = newRepo();
    const running = session('s-run', { status: 'running', verdict: undefined, verdictMessage: undefined, endedAt: undefined, ...me() });
    writeJsonAtomic(sessionFile(paths, 's-run'), running);
    const client = await connect({ io: io(repo) });
    expect(resultJson(await client.callTool({ name: 'get_session', arguments: {} }))).toMatchObject({ id: 's-run', liveness: 'running' });

    const progress: string[] = [];
    const call = client.callTool({ name: 'get_session', arguments: { wait: true } }, undefined, { onprogress: (p) => void progress.push(p.message ?? '') });
    await waitFor(() => progress.length > 0, 'the first progress notification');
    expect(progress[0]).toMatch(/^s-run running: 0 ready/);
    writeJsonAtomic(sessionFile(paths, 's-run'), { ...running, status: 'finished', verdict: 'success', updatedAt: 3000, endedAt: 3000 });
    const done = resultJson(await call);
    expect(done).toMatchObject({ id: 's-run', status: 'finished', verdict: 'success', liveness: 'finished' });
  });

  it('list_history answers what `history --json` prints: this repository, or all, limited', async () => {
    const repo = newRepo();
    appendHistory(paths, historyEntry(session('h1', { startedAt: 1000 })));
    appendHistory(paths, historyEntry(session('h2', { startedAt: 2000, verdict: 'failed' })));
    appendHistory(paths, historyEntry(session('h3', { startedAt: 3000, repo: { path: '/elsewhere' } })));
    writeJsonAtomic(sessionFile(paths, 'h4'), session('h4', { startedAt: 4000, status: 'running', verdict: undefined, ...me() }));
    const client = await connect({ io: io(repo) });

    const mine = resultJson(await client.callTool({ name: 'list_history', arguments: {} })) as Array<{ id: string }>;
    expect(mine.map((r) => r.id)).toEqual(['h4', 'h2', 'h1']);
    expect(mine).toEqual(await cli(history, ['--json'], repo));
    expect(mine[0]).toMatchObject({ id: 'h4', liveness: 'running' });
    const all = resultJson(await client.callTool({ name: 'list_history', arguments: { all: true, limit: 2 } }));
    expect(all).toEqual(await cli(history, ['--json', '--all', '--limit', '2'], repo));
    expect((all as Array<{ id: string }>).map((r) => r.id)).toEqual(['h4', 'h3']);
    const bad = (await client.callTool({ name: 'list_history', arguments: { limit: 0 } })) as CallToolResult;
    expect(bad.isError).toBe(true);
  });
});

describe('watch_commit against the API simulator', () => {
  let sim: ApiSimulator;
  let kubeconfig: string;

  beforeEach(async () => {
    sim = new ApiSimulator();
    await sim.start();
    cleanup.push(() => sim.stop());
    kubeconfig = await sim.writeKubeconfig(join(dir, 'kubeconfig'));
    sim.apply({ ...gitRepository('flux-system', URL_), status: gitReady(SHA_OLD) });
    sim.apply({ ...kustomization('apps'), status: ksReady(SHA_OLD) });
  });

  const deliver = () => {
    sim.setStatus(GIT, gitReady(SHA_NEW));
    sim.setStatus(KS, ksReady(SHA_NEW));
  };
  const args = (over: Record<string, unknown> = {}) => ({ revision: SHA_NEW, repoUrl: URL_, branch: 'main', timeout: '10m', ...over });

  it('follows a commit to its verdict: the `watch --json` events, phase changes and heartbeats as progress', async () => {
    const client = await connect({ heartbeatMs: 20, kubeconfig });
    const progress: string[] = [];
    const call = client.callTool({ name: 'watch_commit', arguments: args() }, undefined, { onprogress: (p) => void progress.push(p.message ?? '') });
    await waitFor(() => progress.includes('Kustomization flux-system/apps: Pending (NotApplied)') && progress.some((m) => /^running \d+m?s: 0 ready/.test(m)), 'Pending and a heartbeat');
    // One object at a time: progress is best effort, and what comes with the result may be dropped by a client.
    sim.setStatus(GIT, gitReady(SHA_NEW));
    await waitFor(() => progress.includes('GitRepository flux-system/flux-system: Ready (Succeeded)'), 'the source Ready as progress');
    sim.setStatus(KS, ksReady(SHA_NEW));
    const events = resultJson(await call) as MonitorEvent[];
    expect(events[0]).toMatchObject({ type: 'session', schema: 1, commit: SHA_NEW, branch: 'main', matchedSources: ['GitRepository/flux-system/flux-system'] });
    const summary = events.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', verdict: 'success', exitCode: 0, counts: { ready: 2 } });
    const phases = events.filter((e) => e.type === 'phase').map((e) => `${e.key}:${e.phase}`);
    expect(phases).toContain('Kustomization/flux-system/apps:Pending');
    expect(phases).toContain('Kustomization/flux-system/apps:Ready');
    expect(new Set(events.map((e) => e.session)).size).toBe(1);
  });

  it('output "summary" gives the summary event alone', async () => {
    deliver();
    const client = await connect({ kubeconfig });
    const r = resultJson(await client.callTool({ name: 'watch_commit', arguments: args({ output: 'summary', timeout: 30 }) })) as MonitorEvent[];
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ type: 'summary', verdict: 'success', exitCode: 0 });
    expect((r[0] as Extract<MonitorEvent, { type: 'summary' }>).objects.map((o) => o.key).sort()).toEqual(['GitRepository/flux-system/flux-system', 'Kustomization/flux-system/apps']);
  });

  it('a cluster it cannot reach ends with verdict error, like `watch`', async () => {
    const client = await connect({ kubeconfig: join(dir, 'missing') });
    const r = resultJson(await client.callTool({ name: 'watch_commit', arguments: args({ output: 'summary' }) })) as MonitorEvent[];
    expect(r[0]).toMatchObject({ type: 'summary', verdict: 'error', exitCode: 3 });
  });

  it('arguments `watch` refuses are tool errors with its message, in the words of the tool arguments', async () => {
    const client = await connect({ kubeconfig });
    expect(errorText(await client.callTool({ name: 'watch_commit', arguments: { repoUrl: URL_ } }))).toBe('not inside a git repository: pass revision: SHA (and repoUrl: URL branch: B, or all: true)');
    expect(errorText(await client.callTool({ name: 'watch_commit', arguments: args({ timeout: 'soon' }) }))).toMatch(/^timeout: .*"soon"/);
    const repo = newRepo();
    const noRemote = errorText(await client.callTool({ name: 'watch_commit', arguments: { repo } }));
    expect(noRemote).toMatch(/has no remote[\s\S]*\nhint: Pass repoUrl: URL .* or pass all: true/);
    expect(noRemote).not.toContain('--');
  });

  it('serving on stdio: only protocol on stdout; the client going away stops a running watch and ends the server', async () => {
    const toServer = new PassThrough();
    const fromServer = new PassThrough();
    const stdout: string[] = [];
    fromServer.on('data', (d) => stdout.push(String(d)));
    const served = serveStdio({ io: { ...io(), stdin: toServer as unknown as NodeJS.ReadStream, stdout: fromServer as unknown as NodeJS.WriteStream }, kubeconfig });
    // The SDK's stdio transport is symmetric: over the server's streams, reversed, it carries the client.
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(new StdioServerTransport(fromServer, toServer));
    const progress: string[] = [];
    const call = client.callTool({ name: 'watch_commit', arguments: args() }, undefined, { onprogress: (p) => void progress.push(p.message ?? '') });
    call.catch(() => undefined);
    await waitFor(() => progress.length > 0, 'the watch to start');
    console.log('a stray log line');
    toServer.end(); // the client goes away: stdin ends
    expect(await served).toBe(0); // resolves only once the watch (timeout 10m) was stopped
    expect(stderr.join('')).toContain('a stray log line');
    const lines = stdout.join('').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(JSON.parse(l)).toMatchObject({ jsonrpc: '2.0' });
    expect(stdout.join('')).not.toContain('stray');
    await client.close();
  });
});
