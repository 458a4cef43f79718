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

/**
 * V8 flags of the detached monitor: a young generation of at most 1 MB per semi-space instead of V8's default
 * (16 MB at most), which its allocation rate does not need. At 10,002 objects under churn it takes ~15 MB off the
 * RSS for no measurable CPU (docs/performance.md). These cannot be set from inside the process once the heap exists.
 */
export const DETACHED_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

/** Runs `flux-monitor <args>` detached; resolves with its pid once it has been spawned. */
export function spawnDetached(args: string[], opts: DetachedOptions): Promise<number> {
  ensurePrivateDir(dirname(opts.logFile));
  const fd = openSync(opts.logFile, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [...DETACHED_NODE_FLAGS, opts.cli ?? defaultCliPath(), ...args], {
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
