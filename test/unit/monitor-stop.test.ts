// A stop that reaches the detached monitor while it is still starting. The hook helper writes the session's first
// state as soon as the monitor's process exists (src/session/push-done.ts), so `flux-monitor stop` can find it and
// signal it before the monitor has loaded its configuration or taken its lock: the monitor hears SIGTERM from its
// start and ends `stopped`; and when the process ends on the signal before it could record anything, `stop`
// records it (src/commands/stop.ts).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import stop from '../../src/commands/stop.js';
import type { CommandIO } from '../../src/commands/types.js';
import { EXIT_CODES, newSessionState } from '../../src/core/types.js';
import { runDetachedSession } from '../../src/session/monitor-process.js';
import { statePaths } from '../../src/session/paths.js';
import { processStartToken } from '../../src/session/proc.js';
import { readHistory, readSessionFile, sessionFile, writeJsonAtomic, type StoredSession } from '../../src/session/store.js';

const SHA = 'a305f2e9c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a6';

describe('a stop while the monitor is starting', () => {
  it('SIGTERM before the engine runs ends the session stopped, not with whatever the engine would have said', async () => {
    const base = mkdtempSync(join(tmpdir(), 'fm-early-stop-'));
    const repo = join(base, 'repo');
    mkdirSync(join(repo, '.kiro', 'hooks'), { recursive: true });
    writeFileSync(join(repo, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml'), 'config:\n  notify: never\n');
    // A kubeconfig that does not exist: a monitor that ran the engine would end with a configuration error.
    const env = { ...process.env, XDG_STATE_HOME: join(base, 'state'), KUBECONFIG: join(base, 'missing-kubeconfig') };
    const paths = statePaths(env);
    const logs: string[] = [];
    const before = process.listenerCount('SIGTERM');
    const running = runDetachedSession({ id: 'early-stop-1', repoPath: repo, branch: 'main', sha: SHA, pushedAt: 1, paths, env, log: (l) => logs.push(l) });
    // The signal as the process receives it, while the monitor is still reading the commit and its configuration.
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    process.emit('SIGTERM', 'SIGTERM');
    expect(await running).toBe(EXIT_CODES.stopped);
    const s = readSessionFile(sessionFile(paths, 'early-stop-1'));
    expect(s).toMatchObject({ status: 'finished', verdict: 'stopped' });
    expect(readHistory(paths).entries.map((e) => e.verdict)).toEqual(['stopped']);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('`stop` records a monitor that ended on its signal without recording anything as stopped', async () => {
    const base = mkdtempSync(join(tmpdir(), 'fm-stop-starting-'));
    const env = { ...process.env, XDG_STATE_HOME: join(base, 'state') };
    const paths = statePaths(env);
    // A monitor process that has not yet installed its handler: SIGTERM's default action ends it.
    const monitor = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    await new Promise((r) => monitor.once('spawn', r));
    const id = 'starting-1';
    // The first state, as push-done writes it.
    const first: StoredSession = {
      ...newSessionState({ id, sha: SHA, repoPath: base, branch: 'main', timeoutMs: 0, now: Date.now() }, (u) => u),
      pid: monitor.pid,
      pidStart: processStartToken(monitor.pid!),
      pushedAt: Date.now(),
    };
    writeJsonAtomic(sessionFile(paths, id), first);
    const out = new PassThrough();
    let printed = '';
    out.on('data', (c) => (printed += String(c)));
    const io = { cwd: base, env, stdout: out, stderr: new PassThrough(), stdin: new PassThrough() } as unknown as CommandIO;
    try {
      expect(await stop.run([id], io)).toBe(0);
    } finally {
      monitor.kill('SIGKILL');
    }
    expect(printed).toBe(`session ${id} stopped\n`);
    expect(readSessionFile(sessionFile(paths, id))).toMatchObject({ status: 'finished', verdict: 'stopped', verdictMessage: expect.stringMatching(/ended after the stop signal without recording its end/) });
    expect(readHistory(paths).entries.map((e) => e.verdict)).toEqual(['stopped']);
  });
});
