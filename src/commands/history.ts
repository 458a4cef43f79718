import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command, CommandIO } from './types.js';
import { bool, parseArgs, str, UsageError } from './args.js';
import { statePaths } from '../session/paths.js';
import { historyClusters, listSessions, liveness, readHistory, sessionDiagnosis, type HistoryEntry, type Liveness } from '../session/store.js';
import { GitError, repoRoot } from '../git/repo.js';
import { formatDuration } from '../ui/layout.js';
import { sanitizeText } from '../core/sanitize.js';

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
  usage: 'flux-monitor history [--all] [--repo PATH] [--limit N] [--json]',
  async run(argv, io) {
    const args = parseArgs(argv, { all: {}, repo: { value: true }, limit: { value: true, short: 'n' }, json: {} });
    if (args.positionals.length) throw new UsageError('no arguments expected');
    const limitText = str(args, 'limit') ?? '20';
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit <= 0) throw new UsageError(`--limit must be a positive integer (got "${limitText}")`);
    const repoFlag = str(args, 'repo');
    const repo = bool(args, 'all') ? undefined : await rootOf(repoFlag !== undefined ? resolve(io.cwd, repoFlag) : io.cwd);
    // --repo names a repository: one that is not there is said as such, never "No sessions yet".
    if (repoFlag !== undefined && !bool(args, 'all') && !repo) {
      throw new UsageError(existsSync(resolve(io.cwd, repoFlag)) ? `not a git repository: ${repoFlag}` : `no such directory: ${repoFlag}`);
    }
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

/**
 * The root of the repository around `dir`, undefined outside one (as `gitInfo`, whose branch, HEAD and remotes
 * history does not use: one git process instead of five).
 */
async function rootOf(dir: string): Promise<string | undefined> {
  try {
    return await repoRoot(dir);
  } catch (err) {
    if (err instanceof GitError && /not a git repository|\.git directory/.test(err.message)) return undefined;
    throw err;
  }
}

function clean(s: string): string {
  return sanitizeText(s, { maxLength: 80 }).replace(/\s+/g, ' ');
}

function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
