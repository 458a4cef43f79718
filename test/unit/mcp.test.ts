// `flux-monitor mcp`: the tool handlers, through the SDK's own Client (in memory, and over stdio streams), against
// an isolated state directory and the API simulator. The tools must answer with what the commands print.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { MonitorEvent } from '../../src/core/types.js';
import { parseArgs } from '../../src/commands/args.js';
import history from '../../src/commands/history.js';
import status from '../../src/commands/status.js';
import { WATCH_FLAGS } from '../../src/commands/watch.js';
import { NOT_IN_REPO_MCP, serveStdio, WATCH_COMMIT_ARGS, watchFlags } from '../../src/commands/mcp.js';
import type { StatePaths } from '../../src/session/paths.js';
import { processStartToken } from '../../src/session/proc.js';
import { appendHistory, historyEntry, sessionFile, writeJsonAtomic } from '../../src/session/store.js';
import type { ApiSimulator } from '../../src/sim/server.js';
import { SHA_NEW, gitReady, ksReady } from '../helpers/flux.js';
import { errorText, resultJson, useMcp } from '../helpers/mcp.js';
import { eventually } from '../helpers/e2e.js';
import { FLEET_URL } from '../helpers/engine.js';

const URL_ = FLEET_URL;
const GIT = { kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' };
const KS = { kind: 'Kustomization', namespace: 'flux-system', name: 'apps' };

const mcpTest = useMcp('fm-mcp-');
let dir: string;
let paths: StatePaths;
let stderr: string[];
beforeEach(() => {
  ({ dir, paths, stderr } = mcpTest);
});
const { io, cli, connect, git, session } = mcpTest;

function newRepo(name = 'repo'): string {
  const repo = join(dir, name);
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'commit', '-q', '--allow-empty', '-m', 'initial');
  return repo;
}

const me = () => ({ pid: process.pid, pidStart: processStartToken(process.pid) });

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
    // Fail-fast: true and false are --fail-fast and --no-fail-fast, absent is the hook configuration's.
    expect(watchFlags({ failFast: true, failFastGrace: '45s' })).toEqual(parseArgs(['--fail-fast', '--fail-fast-grace', '45s'], WATCH_FLAGS));
    expect(watchFlags({ failFast: false })).toEqual(parseArgs(['--no-fail-fast'], WATCH_FLAGS));
    expect(watchFlags({})).toEqual({ flags: {}, positionals: [] });
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
    await eventually(() => progress.length > 0, 30_000, 'the first progress notification');
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
    ({ sim, kubeconfig } = await mcpTest.simFleet());
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
    await eventually(() => progress.includes('Kustomization flux-system/apps: Pending (NotApplied)') && progress.some((m) => /^running \d+m?s: 0 ready/.test(m)), 30_000, 'Pending and a heartbeat');
    // One object at a time: progress is best effort, and what comes with the result may be dropped by a client.
    sim.setStatus(GIT, gitReady(SHA_NEW));
    await eventually(() => progress.includes('GitRepository flux-system/flux-system: Ready (Succeeded)'), 30_000, 'the source Ready as progress');
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
    await eventually(() => progress.length > 0, 30_000, 'the watch to start');
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
