// The one builder of a session's first state from the push it follows: the engine's Monitor, the several-cluster
// session and the sessions that end before they start (src/engine/run.ts), and the detached monitor's own first
// record (src/session/monitor-process.ts) all start from the same facts. Pure: no I/O.
import { redactUrl } from './giturl.js';
import { sanitizeText } from './sanitize.js';
import { newSessionState, type SessionState } from './types.js';

/** Who pushed what where: the fields the callers share (named as in the engine's RunOptions). */
export interface SessionPush {
  /** The session id. */
  id: string;
  pushed: { sha: string; tag?: string };
  branch?: string;
  /** Remote URL as git had it (may hold credentials: they are removed here). */
  repoUrl?: string;
  remote?: string;
  repoPath?: string;
  /** The commit's subject (git text: sanitised here, at most 200 characters). */
  subject?: string;
}

/** A session of `push` that has not seen the cluster yet (status `starting`), on `at.context` if known. */
export function pushSessionState(push: SessionPush, at: { context?: string; server?: string; timeoutMs: number; now: number }): SessionState {
  return newSessionState(
    {
      id: push.id,
      sha: push.pushed.sha.toLowerCase(),
      subject: push.subject ? sanitizeText(push.subject, { maxLength: 200 }) : undefined,
      tag: push.pushed.tag,
      repoPath: push.repoPath,
      repoUrl: push.repoUrl,
      remote: push.remote,
      branch: push.branch,
      context: at.context,
      server: at.server,
      timeoutMs: at.timeoutMs,
      now: at.now,
    },
    redactUrl,
  );
}
