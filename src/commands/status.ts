import type { Command, CommandIO } from './types.js';
import { bool, parseArgs, str, UsageError } from './args.js';
import { EXIT_CODES, type Verbosity } from '../core/types.js';
import { statePaths, type StatePaths } from '../session/paths.js';
import { findSession, latestSessionFor, listSessions, liveness, type Liveness, type StoredSession } from '../session/store.js';
import { displayState, followNewest, followSession } from '../session/follow.js';
import { gitInfo } from '../git/repo.js';
import { VERBOSITIES } from '../config/load.js';

const USAGE = 'flux-monitor status [ID] [--json] [--follow] [--exit-code] [--repo PATH] [--verbosity minimal|normal|verbose]';

/** `status --json` output: the stored session plus whether its monitor is alive. */
export type StatusJson = StoredSession & { liveness: Liveness };

const status: Command = {
  name: 'status',
  summary: "Show the monitoring session of this repository's newest push (live while it runs)",
  usage: USAGE,
  async run(argv, io) {
    const args = parseArgs(argv, {
      json: {},
      follow: { short: 'f' },
      'exit-code': {},
      repo: { value: true },
      verbosity: { value: true },
    });
    if (args.positionals.length > 1) throw new UsageError('at most one session ID');
    const verbosity = str(args, 'verbosity');
    if (verbosity !== undefined && !(VERBOSITIES as readonly string[]).includes(verbosity)) {
      throw new UsageError(`--verbosity must be one of ${VERBOSITIES.join(', ')}`);
    }
    const paths = statePaths(io.env);
    const json = bool(args, 'json');
    const picked = await pickSession(io, paths, args.positionals[0], str(args, 'repo'));
    if ('code' in picked) {
      // Scripts and the Kiro hook read stdout: JSON in every case.
      if (json) io.stdout.write(JSON.stringify({ session: null, message: picked.message } satisfies NoSessionJson, null, bool(args, 'follow') ? undefined : 2) + '\n');
      return picked.code;
    }
    const { id, session } = picked;
    // Given no ID, a follower moves on to the newer push's session when the one it follows is superseded.
    const follow = args.positionals[0] ? followSession : followNewest;
    const exitCode = bool(args, 'exit-code');
    const codeOf = (s: StoredSession, live: Liveness) => (exitCode ? (live === 'dead' ? EXIT_CODES.error : live === 'finished' ? EXIT_CODES[s.verdict ?? 'error'] : 0) : 0);

    if (json) {
      if (!bool(args, 'follow')) {
        const live = liveness(session);
        io.stdout.write(JSON.stringify({ ...session, liveness: live } satisfies StatusJson, null, 2) + '\n');
        return codeOf(session, live);
      }
      // NDJSON: one line per state written by the monitor, until it ends.
      let code = 0;
      const f = follow(paths, id, (s, live) => {
        io.stdout.write(JSON.stringify({ ...s, liveness: live } satisfies StatusJson) + '\n');
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

/** `status --json` when there is no session to show (stdout always carries JSON). */
export interface NoSessionJson {
  session: null;
  /** Why: no session yet, no session of that ID, a corrupt session file. */
  message: string;
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
): Promise<{ id: string; session: StoredSession } | { code: number; message: string }> {
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
  const info = await gitInfo(repoFlag ?? io.cwd);
  if (repoFlag && !info) throw new UsageError(`not a git repository: ${repoFlag}`);
  const entries = listSessions(paths);
  for (const e of entries) {
    if (e.error) io.stderr.write(`flux-monitor: warning: ${e.error} (other sessions are not affected)\n`);
  }
  const entry = latestSessionFor(paths, info?.root, entries);
  if (!entry) {
    const message = info
      ? `no session for ${info.root} yet. Sessions start after a push to a branch Flux follows (\`flux-monitor install\` sets up the hooks), or run \`flux-monitor watch\`.`
      : 'no session yet.';
    io.stderr.write(`flux-monitor: ${message}\n`);
    return { code: 1, message };
  }
  return { id: entry.id, session: entry.session! };
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
