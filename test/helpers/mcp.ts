// `flux-monitor mcp` in-process: an isolated state directory per test (XDG_STATE_HOME, HOME), the commands' IO
// captured, the server of src/commands/mcp.ts driven by the SDK's own Client over an in-memory transport, and
// everything a test opened closed after it. Written against the public entry points (createMcpServer, the
// commands' run()), not the tools' internals.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, expect } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ListRootsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { CommandIO } from '../../src/commands/types.js';
import { createMcpServer, type McpContext } from '../../src/commands/mcp.js';
import { statePaths, type StatePaths } from '../../src/session/paths.js';
import type { StoredSession } from '../../src/session/store.js';
import { startSim, type SimCluster } from './engine.js';
import { FLEET_URL } from './engine.js';
import { SHA_OLD, gitReady, gitRepository, kustomization, ksReady } from './flux.js';
import { finishedSession } from './session.js';

/** A stream that appends what is written to `into`. */
export function sink(into: string[]): NodeJS.WriteStream {
  return { write: (s: string) => (into.push(String(s)), true), isTTY: false } as unknown as NodeJS.WriteStream;
}

/** The JSON of a tool's one text result, which must not be an error. */
export function resultJson(r: unknown): unknown {
  const res = r as CallToolResult;
  expect(res.isError ?? false, (res.content[0] as { text: string }).text).toBe(false);
  expect(res.content).toHaveLength(1);
  return JSON.parse((res.content[0] as { text: string }).text);
}

/** The text of a tool's result, which must be an error. */
export function errorText(r: unknown): string {
  const res = r as CallToolResult;
  expect(res.isError, (res.content[0] as { text: string }).text).toBe(true);
  return (res.content[0] as { text: string }).text;
}

export interface McpHarness {
  /** The test's temp dir (realpath), removed after it. */
  readonly dir: string;
  readonly paths: StatePaths;
  /** XDG_STATE_HOME and HOME in `dir`, PATH, GIT_CONFIG_NOSYSTEM. */
  readonly env: NodeJS.ProcessEnv;
  /** What the server and the commands wrote to stderr. */
  readonly stderr: string[];
  io(cwd?: string, stdout?: string[]): CommandIO;
  /** The JSON a command prints, run in-process with the same state directory. */
  cli(cmd: { run(argv: string[], io: CommandIO): Promise<number> }, argv: string[], cwd?: string): Promise<unknown>;
  /** A Client connected in memory to createMcpServer({ io: io(), ...ctx }); with `roots`, it offers them (MCP roots). */
  connect(ctx?: Partial<McpContext>, roots?: string[]): Promise<Client>;
  /** Runs `fn` after the test (last registered first). */
  onCleanup(...fns: Array<() => unknown>): void;
  /** git in `cwd` with the test's env and an author. */
  git(cwd: string, ...args: string[]): string;
  /** A finished session of `dir`/repo (commit aaaa… "deploy", success), pushed when it started. */
  session(id: string, over?: Partial<StoredSession>): StoredSession;
  /** The API simulator with GitRepository flux-system (FLEET_URL) and Kustomization apps Ready at SHA_OLD. */
  simFleet(): Promise<SimCluster>;
}

/** For an MCP test file (or describe block): a fresh state directory per test and its clean-up. */
export function useMcp(prefix = 'fm-mcp-'): McpHarness {
  let dir = '';
  let paths: StatePaths;
  let env: NodeJS.ProcessEnv = {};
  let stderr: string[] = [];
  const cleanups: Array<() => unknown> = [];
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
    env = { XDG_STATE_HOME: join(dir, 'state'), HOME: join(dir, 'home'), PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1' };
    paths = statePaths(env);
    stderr = [];
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  });
  const h: McpHarness = {
    get dir() {
      return dir;
    },
    get paths() {
      return paths;
    },
    get env() {
      return env;
    },
    get stderr() {
      return stderr;
    },
    io: (cwd = dir, stdout = []) => ({ stdout: sink(stdout), stderr: sink(stderr), stdin: new PassThrough() as unknown as NodeJS.ReadStream, env, cwd }),
    async cli(cmd, argv, cwd = dir) {
      const out: string[] = [];
      await cmd.run(argv, h.io(cwd, out));
      return JSON.parse(out.join(''));
    },
    async connect(ctx = {}, roots) {
      const { server } = createMcpServer({ io: h.io(), ...ctx });
      const [a, b] = InMemoryTransport.createLinkedPair();
      const client = new Client({ name: 'test', version: '1' }, roots ? { capabilities: { roots: { listChanged: true } } } : {});
      if (roots) client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: roots.map((r) => ({ uri: pathToFileURL(r).href })) }));
      await server.connect(a);
      await client.connect(b);
      cleanups.push(() => client.close(), () => server.close());
      return client;
    },
    onCleanup: (...fns) => void cleanups.push(...fns),
    git(cwd, ...args) {
      const r = spawnSync('git', args, { cwd, env: { ...env, GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'd@x', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'd@x' }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    },
    session: (id, over = {}) =>
      finishedSession(id, {
        repo: { path: join(dir, 'repo'), branch: 'main', remote: 'origin' },
        commit: { sha: 'a'.repeat(40), subject: 'deploy' },
        verdictMessage: 'commit aaaaaaa is ready',
        pushedAt: over.startedAt ?? 1000,
        ...over,
      }),
    async simFleet() {
      const c = await startSim();
      cleanups.push(() => c.stop());
      c.sim.apply({ ...gitRepository('flux-system', FLEET_URL), status: gitReady(SHA_OLD) });
      c.sim.apply({ ...kustomization('apps'), status: ksReady(SHA_OLD) });
      return c;
    },
  };
  return h;
}
