// The session store: one JSON file per session (replaced atomically, mode 0600), the monitor's log beside it,
// and an append-only history of finished sessions. Readers never see a torn file; a corrupt file is reported
// for itself and never hides the others.
import { appendFileSync, closeSync, constants as fsConstants, fstatSync, fsyncSync, linkSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type { RetentionConfig } from '../config/load.js';
import { countPhases, EXIT_CODES, FAILURE_PHASES, PHASES, type MonitorConfig, type PhaseCounts, type SessionState, type Verdict } from '../core/types.js';
import { diagnosisHeadline } from '../core/workloads.js';
import { criticalPath, leadTimeMs, TIMELINE_LIMITS } from '../core/timeline.js';
import { ensurePrivateDir, type StatePaths } from './paths.js';
import { sameProcess } from './proc.js';

/**
 * Eight random hex digits for a temporary file's name. node:crypto is loaded on the first write only: the commands
 * that only read the store (`status`, `history`) start without it (docs/performance.md (i)).
 */
function randomHex(): string {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return crypto.randomBytes(4).toString('hex');
}
let crypto: typeof import('node:crypto') | undefined;

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
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomHex()}.tmp`);
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

/**
 * Like writeJsonAtomic, but only if `file` does not exist yet: the complete temporary file is hard-linked to the
 * target name, which fails when the name exists, so an existing file (a later state written by its owner) is
 * never replaced. Returns whether it was written; false also where the file system has no hard links.
 */
export function writeJsonIfAbsent(file: string, data: unknown): boolean {
  const dir = dirname(file);
  ensurePrivateDir(dir);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomHex()}.tmp`);
  let fd: number | undefined = openSync(tmp, 'wx', 0o600);
  try {
    writeJsonStreamed(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return false;
    throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
  }
}

export class CorruptSessionError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`corrupt session file ${printable(file)}: ${printable(reason)}`);
    this.name = 'CorruptSessionError';
  }
}

class NotRegularFileError extends Error {
  constructor(readonly file: string) {
    super('not a regular file');
    this.name = 'NotRegularFileError';
  }
}

/**
 * Reads a file of the state directory that must be a regular file: a FIFO or a device put there would block a
 * plain read forever (or never end), so the file is opened non-blocking and checked before it is read.
 */
function readRegularFile(file: string): string {
  const fd = openSync(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  try {
    if (!fstatSync(fd).isFile()) throw new NotRegularFileError(file);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** A file name or key in a message: control characters (terminal escapes) written as `\xNN`. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// ---- schemas of the state files --------------------------------------------------------------------------------
// Every reader (status, history, follow, stop, the MCP tools) goes through readSessionFile/readHistory, which check
// each file and each history line against these: a file that parses but has the wrong shape is skipped with one
// line naming it, instead of failing later on `undefined` in whatever command reads it (security.md §5).

/**
 * Checks a value; returns what is wrong with it (naming its path in the document), or undefined. `at` null: a
 * quick pass that builds no path (what is wrong is then found again with paths): a 10,000-line history is checked
 * without a string per field (docs/performance.md (j)).
 */
type Check = (v: unknown, at: string | null) => string | undefined;

const describeAt = (at: string | null) => at || 'the document';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str: Check = (v, at) => (typeof v === 'string' ? undefined : `${describeAt(at)} must be a string`);
const num: Check = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `${describeAt(at)} must be a number`);
const bool: Check = (v, at) => (typeof v === 'boolean' ? undefined : `${describeAt(at)} must be true or false`);
const oneOf =
  (values: readonly string[]): Check =>
  (v, at) =>
    typeof v === 'string' && values.includes(v) ? undefined : `${describeAt(at)} must be one of ${values.join(', ')}`;
/** Absent (or null, as some writers put it) is fine; otherwise `check` applies. */
const opt =
  (check: Check): Check =>
  (v, at) =>
    v === undefined || v === null ? undefined : check(v, at);
const listOf =
  (check: Check): Check =>
  (v, at) => {
    if (!Array.isArray(v)) return `${describeAt(at)} must be a list`;
    for (let i = 0; i < v.length; i++) {
      const p = check(v[i], at === null ? null : `${at}[${i}]`);
      if (p) return p;
    }
    return undefined;
  };
const obj = (fields: Record<string, Check>): Check => {
  const entries = Object.entries(fields);
  return (v, at) => {
    if (!isObject(v)) return `${describeAt(at)} must be an object`;
    for (const [k, check] of entries) {
      const p = check(v[k], at === null ? null : at ? `${at}.${k}` : k);
      if (p) return p;
    }
    return undefined;
  };
};
const recordOf =
  (check: Check): Check =>
  (v, at) => {
    if (!isObject(v)) return `${describeAt(at)} must be an object`;
    for (const [k, item] of Object.entries(v)) {
      const p = check(item, at === null ? null : `${at}[${JSON.stringify(k.length > 60 ? `${k.slice(0, 60)}…` : k)}]`);
      if (p) return p;
    }
    return undefined;
  };

const VERDICTS = Object.keys(EXIT_CODES) as Verdict[];
/** Ids are file names and are printed as they are: the safe alphabet of isValidSessionId. */
const sessionId: Check = (v, at) => (typeof v === 'string' && isValidSessionId(v) ? undefined : `${at} must be a session id (letters, digits, . _ -)`);
const STATUSES = ['starting', 'running', 'finished'] as const;
const strings = listOf(str);
const categorizedError = obj({ category: str, message: str, hint: opt(str), status: opt(num) });
const repoShape = obj({ path: opt(str), url: opt(str), remote: opt(str), branch: opt(str) });
const commitShape = obj({ sha: str, subject: opt(str), tag: opt(str), through: opt(str) });
const diagnosisShape = obj({
  at: opt(num),
  workloads: listOf(
    obj({
      kind: str,
      namespace: str,
      name: str,
      rollout: obj({}),
      summary: str,
      problems: strings,
      pods: listOf(obj({ name: str, problems: listOf(obj({ reason: str, image: opt(str), message: opt(str), lastTermination: opt(obj({ reason: opt(str) })) })) })),
      podsNote: opt(str),
    }),
  ),
  moreWorkloads: opt(num),
  events: listOf(obj({ reason: str, message: str })),
  notes: strings,
});
const nodeShape = obj({
  key: str,
  kind: str,
  namespace: str,
  name: str,
  apiVersion: str,
  phase: oneOf(PHASES),
  reason: str,
  message: str,
  revision: opt(str),
  blockers: opt(strings),
  affected: bool,
  settled: bool,
  phaseSince: num,
  firstSeen: num,
  deleted: opt(bool),
  preexisting: opt(bool),
  context: opt(bool),
  blockedBy: opt(str),
  cluster: opt(str),
  resourceVersion: opt(str),
  diagnosis: opt(diagnosisShape),
  failing: opt(
    obj({
      evidence: listOf(obj({ rule: str, reason: str, subject: str, container: opt(str), text: str, since: num })),
      since: num,
      flux: opt(obj({ action: str, timeout: str, deadline: opt(num) })),
      failFastAt: opt(num),
    }),
  ),
});
/** A list of at most `max` entries (a hostile file could hold millions: the readers would draw them all). */
const boundedList = (max: number, check: Check): Check => {
  const list = listOf(check);
  return (v, at) => (Array.isArray(v) && v.length > max ? `${describeAt(at)} must have at most ${max} entries` : list(v, at));
};
const momentShape = obj({ at: num, from: oneOf(['condition', 'event']), seen: opt(num) });
const timelineObjects = obj({
  objects: recordOf(
    obj({
      source: opt(momentShape),
      started: opt(momentShape),
      applied: opt(momentShape),
      ready: opt(momentShape),
      failed: opt(momentShape),
      waits: opt(boundedList(TIMELINE_LIMITS.waits, obj({ from: num, to: opt(num), on: oneOf(['dependency', 'source']), blockers: boundedList(TIMELINE_LIMITS.blockers, str), reason: str }))),
      moreWaits: opt(num),
    }),
  ),
  dropped: opt(num),
});
const timelineShape: Check = (v, at) => {
  if (isObject(v) && isObject(v.objects) && Object.keys(v.objects).length > TIMELINE_LIMITS.objects) return `${at}.objects must have at most ${TIMELINE_LIMITS.objects} entries`;
  return timelineObjects(v, at);
};
const clusterShape = obj({
  context: str,
  server: opt(str),
  status: oneOf(STATUSES),
  startedAt: num,
  updatedAt: num,
  endedAt: opt(num),
  verdict: opt(oneOf(VERDICTS)),
  verdictMessage: opt(str),
  error: opt(categorizedError),
  matchedSources: strings,
  warnings: strings,
  cycles: listOf(strings),
});

/** The shape of a session file (StoredSession): what every reader relies on. */
const sessionShape = obj({
  schema: (v, at) => (v === 1 ? undefined : `${at} must be 1`),
  id: sessionId,
  repo: repoShape,
  commit: commitShape,
  cluster: obj({ context: opt(str), server: opt(str) }),
  startedAt: num,
  updatedAt: num,
  endedAt: opt(num),
  timeoutMs: num,
  ci: opt(obj({ timeoutMs: num, artifactAt: opt(num) })),
  status: oneOf(STATUSES),
  verdict: opt(oneOf(VERDICTS)),
  verdictMessage: opt(str),
  timedOut: opt(bool),
  failFast: opt(obj({ key: str, since: num, at: num, fluxDeadline: opt(num) })),
  nodes: recordOf(nodeShape),
  edges: listOf(obj({ from: str, to: str, type: str })),
  cycles: listOf(strings),
  matchedSources: strings,
  warnings: strings,
  error: opt(categorizedError),
  pid: opt((v, at) => (Number.isSafeInteger(v) && (v as number) > 0 ? undefined : `${at} must be a process id`)),
  pidStart: opt(str),
  pushedAt: opt(num),
  logPath: opt(str),
  mode: opt(oneOf(['watch', 'poll'])),
  clusters: opt(listOf(clusterShape)),
  timeline: opt(timelineShape),
  config: opt(obj({ verbosity: opt(oneOf(['minimal', 'normal', 'verbose'])), show_dependencies: opt(bool), timeout: opt(num), notify: opt(str) })),
});

/** The objects of the critical path a history line keeps (HistoryEntry.path). */
export const HISTORY_PATH_TOP = 3;

/** The shape of one line of history.jsonl (HistoryEntry). */
const historyShape = obj({
  id: sessionId,
  repo: repoShape,
  commit: commitShape,
  startedAt: num,
  endedAt: num,
  durationMs: num,
  verdict: oneOf(VERDICTS),
  verdictMessage: opt(str),
  counts: recordOf(num),
  diagnosis: opt(str),
  clusters: opt(listOf(obj({ context: str, verdict: opt(oneOf(VERDICTS)), leadMs: opt(num) }))),
  pushedAt: opt(num),
  context: opt(str),
  leadMs: opt(num),
  path: opt(obj({ ms: num, waitingMs: num, top: boundedList(HISTORY_PATH_TOP, obj({ key: str, ms: num })) })),
});

/** What is wrong with a parsed session file, or undefined when it is a StoredSession. */
export function sessionProblem(data: unknown): string | undefined {
  return sessionShape(data, null) === undefined ? undefined : sessionShape(data, '');
}

/** What is wrong with a parsed line of history.jsonl, or undefined when it is a HistoryEntry. */
export function historyProblem(data: unknown): string | undefined {
  return historyShape(data, null) === undefined ? undefined : historyShape(data, '');
}

/**
 * Reads one session and checks it against the schema of a session file (its `id` must also be its file name).
 * Throws CorruptSessionError when the file is not a session (not a regular file, not JSON, not of that shape),
 * the read error (ENOENT when absent) otherwise.
 */
export function readSessionFile(file: string): StoredSession {
  let text: string;
  try {
    text = readRegularFile(file);
  } catch (err) {
    if (err instanceof NotRegularFileError) throw new CorruptSessionError(file, 'not a regular file');
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CorruptSessionError(file, `not JSON (${(err as Error).message})`);
  }
  const problem = sessionProblem(data);
  if (problem) throw new CorruptSessionError(file, `not a flux-monitor session (${problem})`);
  const s = data as StoredSession;
  const name = basename(file);
  if (name.endsWith('.json') && s.id !== name.slice(0, -'.json'.length)) {
    throw new CorruptSessionError(file, `not a flux-monitor session (its id ${JSON.stringify(s.id)} is not its file name)`);
  }
  return s;
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
  /** A session of several clusters: each cluster's context and verdict (none while it runs), and its lead time. */
  clusters?: Array<{ context: string; verdict?: Verdict; leadMs?: number }>;
  /** When the push happened (ms since epoch), when the session knows it (hooks). */
  pushedAt?: number;
  /** The kubeconfig context of a single-cluster session. */
  context?: string;
  /** From the push (or the session start) to the verdict, ms (core/timeline.ts leadTimeMs). */
  leadMs?: number;
  /**
   * The critical path of the push (core/timeline.ts): its length, how much of it Flux waited, and its objects
   * that took longest (at most HISTORY_PATH_TOP, each with its waiting and working time): what `history --stats`
   * ranks the slowest objects by, without reading the session files.
   */
  path?: { ms: number; waitingMs: number; top: Array<{ key: string; ms: number }> };
}


/** The clusters of a several-cluster session, for history (undefined for a single cluster). */
export function historyClusters(s: Pick<SessionState, 'clusters' | 'startedAt'> & { pushedAt?: number }): HistoryEntry['clusters'] {
  const from = Math.min(s.pushedAt ?? s.startedAt, s.startedAt);
  return s.clusters?.length
    ? s.clusters.map((c) => ({ context: c.context, ...(c.verdict ? { verdict: c.verdict } : {}), ...(c.verdict && c.endedAt !== undefined ? { leadMs: Math.max(0, c.endedAt - from) } : {}) }))
    : undefined;
}

/** The compact critical path of a history line (HistoryEntry.path), if the session recorded a timeline. */
export function historyPath(s: SessionState & { pushedAt?: number }): HistoryEntry['path'] {
  const p = criticalPath(s);
  if (!p || p.links.length === 0) return undefined;
  const top = p.links
    .map((l) => ({ key: l.key.length > 300 ? l.key.slice(0, 300) : l.key, ms: l.waitedMs + l.workedMs }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, HISTORY_PATH_TOP);
  return { ms: p.totalMs, waitingMs: p.waitingMs, top };
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

export function historyEntry(s: SessionState & { pushedAt?: number }): HistoryEntry {
  const endedAt = s.endedAt ?? s.updatedAt;
  const diagnosis = sessionDiagnosis(s);
  const lead = leadTimeMs({ ...s, endedAt });
  const path = historyPath(s);
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
    ...(s.pushedAt !== undefined ? { pushedAt: s.pushedAt } : {}),
    ...(!s.clusters?.length && s.cluster.context ? { context: s.cluster.context } : {}),
    ...(lead !== undefined ? { leadMs: lead } : {}),
    ...(path ? { path } : {}),
  };
}

/** Appends one line (a single write on an O_APPEND file, so concurrent writers do not interleave). */
export function appendHistory(paths: StatePaths, entry: HistoryEntry): void {
  ensurePrivateDir(paths.root);
  appendFileSync(paths.history, JSON.stringify(entry) + '\n', { mode: 0o600 });
}

/** Where history.jsonl is rotated to (one generation is kept: pruneStore). */
export function rotatedHistoryFile(paths: StatePaths): string {
  return `${paths.history}.1`;
}

/**
 * History, oldest first: the rotated file (history.jsonl.1), then history.jsonl. A line that is not JSON, or not
 * a history entry (checked against its schema), is reported with its file and line number and skipped.
 */
export function readHistory(paths: StatePaths): { entries: HistoryEntry[]; errors: string[] } {
  const entries: HistoryEntry[] = [];
  const errors: string[] = [];
  for (const file of [rotatedHistoryFile(paths), paths.history]) {
    let text: string;
    try {
      text = readRegularFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      if (!(err instanceof NotRegularFileError)) throw err; // the state directory itself cannot be used: say so
      errors.push(`${printable(file)}: skipped (not a regular file)`);
      continue;
    }
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let problem: string | undefined;
      let e: unknown;
      try {
        e = JSON.parse(line);
        problem = historyProblem(e);
        if (problem) problem = `not a history entry: ${problem}`;
      } catch (err) {
        problem = (err as Error).message;
      }
      if (problem) errors.push(`${printable(file)}:${i + 1}: unreadable history line (${printable(problem)})`);
      else entries.push(e as HistoryEntry);
    });
  }
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
  if (matches.length === 0) throw new Error(`no session "${printable(idOrPrefix)}" (see \`flux-monitor history\`)`);
  throw new Error(`"${printable(idOrPrefix)}" matches ${matches.length} sessions: ${matches.slice(0, 5).map((e) => printable(e.id)).join(', ')}…`);
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

// ---- retention ---------------------------------------------------------------------------------------------------

/** A file whose owner cannot be known (an unreadable session file, a log without a session) is left this long. */
const ORPHAN_GRACE_MS = 60 * 60_000;
const DAY_MS = 24 * 60 * 60_000;

export interface PruneResult {
  /** Ids of the sessions whose files (`<id>.json`, `<id>.log`) were removed. */
  removed: string[];
  /** history.jsonl was rotated to history.jsonl.1. */
  rotated: boolean;
}

/** The session ids named by the locks of live monitors (locks/<key>.lock: pid, start time, session id). */
function liveLockSessions(paths: StatePaths): Set<string> {
  const ids = new Set<string>();
  let names: string[];
  try {
    names = readdirSync(paths.locks);
  } catch {
    return ids;
  }
  for (const n of names) {
    if (!n.endsWith('.lock')) continue;
    try {
      const h = JSON.parse(readRegularFile(join(paths.locks, n))) as { pid?: unknown; pidStart?: unknown; sessionId?: unknown };
      if (typeof h?.pid === 'number' && typeof h.sessionId === 'string' && sameProcess(h.pid, typeof h.pidStart === 'string' ? h.pidStart : undefined)) ids.add(h.sessionId);
    } catch {
      /* unreadable or gone: holds nothing */
    }
  }
  return ids;
}

function mtimeOf(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function removeIfPresent(file: string): boolean {
  try {
    unlinkSync(file);
    return true;
  } catch {
    return false; // gone meanwhile, or not ours to remove
  }
}

/**
 * Applies the retention of `config.retention` (docs/sessions.md#retention) at the start of a new session: keeps
 * the newest `sessions` sessions, and of those only the ones that ended (or were last updated) within `days`;
 * removes the others' `<id>.json` and `<id>.log`. Never removes a live session: one whose monitor (pid + start
 * time) is alive, one a live monitor's lock names, one listed in `keep` (the session being started), nor a file
 * whose owner cannot be known (an unreadable session file, a log without its session file) for an hour after it
 * was last written. Temporaries of writers that died (`.<id>.json.<pid>.<rand>.tmp`) go after an hour too.
 * Then rotates history.jsonl to history.jsonl.1 (replacing the previous one) when it is larger than
 * `history_size` bytes, under a mutex so that two monitors starting together rotate once. Never throws for one
 * file; returns what it removed.
 */
export async function pruneStore(
  paths: StatePaths,
  retention: RetentionConfig,
  o: { now?: number; keep?: Iterable<string> } = {},
): Promise<PruneResult> {
  const now = o.now ?? Date.now();
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(paths.sessions);
  } catch {
    /* no sessions yet */
  }
  const keep = new Set(o.keep ?? []);
  for (const id of liveLockSessions(paths)) keep.add(id);

  interface Candidate {
    id: string;
    /** Newest first by this: the session's start, else the file's time. */
    order: number;
    /** Age by this: when it ended or was last updated, else the file's time. */
    last: number;
    /** Kept whatever the rules say. */
    protected: boolean;
  }
  const byId = new Map<string, { json?: string; log?: string }>();
  for (const n of names) {
    if (n.startsWith('.')) {
      // A writer's temporary (writeJsonAtomic): left behind only by a writer that died.
      if (n.endsWith('.tmp')) {
        const t = mtimeOf(join(paths.sessions, n));
        if (t !== undefined && now - t > ORPHAN_GRACE_MS) removeIfPresent(join(paths.sessions, n));
      }
      continue;
    }
    const m = /^(.*)\.(json|log)$/.exec(n);
    if (!m) continue;
    const e = byId.get(m[1]!) ?? {};
    e[m[2] as 'json' | 'log'] = join(paths.sessions, n);
    byId.set(m[1]!, e);
  }
  const candidates: Candidate[] = [];
  for (const [id, f] of byId) {
    const fileTime = Math.max(mtimeOf(f.json ?? '') ?? 0, mtimeOf(f.log ?? '') ?? 0);
    let s: StoredSession | undefined;
    if (f.json) {
      try {
        s = readSessionFile(f.json);
      } catch {
        s = undefined;
      }
    }
    if (s) {
      candidates.push({ id, order: s.startedAt, last: s.endedAt ?? s.updatedAt, protected: keep.has(id) || liveness(s) === 'running' });
    } else {
      // Unreadable, or a log whose session file is not written yet (a monitor starting): its owner is unknown.
      candidates.push({ id, order: fileTime, last: fileTime, protected: keep.has(id) || now - fileTime <= ORPHAN_GRACE_MS });
    }
  }
  candidates.sort((a, b) => b.order - a.order || b.id.localeCompare(a.id));
  const maxAge = retention.days * DAY_MS;
  candidates.forEach((c, i) => {
    if (c.protected) return;
    if (i < retention.sessions && now - c.last <= maxAge) return;
    const f = byId.get(c.id)!;
    const a = f.json ? removeIfPresent(f.json) : false;
    const b = f.log ? removeIfPresent(f.log) : false;
    if (a || b) removed.push(c.id);
  });

  let rotated = false;
  const size = (() => {
    try {
      return statSync(paths.history).size;
    } catch {
      return 0;
    }
  })();
  if (size > retention.history_size) {
    try {
      const { withMutex } = await import('./lock.js');
      rotated = await withMutex(paths, 'history-rotation', () => {
        // Checked again under the mutex: another monitor may have rotated it meanwhile.
        try {
          if (statSync(paths.history).size <= retention.history_size) return false;
          renameSync(paths.history, rotatedHistoryFile(paths));
          return true;
        } catch {
          return false;
        }
      });
    } catch {
      /* the mutex could not be had: the next session rotates it */
    }
  }
  return { removed, rotated };
}
