// `history --stats` (issue 28 item 3): the DORA measures of the pushes flux-monitor followed, from history.jsonl
// alone (never the session files): per repository, branch and cluster, the push-to-verdict lead time of the
// pushes that succeeded (p50/p90/max), the failure rate (failed ÷ decided), the time to restore (a failed push →
// the next successful one's verdict) and the objects that take the largest median share of the critical path.
// Pure: the entries in, the statistics out.
import type { Verdict } from '../core/types.js';
import type { HistoryEntry } from './store.js';

export interface Quantiles {
  /** How many values. */
  count: number;
  p50?: number;
  p90?: number;
  max?: number;
}

export interface SlowObject {
  /** The object's key (`Kind/namespace/name`, prefixed with its context in a session of several clusters). */
  key: string;
  /** The median, over the pushes whose critical path it was among the longest on, of its share of that path (0–1). */
  medianShare: number;
  /** On how many pushes' critical paths it was recorded. */
  pushes: number;
}

export interface GroupStats {
  /** The repository (its URL, else its local path). */
  repo: string;
  /** The branch (or tag) pushed. */
  branch: string;
  /** The kubeconfig context, when the sessions name one. */
  cluster?: string;
  /** Sessions in the window. */
  sessions: number;
  /** Sessions with a success or failed verdict (the others neither deployed nor broke anything known). */
  decided: number;
  succeeded: number;
  failed: number;
  /** failed ÷ decided (undefined with nothing decided). */
  failureRate?: number;
  /** From the push to a success verdict, ms. */
  leadTimeMs: Quantiles;
  /** From a failed push's verdict to the verdict of the next successful push (ms), for the failures restored. */
  restoreMs: Quantiles;
  /** Failures not followed by a successful push (yet). */
  unrestored: number;
  /** The slowest objects by their median share of the critical path (at most 5). */
  slowest: SlowObject[];
}

export interface HistoryStats {
  /** The window's start (ms since epoch). */
  since: number;
  /** Sessions read (in the window). */
  sessions: number;
  groups: GroupStats[];
}

/** The value at quantile `q` (nearest rank) of sorted values. */
function quantile(sorted: number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function quantiles(values: number[]): Quantiles {
  const s = values.filter((v) => Number.isFinite(v) && v >= 0).sort((a, b) => a - b);
  return s.length ? { count: s.length, p50: quantile(s, 0.5), p90: quantile(s, 0.9), max: s.at(-1) } : { count: 0 };
}

/** One entry as it counts for each of its clusters: a single-cluster session once, a several-cluster one per cluster. */
interface Row {
  group: string;
  repo: string;
  branch: string;
  cluster?: string;
  pushedAt: number;
  endedAt: number;
  verdict: Verdict;
  leadMs?: number;
  path?: HistoryEntry['path'];
}

function rowsOf(e: HistoryEntry): Row[] {
  const repo = e.repo.url ?? e.repo.path ?? '-';
  const branch = e.repo.branch ?? (e.commit.tag ? `tag ${e.commit.tag}` : '-');
  const pushedAt = Math.min(e.pushedAt ?? e.startedAt, e.startedAt);
  const lead = e.leadMs ?? Math.max(0, e.endedAt - pushedAt);
  const group = (cluster?: string) => JSON.stringify([repo, branch, cluster ?? null]);
  if (e.clusters?.length) {
    return e.clusters.map((c) => {
      const prefix = `${c.context}/`;
      const top = e.path?.top.filter((t) => t.key.startsWith(prefix));
      return {
        group: group(c.context),
        repo,
        branch,
        cluster: c.context,
        pushedAt,
        endedAt: c.leadMs !== undefined ? pushedAt + c.leadMs : e.endedAt,
        verdict: c.verdict ?? e.verdict,
        leadMs: c.leadMs ?? lead,
        path: e.path && top?.length ? { ...e.path, top } : undefined,
      };
    });
  }
  return [{ group: group(e.context), repo, branch, cluster: e.context, pushedAt, endedAt: e.endedAt, verdict: e.verdict, leadMs: lead, path: e.path }];
}

/** The statistics of the history entries whose push was at or after `since`. */
export function historyStats(entries: readonly HistoryEntry[], since: number): HistoryStats {
  const groups = new Map<string, Row[]>();
  let sessions = 0;
  for (const e of entries) {
    if (Math.min(e.pushedAt ?? e.startedAt, e.startedAt) < since) continue;
    sessions++;
    for (const r of rowsOf(e)) {
      let g = groups.get(r.group);
      if (!g) groups.set(r.group, (g = []));
      g.push(r);
    }
  }
  const out: GroupStats[] = [];
  for (const rows of groups.values()) {
    rows.sort((a, b) => a.pushedAt - b.pushedAt);
    const succeeded = rows.filter((r) => r.verdict === 'success');
    const failed = rows.filter((r) => r.verdict === 'failed');
    const decided = succeeded.length + failed.length;
    // Time to restore: each failure → the verdict of the first successful push after it.
    const restore: number[] = [];
    let unrestored = 0;
    for (const f of failed) {
      const next = succeeded.find((s) => s.pushedAt > f.pushedAt);
      if (next) restore.push(Math.max(0, next.endedAt - f.endedAt));
      else unrestored++;
    }
    // The slowest objects: each one's shares of the critical paths it was on.
    const shares = new Map<string, number[]>();
    for (const r of rows) {
      if (!r.path || r.path.ms <= 0) continue;
      for (const t of r.path.top) {
        let l = shares.get(t.key);
        if (!l) shares.set(t.key, (l = []));
        l.push(Math.min(1, Math.max(0, t.ms / r.path.ms)));
      }
    }
    const slowest = [...shares]
      .map(([key, l]) => ({ key, medianShare: quantile(l.sort((a, b) => a - b), 0.5)!, pushes: l.length }))
      .sort((a, b) => b.medianShare - a.medianShare || b.pushes - a.pushes || (a.key < b.key ? -1 : 1))
      .slice(0, 5);
    const first = rows[0]!;
    out.push({
      repo: first.repo,
      branch: first.branch,
      ...(first.cluster !== undefined ? { cluster: first.cluster } : {}),
      sessions: rows.length,
      decided,
      succeeded: succeeded.length,
      failed: failed.length,
      ...(decided ? { failureRate: failed.length / decided } : {}),
      leadTimeMs: quantiles(succeeded.map((r) => r.leadMs ?? r.endedAt - r.pushedAt)),
      restoreMs: quantiles(restore),
      unrestored,
      slowest,
    });
  }
  out.sort((a, b) => b.sessions - a.sessions || (a.repo + a.branch + (a.cluster ?? '') < b.repo + b.branch + (b.cluster ?? '') ? -1 : 1));
  return { since, sessions, groups: out };
}

/** `--since`: `30d`, `12h`, `90m`… (days as well as the durations of parseDuration). */
export function parseSince(text: string, parse: (t: string) => number): number {
  const t = text.trim();
  const d = /^(\d+(?:\.\d+)?)d$/.exec(t);
  if (d) return Math.round(Number(d[1]) * 86_400_000);
  return parse(t);
}
