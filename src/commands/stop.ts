import type { Command } from './types.js';
import { bool, parseArgs, str, UsageError } from './args.js';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { statePaths } from '../session/paths.js';
import { sameProcess } from '../session/proc.js';
import { appendHistory, findSession, historyEntry, latestSessionFor, listSessions, liveness, readSessionFile, writeJsonAtomic, type SessionEntry, type StoredSession } from '../session/store.js';
import { findRepoRoot } from '../git/discover.js';
import { firstLine } from '../core/sanitize.js';

const STOP_WAIT_MS = 10_000;

const stop: Command = {
  name: 'stop',
  summary: 'Stop the running monitoring session of this repository (or the one given by ID)',
  usage: 'flux-monitor stop [ID] [--all] [--repo PATH]',
  async run(argv, io) {
    const args = parseArgs(argv, { all: {}, repo: { value: true } });
    if (args.positionals.length > 1) throw new UsageError('at most one session ID');
    const paths = statePaths(io.env);
    let targets: SessionEntry[];
    if (bool(args, 'all')) {
      if (args.positionals.length) throw new UsageError('give an ID or --all, not both');
      targets = listSessions(paths).filter((e) => e.session && liveness(e.session) !== 'finished');
    } else if (args.positionals[0]) {
      targets = [findSession(paths, args.positionals[0])];
    } else {
      const root = await findRepoRoot(resolve(io.cwd, str(args, 'repo') ?? '.'), io.env);
      const e = latestSessionFor(paths, root);
      targets = e ? [e] : [];
    }
    if (!targets.length) {
      io.stdout.write('flux-monitor: no running session.\n');
      return 0;
    }
    let code = 0;
    for (const e of targets) {
      if (!e.session) {
        io.stderr.write(`flux-monitor stop: ${e.error}\n`);
        code = 3;
        continue;
      }
      code = Math.max(code, await stopOne(e, (l) => io.stdout.write(l + '\n'), paths));
    }
    return code;
  },
};
export default stop;

async function stopOne(e: SessionEntry, out: (line: string) => void, paths: ReturnType<typeof statePaths>): Promise<number> {
  const s = e.session!;
  const live = liveness(s);
  if (live === 'finished') {
    out(`session ${s.id} already finished: ${s.verdict}`);
    return 0;
  }
  if (live === 'dead') {
    // Nobody will ever finish it: record it as stopped so that status and history are final.
    const final: StoredSession = {
      ...s,
      status: 'finished',
      verdict: 'stopped',
      endedAt: s.updatedAt,
      verdictMessage: `the monitor process (pid ${s.pid}) had died; marked stopped`,
    };
    writeJsonAtomic(e.file, final);
    appendHistory(paths, historyEntry(final));
    out(`session ${s.id}: its monitor process had died; marked stopped`);
    return 0;
  }
  try {
    process.kill(s.pid!, 'SIGTERM');
  } catch (err) {
    out(`session ${s.id}: cannot signal pid ${s.pid}: ${(err as Error).message}`);
    return 3;
  }
  const deadline = Date.now() + STOP_WAIT_MS;
  while (Date.now() < deadline) {
    await sleep(100);
    let cur: StoredSession;
    try {
      cur = readSessionFile(e.file);
    } catch {
      continue;
    }
    if (cur.status === 'finished') {
      // It may have reached a verdict of its own before the signal arrived: then say which.
      out(cur.verdict === 'stopped' ? `session ${s.id} stopped` : `session ${s.id} had already ended: ${cur.verdict}${cur.verdictMessage ? ` (${firstLine(cur.verdictMessage, { maxLength: 300 })})` : ''}`);
      return 0;
    }
    if (!sameProcess(s.pid, s.pidStart)) {
      // Gone on the signal without recording its end: a monitor still starting (the hook helper writes the first
      // state as soon as the process exists, before Node has loaded the handler), or one that crashed meanwhile.
      // Nobody will finish it: recorded as stopped, as a dead one is, saying so.
      try {
        cur = readSessionFile(e.file);
      } catch {
        /* recorded below from what was read before */
      }
      if (cur.status === 'finished') continue; // it did record its end, just before it exited
      const final: StoredSession = {
        ...cur,
        status: 'finished',
        verdict: 'stopped',
        endedAt: Date.now(),
        verdictMessage: `the monitor process (pid ${s.pid}) ended after the stop signal without recording its end; marked stopped`,
      };
      writeJsonAtomic(e.file, final);
      appendHistory(paths, historyEntry(final));
      out(`session ${s.id} stopped`);
      return 0;
    }
  }
  out(`session ${s.id}: the monitor (pid ${s.pid}) did not stop within ${STOP_WAIT_MS / 1000}s`);
  return 3;
}
