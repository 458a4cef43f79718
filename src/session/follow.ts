// Following a session file as the detached monitor rewrites it: fs.watch on the sessions directory (the file is
// replaced by rename, so watching the file itself would lose it) plus a poll, which also notices a monitor that
// died without finishing.
import { watch, type FSWatcher } from 'node:fs';
import type { Verdict } from '../core/types.js';
import type { StatePaths } from './paths.js';
import { listSessions, liveness, readSessionFile, sessionFile, supersedingSession, type Liveness, type StoredSession } from './store.js';

export interface FollowOptions {
  /** Poll period (ms); the poll is the fallback where fs.watch reports nothing (network file systems...). */
  pollMs?: number;
}

export interface Follower {
  stop(): void;
  /** Settles when the session is no longer running (finished or dead) or stop() was called. */
  done: Promise<void>;
}

/**
 * Calls `onUpdate` with the current state at once, then on every change, until the session finishes or its
 * process is found dead (the last call then has liveness `finished` or `dead`). Unreadable intermediate reads
 * are skipped (a rename in progress), a file that stays unreadable ends the follow with `onError`.
 */
export function followSession(
  paths: StatePaths,
  id: string,
  onUpdate: (s: StoredSession, live: Liveness) => void,
  onError: (err: Error) => void,
  opts: FollowOptions = {},
): Follower {
  const file = sessionFile(paths, id);
  let last = '';
  let stopped = false;
  let failures = 0;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  const stop = () => {
    if (stopped) return;
    stopped = true;
    watcher?.close();
    if (timer) clearInterval(timer);
    resolveDone();
  };

  const check = () => {
    if (stopped) return;
    let s: StoredSession;
    try {
      s = readSessionFile(file);
      failures = 0;
    } catch (err) {
      if (++failures >= 3) {
        onError(err as Error);
        stop();
      }
      return;
    }
    const live = liveness(s);
    const sig = `${s.updatedAt}|${s.status}|${live}`;
    if (sig !== last) {
      last = sig;
      onUpdate(s, live);
    }
    if (live !== 'running') stop();
  };

  try {
    watcher = watch(paths.sessions, { persistent: true }, (_event, name) => {
      if (!name || name.toString() === `${id}.json`) check();
    });
    watcher.on('error', () => watcher?.close()); // the poll carries on
  } catch {
    /* no fs.watch here: poll only */
  }
  timer = setInterval(check, opts.pollMs ?? 500);
  check();
  return { stop, done };
}

/**
 * followSession(), moving on when the followed session ends superseded: to the session of the newer push that
 * took over (supersedingSession), and so on until a session ends otherwise. `onUpdate` also gets the superseded
 * final state, just before the first state of the next session (the `id` changes). Without a newer session
 * (a commit pushed from elsewhere), the follow ends with the superseded state.
 */
export function followNewest(
  paths: StatePaths,
  id: string,
  onUpdate: (s: StoredSession, live: Liveness) => void,
  onError: (err: Error) => void,
  opts: FollowOptions = {},
): Follower {
  let current: Follower | undefined;
  let stopped = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  const follow = (sid: string) => {
    let next: string | undefined;
    const f = followSession(
      paths,
      sid,
      (s, live) => {
        onUpdate(s, live);
        if (live === 'finished' && s.verdict === 'superseded') next = supersedingSession(s, listSessions(paths))?.id;
      },
      onError,
      opts,
    );
    current = f;
    void f.done.then(() => {
      if (stopped || current !== f) return;
      if (next) follow(next);
      else stop();
    });
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    current?.stop();
    resolveDone();
  };
  follow(id);
  return { stop, done };
}

/**
 * The state to show for a session: a dead one is presented as finished with verdict `error` and an explanation,
 * so views built for finished sessions say the truth without knowing about processes.
 */
export function displayState(s: StoredSession, live: Liveness): StoredSession {
  if (live !== 'dead') return s;
  const verdict: Verdict = 'error';
  return {
    ...s,
    status: 'finished',
    verdict,
    endedAt: s.endedAt ?? s.updatedAt,
    verdictMessage: `the monitor process${s.pid ? ` (pid ${s.pid})` : ''} is dead: it stopped before the end (killed, crashed or the machine restarted)${s.logPath ? `; see ${s.logPath}` : ''}`,
  };
}
