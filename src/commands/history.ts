import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command, CommandIO } from './types.js';
import { bool, parseArgs, str, UsageError } from './args.js';
import { statePaths } from '../session/paths.js';
import { historyClusters, listSessions, liveness, readHistory, sessionDiagnosis, type HistoryEntry, type Liveness } from '../session/store.js';
import { findRepoRoot } from '../git/discover.js';
import { formatDuration } from '../ui/layout.js';
import { sanitizeText } from '../core/sanitize.js';
import { InvalidDurationError, parseDuration } from '../core/duration.js';
import { historyStats, parseSince, type GroupStats, type Quantiles } from '../session/stats.js';

/** One row of `history --json`: a finished session from history.jsonl, or a running/dead one from the store. */
export type HistoryRow = Omit<HistoryEntry, 'endedAt' | 'durationMs' | 'verdict' | 'counts'> & {
  endedAt?: number;
  durationMs: number;
  verdict?: HistoryEntry['verdict'];
  liveness: Liveness;
};

/**
 * The rows of `history --json`, newest first: finished sessions from history.jsonl, plus running and dead ones
 * from the store; only those of `repo` (a repository root) when given. Unreadable lines and files are reported on
 * stderr. Shared by `history` and the MCP tool list_history.
 */
export function historyRows(io: Pick<CommandIO, 'env' | 'stderr'>, o: { repo?: string; limit: number }): HistoryRow[] {
  const paths = statePaths(io.env);
  const { entries, errors } = readHistory(paths);
  const rows: HistoryRow[] = [];
  const finishedIds = new Set(entries.map((e) => e.id));
  for (const e of listSessions(paths)) {
    if (e.error) errors.push(e.error);
    if (!e.session || finishedIds.has(e.id)) continue;
    const live = liveness(e.session);
    if (live === 'finished') continue; // finished but not in history (written by an older version): skip
    const s = e.session;
    const diagnosis = sessionDiagnosis(s);
    const clusters = historyClusters(s);
    rows.push({ id: s.id, repo: s.repo, commit: s.commit, startedAt: s.startedAt, durationMs: Math.max(0, s.updatedAt - s.startedAt), liveness: live, ...(diagnosis ? { diagnosis } : {}), ...(clusters ? { clusters } : {}) });
  }
  for (const e of entries) rows.push({ ...e, liveness: 'finished' });
  const shown = rows
    .filter((r) => !o.repo || r.repo.path === o.repo)
    .sort((a, b) => b.startedAt - a.startedAt)
    .slice(0, o.limit);
  for (const err of errors) io.stderr.write(`flux-monitor: warning: ${err}\n`);
  return shown;
}

const history: Command = {
  name: 'history',
  summary: 'List past monitoring sessions of this repository with durations and verdicts',
  usage: 'flux-monitor history [--all] [--repo PATH] [--limit N] [--json] [--stats [--since 30d]]',
  async run(argv, io) {
    const args = parseArgs(argv, { all: {}, repo: { value: true }, limit: { value: true, short: 'n' }, json: {}, stats: {}, since: { value: true } });
    if (args.positionals.length) throw new UsageError('no arguments expected');
    const limitText = str(args, 'limit') ?? '20';
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit <= 0) throw new UsageError(`--limit must be a positive integer (got "${limitText}")`);
    const repoFlag = str(args, 'repo');
    const repo = bool(args, 'all') ? undefined : await findRepoRoot(repoFlag !== undefined ? resolve(io.cwd, repoFlag) : io.cwd, io.env);
    // --repo names a repository: one that is not there is said as such, never "No sessions yet".
    if (repoFlag !== undefined && !bool(args, 'all') && !repo) {
      throw new UsageError(existsSync(resolve(io.cwd, repoFlag)) ? `not a git repository: ${repoFlag}` : `no such directory: ${repoFlag}`);
    }
    if (str(args, 'since') !== undefined && !bool(args, 'stats')) throw new UsageError('--since goes with --stats');
    if (bool(args, 'stats')) return stats(io, { repo, since: str(args, 'since') ?? '30d', json: bool(args, 'json') });
    const shown = historyRows(io, { repo, limit });

    if (bool(args, 'json')) {
      io.stdout.write(JSON.stringify(shown, null, 2) + '\n');
      return 0;
    }
    if (!shown.length) {
      io.stdout.write(repo ? `No sessions for ${repo} yet (use --all for every repository).\n` : 'No sessions yet.\n');
      return 0;
    }
    const table = [['STARTED', 'DURATION', 'BRANCH', 'COMMIT', 'RESULT', 'SESSION', ...(repo ? [] : ['REPOSITORY'])]];
    for (const r of shown) {
      table.push([
        localTime(r.startedAt),
        formatDuration(r.durationMs),
        clean(r.repo.branch ?? r.commit.tag ?? '-'),
        clean(r.commit.sha.slice(0, 7)),
        r.liveness === 'finished' ? (r.verdict ?? '?') : r.liveness,
        r.id,
        ...(repo ? [] : [clean(r.repo.path ?? r.repo.url ?? '-')]),
      ]);
    }
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    table.forEach((row, i) => {
      io.stdout.write(row.map((c, j) => (j === row.length - 1 ? c : c.padEnd(widths[j]!))).join('  ') + '\n');
      // Several clusters: each one's verdict (the RESULT is the worst of them).
      const clusters = i > 0 ? shown[i - 1]!.clusters : undefined;
      if (clusters?.length) io.stdout.write(`  ↳ clusters: ${clusters.map((c) => `${clean(c.context)} ${c.verdict ?? 'running'}`).join(', ')}\n`);
      // The first workload problem behind a failure; `flux-monitor status ID` shows the whole diagnosis.
      const why = i > 0 ? shown[i - 1]!.diagnosis : undefined;
      if (why) io.stdout.write(`  ↳ ${sanitizeText(why, { maxLength: 160 }).replace(/\s+/g, ' ')}\n`);
    });
    return 0;
  },
};
export default history;

function clean(s: string): string {
  return sanitizeText(s, { maxLength: 80 }).replace(/\s+/g, ' ');
}

function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * `history --stats`: the DORA measures of the finished pushes since `since` (session/stats.ts), from history.jsonl
 * alone; of `repo` (a repository root) when given.
 */
function stats(io: CommandIO, o: { repo?: string; since: string; json: boolean }): number {
  let windowMs: number;
  try {
    windowMs = parseSince(o.since, parseDuration);
  } catch (err) {
    if (err instanceof InvalidDurationError) throw new UsageError(`--since: invalid duration "${o.since}" (use e.g. 30d, 12h, 90m)`);
    throw err;
  }
  const paths = statePaths(io.env);
  const { entries, errors } = readHistory(paths);
  for (const err of errors) io.stderr.write(`flux-monitor: warning: ${err}\n`);
  const since = Date.now() - windowMs;
  const result = historyStats(o.repo ? entries.filter((e) => e.repo.path === o.repo) : entries, since);
  if (o.json) {
    io.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  }
  if (!result.groups.length) {
    io.stdout.write(`No finished sessions since ${localTime(since)}${o.repo ? ` for ${o.repo} (use --all for every repository)` : ''}.\n`);
    return 0;
  }
  io.stdout.write(`Pushes since ${localTime(since)} (${clean(o.since)}): ${result.sessions} finished session${result.sessions === 1 ? '' : 's'}\n\n`);
  const q = (x: Quantiles) => (x.count ? `${formatDuration(x.p50!)} / ${formatDuration(x.p90!)} / ${formatDuration(x.max!)}` : '-');
  const table = [['REPOSITORY', 'BRANCH', 'CLUSTER', 'PUSHES', 'LEAD TIME p50 / p90 / max', 'FAILURE RATE', 'TIME TO RESTORE p50 / max']];
  const rows: GroupStats[] = result.groups;
  for (const g of rows) {
    table.push([
      clean(g.repo),
      clean(g.branch),
      clean(g.cluster ?? '-'),
      String(g.sessions),
      q(g.leadTimeMs),
      g.failureRate === undefined ? '-' : `${Math.round(g.failureRate * 100)}% (${g.failed}/${g.decided})`,
      (g.restoreMs.count ? `${formatDuration(g.restoreMs.p50!)} / ${formatDuration(g.restoreMs.max!)}` : '-') + (g.unrestored ? ` (${g.unrestored} not restored)` : ''),
    ]);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  table.forEach((row, i) => {
    io.stdout.write(row.map((c, j) => (j === row.length - 1 ? c : c.padEnd(widths[j]!))).join('  ') + '\n');
    const g = i > 0 ? rows[i - 1]! : undefined;
    if (g?.slowest.length) {
      io.stdout.write(`  ↳ slowest on the critical path (median share): ${g.slowest.map((s) => `${clean(s.key)} ${Math.round(s.medianShare * 100)}% (${s.pushes} push${s.pushes === 1 ? '' : 'es'})`).join(', ')}\n`);
    }
  });
  io.stdout.write('\nLead time: push → success verdict. Failure rate: failed ÷ (failed + succeeded). Time to restore: a failed push\'s verdict → the next successful push\'s.\n');
  return 0;
}
