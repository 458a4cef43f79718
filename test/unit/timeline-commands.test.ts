// The timeline where users and agents read it: `status --timeline [ID]` (text and --json), `status --json` and the
// MCP tool get_session (the session's timeline and its critical path), from a stored session file.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import status, { type StatusJson, type TimelineJson } from '../../src/commands/status.js';
import { createMcpServer } from '../../src/commands/mcp.js';
import type { CommandIO } from '../../src/commands/types.js';
import type { NodeState } from '../../src/core/types.js';
import { statePaths, type StatePaths } from '../../src/session/paths.js';
import { sessionFile, writeJsonAtomic, type StoredSession } from '../../src/session/store.js';

let dir: string;
let env: NodeJS.ProcessEnv;
let paths: StatePaths;
const closers: Array<() => Promise<unknown>> = [];
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'fm-tlcmd-')));
  env = { XDG_STATE_HOME: join(dir, 'state'), HOME: join(dir, 'home'), PATH: process.env.PATH };
  paths = statePaths(env);
});
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  rmSync(dir, { recursive: true, force: true });
});

const sink = (into: string[]) => ({ write: (s: string) => (into.push(String(s)), true), isTTY: false }) as unknown as NodeJS.WriteStream;
const io = (out: string[], err: string[]): CommandIO => ({ stdout: sink(out), stderr: sink(err), stdin: new PassThrough() as unknown as NodeJS.ReadStream, env, cwd: dir });
async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await status.run(argv, io(out, err));
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const T0 = 1_800_000_000_000;
function stored(): StoredSession {
  const n = (key: string): NodeState => {
    const [kind, namespace, name] = key.split('/') as [string, string, string];
    return { key, kind, namespace, name, apiVersion: 'v1', phase: 'Ready', reason: '', message: '', affected: true, settled: true, phaseSince: T0, firstSeen: T0 };
  };
  const keys = ['GitRepository/flux-system/fleet', 'Kustomization/flux-system/infra', 'Kustomization/flux-system/apps'];
  return {
    schema: 1,
    id: 's-timeline',
    repo: { path: join(dir, 'repo'), branch: 'main' },
    commit: { sha: 'c0ffee'.padEnd(40, '0') },
    cluster: { context: 'kind' },
    startedAt: T0 + 500,
    updatedAt: T0 + 40_000,
    endedAt: T0 + 40_000,
    pushedAt: T0,
    timeoutMs: 300_000,
    status: 'finished',
    verdict: 'success',
    nodes: Object.fromEntries(keys.map((k) => [k, n(k)])),
    edges: [
      { from: keys[1]!, to: keys[0]!, type: 'source' },
      { from: keys[2]!, to: keys[1]!, type: 'dependsOn' },
    ],
    cycles: [],
    matchedSources: [keys[0]!],
    warnings: [],
    timeline: {
      objects: {
        [keys[0]!]: { started: { at: T0 + 1_000, from: 'event' }, ready: { at: T0 + 2_000, from: 'condition' } },
        [keys[1]!]: { source: { at: T0 + 2_000, from: 'condition' }, started: { at: T0 + 2_000, from: 'condition' }, ready: { at: T0 + 8_000, from: 'condition' } },
        [keys[2]!]: {
          waits: [{ from: T0 + 2_000, to: T0 + 38_000, on: 'dependency', blockers: ['flux-system/infra'], reason: 'DependencyNotReady' }],
          started: { at: T0 + 38_000, from: 'event' },
          ready: { at: T0 + 40_000, from: 'condition' },
        },
      },
    },
  };
}

describe('status --timeline', () => {
  it('prints the waterfall of the session, its critical path and how much of it Flux waited', async () => {
    writeJsonAtomic(sessionFile(paths, 's-timeline'), stored());
    const r = await run(['s-timeline', '--timeline']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('Timeline of c0ffee0 · push → verdict 40s');
    expect(lines.filter((l) => /^\* (GitRepository|Kustomization) /.test(l))).toHaveLength(3);
    expect(r.stdout).toContain('* critical path: 40s from the push; 31s (78%) Flux waiting, 9.0s working');
    expect(r.stdout).toContain('waited 30s for its dependency Kustomization infra, worked 2.0s');
    // Not a terminal: 100 columns, no colours.
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('--json: the axis, the bars and the critical path', async () => {
    writeJsonAtomic(sessionFile(paths, 's-timeline'), stored());
    const j = JSON.parse((await run(['s-timeline', '--timeline', '--json'])).stdout) as TimelineJson;
    expect(j.axis).toEqual({ from: T0, to: T0 + 40_000 });
    expect(j.criticalPath?.links.map((l) => [l.key, l.waitedMs, l.workedMs])).toEqual([
      ['GitRepository/flux-system/fleet', 1_000, 1_000],
      ['Kustomization/flux-system/infra', 0, 6_000],
      ['Kustomization/flux-system/apps', 30_000, 2_000],
    ]);
    expect(j.bars.find((b) => b.key === 'Kustomization/flux-system/apps')?.segments.map((s) => s.phase)).toEqual(['waiting', 'reconciling', 'ready']);
  });

  it('with --follow is a usage error', async () => {
    await expect(run(['s-timeline', '--timeline', '--follow'])).rejects.toThrow(/--timeline shows the session once/);
  });
});

describe('status --json and get_session carry the timeline and the critical path', () => {
  it('status --json', async () => {
    writeJsonAtomic(sessionFile(paths, 's-timeline'), stored());
    const j = JSON.parse((await run(['s-timeline', '--json'])).stdout) as StatusJson;
    expect(Object.keys(j.timeline!.objects)).toHaveLength(3);
    expect(j.criticalPath).toMatchObject({ totalMs: 40_000, waitingMs: 31_000, workingMs: 9_000 });
  });

  it('get_session', async () => {
    writeJsonAtomic(sessionFile(paths, 's-timeline'), stored());
    const { server } = createMcpServer({ io: io([], []) });
    const [a, b] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: 'test', version: '1' });
    await server.connect(a);
    await client.connect(b);
    closers.push(() => client.close(), () => server.close());
    const res = (await client.callTool({ name: 'get_session', arguments: { id: 's-timeline' } })) as CallToolResult;
    const j = JSON.parse((res.content[0] as { text: string }).text) as StatusJson;
    expect(j.timeline!.objects['Kustomization/flux-system/apps']!.waits![0]!.blockers).toEqual(['flux-system/infra']);
    expect(j.criticalPath!.links.at(-1)).toMatchObject({ key: 'Kustomization/flux-system/apps', via: 'dependsOn', waitedMs: 30_000 });
  });
});
