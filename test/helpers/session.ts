// Session states and stored sessions for tests (the shapes `SessionState` and `StoredSession` of
// src/core/types.ts and src/session/store.ts), and writing them where the commands read them.
import type { SessionState } from '../../src/core/types.js';
import type { StatePaths } from '../../src/session/paths.js';
import { sessionFile, writeJsonAtomic, type StoredSession } from '../../src/session/store.js';

/**
 * A finished session: commit aaaa… on main of `/repo` (remote origin), verdict success, no nodes, started at 1000
 * and ended at 2000 with a 300 s timeout; `over` replaces any of it.
 */
export function finishedSession(id: string, over: Partial<StoredSession> = {}): StoredSession {
  const s: SessionState = {
    schema: 1,
    id,
    repo: { path: '/repo', branch: 'main', remote: 'origin' },
    commit: { sha: 'a'.repeat(40) },
    cluster: {},
    startedAt: 1000,
    updatedAt: 2000,
    endedAt: 2000,
    timeoutMs: 300_000,
    status: 'finished',
    verdict: 'success',
    nodes: {},
    edges: [],
    cycles: [],
    matchedSources: [],
    warnings: [],
  };
  return { ...s, ...over };
}

/** A running session: as finishedSession, but with no verdict and no end, last updated when it started. */
export function runningSession(id: string, over: Partial<StoredSession> = {}): StoredSession {
  const { verdict: _v, endedAt: _e, ...s } = finishedSession(id);
  return { ...s, status: 'running', updatedAt: s.startedAt, ...over };
}

/** Writes `s` as its session file in `paths` (as the monitor does) and returns it. */
export function storeSession(paths: StatePaths, s: StoredSession): StoredSession {
  writeJsonAtomic(sessionFile(paths, s.id), s);
  return s;
}
