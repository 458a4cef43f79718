// One live monitor per repository + branch.
//
// `<locks>/<key>.lock` names the monitor that owns the branch (pid, start-time token, session, push time). It
// is only read and replaced while holding `<key>.mutex`, a file created with O_EXCL and removed right after,
// so two monitors starting together cannot both win. A lock whose process is gone, or whose pid now belongs to
// another process, is stale and taken over. Between two live monitors the newer push wins: the older monitor
// is told to stop as superseded (SIGUSR2), or a monitor that is itself older gives up.
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensurePrivateDir, type StatePaths } from './paths.js';
import { pidAlive, sameProcess } from './proc.js';
import { writeJsonAtomic } from './store.js';

export interface LockHolder {
  pid: number;
  /** Start-time token of `pid` (proc.ts). */
  pidStart?: string;
  sessionId: string;
  /** When the monitored push happened (ms since epoch). */
  pushedAt: number;
  acquiredAt: number;
}

/** The signal that tells a monitor it was superseded by a newer push (SIGTERM/SIGINT mean "stopped"). */
export const SUPERSEDE_SIGNAL: NodeJS.Signals = 'SIGUSR2';

/** Lock key of a repository (its normalised remote URL, else its path) and branch; safe as a file name. */
export function lockKey(repoIdentity: string, branch: string): string {
  const h = createHash('sha256').update(`${repoIdentity}\0${branch}`).digest('hex').slice(0, 20);
  const readable = branch.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 40);
  return `${readable}-${h}`;
}

export function lockFile(paths: StatePaths, key: string): string {
  return join(paths.locks, `${key}.lock`);
}

export function readLock(paths: StatePaths, key: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(lockFile(paths, key), 'utf8')) as LockHolder;
    return typeof h?.pid === 'number' && typeof h.sessionId === 'string' ? h : undefined;
  } catch {
    return undefined; // absent or unreadable: nobody holds it
  }
}

/** Whether the holder recorded in a lock is still that very process. */
export function holderAlive(h: LockHolder | undefined): boolean {
  return Boolean(h && sameProcess(h.pid, h.pidStart));
}

const MUTEX_STALE_MS = 10_000;

/** Runs `fn` while holding `<key>.mutex`. The mutex of a dead process, or one older than 10 s, is broken. */
export async function withMutex<T>(paths: StatePaths, key: string, fn: () => T, timeoutMs = 15_000): Promise<T> {
  ensurePrivateDir(paths.locks);
  const file = join(paths.locks, `${key}.mutex`);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return fn();
      } finally {
        try {
          unlinkSync(file);
        } catch {
          /* broken by someone who thought it stale: nothing to do */
        }
      }
    }
    breakStaleMutex(file);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`);
    await sleep(Math.min(5 + attempt * 5, 50));
  }
}

function breakStaleMutex(file: string): void {
  try {
    const owner = Number(readFileSync(file, 'utf8'));
    const age = Date.now() - statSync(file).mtimeMs;
    // An empty file is a mutex being written right now, unless it is old.
    if ((owner > 0 && !pidAlive(owner)) || age > MUTEX_STALE_MS) unlinkSync(file);
  } catch {
    /* vanished meanwhile */
  }
}

export type AcquireResult =
  /** `previous` is a live older monitor that the caller must now signal with SUPERSEDE_SIGNAL. */
  | { acquired: true; previous?: LockHolder }
  /** A live monitor of a newer push owns the branch. */
  | { acquired: false; holder: LockHolder };

/** Takes the branch for `me` unless a live monitor of a newer push holds it. */
export async function acquireMonitorLock(paths: StatePaths, key: string, me: LockHolder): Promise<AcquireResult> {
  return withMutex(paths, key, (): AcquireResult => {
    const cur = readLock(paths, key);
    const live = cur && !(cur.pid === me.pid && cur.sessionId === me.sessionId) && holderAlive(cur);
    if (live && cur.pushedAt > me.pushedAt) return { acquired: false, holder: cur };
    writeJsonAtomic(lockFile(paths, key), me);
    return live ? { acquired: true, previous: cur } : { acquired: true };
  });
}

/** Removes the lock if `me` still holds it (a newer monitor may have taken it over meanwhile). */
export async function releaseMonitorLock(paths: StatePaths, key: string, me: Pick<LockHolder, 'pid' | 'sessionId'>): Promise<boolean> {
  return withMutex(paths, key, () => {
    const cur = readLock(paths, key);
    if (!cur || cur.pid !== me.pid || cur.sessionId !== me.sessionId) return false;
    unlinkSync(lockFile(paths, key));
    return true;
  });
}
