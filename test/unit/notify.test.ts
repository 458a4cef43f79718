// Desktop notification at the end of a detached monitor (issue 12 item 3): which command and argv would run in
// each environment (through a recording runner: no desktop needed), what the notification says, the config key,
// and the real spawn path with a fake `notify-send` first on PATH.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { DEFAULT_CONFIG, type NodeState, type SessionState } from '../../src/core/types.js';
import { runDetachedSession } from '../../src/session/monitor-process.js';
import { finishedSession } from '../helpers/session.js';
import {
  gvariantString,
  notificationFor,
  notifySessionEnd,
  spawnRunner,
  type NotifyMode,
  type RunResult,
} from '../../src/session/notify.js';
import { statePaths } from '../../src/session/paths.js';

const SHA = 'a305f2e9c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a6';

function node(kind: NodeState['kind'], namespace: string, name: string, over: Partial<NodeState> = {}): NodeState {
  return {
    key: `${kind}/${namespace}/${name}`,
    kind,
    namespace,
    name,
    apiVersion: 'v1',
    phase: 'Ready',
    reason: 'ReconciliationSucceeded',
    message: 'Applied revision: main@sha1:' + SHA,
    affected: true,
    settled: true,
    phaseSince: 0,
    firstSeen: 0,
    ...over,
  };
}

/** A finished session of Bump podinfo (a305f2e), success unless `over` says otherwise, with `nodes`. */
function session(over: Partial<SessionState> = {}, nodes: NodeState[] = []): SessionState {
  return finishedSession('s1', {
    repo: { path: '/repo', url: 'github.com/acme/fleet', remote: 'origin', branch: 'main' },
    commit: { sha: SHA, subject: 'Bump podinfo' },
    startedAt: 0,
    updatedAt: 0,
    endedAt: 0,
    verdictMessage: 'commit a305f2e is applied: 3 ready',
    nodes: Object.fromEntries(nodes.map((n) => [n.key, n])),
    ...over,
  });
}

const failedSession = () =>
  session({ verdict: 'failed', verdictMessage: 'commit a305f2e failed: 1 failed, 2 ready (HelmRelease apps/redis: RetriesExceeded)' }, [
    node('GitRepository', 'flux-system', 'flux-system'),
    node('HelmRelease', 'apps', 'redis', {
      phase: 'Stalled',
      reason: 'RetriesExceeded',
      message: 'Failed to upgrade after 1 attempt(s): Helm upgrade failed for release apps/redis\nlast error: timed out',
    }),
  ]);

/** A runner that records each call and answers from `results` (default `ok`). */
function recorder(results: Record<string, RunResult | 'throw'> = {}) {
  const calls: Array<{ cmd: string; args: string[] }> = [];
  const run = async (cmd: string, args: readonly string[]): Promise<RunResult> => {
    calls.push({ cmd, args: [...args] });
    const r = results[cmd] ?? 'ok';
    if (r === 'throw') throw new Error('boom');
    return r;
  };
  return { calls, run };
}

const DESKTOP = { DISPLAY: ':0', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus', HOME: '/home/dev' };

const NOTIFY_SEND_FAILED = [
  '--app-name=flux-monitor',
  '--urgency=critical',
  '--',
  'flux-monitor: Failed a305f2e',
  'commit a305f2e failed: 1 failed, 2 ready (HelmRelease apps/redis: RetriesExceeded)\n' +
    'HelmRelease apps/redis: RetriesExceeded — Failed to upgrade after 1 attempt(s): Helm upgrade failed for release apps/redis',
];

async function commandsFor(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, mode?: NotifyMode, results?: Record<string, RunResult | 'throw'>) {
  const r = recorder(results);
  const outcome = await notifySessionEnd(failedSession(), { env, platform, mode, run: r.run });
  return { calls: r.calls, outcome };
}

describe('when a detached monitor notifies, and with which command', () => {
  it('Linux desktop (X11): notify-send with the verdict, the first failure and critical urgency', async () => {
    const { calls, outcome } = await commandsFor(DESKTOP, 'linux');
    expect(calls).toEqual([{ cmd: 'notify-send', args: NOTIFY_SEND_FAILED }]);
    expect(outcome).toEqual({ sent: true, via: 'notify-send' });
  });

  it('Linux desktop (Wayland only): notify-send too', async () => {
    const { calls } = await commandsFor({ WAYLAND_DISPLAY: 'wayland-0', XDG_RUNTIME_DIR: '/run/user/1000' }, 'linux');
    expect(calls.map((c) => c.cmd)).toEqual(['notify-send']);
  });

  it('Linux in CI: nothing, even with a display; CI=false does not count as CI', async () => {
    for (const ci of ['true', '1', 'yes', 'woodpecker']) {
      const { calls, outcome } = await commandsFor({ ...DESKTOP, CI: ci }, 'linux');
      expect(calls).toEqual([]);
      expect(outcome).toEqual({ sent: false, reason: 'CI is set' });
    }
    for (const ci of ['', 'false', '0', 'no']) {
      const { calls } = await commandsFor({ ...DESKTOP, CI: ci }, 'linux');
      expect(calls.map((c) => c.cmd)).toEqual(['notify-send']);
    }
  });

  it('over SSH without a display: nothing; with X forwarding: notify-send', async () => {
    const ssh = { SSH_CONNECTION: '10.0.0.2 50022 10.0.0.1 22', SSH_TTY: '/dev/pts/3', HOME: '/home/dev' };
    const off = await commandsFor(ssh, 'linux');
    expect(off.calls).toEqual([]);
    expect(off.outcome).toEqual({ sent: false, reason: 'over SSH without a display' });
    const forwarded = await commandsFor({ ...ssh, DISPLAY: 'localhost:10.0' }, 'linux');
    expect(forwarded.calls).toEqual([{ cmd: 'notify-send', args: NOTIFY_SEND_FAILED }]);
  });

  it('Linux without any display (a text console): nothing', async () => {
    const { calls, outcome } = await commandsFor({ HOME: '/home/dev', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus' }, 'linux');
    expect(calls).toEqual([]);
    expect(outcome.reason).toMatch(/no display/);
  });

  it('macOS: osascript, the text as arguments of the run handler (nothing to escape); off in CI and over SSH', async () => {
    const { calls, outcome } = await commandsFor({ HOME: '/Users/dev' }, 'darwin');
    expect(calls).toEqual([
      {
        cmd: 'osascript',
        args: [
          '-e',
          'on run argv',
          '-e',
          'display notification (item 2 of argv) with title (item 1 of argv)',
          '-e',
          'end run',
          NOTIFY_SEND_FAILED[3],
          NOTIFY_SEND_FAILED[4],
        ],
      },
    ]);
    expect(outcome).toEqual({ sent: true, via: 'osascript' });
    expect((await commandsFor({ HOME: '/Users/dev', CI: 'true' }, 'darwin')).calls).toEqual([]);
    expect((await commandsFor({ HOME: '/Users/dev', SSH_CONNECTION: '10.0.0.2 50022 10.0.0.1 22' }, 'darwin')).calls).toEqual([]);
  });

  it('notify: never sends nothing on a desktop; notify: always sends in CI and over SSH without a display', async () => {
    const never = await commandsFor(DESKTOP, 'linux', 'never');
    expect(never.calls).toEqual([]);
    expect(never.outcome).toEqual({ sent: false, reason: 'notify: never' });
    expect((await commandsFor({ ...DESKTOP, CI: 'true' }, 'linux', 'always')).calls.map((c) => c.cmd)).toEqual(['notify-send']);
    expect((await commandsFor({ SSH_CONNECTION: '10.0.0.2 50022 10.0.0.1 22' }, 'linux', 'always')).calls.map((c) => c.cmd)).toEqual(['notify-send']);
    expect((await commandsFor({ CI: 'true' }, 'darwin', 'always')).calls.map((c) => c.cmd)).toEqual(['osascript']);
  });

  it('a platform without a notifier: nothing, even with always', async () => {
    const { calls, outcome } = await commandsFor(DESKTOP, 'win32', 'always');
    expect(calls).toEqual([]);
    expect(outcome).toEqual({ sent: false, reason: 'no desktop notifier on win32' });
  });

  it('notify-send missing: gdbus call on the session bus with the same text; both missing: silent', async () => {
    const gdbus = [
      'call',
      '--session',
      '--timeout=2',
      '--dest=org.freedesktop.Notifications',
      '--object-path=/org/freedesktop/Notifications',
      '--method=org.freedesktop.Notifications.Notify',
      '"flux-monitor"',
      'uint32 0',
      '""',
      '"flux-monitor: Failed a305f2e"',
      gvariantString(NOTIFY_SEND_FAILED[4]!),
      '@as []',
      '@a{sv} {"urgency": <byte 2>}',
      'int32 -1',
    ];
    const fallback = await commandsFor(DESKTOP, 'linux', 'auto', { 'notify-send': 'missing' });
    expect(fallback.calls).toEqual([
      { cmd: 'notify-send', args: NOTIFY_SEND_FAILED },
      { cmd: 'gdbus', args: gdbus },
    ]);
    expect(fallback.outcome).toEqual({ sent: true, via: 'gdbus' });

    const none = await commandsFor(DESKTOP, 'linux', 'auto', { 'notify-send': 'missing', gdbus: 'missing' });
    expect(none.calls.map((c) => c.cmd)).toEqual(['notify-send', 'gdbus']);
    expect(none.outcome).toEqual({ sent: false, reason: 'notify-send missing, gdbus missing' });

    // A tool that fails (no notification service) also falls back; one that throws does not break anything.
    const failing = await commandsFor(DESKTOP, 'linux', 'auto', { 'notify-send': 'failed', gdbus: 'throw' });
    expect(failing.calls.map((c) => c.cmd)).toEqual(['notify-send', 'gdbus']);
    expect(failing.outcome).toEqual({ sent: false, reason: 'notify-send failed, gdbus failed' });
  });

  it('a tool still running at the deadline counts as sent: no second notification through gdbus', async () => {
    const { calls, outcome } = await commandsFor(DESKTOP, 'linux', 'auto', { 'notify-send': 'timeout' });
    expect(calls.map((c) => c.cmd)).toEqual(['notify-send']);
    expect(outcome).toEqual({ sent: true, via: 'notify-send' });
  });

  it('superseded and stopped sessions send nothing (the newer push notifies; the user stopped it)', async () => {
    for (const verdict of ['superseded', 'stopped'] as const) {
      const r = recorder();
      const outcome = await notifySessionEnd(session({ verdict }), { env: DESKTOP, platform: 'linux', mode: 'always', run: r.run });
      expect(r.calls).toEqual([]);
      expect(outcome.sent).toBe(false);
    }
  });
});

describe('what the notification says', () => {
  it('success: the verdict message, normal urgency', async () => {
    expect(notificationFor(session())).toEqual({
      title: 'flux-monitor: Succeeded a305f2e',
      body: 'commit a305f2e is applied: 3 ready',
      urgency: 'normal',
    });
    const r = recorder();
    await notifySessionEnd(session(), { env: DESKTOP, platform: 'linux', run: r.run });
    expect(r.calls[0]!.args.slice(0, 2)).toEqual(['--app-name=flux-monitor', '--urgency=normal']);
  });

  it('critical for error and blocked, normal for timeout', () => {
    expect(notificationFor(session({ verdict: 'error', verdictMessage: 'cannot reach the cluster. Check the VPN.' }))).toMatchObject({
      title: 'flux-monitor: Error a305f2e',
      urgency: 'critical',
    });
    expect(notificationFor(session({ verdict: 'blocked' as unknown as SessionState['verdict'] })).urgency).toBe('critical');
    expect(notificationFor(session({ verdict: 'timeout', verdictMessage: 'timed out after 300s' }))).toMatchObject({ title: 'flux-monitor: Timed out a305f2e', urgency: 'normal' });
  });

  it('the first failure is one this push caused when there is one; unaffected objects are ignored', () => {
    const s = session({ verdict: 'failed', verdictMessage: 'commit a305f2e failed' }, [
      node('Kustomization', 'flux-system', 'other', { phase: 'Failed', reason: 'BuildFailed', message: 'not ours', affected: false }),
      node('Kustomization', 'flux-system', 'old', { phase: 'Failed', reason: 'HealthCheckFailed', message: 'was failing', preexisting: true } as Partial<NodeState>),
      node('Kustomization', 'flux-system', 'apps', { phase: 'Failed', reason: 'BuildFailed', message: 'kustomize build failed: accumulating resources' }),
    ]);
    expect(notificationFor(s).body).toBe('commit a305f2e failed\nKustomization flux-system/apps: BuildFailed — kustomize build failed: accumulating resources');
  });

  it('cluster text is sanitised: no escapes or control characters, no credentials, one line, capped', () => {
    const s = session({ verdict: 'failed', verdictMessage: '\x1b]0;pwned\x07commit failed\x1b[2J' }, [
      node('GitRepository', 'flux-system', 'repo', {
        phase: 'Failed',
        reason: 'GitOperationFailed',
        message: `\x1b[31mclone https://user:s3cret@github.com/acme/fleet failed\x1b[0m\u202e ${'x'.repeat(1000)}\nsecond line`,
      }),
    ]);
    const n = notificationFor(s);
    const [first, second, ...rest] = n.body.split('\n');
    expect(rest).toEqual([]);
    expect(first).toBe('commit failed');
    expect(second).toMatch(/^GitRepository flux-system\/repo: GitOperationFailed — clone https:\/\/\*\*\*@github\.com\/acme\/fleet failed x+…$/);
    expect(second!.length).toBe(240);
    expect(n.body).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
    expect(n.body).not.toContain('s3cret');
  });

  it('freedesktop servers may render markup: &, < and > are escaped there, not on macOS', async () => {
    const s = session({ verdictMessage: 'values <nil> & "quotes" \\ \'single\'' });
    const linux = recorder();
    await notifySessionEnd(s, { env: DESKTOP, platform: 'linux', run: linux.run });
    expect(linux.calls[0]!.args.at(-1)).toBe('values &lt;nil&gt; &amp; "quotes" \\ \'single\'');
    const mac = recorder();
    await notifySessionEnd(s, { env: {}, platform: 'darwin', run: mac.run });
    expect(mac.calls[0]!.args.at(-1)).toBe('values <nil> & "quotes" \\ \'single\'');
  });

  it('gdbus arguments are GVariant string literals', () => {
    expect(gvariantString('a "b" \\c\nd')).toBe('"a \\"b\\" \\\\c\\nd"');
  });
});

describe('config.notify in the hook file', () => {
  it('defaults to auto, accepts auto, always and never', () => {
    expect(DEFAULT_CONFIG.notify).toBe('auto');
    expect(parseConfig('config:\n  timeout: 60\n', 'f').config.notify).toBe('auto');
    for (const v of ['auto', 'always', 'never']) expect(parseConfig(`config:\n  notify: ${v}\n`, 'f').config.notify).toBe(v);
  });

  it('rejects other values with file:line:col', () => {
    let err: unknown;
    try {
      parseConfig('config:\n  timeout: 60\n  notify: false\n  verbosity: loud\n', 'hook.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const lines = (err as ConfigError).message.split('\n');
    expect(lines[0]).toBe('hook.yaml:3:11: notify must be one of auto, always, never (got false)');
    expect(lines[1]).toBe('hook.yaml:4:14: verbosity must be one of minimal, normal, verbose (got "loud")');
  });
});

/** A directory with a `notify-send` that writes its argv (NUL-separated) to $FAKE_NOTIFY_OUT. */
function fakeNotifySend(): { bin: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fm-notify-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'notify-send'), '#!/bin/sh\nprintf \'%s\\0\' "$@" > "$FAKE_NOTIFY_OUT.tmp" && mv "$FAKE_NOTIFY_OUT.tmp" "$FAKE_NOTIFY_OUT"\n');
  chmodSync(join(bin, 'notify-send'), 0o755);
  return { bin, out: join(dir, 'argv') };
}

const argvOf = (file: string) => readFileSync(file, 'utf8').split('\0').slice(0, -1);

describe.skipIf(process.platform === 'win32')('the real spawn path, with a fake notify-send first on PATH', () => {
  it('spawns notify-send (no shell) with exactly the argv the recorder saw', async () => {
    const fake = fakeNotifySend();
    const env = { ...DESKTOP, PATH: `${fake.bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, FAKE_NOTIFY_OUT: fake.out };
    const s = failedSession();
    s.verdictMessage = 'failed: $(touch pwned) `id` ; "quoted" -x';
    const outcome = await notifySessionEnd(s, { env, platform: 'linux', run: spawnRunner, timeoutMs: 60_000 });
    expect(outcome).toEqual({ sent: true, via: 'notify-send' });
    expect(argvOf(fake.out)).toEqual([...NOTIFY_SEND_FAILED.slice(0, 4), NOTIFY_SEND_FAILED[4]!.replace(/^[^\n]*/, 'failed: $(touch pwned) `id` ; "quoted" -x')]);
  });

  it('a tool that is not there resolves missing; one that exits non-zero resolves failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-notify-'));
    writeFileSync(join(dir, 'notify-send'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(dir, 'notify-send'), 0o755);
    expect(await spawnRunner('notify-send', [], { env: { PATH: dir }, timeoutMs: 60_000 })).toBe('failed');
    expect(await spawnRunner('gdbus', [], { env: { PATH: dir }, timeoutMs: 60_000 })).toBe('missing');
  });

  it.skipIf(process.platform !== 'linux')('runDetachedSession notifies when the monitor ends (here: an invalid hook file)', async () => {
    const fake = fakeNotifySend();
    const base = mkdtempSync(join(tmpdir(), 'fm-notify-session-'));
    const repo = join(base, 'repo');
    mkdirSync(join(repo, '.kiro', 'hooks'), { recursive: true });
    writeFileSync(join(repo, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml'), 'config:\n  verbosity: loud\n');
    const env = { ...DESKTOP, PATH: `${fake.bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, FAKE_NOTIFY_OUT: fake.out, XDG_STATE_HOME: join(base, 'state') };
    const logs: string[] = [];
    const code = await runDetachedSession({ id: 'notify-1', repoPath: repo, branch: 'main', sha: SHA, pushedAt: 1, paths: statePaths(env), env, log: (l) => logs.push(l) });
    expect(code).toBe(3);
    // The wait is capped (2 s) in the monitor; on a slow machine the script may finish after it.
    await vi.waitFor(() => expect(existsSync(fake.out)).toBe(true), { timeout: 20_000, interval: 50 });
    const argv = argvOf(fake.out);
    expect(argv.slice(0, 4)).toEqual(['--app-name=flux-monitor', '--urgency=critical', '--', 'flux-monitor: Error a305f2e']);
    expect(argv[4]).toMatch(/flux-reconciliation-monitor\.yaml:2:14: verbosity must be one of minimal, normal, verbose/);
    expect(logs).toContain('desktop notification sent (notify-send)');
  });
});
