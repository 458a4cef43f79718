// (j) The push's timeline (issue 28): `history --stats` over 10,000 sessions (the CLI end to end, and its reading
// and computing in process), the session file's size at 10,000 objects with and without the timeline (a typical
// record and the largest one the bounds allow), and what recording costs per changed node.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TIMELINE_LIMITS, type ObjectMoments } from '../src/core/timeline.js';
import type { NodeState, SessionState } from '../src/core/types.js';
import { TimelineRecorder } from '../src/engine/timeline.js';
import { statePaths } from '../src/session/paths.js';
import { historyEntry, readHistory, sessionFile, writeJsonAtomic, type HistoryEntry } from '../src/session/store.js';
import { historyStats } from '../src/session/stats.js';
import { CLI, median, round, type Row } from './lib.js';

export interface TimelineBenchResult {
  sessions: number;
  /** history.jsonl bytes. */
  historyBytes: number;
  /** `history --stats --all --json`, child process, ms (each run). */
  cliMs: number[];
  /** readHistory + historyStats in process, ms (each run). */
  inProcessMs: number[];
  objects: number;
  /** Session file bytes: no timeline, a typical one, the largest the bounds allow. */
  fileBytes: { none: number; typical: number; worst: number };
  /** TimelineRecorder.note over every node once (each moment new), µs per node. */
  recordUsPerNode: number[];
}

const T0 = Date.UTC(2026, 11, 1);

function node(i: number): NodeState {
  const kind = i % 3 === 0 ? 'Kustomization' : i % 3 === 1 ? 'HelmRelease' : 'HelmChart';
  const key = `${kind}/team-${i % 50}/app-${i}`;
  return { key, kind, namespace: `team-${i % 50}`, name: `app-${i}`, apiVersion: 'v1', phase: 'Ready', reason: 'ReconciliationSucceeded', message: 'Applied revision: main@sha1:abcdef0123456789abcdef0123456789abcdef01', revision: 'main@sha1:abcdef0123456789abcdef0123456789abcdef01', affected: true, settled: true, phaseSince: T0, firstSeen: T0, resourceVersion: String(1000 + i) };
}

function session(objects: number, moments?: (i: number, key: string) => ObjectMoments): SessionState {
  const nodes: Record<string, NodeState> = {};
  for (let i = 0; i < objects; i++) {
    const n = node(i);
    nodes[n.key] = n;
  }
  const keys = Object.keys(nodes);
  const s: SessionState = {
    schema: 1,
    id: 'bench-timeline',
    repo: { path: '/src/fleet', url: 'https://github.com/acme/fleet', branch: 'main' },
    commit: { sha: 'abcdef0123456789abcdef0123456789abcdef01' },
    cluster: { context: 'prod' },
    startedAt: T0,
    updatedAt: T0 + 60_000,
    endedAt: T0 + 60_000,
    timeoutMs: 300_000,
    status: 'finished',
    verdict: 'success',
    nodes,
    edges: keys.slice(1).map((k, i) => ({ from: k, to: keys[i]!, type: 'dependsOn' as const })),
    cycles: [],
    matchedSources: [],
    warnings: [],
  };
  if (moments) s.timeline = { objects: Object.fromEntries(keys.map((k, i) => [k, moments(i, k)])) };
  return s;
}

/** What most objects record: their source's commit, a start, an apply and Ready, one wait on a dependency. */
const typical = (i: number, key: string): ObjectMoments => ({
  source: { at: T0 + 1_000, from: 'condition' },
  waits: i ? [{ from: T0 + 1_000, to: T0 + 1_000 + i, on: 'dependency', blockers: [key.split('/').slice(1, 3).join('/')], reason: 'DependencyNotReady' }] : undefined,
  started: { at: T0 + 2_000 + i, from: 'event' },
  applied: { at: T0 + 3_000 + i, from: 'event' },
  ready: { at: T0 + 4_000 + i, from: 'condition' },
});

/** The most the bounds allow: every moment, 6 waits of 5 blockers each. */
const worst = (i: number, key: string): ObjectMoments => ({
  ...typical(i, key),
  failed: { at: T0 + 3_500 + i, from: 'condition' },
  waits: Array.from({ length: TIMELINE_LIMITS.waits }, (_, w) => ({
    from: T0 + w * 1000,
    to: T0 + w * 1000 + 500,
    on: 'dependency' as const,
    blockers: Array.from({ length: TIMELINE_LIMITS.blockers }, (_, b) => `team-${(i + b) % 50}/app-${i + b}`),
    reason: 'DependencyNotReady',
  })),
  moreWaits: 3,
});

export async function benchTimeline(sessions: number, objects: number, runs: number): Promise<TimelineBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-timeline-'));
  try {
    const env = { ...process.env, XDG_STATE_HOME: join(dir, 'state'), HOME: dir, NODE_ENV: 'production' };
    const paths = statePaths(env);
    mkdirSync(paths.root, { recursive: true });
    // 10,000 history lines as the monitors write them (historyEntry of a session with a 12-object timeline):
    // 8 repositories × 3 branches × 2 clusters, a failure every 7th push.
    const small = session(12, typical);
    const lines: string[] = [];
    for (let i = 0; i < sessions; i++) {
      const at = Date.now() - (sessions - i) * 60_000;
      const e: HistoryEntry = {
        ...historyEntry({ ...small, startedAt: at + 300, endedAt: at + 30_000 + (i % 97) * 1000, updatedAt: at + 30_000, pushedAt: at, verdict: i % 7 ? 'success' : 'failed', id: `s-${i}` }),
        repo: { path: `/src/fleet-${i % 8}`, url: `https://github.com/acme/fleet-${i % 8}`, branch: ['main', 'staging', 'dev'][i % 3] },
        context: i % 2 ? 'prod' : 'staging',
      };
      lines.push(JSON.stringify(e));
    }
    writeFileSync(paths.history, lines.join('\n') + '\n');
    const historyBytes = statSync(paths.history).size;
    const cliMs: number[] = [];
    const inProcessMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      const out = spawnSync(process.execPath, [CLI, 'history', '--stats', '--all', '--since', '30d', '--json'], { env, encoding: 'utf8' });
      cliMs.push(performance.now() - t);
      if (out.status !== 0 || (JSON.parse(out.stdout) as { sessions: number }).sessions !== sessions) throw new Error(`history --stats failed: ${out.stderr}`);
      const u = performance.now();
      historyStats(readHistory(paths).entries, 0);
      inProcessMs.push(performance.now() - u);
    }
    // The session file at `objects` objects, as the store writes it.
    const size = (s: SessionState) => {
      const f = sessionFile(paths, s.id);
      writeJsonAtomic(f, s);
      return statSync(f).size;
    };
    const fileBytes = { none: size(session(objects)), typical: size(session(objects, typical)), worst: size(session(objects, worst)) };
    // Recording: every node of a 10,000-node session seen changing once (each adds a moment).
    const recordUsPerNode: number[] = [];
    for (let r = 0; r < runs; r++) {
      const s = session(objects);
      for (const n of Object.values(s.nodes)) n.phase = 'Progressing';
      const ctx = {
        state: s,
        objects: new Map(),
        now: () => T0 + 1_000,
        update(p: Partial<SessionState>) {
          ctx.state = { ...ctx.state, ...p };
        },
        published: () => false,
      };
      const rec = new TimelineRecorder(ctx);
      const keys = Object.keys(s.nodes);
      const t = performance.now();
      rec.note(keys);
      recordUsPerNode.push(((performance.now() - t) * 1000) / keys.length);
    }
    return { sessions, historyBytes, cliMs, inProcessMs, objects, fileBytes, recordUsPerNode };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function timelineRows(r: TimelineBenchResult): Row[] {
  const kb = (b: number) => `${round(b / 1024, 0)} KB`;
  const per = (b: number) => `${round((b - r.fileBytes.none) / r.objects, 0)} B/object`;
  const cli = median(r.cliMs);
  return [
    {
      bench: '(j) timeline',
      case: `history --stats --all --json over ${r.sessions.toLocaleString('en')} sessions (${kb(r.historyBytes)} of history.jsonl), CLI end to end`,
      value: `${round(cli, 0)} ms median (runs: ${r.cliMs.map((x) => round(x, 0)).join(', ')})`,
      target: '< 1 s',
      pass: cli < 1000,
    },
    { bench: '(j) timeline', case: 'the same, reading and computing in process', value: `${round(median(r.inProcessMs), 0)} ms median` },
    {
      bench: '(j) timeline',
      case: `session file at ${r.objects.toLocaleString('en')} objects: no timeline / typical / largest the bounds allow`,
      value: `${kb(r.fileBytes.none)} / ${kb(r.fileBytes.typical)} (+${per(r.fileBytes.typical)}) / ${kb(r.fileBytes.worst)} (+${per(r.fileBytes.worst)})`,
      target: 'timeline ≤ 2 KB/object (bounded)',
      pass: (r.fileBytes.worst - r.fileBytes.none) / r.objects <= 2048,
    },
    { bench: '(j) timeline', case: 'recording: one recompute that changed every node of 10,000', value: `${round(median(r.recordUsPerNode), 2)} µs per changed node` },
  ];
}
