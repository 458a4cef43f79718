// Process identity: a pid alone can be reused, so a process is identified by its pid and its start time.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

/** Whether a process with this pid exists (EPERM means it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An opaque token for the start time of a process: field 22 of /proc/<pid>/stat (clock ticks since boot) on
 * Linux, `ps -o lstart=` elsewhere. Undefined when the process does not exist or the platform tells nothing.
 */
export function processStartToken(pid: number): string | undefined {
  if (!pidAlive(pid)) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 overall
  } catch {
    /* no procfs */
  }
  try {
    // node:child_process is loaded only here (no procfs): the commands that check a pid start without it.
    const { execFileSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is still the very process that was recorded with `startToken` (when known). */
export function sameProcess(pid: number | undefined, startToken: string | undefined): boolean {
  if (!pid || !pidAlive(pid)) return false;
  if (!startToken) return true; // recorded on a platform that tells nothing: the pid is all we have
  return processStartToken(pid) === startToken;
}
