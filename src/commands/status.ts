import { resolve } from 'node:path';
import type { Command, CommandIO } from './types.js';
import { bool, parseArgs, str, UsageError } from './args.js';
import { EXIT_CODES, type Verbosity } from '../core/types.js';
import { statePaths, type StatePaths } from '../session/paths.js';
import { findSession, latestSessionFor, listSessions, liveness, pushTime, type Liveness, type SessionEntry, type StoredSession } from '../session/store.js';
import { newestPushFor, pushLabel, type PendingPush } from '../session/pending.js';
import { displayState, followNewest, followSession } from '../session/follow.js';
import { findRepoRoot } from '../git/discover.js';
import { VERBOSITIES } from '../core/types.js';
import { criticalPath, type CriticalPath } from '../core/timeline.js';

const USAGE = 'flux-monitor status [ID] [--json] [--follow] [--timeline] [--exit-code] [--repo PATH] [--verbosity minimal|normal|verbose]';

/**
 * `status --json` output: the stored session plus whether its monitor is alive, and, when it recorded a timeline,
 * its critical path so far (core/timeline.ts).
 */
export type StatusJson = StoredSession & { liveness: Liveness; criticalPath?: CriticalPath };

/** The `status --json` document of a session (also get_session's). */
export function statusJson(s: StoredSession, live: Liveness): StatusJson {
  const path = s.timeline ? criticalPath(s) : undefined;
  return { ...s, liveness: live, ...(path ? { criticalPath: path } : {}) };
}

const status: Command = {
  name: 'status',
  summary: "Show the monitoring session of this repository's newest push (live while it runs)",
  usage: USAGE,
  async run(argv, io) {
    const args = parseArgs(argv, {
      json: {},
      follow: { short: 'f' },
      timeline: { short: 't' },
      'exit-code': {},
      repo: { value: true },
      verbosity: { value: true },
    });
    if (args.positionals.length > 1) throw new UsageError('at most one session ID');
    const verbosity = str(args, 'verbosity');
    if (verbosity !== undefined && !(VERBOSITIES as readonly string[]).includes(verbosity)) {
      throw new UsageError(`--verbosity must be one of ${VERBOSITIES.join(', ')}`);
    }
    if (bool(args, 'timeline') && bool(args, 'follow')) throw new UsageError('--timeline shows the session once: leave out --follow (the live view draws it with `t`)');
    const paths = statePaths(io.env);
    const json = bool(args, 'json');
    // Right after a push, its session may not exist yet: wait for it a moment (longer when following it).
    const waitMs = bool(args, 'follow') || !json ? FOLLOW_WAIT_MS : ONE_SHOT_WAIT_MS;
    const picked = await pickSession(io, paths, args.positionals[0], str(args, 'repo'), {
      waitMs,
      onWaiting: json ? undefined : (p) => io.stderr.write(`flux-monitor: ${pushLabel(p)} was just pushed; waiting for its monitor to start…\n`),
    });
    if ('code' in picked) {
      // Scripts and the Kiro hook read stdout: JSON in every case.
      if (json) io.stdout.write(JSON.stringify(noSessionJson(picked), null, bool(args, 'follow') ? undefined : 2) + '\n');
      return picked.code;
    }
    const { id, session } = picked;
    // Given no ID, a follower moves on to the newer push's session when the one it follows is superseded.
    const follow = args.positionals[0] ? followSession : followNewest;
    const exitCode = bool(args, 'exit-code');
    const codeOf = (s: StoredSession, live: Liveness) => (exitCode ? (live === 'dead' ? EXIT_CODES.error : live === 'finished' ? EXIT_CODES[s.verdict ?? 'error'] : 0) : 0);

    if (bool(args, 'timeline')) {
      const live = liveness(session);
      const { sessionBars, waterfallLines, linesText } = await import('../ui/waterfall.js');
      const { fitLine } = await import('../ui/theme.js');
      if (json) {
        const { axis, bars, path } = sessionBars(session, Date.now());
        const out: TimelineJson = { id, liveness: live, pushedAt: session.pushedAt, axis, bars, criticalPath: path ?? null, timeline: session.timeline ?? null };
        io.stdout.write(JSON.stringify(out, null, 2) + '\n');
      } else {
        const { colorEnabled } = await import('../ui/mode.js');
        const { ansi } = await import('../ui/theme.js');
        const width = io.stdout.isTTY && io.stdout.columns ? io.stdout.columns : 100;
        const lines = waterfallLines(session, { width, now: Date.now() }).map((l) => fitLine(l, width));
        const text = linesText(lines, io.stdout.isTTY === true && colorEnabled(io.env), ansi);
        if (live !== 'finished') text.push(live === 'running' ? '(the session is still running: the waterfall so far)' : '(the monitor of this session stopped before its verdict)');
        io.stdout.write(text.join('\n') + '\n');
      }
      return codeOf(session, live);
    }

    if (json) {
      if (!bool(args, 'follow')) {
        const live = liveness(session);
        io.stdout.write(JSON.stringify(statusJson(session, live), null, 2) + '\n');
        return codeOf(session, live);
      }
      // NDJSON: one line per state written by the monitor, until it ends.
      let code = 0;
      const f = follow(paths, id, (s, live) => {
        io.stdout.write(JSON.stringify(statusJson(s, live)) + '\n');
        code = codeOf(s, live);
      }, (err) => {
        io.stderr.write(`flux-monitor status: ${err.message}\n`);
        code = 3;
      });
      await f.done;
      return code;
    }
    return showHuman(io, paths, id, session, (verbosity as Verbosity | undefined) ?? session.config?.verbosity ?? 'normal', codeOf, follow);
  },
};
export default status;

/** `status --timeline --json`: the bars and the critical path derived from the session's timeline (docs/json-events.md). */
export interface TimelineJson {
  id: string;
  liveness: Liveness;
  pushedAt?: number;
  axis: { from: number; to: number };
  bars: import('../core/timeline.js').Bar[];
  criticalPath: import('../core/timeline.js').CriticalPath | null;
  timeline: import('../core/timeline.js').Timeline | null;
}

/** `status --json` when there is no session to show (stdout always carries JSON). */
export interface NoSessionJson {
  session: null;
  /** Why: no session yet, no session of that ID, a corrupt session file, a push whose monitor is starting or not followed. */
  message: string;
  /** The push this answer is about, when a push just happened: its commit, branch or tag, and where it stands. */
  commit?: string;
  branch?: string;
  tag?: string;
  state?: PendingPush['state'];
}

/** What `status` says outside a git repository when there is no session at all. */
export const NOT_IN_REPO =
  'not inside a git repository, and no session yet: run status in the repository you pushed from, pass --repo PATH, or give a session ID (flux-monitor history --all)';

/** How long one-shot `status` waits for the session of a push that just happened before saying it is starting. */
export const ONE_SHOT_WAIT_MS = 3_000;
/** How long `status --follow` and the human view wait for it (the hook helper may ask the cluster first). */
export const FOLLOW_WAIT_MS = 30_000;

/** The picked answer when there is no session, as JSON. */
export function noSessionJson(p: { message: string; pending?: PendingPush }): NoSessionJson {
  const out: NoSessionJson = { session: null, message: p.message };
  if (p.pending) {
    out.commit = p.pending.sha;
    if (p.pending.branch) out.branch = p.pending.branch;
    if (p.pending.tag) out.tag = p.pending.tag;
    out.state = p.pending.state;
  }
  return out;
}

/**
 * The session to show: the one given by ID, else the session of the repository's newest pushed commit
 * (latestSessionFor). When there is none, why (also printed on stderr) and the exit code. Corrupt files are
 * reported on stderr. Shared by `status` and the MCP tool get_session.
 */
export async function pickSession(
  io: CommandIO,
  paths: StatePaths,
  id: string | undefined,
  repoFlag: string | undefined,
  opts: { waitMs?: number; sleep?: (ms: number) => Promise<void>; onWaiting?: (p: PendingPush) => void } = {},
): Promise<{ id: string; session: StoredSession } | { code: number; message: string; pending?: PendingPush }> {
  if (id) {
    let entry;
    try {
      entry = findSession(paths, id);
    } catch (err) {
      const message = (err as Error).message;
      io.stderr.write(`flux-monitor status: ${message}\n`);
      return { code: 3, message };
    }
    if (!entry.session) {
      io.stderr.write(`flux-monitor status: ${entry.error}\n`);
      return { code: 3, message: entry.error ?? 'unreadable session' };
    }
    return { id: entry.id, session: entry.session };
  }
  // The repository's root is all status needs of git: found from the file system (git runs only for unusual
  // layouts, git/discover.ts).
  const root = await findRepoRoot(resolve(io.cwd, repoFlag ?? '.'), io.env);
  const info = root ? { root } : undefined;
  if (repoFlag && !info) throw new UsageError(`not a git repository: ${repoFlag}`);
  const entries = listSessions(paths);
  for (const e of entries) {
    if (e.error) io.stderr.write(`flux-monitor: warning: ${e.error} (other sessions are not affected)\n`);
  }
  let entry = latestSessionFor(paths, info?.root, entries);
  if (!info && entry) io.stderr.write('flux-monitor: not inside a git repository: showing the newest session of any repository\n');
  // A push that just happened, whose session is newer than the newest one stored (or not written yet).
  const pending = info ? newestPushFor(paths, info.root) : undefined;
  if (info && pending && !covers(entry, pending)) {
    const r = await awaitPush(paths, info.root, pending, opts.waitMs ?? ONE_SHOT_WAIT_MS, opts.sleep, opts.onWaiting);
    if ('session' in r) return r;
    const label = pushLabel(r.pending);
    if (r.pending.state === 'not-followed') {
      const message = `the push of ${label} is not followed: ${r.pending.reason}`;
      io.stderr.write(`flux-monitor: ${message}\n`);
      return { code: 1, message, pending: r.pending };
    }
    const message =
      r.pending.state === 'pushing'
        ? `${label} is being pushed; its monitor starts once git push has finished`
        : `the monitor of ${label} is starting${r.pending.state === 'deciding' ? ' (checking whether Flux follows it)' : ''}; ask again in a moment, or use --follow`;
    io.stderr.write(`flux-monitor: ${message}\n`);
    return { code: 0, message, pending: r.pending };
  }
  if (!entry) {
    const message = info
      ? `no session for ${info.root} yet. Sessions start after a push to a branch Flux follows (\`flux-monitor install\` sets up the hooks), or run \`flux-monitor watch\`.`
      : NOT_IN_REPO;
    io.stderr.write(`flux-monitor: ${message}\n`);
    return { code: 1, message };
  }
  return { id: entry.id, session: entry.session! };
}

/** Whether the stored session `entry` is the pending push's (or newer). */
function covers(entry: SessionEntry | undefined, p: PendingPush): boolean {
  const s = entry?.session;
  if (!s) return false;
  if (p.sessionId) return entry!.id === p.sessionId || pushTime(s) > p.at;
  return (s.commit.sha === p.sha && pushTime(s) >= p.at - 1_000) || pushTime(s) > p.at;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits (at most `waitMs`) for the session of the push that just happened: the session push-done started, or, with
 * hooks that leave no outcome, a session of the pushed commit. Resolves with the session, or with where the push
 * stands when the wait ends or its helper decided not to follow it.
 */
async function awaitPush(
  paths: StatePaths,
  root: string,
  first: PendingPush,
  waitMs: number,
  sleep = defaultSleep,
  onWaiting?: (p: PendingPush) => void,
): Promise<{ id: string; session: StoredSession } | { pending: PendingPush }> {
  const end = Date.now() + waitMs;
  let p = first;
  for (let round = 0; ; round++) {
    if (round === 6) onWaiting?.(p); // said only when the wait is long enough to notice (~300 ms)
    if (p.state === 'not-followed') return { pending: p };
    const entries = listSessions(paths);
    const hit = p.sessionId
      ? entries.find((e) => e.id === p.sessionId && e.session)
      : entries.find((e) => e.session && e.session.repo.path === root && covers(e, p));
    if (hit) return { id: hit.id, session: hit.session! };
    if (Date.now() >= end) return { pending: p };
    await sleep(50);
    // Once push-done has consumed the intent, its outcome says what became of the push; with neither (older
    // hooks), keep waiting for a session of the commit.
    const next = newestPushFor(paths, root);
    if (next && next.at >= p.at) p = next;
    else if (!next && p.state === 'pushing') p = { ...p, state: 'deciding' };
  }
}

async function showHuman(
  io: CommandIO,
  paths: StatePaths,
  id: string,
  initial: StoredSession,
  verbosity: Verbosity,
  codeOf: (s: StoredSession, live: Liveness) => number,
  follow: typeof followSession,
): Promise<number> {
  const { colorEnabled, shouldUseInk } = await import('../ui/mode.js');
  let latest = initial;
  let latestLive = liveness(initial);
  let failed: Error | undefined;

  if (shouldUseInk(io.env, io.stdout)) {
    const { startLiveView } = await import('../ui/live.js');
    const listeners = new Set<(s: StoredSession) => void>();
    const view = startLiveView({
      initial: displayState(initial, latestLive),
      subscribe: (cb) => {
        listeners.add(cb);
        cb(displayState(latest, latestLive)); // what arrived before the view subscribed
        return () => listeners.delete(cb);
      },
      mode: 'status',
      verbosity,
      showDependencies: initial.config?.show_dependencies !== false,
      stdout: io.stdout,
      stdin: io.stdin,
      env: io.env,
      onQuit: () => follower.stop(), // detaches; the monitor keeps running
    });
    const follower = follow(paths, id, (s, live) => {
      latest = s;
      latestLive = live;
      const shown = displayState(s, live);
      for (const l of listeners) l(shown);
    }, (err) => {
      failed = err;
      view.unmount();
    });
    // The view leaves by itself shortly after it shows a finished (or dead) session, or when the user quits.
    await view.waitUntilExit();
    follower.stop();
  } else {
    const { createPlainPrinter } = await import('../ui/plain.js');
    const newPrinter = () =>
      createPlainPrinter(io.stdout, {
        verbosity,
        showDependencies: initial.config?.show_dependencies !== false,
        color: io.stdout.isTTY === true && colorEnabled(io.env),
      });
    let printer = newPrinter();
    const follower = follow(paths, id, (s, live) => {
      // Moved on to the session that superseded the one shown: it gets a header of its own.
      if (s.id !== latest.id) printer = newPrinter();
      latest = s;
      latestLive = live;
      const shown = displayState(s, live);
      if (live === 'running') printer.onState(shown);
      else printer.finish(shown);
    }, (err) => (failed = err));
    await follower.done;
  }
  if (failed) {
    io.stderr.write(`flux-monitor status: ${failed.message}\n`);
    return 3;
  }
  return codeOf(latest, latestLive);
}
