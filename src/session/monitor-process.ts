// The detached monitor (`flux-monitor run-session`): owns the repository+branch lock, runs the engine, persists
// the session as it changes (throttled, atomic), and records the final state in the history.
import { normalizeGitUrl } from '../core/giturl.js';
import type { MonitorConfig, SessionState, Verdict } from '../core/types.js';
import { EXIT_CODES } from '../core/types.js';
import { pushSessionState, type SessionPush } from '../core/session.js';
import { ConfigError, DEFAULT_RETENTION, loadConfig, type RetentionConfig } from '../config/load.js';
import { commitInfo } from '../git/repo.js';
import { relateCommit } from '../git/relate.js';
import { acquireMonitorLock, holderAlive, lockKey, releaseMonitorLock, SUPERSEDE_SIGNAL, type LockHolder } from './lock.js';
import type { StatePaths } from './paths.js';
import { notifySessionEnd } from './notify.js';
import { exportSession } from './otel.js';
import { processStartToken } from './proc.js';
import { appendHistory, historyEntry, pruneStore, SessionWriter, sessionFile, sessionLogFile, type StoredSession } from './store.js';

export interface DetachedSessionOptions {
  id: string;
  repoPath: string;
  /** The pushed branch; for a tag push, `tag` instead. */
  branch?: string;
  /** The pushed tag (the monitor then follows the GitRepositories that follow it). */
  tag?: string;
  sha: string;
  remote?: string;
  /** Remote URL as git had it (may hold credentials: it is redacted before it is stored). */
  url?: string;
  /** When the push happened (ms since epoch). */
  pushedAt: number;
  paths: StatePaths;
  env: NodeJS.ProcessEnv;
  kubeconfig?: string;
  /** Contexts to follow (default: config.contexts of the repository, else the current context). */
  contexts?: string[];
  /** Minimum time between two writes of the session file. */
  writeIntervalMs?: number;
  log?: (line: string) => void;
}

/**
 * Runs the session to its end and returns the exit code of its verdict. Once the verdict is recorded and the lock
 * released, sends a desktop notification where there is a desktop (`config.notify`, src/session/notify.ts) and,
 * when the environment names an OTLP endpoint, exports the session as one trace (src/session/otel.ts); each takes
 * at most a few seconds and never fails the session.
 */
export async function runDetachedSession(o: DetachedSessionOptions): Promise<number> {
  const log = o.log ?? ((l: string) => process.stdout.write(`${new Date().toISOString()} ${l}\n`));
  const ended: { state?: StoredSession } = {};
  const code = await monitorSession(o, log, ended);
  if (ended.state) {
    const final = ended.state;
    // After the verdict is recorded and the lock released, side by side: the desktop notification and the
    // OpenTelemetry export (docs/config.md#opentelemetry), each bounded (about 2 s and 3 s).
    await Promise.all([
      notifySessionEnd(final, { mode: final.config?.notify, env: o.env }).then((n) =>
        log(n.sent ? `desktop notification sent (${n.via})` : `no desktop notification: ${n.reason}`),
      ),
      exportSession(final, { env: o.env, config: final.config }).then(
        (r) => {
          if (!r) return;
          if (r.exported) log(`OpenTelemetry: trace ${r.traceId} exported (${r.spans} spans, ${r.ms} ms)`);
          else if (r.warning) {
            // One warning, in the log and among the session's warnings; the verdict and the exit code stay.
            log(r.warning);
            new SessionWriter(sessionFile(o.paths, o.id), { onError: (e) => log(`cannot write the session file: ${(e as Error).message}`) }).final({
              ...final,
              warnings: [...final.warnings, r.warning],
            });
          }
        },
        (err: unknown) => log(`OpenTelemetry export: ${(err as Error).message}`),
      ),
    ]);
  }
  return code;
}

/**
 * SIGTERM and SIGINT (`flux-monitor stop`) are heard from the start, not only once the engine runs: the hook helper
 * writes the session's first state as soon as this process exists (push-done.ts), so a stop may come while it is
 * still starting; it then ends `stopped` before following anything.
 */
async function monitorSession(o: DetachedSessionOptions, log: (line: string) => void, ended: { state?: StoredSession }): Promise<number> {
  const ac = new AbortController();
  const onStop = () => ac.abort('stopped');
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => {}); // no terminal to lose: a stray SIGHUP must not kill the session
  try {
    return await runSession(o, log, ended, ac);
  } finally {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
  }
}

async function runSession(o: DetachedSessionOptions, log: (line: string) => void, ended: { state?: StoredSession }, ac: AbortController): Promise<number> {
  const file = sessionFile(o.paths, o.id);
  const writer = new SessionWriter(file, { minIntervalMs: o.writeIntervalMs ?? 250, onError: (e) => log(`cannot write ${file}: ${(e as Error).message}`) });
  const pidStart = processStartToken(process.pid);
  const extra = { pid: process.pid, pidStart, pushedAt: o.pushedAt, logPath: sessionLogFile(o.paths, o.id) };

  let config: MonitorConfig | undefined;
  let subject: string | undefined;
  try {
    subject = (await commitInfo(o.repoPath, o.sha)).subject;
  } catch {
    /* the commit may not be local (another work tree): the subject is cosmetic */
  }
  const base = initialState(o, subject);

  const finish = async (s: SessionState): Promise<number> => {
    const final: StoredSession = { ...s, ...extra, config, status: 'finished', endedAt: s.endedAt ?? Date.now() };
    writer.final(final);
    try {
      appendHistory(o.paths, historyEntry(final));
    } catch (err) {
      log(`cannot append to history: ${(err as Error).message}`);
    }
    log(`session ${o.id} finished: ${final.verdict} ${final.verdictMessage ?? ''}`);
    ended.state = final;
    return EXIT_CODES[final.verdict ?? 'error'];
  };
  const end = (verdict: Verdict, message: string, error?: SessionState['error']) =>
    finish({ ...base, updatedAt: Date.now(), endedAt: Date.now(), verdict, verdictMessage: message, error });

  let retention: RetentionConfig = DEFAULT_RETENTION;
  try {
    const loaded = loadConfig(o.repoPath);
    config = loaded.config;
    retention = loaded.retention ?? DEFAULT_RETENTION;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log(err.message);
    return end('error', err.message.split('\n')[0]!, { category: 'config', message: err.message, hint: err.hint });
  }
  base.timeoutMs = config.timeout * 1000;
  writer.update({ ...base, ...extra, config });
  // Retention (docs/sessions.md#retention): old sessions and logs go, history.jsonl rotates; never a live session.
  try {
    const pruned = await pruneStore(o.paths, retention, { keep: [o.id] });
    if (pruned.removed.length || pruned.rotated) log(`retention: removed ${pruned.removed.length} old session(s)${pruned.rotated ? ', rotated history.jsonl' : ''}`);
  } catch (err) {
    log(`retention: ${(err as Error).message}`);
  }

  // One live monitor per repository + branch (or tag); the newer push wins.
  const pushedRef = o.tag ? `refs/tags/${o.tag}` : (o.branch ?? '');
  const key = lockKey(o.url ? normalizeGitUrl(o.url) : o.repoPath, pushedRef);
  const me: LockHolder = { pid: process.pid, pidStart, sessionId: o.id, pushedAt: o.pushedAt, acquiredAt: Date.now() };
  const lock = await acquireMonitorLock(o.paths, key, me);
  if (!lock.acquired) {
    log(`a newer push of ${o.tag ? `tag ${o.tag}` : o.branch} is monitored by session ${lock.holder.sessionId} (pid ${lock.holder.pid})`);
    return end('superseded', `superseded by a newer push (session ${lock.holder.sessionId})`);
  }
  if (lock.previous && holderAlive(lock.previous)) {
    log(`superseding session ${lock.previous.sessionId} (pid ${lock.previous.pid})`);
    try {
      process.kill(lock.previous.pid, SUPERSEDE_SIGNAL);
    } catch (err) {
      log(`cannot signal pid ${lock.previous.pid}: ${(err as Error).message}`);
    }
  }

  const onSupersede = () => ac.abort('superseded');
  process.on(SUPERSEDE_SIGNAL, onSupersede);

  try {
    if (ac.signal.aborted) {
      log(`session ${o.id} stopped before it started following`);
      return await end('stopped', 'stopped before the monitor started following the commit');
    }
    const { runMonitor } = await import('../engine/run.js');
    const final = await runMonitor({
      pushed: { sha: o.sha, branch: o.branch, tag: o.tag },
      repoUrl: o.url,
      branch: o.branch,
      remote: o.remote,
      repoPath: o.repoPath,
      subject,
      config,
      kubeconfig: o.kubeconfig,
      contexts: o.contexts,
      sessionId: o.id,
      env: o.env,
      signal: ac.signal,
      relateCommit: (sha) => relateCommit(o.repoPath, o.sha, sha, { remote: o.remote ?? o.url, branch: o.branch, env: o.env }),
      onState: (s) => writer.update({ ...s, ...extra, config }),
    });
    return await finish(final);
  } catch (err) {
    log(`monitor failed: ${(err as Error).stack ?? String(err)}`);
    return end('error', `internal error: ${(err as Error).message}`, { category: 'internal', message: (err as Error).message, hint: `See ${extra.logPath}.` });
  } finally {
    process.off(SUPERSEDE_SIGNAL, onSupersede);
    try {
      await releaseMonitorLock(o.paths, key, me);
    } catch (err) {
      log(`cannot release lock: ${(err as Error).message}`);
    }
  }
}

/** Who pushed what where, as the session's first record and the engine both take it. */
function pushOf(o: DetachedSessionOptions, subject: string | undefined): SessionPush {
  return { id: o.id, pushed: { sha: o.sha, tag: o.tag }, branch: o.branch, repoUrl: o.url, remote: o.remote, repoPath: o.repoPath, subject };
}

function initialState(o: DetachedSessionOptions, subject: string | undefined): SessionState {
  return pushSessionState(pushOf(o, subject), { context: o.contexts?.join(', '), timeoutMs: 0, now: Date.now() });
}
