// The live view's keys under a real pseudo-terminal: the built CLI runs inside `script`, the test types keys into
// it and waits for the process to end (issue 14: `q` froze `demo` and `watch`, only Ctrl-C ended them).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/core/types.js';
import { ApiSimulator } from '../../src/sim/server.js';
import { git as gitStatus } from '../../src/sim/flux-status.js';
import { CLI, eventually, requireBuild } from '../helpers/e2e.js';
import { VirtualTerminal } from '../ui/vt.js';

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

/**
 * The terminal's screen after everything written so far (the pseudo-terminal is 120x40): Ink rewrites only the
 * lines that change, so the last frame is what a terminal shows, not the text after the last erase.
 */
function lastFrame(raw: string): string {
  const vt = new VirtualTerminal(120, 40);
  vt.write(raw);
  return vt.text();
}

interface PtyRun {
  out(): string;
  type(keys: string): void;
  /** Exit code of the CLI, or a rejection if it has not exited after `ceilingMs` (then it is killed). */
  exited(ceilingMs: number): Promise<number | null>;
}

/** Runs the built CLI on a 120x40 pseudo-terminal (util-linux `script`), as a user's terminal would. */
function underPty(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): PtyRun {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = `stty cols 120 rows 40; exec ${[process.execPath, CLI, ...args].map(quote).join(' ')}`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color', NO_COLOR: '1', ...env };
  // Outside CI, as a user's terminal: the live view (and Ink) decide on these.
  delete childEnv.CI;
  delete childEnv.CONTINUOUS_INTEGRATION;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return {
    out: () => out,
    type: (keys) => child.stdin.write(keys),
    exited: async (ceilingMs) => {
      let timer: NodeJS.Timeout | undefined;
      const ceiling = new Promise<never>((_, rej) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          rej(new Error(`still running ${ceilingMs / 1000}s after the keys; last frame:\n${lastFrame(out)}`));
        }, ceilingMs);
      });
      try {
        return await Promise.race([exit, ceiling]);
      } finally {
        clearTimeout(timer);
        child.stdin.end();
      }
    },
  };
}

beforeAll(() => requireBuild());

describe.skipIf(!hasScript)('keys in the live view, on a real terminal', () => {
  it('demo: v then q ends the program, and its last frame has no key hints', async () => {
    const pty = underPty(['demo', '--speed', '0.5'], tmpdir());
    await eventually(() => pty.out().includes('v more detail'), 30_000, 'the live view with its keys');
    pty.type('v');
    await eventually(() => pty.out().includes('v less detail'), 10_000, 'v to take effect');
    pty.type('q');
    const code = await pty.exited(30_000);
    expect(code).toBe(5); // the user stopped the monitor: verdict `stopped`
    const frame = lastFrame(pty.out());
    expect(frame).toContain('flux-monitor');
    expect(frame).not.toContain('q quit');
  }, 120_000);

  it('demo: t shows the push\'s waterfall and t again the tree; the demo ends with the hint for status --timeline', async () => {
    const state = mkdtempSync(join(tmpdir(), 'fm-keys-state-'));
    const pty = underPty(['demo', '--speed', '0.5'], tmpdir(), { XDG_STATE_HOME: state });
    await eventually(() => pty.out().includes('t timeline'), 30_000, 'the live view with its keys');
    pty.type('t');
    await eventually(() => lastFrame(pty.out()).includes('Timeline of '), 10_000, 't to show the waterfall');
    expect(lastFrame(pty.out())).toContain('t tree');
    pty.type('t');
    await eventually(() => !lastFrame(pty.out()).includes('Timeline of ') && lastFrame(pty.out()).includes('GitRepository flux-system/flux-system'), 10_000, 't again to show the tree');
    pty.type('q');
    expect(await pty.exited(30_000)).toBe(5);
    const hint = /flux-monitor status --timeline (\S+)/.exec(pty.out());
    expect(hint, 'the hint for status --timeline').not.toBeNull();
    // The hint works: that session was kept, and status --timeline draws it.
    const r = spawnSync(process.execPath, [CLI, 'status', hint![1]!, '--timeline'], { env: { ...process.env, XDG_STATE_HOME: state, NO_COLOR: '1' }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Timeline of [0-9a-f]{7} /);
  }, 120_000);

  describe('watch', () => {
    let sim: ApiSimulator;
    let kubeconfig: string;
    beforeAll(async () => {
      sim = new ApiSimulator();
      await sim.start();
      kubeconfig = join(mkdtempSync(join(tmpdir(), 'fm-keys-')), 'kubeconfig');
      await sim.writeKubeconfig(kubeconfig);
      // A GitRepository of the watched URL, still at an older commit: the monitor waits for Flux.
      const repo = sim.apply({
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'fleet', namespace: 'flux-system' },
        spec: { url: 'https://example.com/acme/fleet.git', ref: { branch: 'main' }, interval: '1m' },
      } as KubeObject);
      sim.setStatus({ kind: 'GitRepository', namespace: 'flux-system', name: 'fleet' }, gitStatus.ready(repo, `main@sha1:${'1'.repeat(40)}`));
    });
    afterAll(async () => {
      await sim?.stop();
    });

    it('q ends a foreground watch with verdict stopped', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'fm-keys-nogit-'));
      const pty = underPty(['watch', '--revision', '2'.repeat(40), '--repo-url', 'https://example.com/acme/fleet.git', '--branch', 'main', '--timeout', '5m'], dir, {
        KUBECONFIG: kubeconfig,
        XDG_STATE_HOME: join(dir, 'state'),
      });
      await eventually(() => pty.out().includes('GitRepository flux-system/fleet') && pty.out().includes('q quit'), 30_000, 'the live view of the watch');
      pty.type('q');
      const code = await pty.exited(30_000);
      expect(code).toBe(5);
      expect(lastFrame(pty.out())).not.toContain('q quit');
    }, 120_000);
  });
});
