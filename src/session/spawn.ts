// Starting a flux-monitor process that outlives its parent and the terminal: a new session (setsid), no
// stdin, stdout and stderr appended to a log file.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { defaultCliPath } from '../git/hooks.js';
import { ensurePrivateDir } from './paths.js';

export interface DetachedOptions {
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The CLI entry (default: dist/src/cli.js of this package). */
  cli?: string;
}

/** Runs `flux-monitor <args>` detached; resolves with its pid once it has been spawned. */
export function spawnDetached(args: string[], opts: DetachedOptions): Promise<number> {
  ensurePrivateDir(dirname(opts.logFile));
  const fd = openSync(opts.logFile, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [opts.cli ?? defaultCliPath(), ...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
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
