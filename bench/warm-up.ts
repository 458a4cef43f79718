// The build's warm-up of the code caches (bench/bundle.mjs, src/cjs-cache.ts writeCodeCache): before V8's cache
// of a command's CommonJS bundle is made, the command runs once its usual way, so that the functions a start calls
// are in the cache instead of compiled at every start. V8 compiles a function only when it is first called; a
// cache made right after loading holds little more than the modules' top-level code (docs/performance.md (i)).
//
// Only where it pays: `watch --json` in CI (issue 29's ×2 target), against the embedded simulator on loopback with
// a fleet that has already applied the commit, so that the run is the whole path (kubeconfig, discovery, LISTs,
// statuses, events, verdict) and ends at once with `success`. Nothing outside a temporary directory is read or
// written, and nothing but the simulator this process started is contacted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Exercise } from '../src/cjs-cache.js';
import type { Command, CommandIO } from '../src/commands/types.js';
import { REPO_URL, SHA_APPLIED, startFleet, stopFleet } from './lib.js';

/** What a command wrote, line by line. */
class Lines extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** Runs `cmd` with `args` in a temporary home; resolves with its exit code and output. */
async function runCommand(cmd: Command, args: string[], dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Lines();
  const stderr = new Lines();
  const io = {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    stdin: process.stdin,
    // Only what a run needs: none of the environment's kubeconfig, OpenTelemetry endpoint or flux-monitor settings.
    env: { PATH: process.env.PATH, HOME: dir, XDG_STATE_HOME: join(dir, 'state'), XDG_CONFIG_HOME: join(dir, 'config') },
    cwd: dir,
  } satisfies CommandIO;
  const code = await cmd.run(args, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** `watch --json` of a commit a 12-object fleet on the embedded simulator has applied: ends with `success`. */
export const warmUpWatch: Exercise = async (exports) => {
  const cmd = (exports as { default: Command }).default;
  const dir = mkdtempSync(join(tmpdir(), 'fm-warm-up-'));
  try {
    // bench (b)'s and (i)'s fleet: 12 objects that have applied SHA_APPLIED.
    const kubeconfig = join(dir, 'kubeconfig');
    const fleet = await startFleet(10, kubeconfig);
    try {
      const args = ['--json', '--revision', SHA_APPLIED, '--repo-url', REPO_URL, '--branch', 'main', '--kubeconfig', kubeconfig, '--timeout', '1m'];
      const r = await runCommand(cmd, args, dir);
      const verdict = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type?: string; verdict?: string }).find((e) => e.type === 'summary');
      if (r.code !== 0 || verdict?.verdict !== 'success') throw new Error(`watch --json ended ${r.code} (${verdict?.verdict ?? 'no summary'}): ${r.stderr.slice(0, 500)}`);
    } finally {
      await stopFleet(fleet);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

/** The warm-up of each code-cached command that has one (src/code-cached.ts CODE_CACHED). */
export const WARM_UPS: Record<string, Exercise> = {
  watch: warmUpWatch,
};
