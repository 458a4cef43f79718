// `history --stats` (issue 28 item 3) on a history with known durations: lead time, failure rate, time to
// restore and the slowest objects of the critical path, per repository, branch and cluster; the compact fields a
// history line carries for it (from a session's recorded timeline), and the window.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import history from '../../src/commands/history.js';
import type { CommandIO } from '../../src/commands/types.js';
import type { SessionState } from '../../src/core/types.js';
import { statePaths, type StatePaths } from '../../src/session/paths.js';
import { historyEntry, historyProblem, type HistoryEntry } from '../../src/session/store.js';
import { historyStats, quantiles, type HistoryStats } from '../../src/session/stats.js';

let dir: string;
let env: NodeJS.ProcessEnv;
let paths: StatePaths;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'fm-stats-')));
  env = { XDG_STATE_HOME: join(dir, 'state'), HOME: join(dir, 'home'), PATH: process.env.PATH };
  paths = statePaths(env);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]) => ({ write: (s: string) => (into.push(String(s)), true), isTTY: false }) as unknown as NodeJS.WriteStream;
  const io: CommandIO = { stdout: sink(out), stderr: sink(err), stdin: new PassThrough() as unknown as NodeJS.ReadStream, env, cwd: dir };
  return history.run(argv, io).then((code) => ({ code, stdout: out.join(''), stderr: err.join('') }));
}

const MIN = 60_000;
const NOW = Date.now();
/** A push `ago` ms before now that reached its verdict `lead` ms later. */
function entry(i: number, ago: number, lead: number, verdict: HistoryEntry['verdict'], over: Partial<HistoryEntry> = {}): HistoryEntry {
  const pushedAt = NOW - ago;
  return {
    id: `s-${i}`,
    repo: { path: '/src/fleet', url: 'https://github.com/acme/fleet', branch: 'main' },
    commit: { sha: String(i).padStart(40, '0') },
    startedAt: pushedAt + 500,
    endedAt: pushedAt + lead,
    durationMs: lead - 500,
    verdict,
    counts: { ready: 1, progressing: 0, waiting: 0, failed: 0, pending: 0, suspended: 0, superseded: 0, unknown: 0, blocked: 0, unchanged: 0 },
    pushedAt,
    context: 'prod',
    leadMs: lead,
    ...over,
  };
}

/**
 * Ten pushes to main on prod, oldest first: leads 1..10 min for the successes; two failures, the first restored by
 * the push after it (whose verdict came 30 min after the failure's), the second by none; a timeout (not decided).
 */
function known(): HistoryEntry[] {
  const apps = 'Kustomization/flux-system/apps';
  const infra = 'Kustomization/flux-system/infra';
  const path = (appsMs: number, infraMs: number) => ({ ms: 10 * MIN, waitingMs: 6 * MIN, top: [{ key: apps, ms: appsMs }, { key: infra, ms: infraMs }] });
  return [
    entry(1, 600 * MIN, 1 * MIN, 'success', { path: path(8 * MIN, 1 * MIN) }),
    entry(2, 500 * MIN, 2 * MIN, 'success', { path: path(6 * MIN, 2 * MIN) }),
    entry(3, 400 * MIN, 4 * MIN, 'failed'),
    // Pushed 28 min after the failure's verdict (400 - 4 - 368 = 28), its verdict 2 min later: restored in 30 min.
    entry(4, 368 * MIN, 2 * MIN, 'success', { path: path(5 * MIN, 4 * MIN) }),
    entry(5, 300 * MIN, 3 * MIN, 'success'),
    entry(6, 250 * MIN, 5 * MIN, 'timeout'),
    entry(7, 200 * MIN, 4 * MIN, 'success'),
    entry(8, 150 * MIN, 5 * MIN, 'success'),
    entry(9, 100 * MIN, 10 * MIN, 'success'),
    entry(10, 50 * MIN, 7 * MIN, 'failed'),
    // Another branch, and a push older than any window asked for below.
    entry(11, 40 * MIN, 3 * MIN, 'success', { repo: { path: '/src/fleet', url: 'https://github.com/acme/fleet', branch: 'staging' } }),
    entry(12, 90 * 24 * 60 * MIN, 1 * MIN, 'failed'),
  ];
}

function plant(entries: HistoryEntry[]): void {
  mkdirSync(paths.root, { recursive: true });
  writeFileSync(paths.history, entries.map((e) => JSON.stringify(e) + '\n').join(''));
}

describe('history --stats', () => {
  it('lead time, failure rate, time to restore and the slowest objects, per repository, branch and cluster', async () => {
    for (const e of known()) expect(historyProblem(e)).toBeUndefined();
    plant(known());
    const r = await run(['--stats', '--all', '--since', '30d', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as HistoryStats;
    expect(s.sessions).toBe(11);
    const main = s.groups.find((g) => g.branch === 'main')!;
    expect(main).toMatchObject({ repo: 'https://github.com/acme/fleet', cluster: 'prod', sessions: 10, decided: 9, succeeded: 7, failed: 2, unrestored: 1 });
    expect(main.failureRate).toBeCloseTo(2 / 9);
    // Successes' leads: 1, 2, 2, 3, 4, 5, 10 min → p50 3, p90 10 (nearest rank), max 10.
    expect(main.leadTimeMs).toEqual({ count: 7, p50: 3 * MIN, p90: 10 * MIN, max: 10 * MIN });
    expect(main.restoreMs).toEqual({ count: 1, p50: 30 * MIN, p90: 30 * MIN, max: 30 * MIN });
    // apps: 80 %, 60 %, 50 % of the path → median 60 %; infra: 10 %, 20 %, 40 % → 20 %.
    expect(main.slowest).toEqual([
      { key: 'Kustomization/flux-system/apps', medianShare: 0.6, pushes: 3 },
      { key: 'Kustomization/flux-system/infra', medianShare: 0.2, pushes: 3 },
    ]);
    expect(s.groups.find((g) => g.branch === 'staging')).toMatchObject({ sessions: 1, decided: 1, failed: 0, failureRate: 0, leadTimeMs: { count: 1, p50: 3 * MIN } });
  });

  it('the window: --since leaves out older pushes', async () => {
    plant(known());
    const s = JSON.parse((await run(['--stats', '--all', '--since', '3h', '--json'])).stdout) as HistoryStats;
    // Pushed 150, 100, 50 and 40 minutes ago.
    expect(s.sessions).toBe(4);
    expect(s.groups.find((g) => g.branch === 'main')).toMatchObject({ sessions: 3, succeeded: 2, failed: 1, unrestored: 1 });
  });

  it('the text form says the same, and names the measures', async () => {
    plant(known());
    const r = await run(['--stats', '--all']);
    const line = r.stdout.split('\n').find((l) => l.startsWith('https://github.com/acme/fleet  main'))!;
    expect(line).toMatch(/prod\s+10\s+3m00s \/ 10m00s \/ 10m00s\s+22% \(2\/9\)\s+30m00s \/ 30m00s \(1 not restored\)$/);
    expect(r.stdout).toContain('↳ slowest on the critical path (median share): Kustomization/flux-system/apps 60% (3 pushes), Kustomization/flux-system/infra 20% (3 pushes)');
    expect(r.stdout).toContain('Failure rate: failed ÷ (failed + succeeded)');
  });

  it('bad flags and an empty history', async () => {
    await expect(run(['--stats', '--since', 'soon'])).rejects.toThrow(/--since: invalid duration "soon"/);
    await expect(run(['--since', '3d'])).rejects.toThrow(/--since goes with --stats/);
    expect((await run(['--stats', '--all'])).stdout).toMatch(/^No finished sessions since /);
  });

  it('quantiles by nearest rank', () => {
    expect(quantiles([])).toEqual({ count: 0 });
    expect(quantiles([5])).toEqual({ count: 1, p50: 5, p90: 5, max: 5 });
    expect(quantiles([4, 1, 3, 2])).toEqual({ count: 4, p50: 2, p90: 4, max: 4 });
  });

  it('several clusters: each cluster its own row, with its own verdict and lead time', () => {
    const e = entry(1, 10 * MIN, 5 * MIN, 'failed', {
      context: undefined,
      clusters: [
        { context: 'prod', verdict: 'failed', leadMs: 5 * MIN },
        { context: 'staging', verdict: 'success', leadMs: 2 * MIN },
      ],
      path: { ms: 5 * MIN, waitingMs: 0, top: [{ key: 'prod/Kustomization/flux-system/apps', ms: 4 * MIN }] },
    });
    const s = historyStats([e], 0);
    expect(s.groups.map((g) => [g.cluster, g.failed, g.succeeded, g.leadTimeMs.p50, g.slowest.map((x) => x.key)])).toEqual([
      ['prod', 1, 0, undefined, ['prod/Kustomization/flux-system/apps']],
      ['staging', 0, 1, 2 * MIN, []],
    ]);
  });
});

describe('the history line of a session with a timeline', () => {
  it('carries the push time, the context, the lead time and the critical path\'s longest objects', () => {
    const T0 = 1_800_000_000_000;
    const s: SessionState & { pushedAt: number } = {
      schema: 1,
      id: 's-1',
      repo: { path: '/src/fleet', branch: 'main' },
      commit: { sha: 'a'.repeat(40) },
      cluster: { context: 'prod' },
      startedAt: T0 + 1_000,
      updatedAt: T0 + 40_000,
      endedAt: T0 + 40_000,
      timeoutMs: 300_000,
      status: 'finished',
      verdict: 'success',
      nodes: Object.fromEntries(
        ['GitRepository/f/repo', 'Kustomization/f/infra', 'Kustomization/f/apps'].map((key) => {
          const [kind, namespace, name] = key.split('/') as [string, string, string];
          return [key, { key, kind, namespace, name, apiVersion: 'v1', phase: 'Ready' as const, reason: '', message: '', affected: true, settled: true, phaseSince: T0, firstSeen: T0 }];
        }),
      ),
      edges: [
        { from: 'Kustomization/f/infra', to: 'GitRepository/f/repo', type: 'source' },
        { from: 'Kustomization/f/apps', to: 'Kustomization/f/infra', type: 'dependsOn' },
      ],
      cycles: [],
      matchedSources: [],
      warnings: [],
      pushedAt: T0,
      timeline: {
        objects: {
          'GitRepository/f/repo': { started: { at: T0 + 2_000, from: 'event' }, ready: { at: T0 + 3_000, from: 'condition' } },
          'Kustomization/f/infra': { started: { at: T0 + 3_000, from: 'event' }, ready: { at: T0 + 8_000, from: 'condition' } },
          'Kustomization/f/apps': { started: { at: T0 + 38_000, from: 'event' }, ready: { at: T0 + 40_000, from: 'condition' } },
        },
      },
    };
    const h = historyEntry(s);
    expect(h).toMatchObject({ pushedAt: T0, context: 'prod', leadMs: 40_000 });
    expect(h.path).toEqual({
      ms: 40_000,
      waitingMs: 2_000 + 30_000,
      top: [
        { key: 'Kustomization/f/apps', ms: 32_000 },
        { key: 'Kustomization/f/infra', ms: 5_000 },
        { key: 'GitRepository/f/repo', ms: 3_000 },
      ],
    });
    expect(historyProblem(JSON.parse(JSON.stringify(h)))).toBeUndefined();
    // A line with a path of many objects is not a history line (a writer keeps 3).
    expect(historyProblem({ ...h, path: { ...h.path!, top: Array.from({ length: 50 }, () => ({ key: 'k', ms: 1 })) } })).toMatch(/path\.top must have at most 3 entries/);
  });
});
