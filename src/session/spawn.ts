// Starting a flux-monitor process that outlives its parent and the terminal: a new session (setsid), no
// stdin, stdout and stderr appended to a log file.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { defaultCliPath } from '../git/hooks.js';
import { ensurePrivateDir } from './paths.js';

export interface DetachedOptions {
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The CLI entry (default: dist/src/cli.cjs of this package). */
  cli?: string;
}

/**
 * V8 flags of the detached monitor: a young generation of at most 1 MB per semi-space instead of V8's default
 * (16 MB at most), which its allocation rate does not need (~15 MB less RSS at 10,002 objects under churn, no
 * measurable CPU); garbage collection on the main thread and one V8 worker thread instead of one per core (fewer
 * thread stacks and malloc arenas; with MALLOC_ARENA_MAX below ~5 MB less RSS, same CPU). All are known to Node 20
 * (an unknown flag makes node exit). These cannot be set from inside the process once the heap exists
 * (docs/performance.md).
 */
export const DETACHED_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--single-threaded-gc', '--v8-pool-size=1'];

/**
 * Environment of the detached monitor, over the caller's: glibc's malloc keeps at most two arenas instead of one
 * per thread (8 × cores), which the monitor's few threads do not need (docs/performance.md). Ignored by other libcs.
 */
export const DETACHED_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** Runs `flux-monitor <args>` detached; resolves with its pid once it has been spawned. */
export function spawnDetached(args: string[], opts: DetachedOptions): Promise<number> {
  ensurePrivateDir(dirname(opts.logFile));
  const fd = openSync(opts.logFile, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [...DETACHED_NODE_FLAGS, opts.cli ?? defaultCliPath(), ...args], {
      cwd: opts.cwd,
      env: { ...(opts.env ?? process.env), ...DETACHED_ENV },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve(child.pid!));
    });
  } finally {
    closeSync(fd);
  }
}

/** O_CLOEXEC in the octal `flags:` of /proc/self/fdinfo/<fd> (Linux). */
const O_CLOEXEC = 0o2000000;

/**
 * Closes the file descriptors above 2 that this process inherited from the git hook and, through it, from whoever
 * ran `git push`, so that neither this process nor the monitor it starts keeps them open: `{ git push 240>&1
 * >/dev/null 2>&1; } | cat` ends when git does, not when the monitor does. Two sources:
 * - `FLUX_MONITOR_CLOSE_FDS` (removed from `env`): the descriptors above 9 the hook's shell saw open but could not
 *   close (dash names only 0–9 in a redirection). They were open when this process started, so none of this
 *   process's own descriptors can have their numbers;
 * - on Linux, any other descriptor above 2 without close-on-exec: Node and libuv open all of theirs with
 *   O_CLOEXEC, so such a descriptor was inherited, and a spawned child would inherit it in turn.
 * Call it first thing, and only in a process whose descriptors above 2 are all inherited (the hook helper).
 * Returns the descriptors closed.
 */
export function closeInheritedFds(env: NodeJS.ProcessEnv): number[] {
  const closed = new Set<number>();
  const listed = env.FLUX_MONITOR_CLOSE_FDS ?? '';
  delete env.FLUX_MONITOR_CLOSE_FDS;
  const close = (fd: number) => {
    try {
      closeSync(fd);
      closed.add(fd);
    } catch {
      /* already closed */
    }
  };
  for (const word of listed.split(/\s+/)) {
    const fd = Number(word);
    if (word && Number.isInteger(fd) && fd > 2) close(fd);
  }
  let names: string[] = [];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    /* not Linux: the hook's listing is all there is */
  }
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2 || closed.has(fd)) continue;
    try {
      const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0) close(fd);
    } catch {
      /* gone meanwhile (the directory listing's own descriptor) */
    }
  }
  return [...closed].sort((a, b) => a - b);
}
