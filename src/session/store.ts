// The session store: one JSON file per session (replaced atomically, mode 0600), the monitor's log beside it,
// and an append-only history of finished sessions. Readers never see a torn file; a corrupt file is reported
// for itself and never hides the others.
import { appendFileSync, closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { countPhases, FAILURE_PHASES, type MonitorConfig, type PhaseCounts, type SessionState, type Verdict } from '../core/types.js';
import { diagnosisHeadline } from '../core/workloads.js';
import { ensurePrivateDir, type StatePaths } from './paths.js';
import { sameProcess } from './proc.js';

/** What the store keeps for a session: the engine's state plus what the detached monitor adds. */
export interface StoredSession extends SessionState {
  /** The configuration the session runs with. */
  config?: MonitorConfig;
  /** Start-time token of `pid` (see proc.ts), to tell a dead monitor from a reused pid. */
  pidStart?: string;
  /** When the push happened (ms since epoch): orders pushes of one branch, newest wins. */
  pushedAt?: number;
  /** Path of the monitor's log. */
  logPath?: string;
}

/** `running` = a live process owns it; `dead` = unfinished but its process is gone (killed, crashed, reboot). */
export type Liveness = 'running' | 'finished' | 'dead';

export function sessionFile(paths: StatePaths, id: string): string {
  return join(paths.sessions, `${id}.json`);
}

export function sessionLogFile(paths: StatePaths, id: string): string {
  return join(paths.sessions, `${id}.log`);
}

/** Session ids are file names: keep them to a safe alphabet. */
export function isValidSessionId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id) && !id.endsWith('.json') && !id.endsWith('.log');
}

/** Collections with more entries than this are serialised entry by entry. */
const STREAM_THRESHOLD = 64;
const CHUNK_BYTES = 64 * 1024;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * Writes the same text as `JSON.stringify(data) + '\n'` (for plain data), but serialises large top-level
 * collections (the nodes of a 10,000-object session) entry by entry into 64 KiB chunks, instead of building one
 * multi-megabyte string: short-lived small strings are cheap for the garbage collector, huge ones are not.
 */
export function writeJsonStreamed(fd: number, data: unknown): void {
  let buf = '';
  const put = (text: string) => {
    buf += text;
    if (buf.length >= CHUNK_BYTES) {
      writeSync(fd, buf);
      buf = '';
    }
  };
  const value = (v: unknown, depth: number) => {
    if (depth < 2 && Array.isArray(v) && v.length > STREAM_THRESHOLD) {
      put('[');
      v.forEach((item, i) => put((i ? ',' : '') + (JSON.stringify(item) ?? 'null')));
      put(']');
    } else if (depth < 2 && isPlainObject(v) && (depth === 0 || Object.keys(v).length > STREAM_THRESHOLD)) {
      put('{');
      let first = true;
      for (const [k, item] of Object.entries(v)) {
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
        put((first ? '' : ',') + JSON.stringify(k) + ':');
        first = false;
        value(item, depth + 1);
      }
      put('}');
    } else put(JSON.stringify(v) ?? 'null');
  };
  value(data, 0);
  put('\n');
  if (buf) writeSync(fd, buf);
}

/**
 * Writes `data` as JSON to `file` so that a reader sees the old or the new content, never a mix: a temporary
 * file in the same directory, fsync, then rename over the target. Mode 0600; the directory is created 0700.
 */
export function writeJsonAtomic(file: string, data: unknown): void {
  const dir = dirname(file);
  ensurePrivateDir(dir);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeJsonStreamed(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
}

export class CorruptSessionError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`corrupt session file ${file}: ${reason}`);
    this.name = 'CorruptSessionError';
  }
}

/** Reads one session. Throws CorruptSessionError when the file is not a session, ENOENT errors when absent. */
export function readSessionFile(file: string): StoredSession {
  const text = readFileSync(file, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CorruptSessionError(file, `not JSON (${(err as Error).message})`);
  }
  const s = data as Partial<StoredSession> | null;
  if (!s || typeof s !== 'object' || s.schema !== 1 || typeof s.id !== 'string' || typeof s.startedAt !== 'number' || !s.commit || typeof s.commit.sha !== 'string' || typeof s.status !== 'string' || typeof s.nodes !== 'object') {
    throw new CorruptSessionError(file, 'not a flux-monitor session (missing schema, id, commit, status or nodes)');
  }
  return s as StoredSession;
}

export interface SessionEntry {
  id: string;
  file: string;
  session?: StoredSession;
  /** Set instead of `session` when the file cannot be read. */
  error?: string;
}

/** All sessions, newest first (by start time; unreadable ones by file time). Never throws for one bad file. */
export function listSessions(paths: StatePaths): SessionEntry[] {
  let names: string[];
  try {
    names = readdirSync(paths.sessions);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: Array<SessionEntry & { sortKey: number }> = [];
  for (const name of names) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue; // temporaries start with '.'
    const id = name.slice(0, -'.json'.length);
    const file = join(paths.sessions, name);
    try {
      const session = readSessionFile(file);
      out.push({ id, file, session, sortKey: session.startedAt });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
      let mtime = 0;
      try {
        mtime = statSync(file).mtimeMs;
      } catch {
        /* gone */
      }
      out.push({ id, file, error: (err as Error).message, sortKey: mtime });
    }
  }
  out.sort((a, b) => b.sortKey - a.sortKey || b.id.localeCompare(a.id));
  return out.map(({ sortKey: _s, ...e }) => e);
}

export function liveness(s: StoredSession): Liveness {
  if (s.status === 'finished') return 'finished';
  return sameProcess(s.pid, s.pidStart) ? 'running' : 'dead';
}

/** One line of history.jsonl. */
export interface HistoryEntry {
  id: string;
  repo: SessionState['repo'];
  commit: SessionState['commit'];
  startedAt: number;
  endedAt: number;
  durationMs: number;
  verdict: Verdict;
  verdictMessage?: string;
  counts: PhaseCounts;
  /** The first workload problem of the session's diagnoses (`Deployment team/web: ImagePullBackOff (…)`), sanitised. */
  diagnosis?: string;
  /** A session of several clusters: each cluster's context and verdict (none while it runs). */
  clusters?: Array<{ context: string; verdict?: Verdict }>;
}

/** The clusters of a several-cluster session, for history (undefined for a single cluster). */
export function historyClusters(s: Pick<SessionState, 'clusters'>): HistoryEntry['clusters'] {
  return s.clusters?.length ? s.clusters.map((c) => ({ context: c.context, ...(c.verdict ? { verdict: c.verdict } : {}) })) : undefined;
}

/** The first workload problem behind a failure of the session, in one line (failed objects first). */
export function sessionDiagnosis(s: Pick<SessionState, 'nodes'>): string | undefined {
  const nodes = Object.values(s.nodes ?? {}).filter((n) => n.affected && n.diagnosis && n.phase !== 'Ready');
  nodes.sort((a, b) => Number(FAILURE_PHASES.has(b.phase)) - Number(FAILURE_PHASES.has(a.phase)) || a.key.localeCompare(b.key));
  for (const n of nodes) {
    const h = diagnosisHeadline(n.diagnosis);
    if (h) return h;
  }
  return undefined;
}

export function historyEntry(s: SessionState): HistoryEntry {
  const endedAt = s.endedAt ?? s.updatedAt;
  const diagnosis = sessionDiagnosis(s);
  return {
    id: s.id,
    repo: s.repo,
    commit: s.commit,
    startedAt: s.startedAt,
    endedAt,
    durationMs: Math.max(0, endedAt - s.startedAt),
    verdict: s.verdict ?? 'error',
    verdictMessage: s.verdictMessage,
    counts: countPhases(Object.values(s.nodes ?? {})),
    ...(diagnosis ? { diagnosis } : {}),
    ...(s.clusters?.length ? { clusters: historyClusters(s) } : {}),
  };
}

/** Appends one line (a single write on an O_APPEND file, so concurrent writers do not interleave). */
export function appendHistory(paths: StatePaths, entry: HistoryEntry): void {
  ensurePrivateDir(paths.root);
  appendFileSync(paths.history, JSON.stringify(entry) + '\n', { mode: 0o600 });
}

/** History, oldest first; unreadable lines are reported with their line number and skipped. */
export function readHistory(paths: StatePaths): { entries: HistoryEntry[]; errors: string[] } {
  let text: string;
  try {
    text = readFileSync(paths.history, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], errors: [] };
    throw err;
  }
  const entries: HistoryEntry[] = [];
  const errors: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const e = JSON.parse(line) as HistoryEntry;
      if (typeof e?.id !== 'string' || typeof e.startedAt !== 'number' || typeof e.verdict !== 'string') throw new Error('not a history entry');
      entries.push(e);
    } catch (err) {
      errors.push(`${paths.history}:${i + 1}: unreadable history line (${(err as Error).message})`);
    }
  });
  return { entries, errors };
}

/**
 * Persists a session as it changes without writing on every event: at most one write per `minIntervalMs`
 * (the latest state wins), and `final()` always writes at once.
 */
export class SessionWriter {
  private pending: StoredSession | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastWrite = 0;
  /** How long the last write took (ms). */
  private lastWriteCost = 0;
  private closed = false;

  constructor(
    readonly file: string,
    private readonly opts: { minIntervalMs?: number; onError?: (err: unknown) => void; now?: () => number } = {},
  ) {}

  update(s: StoredSession): void {
    if (this.closed) return;
    this.pending = s;
    const now = (this.opts.now ?? Date.now)();
    // At most one write per minIntervalMs, and no more than ~2% of the time spent writing: a state of thousands
    // of objects costs tens of milliseconds (and megabytes of garbage) to serialise, so it is written less often
    // (every 1-2 s at 10,000 objects; docs/performance.md).
    const interval = Math.max(this.opts.minIntervalMs ?? 250, Math.min(5000, this.lastWriteCost * 50));
    const wait = this.lastWrite + interval - now;
    if (wait <= 0) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), wait);
      this.timer.unref?.();
    }
  }

  /** Writes `s` now and ignores later updates. */
  final(s: StoredSession): void {
    this.pending = s;
    this.flush();
    this.closed = true;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.pending;
    this.pending = undefined;
    if (!s) return;
    this.lastWrite = (this.opts.now ?? Date.now)();
    const started = performance.now();
    try {
      writeJsonAtomic(this.file, s);
    } catch (err) {
      this.opts.onError?.(err);
    }
    this.lastWriteCost = performance.now() - started;
  }
}

/**
 * Finds a session by id or unique id prefix. Throws a plain Error with a message for users when none or
 * several match.
 */
export function findSession(paths: StatePaths, idOrPrefix: string): SessionEntry {
  const all = listSessions(paths);
  const exact = all.find((e) => e.id === idOrPrefix);
  if (exact) return exact;
  const matches = all.filter((e) => e.id.startsWith(idOrPrefix));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new Error(`no session "${idOrPrefix}" (see \`flux-monitor history\`)`);
  throw new Error(`"${idOrPrefix}" matches ${matches.length} sessions: ${matches.slice(0, 5).map((e) => e.id).join(', ')}…`);
}

/** When the session's commit was pushed (ms): the push time, else (a session without one) its start. */
export function pushTime(s: StoredSession): number {
  return s.pushedAt ?? s.startedAt;
}

/** Newest push first; between sessions of one push, the later start first. */
function byNewestPush(a: SessionEntry, b: SessionEntry): number {
  return pushTime(b.session!) - pushTime(a.session!) || b.session!.startedAt - a.session!.startedAt || b.id.localeCompare(a.id);
}

/**
 * The session of the newest pushed commit among `entries` (readable ones only): the running session of the
 * newest push, else the newest push whose session was not superseded; a superseded session only when there is
 * nothing else. Start times do not decide: the monitor of an older push may start after the newer one's, find
 * it is older and end at once as superseded (issue 16).
 */
export function newestPushedSession(entries: SessionEntry[]): SessionEntry | undefined {
  const all = entries.filter((e) => e.session).sort(byNewestPush);
  return all.find((e) => liveness(e.session!) === 'running') ?? all.find((e) => e.session!.verdict !== 'superseded') ?? all[0];
}

/** The session `status`/`stop` act on when given no ID: newestPushedSession() of the repository (of all, without one). */
export function latestSessionFor(paths: StatePaths, repoPath: string | undefined, entries = listSessions(paths)): SessionEntry | undefined {
  return newestPushedSession(entries.filter((e) => e.session && (!repoPath || e.session.repo.path === repoPath)));
}

/**
 * For a session that ended superseded: the session that took over, i.e. newestPushedSession() among the later
 * pushes of the same repository and branch. Undefined when there is none (a newer commit pushed from elsewhere).
 */
export function supersedingSession(s: StoredSession, entries: SessionEntry[]): SessionEntry | undefined {
  return newestPushedSession(
    entries.filter((e) => e.session && e.id !== s.id && e.session.repo.path === s.repo.path && e.session.repo.branch === s.repo.branch && pushTime(e.session) > pushTime(s)),
  );
}
