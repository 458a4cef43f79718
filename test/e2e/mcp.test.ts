// `flux-monitor mcp` as agents run it: the built CLI spawned over stdio, driven by the SDK's own Client, against an
// isolated state directory (XDG_STATE_HOME) and the API simulator.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { MonitorEvent } from '../../src/core/types.js';
import { statePaths } from '../../src/session/paths.js';
import { appendHistory, historyEntry } from '../../src/session/store.js';
import type { ApiSimulator } from '../../src/sim/server.js';
import { cleanup, startSim } from '../helpers/engine.js';
import { SHA_NEW, SHA_OLD, gitReady, gitRepository, kustomization, ksReady } from '../helpers/flux.js';
import { CLI, eventually, requireBuild } from '../helpers/e2e.js';
import { finishedSession } from '../helpers/session.js';

const URL_ = 'https://github.com/acme/fleet.git';

let sim: ApiSimulator;
let kubeconfig: string;
let base: string;
let repo: string;
let env: Record<string, string>;
const clients: Client[] = [];

beforeAll(async () => {
  requireBuild();
  ({ sim, kubeconfig } = await startSim());
});
afterAll(cleanup);

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'fm-e2e-mcp-')));
  repo = join(base, 'repo');
  mkdirSync(repo);
  env = {
    PATH: process.env.PATH ?? '',
    HOME: join(base, 'home'),
    XDG_STATE_HOME: join(base, 'state'),
    KUBECONFIG: kubeconfig,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Dev',
    GIT_AUTHOR_EMAIL: 'dev@example.com',
    GIT_COMMITTER_NAME: 'Dev',
    GIT_COMMITTER_EMAIL: 'dev@example.com',
  };
  for (const args of [['init', '-q', '-b', 'main'], ['commit', '-q', '--allow-empty', '-m', 'initial']]) {
    const r = spawnSync('git', args, { cwd: repo, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  }
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  rmSync(base, { recursive: true, force: true });
});

async function connect(flags: string[] = []): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', ...flags], cwd: repo, env, stderr: 'pipe' });
  let err = '';
  transport.stderr?.on('data', (d) => (err += d));
  const client = new Client({ name: 'e2e', version: '1' });
  await client.connect(transport);
  clients.push(client);
  return { client, stderr: () => err };
}

function cli(args: string[]): unknown {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: repo, env, encoding: 'utf8' });
  return JSON.parse(r.stdout);
}

function resultJson(r: unknown): unknown {
  const res = r as CallToolResult;
  expect(res.isError ?? false).toBe(false);
  return JSON.parse((res.content[0] as { text: string }).text);
}

describe('flux-monitor mcp over stdio', () => {
  it('lists its tools; get_session and list_history answer what status --json and history --json print', async () => {
    const { client, stderr } = await connect();
    expect(client.getServerVersion()?.name).toBe('flux-monitor');
    // The version `flux-monitor --version` prints, the package's (the built bundle finds its package.json too).
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(client.getServerVersion()?.version).toBe(pkg.version);
    expect(spawnSync(process.execPath, [CLI, '--version'], { cwd: repo, env, encoding: 'utf8' }).stdout).toBe(`flux-monitor ${pkg.version}\n`);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['get_session', 'list_history', 'watch_commit']);

    const none = resultJson(await client.callTool({ name: 'get_session', arguments: {} }));
    expect(none).toMatchObject({ session: null, message: expect.stringContaining(`no session for ${repo} yet`) });
    expect(none).toEqual(cli(['status', '--json']));
    expect(resultJson(await client.callTool({ name: 'list_history', arguments: {} }))).toEqual([]);

    const s = finishedSession('20250602-091350-1f2e3d4c', {
      repo: { path: repo, branch: 'main' }, commit: { sha: SHA_NEW }, updatedAt: 5000, endedAt: 5000, verdict: 'failed', verdictMessage: 'apps failed',
    });
    appendHistory(statePaths(env), historyEntry(s));
    const rows = resultJson(await client.callTool({ name: 'list_history', arguments: { limit: 5 } }));
    expect(rows).toEqual(cli(['history', '--json', '--limit', '5']));
    expect(rows).toMatchObject([{ id: s.id, verdict: 'failed', liveness: 'finished' }]);
    expect(stderr()).toContain('flux-monitor mcp: serving the Model Context Protocol on stdio');
  });

  it('watch_commit follows a commit on the simulated cluster to its verdict, with progress', async () => {
    const name = `mcp-${Date.now().toString(36)}`;
    const GIT = { kind: 'GitRepository', namespace: 'flux-system', name };
    const KS = { kind: 'Kustomization', namespace: 'flux-system', name };
    sim.apply({ ...gitRepository(name, URL_), status: gitReady(SHA_OLD) });
    sim.apply({ ...kustomization(name, { source: name }), status: ksReady(SHA_OLD) });
    // `repo`: a directory outside any repository, where the commit is given by sha and URL, as for `watch`; the
    // server must be started for it (--repo), the first --repo staying the default repository.
    const { client } = await connect(['--repo', repo, '--repo', base]);
    const progress: string[] = [];
    const call = client.callTool(
      { name: 'watch_commit', arguments: { repo: base, revision: SHA_NEW, repoUrl: URL_, branch: 'main', timeout: '5m' } },
      undefined,
      { onprogress: (p) => void progress.push(p.message ?? '') },
    );
    await eventually(() => progress.includes(`Kustomization flux-system/${name}: Pending (NotApplied)`), 15_000, 'the Pending phase as progress');
    sim.setStatus(GIT, gitReady(SHA_NEW));
    await eventually(() => progress.includes(`GitRepository flux-system/${name}: Ready (Succeeded)`), 15_000, 'the source Ready as progress');
    sim.setStatus(KS, ksReady(SHA_NEW));
    const events = resultJson(await call) as MonitorEvent[];
    expect(events[0]).toMatchObject({ type: 'session', commit: SHA_NEW, matchedSources: [`GitRepository/flux-system/${name}`] });
    const phases = events.filter((e) => e.type === 'phase').map((e) => `${e.kind}:${e.phase}`);
    expect(phases).toEqual(expect.arrayContaining(['GitRepository:Pending', 'Kustomization:Pending', 'GitRepository:Ready', 'Kustomization:Ready']));
    expect(events.at(-1)).toMatchObject({ type: 'summary', verdict: 'success', exitCode: 0 });
  });

  it('--read-only and the other start flags reach the tools; a non-JSON line gets a Parse error; a bad flag value is a usage error', async () => {
    const { client, stderr } = await connect(['--read-only', '--kubeconfig', kubeconfig, '--context', 'flux-sim', '--repo', repo]);
    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === 'watch_commit')?.annotations).toMatchObject({ readOnlyHint: true });
    const refused = (await client.callTool({ name: 'watch_commit', arguments: { autoReconcile: true } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect((refused.content[0] as { text: string }).text).toMatch(/^autoReconcile: refused: this server is read-only/);
    const outside = (await client.callTool({ name: 'list_history', arguments: { repo: base } })) as CallToolResult;
    expect((outside.content[0] as { text: string }).text).toContain(`flux-monitor mcp --repo ${base} allows it`);
    expect(stderr()).toMatch(/contexts: flux-sim; read-only/);

    const child = spawn(process.execPath, [CLI, 'mcp'], { cwd: repo, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    child.stdin.write('not json at all\n');
    await eventually(() => out.includes('-32700'), 15_000, 'the Parse error answer');
    expect(JSON.parse(out.split('\n')[0]!)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    child.stdin.end();
    expect(await exited).toBe(0);

    const bad = spawnSync(process.execPath, [CLI, 'mcp', '--kubeconfig', join(base, 'missing')], { cwd: repo, env, encoding: 'utf8', input: '' });
    expect(bad.status).toBe(64);
    expect(bad.stderr).toContain('--kubeconfig');
    expect(bad.stderr).toContain('no such file');
  });

  it('exits cleanly when the client closes stdin during a watch; stdout carries protocol only', async () => {
    const child = spawn(process.execPath, [CLI, 'mcp', '--repo', base], { cwd: repo, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((res) => child.on('exit', (code, signal) => res([code, signal])));
    const send = (m: object) => child.stdin.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\n');
    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    await eventually(() => out.includes('"id":1'), 15_000, 'the initialize answer');
    send({ method: 'notifications/initialized' });
    // A commit Flux never delivers, with a long timeout: only the disconnect can end this watch.
    send({ id: 2, method: 'tools/call', params: { name: 'watch_commit', arguments: { repo: base, revision: 'b'.repeat(40), repoUrl: URL_, branch: 'main', timeout: '10m' }, _meta: { progressToken: 'p1' } } });
    await eventually(() => out.includes('notifications/progress'), 15_000, `progress of the watch; stderr:\n${err}`);
    child.stdin.end();
    expect(await exited).toEqual([0, null]);
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    for (const l of lines) expect(l.jsonrpc).toBe('2.0');
    expect(lines.some((l) => l.id === 2)).toBe(false); // the stopped call gets no answer
    expect(err).toContain('client disconnected');
  });
});
