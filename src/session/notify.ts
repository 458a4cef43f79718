// Desktop notification when a detached monitor ends (issue 12 item 3). Uses the platform's own tools, no
// dependency: `notify-send` (libnotify, org.freedesktop.Notifications) and, without it, `gdbus call` on Linux and
// the other freedesktop platforms; `osascript` (the notification centre) on macOS. Commands get their text as argv,
// never through a shell; text from the cluster is sanitised (no escapes or control characters, no credentials,
// length-capped). Nothing here throws, and the whole attempt is capped (2 s by default): a missing tool, a missing
// notification service or a hung tool ends in silence.
//
// Everything the decision depends on (environment, platform, the command runner) is a parameter, so that tests
// can assert which command and argv would run without a desktop.
import { spawn } from 'node:child_process';
import { FAILURE_PHASES, VERDICT_TITLE, type MonitorConfig, type NodeState, type SessionState } from '../core/types.js';
import { firstLine, truncate } from '../core/sanitize.js';

export type NotifyMode = MonitorConfig['notify'];
export type Urgency = 'normal' | 'critical';

export interface DesktopNotification {
  title: string;
  body: string;
  urgency: Urgency;
}

/** How one command ended: `missing` when it does not exist, `timeout` when it was still running at the deadline. */
export type RunResult = 'ok' | 'failed' | 'missing' | 'timeout';
export type Runner = (cmd: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; timeoutMs: number }) => Promise<RunResult>;

export interface NotifyOptions {
  /** `config.notify` of the hook file (default `auto`). */
  mode?: NotifyMode;
  env: NodeJS.ProcessEnv;
  /** Default: process.platform. */
  platform?: NodeJS.Platform;
  /** Default: spawnRunner (child_process.spawn, detached, no shell). */
  run?: Runner;
  /** Cap on the whole attempt, fallbacks included (default 2000 ms). */
  timeoutMs?: number;
}

export interface NotifyOutcome {
  sent: boolean;
  /** The command that showed it (`notify-send`, `gdbus`, `osascript`). */
  via?: string;
  /** Why nothing was sent, for the session log. */
  reason?: string;
}

export const DEFAULT_NOTIFY_TIMEOUT_MS = 2000;
export const TITLE_MAX = 100;
export const LINE_MAX = 240;

const FREEDESKTOP: ReadonlySet<string> = new Set(['linux', 'freebsd', 'openbsd', 'netbsd', 'sunos']);

// The same words as the verdict line of the live view; an unknown verdict falls back to its name.
const TITLES: Record<string, string> = VERDICT_TITLE;
const CRITICAL: ReadonlySet<string> = new Set(['failed', 'error', 'blocked']);
/** Verdicts that need no notification: a newer push's monitor takes over (and notifies), or the user stopped it. */
const QUIET: ReadonlySet<string> = new Set(['superseded', 'stopped']);

/** Whether `CI` says this is a CI run (`true`, `1`, anything but empty, `0`, `false`, `no`, `off`). */
export function isCI(env: NodeJS.ProcessEnv): boolean {
  const v = env.CI?.trim().toLowerCase();
  return !!v && !['0', 'false', 'no', 'off'].includes(v);
}

const hasDisplay = (env: NodeJS.ProcessEnv) => !!(env.DISPLAY || env.WAYLAND_DISPLAY);
const overSsh = (env: NodeJS.ProcessEnv) => !!(env.SSH_CONNECTION || env.SSH_TTY || env.SSH_CLIENT);

/**
 * Whether to notify at all, and if not why. `auto`: on a desktop only: never in CI; on Linux (and the other
 * freedesktop platforms) only with a display (DISPLAY or WAYLAND_DISPLAY; over SSH that is X forwarding), the
 * tools find the session bus themselves; on macOS unless over SSH. `always` skips those checks; `never` is off.
 * A platform without a notifier (Windows, …) is off.
 */
export function notifyDecision(mode: NotifyMode, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): { on: boolean; reason?: string } {
  if (mode === 'never') return { on: false, reason: 'notify: never' };
  if (platform !== 'darwin' && !FREEDESKTOP.has(platform)) return { on: false, reason: `no desktop notifier on ${platform}` };
  if (mode === 'always') return { on: true };
  if (isCI(env)) return { on: false, reason: 'CI is set' };
  if (platform === 'darwin') return overSsh(env) ? { on: false, reason: 'over SSH' } : { on: true };
  if (!hasDisplay(env)) return { on: false, reason: overSsh(env) ? 'over SSH without a display' : 'no display (DISPLAY, WAYLAND_DISPLAY)' };
  return { on: true };
}

/** One line of cluster (or git) text, safe for a notification: sanitised, on one line, at most `max` characters. */
function clean(s: unknown, max: number): string {
  return truncate(firstLine(s).replace(/\s+/g, ' '), max);
}

/** The failure the verdict names: the first failed or stalled affected object, preferring one this push caused. */
export function firstFailure(s: SessionState): NodeState | undefined {
  const failed = Object.values(s.nodes).filter((n) => n.affected && FAILURE_PHASES.has(n.phase));
  return failed.find((n) => !(n as NodeState & { preexisting?: boolean }).preexisting) ?? failed[0];
}

/** Title, body and urgency of the notification for a finished session. */
export function notificationFor(s: SessionState): DesktopNotification {
  const verdict = s.verdict ?? 'error';
  const what = s.commit.sha ? s.commit.sha.slice(0, 7) : '';
  const title = clean(`flux-monitor: ${TITLES[verdict] ?? verdict}${what ? ` ${what}` : ''}`, TITLE_MAX);
  const lines: string[] = [];
  const message = clean(s.verdictMessage ?? '', LINE_MAX);
  if (message) lines.push(message);
  const f = firstFailure(s);
  if (f) {
    const detail = clean(f.message, LINE_MAX);
    // Several clusters: say on which one.
    const on = f.cluster !== undefined ? `${f.cluster}: ` : '';
    lines.push(clean(`${on}${f.kind} ${f.namespace}/${f.name}: ${f.reason || f.phase}${detail ? ` — ${detail}` : ''}`, LINE_MAX));
  }
  return { title, body: lines.join('\n'), urgency: CRITICAL.has(verdict) ? 'critical' : 'normal' };
}

/** The body for a freedesktop server: it may render markup, so `&`, `<` and `>` are escaped. */
function markupEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A GVariant text string literal (`gdbus call` parses its arguments as GVariant text). */
export function gvariantString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

export interface NotifyCommand {
  cmd: string;
  args: string[];
}

/** The commands to try, in order, on `platform` (the first that succeeds wins). */
export function notifyCommands(n: DesktopNotification, platform: NodeJS.Platform, timeoutMs = DEFAULT_NOTIFY_TIMEOUT_MS): NotifyCommand[] {
  if (platform === 'darwin') {
    // The text travels as arguments of the run handler, not inside the script: nothing to escape, nothing to inject.
    return [
      {
        cmd: 'osascript',
        args: ['-e', 'on run argv', '-e', 'display notification (item 2 of argv) with title (item 1 of argv)', '-e', 'end run', n.title, n.body],
      },
    ];
  }
  if (!FREEDESKTOP.has(platform)) return [];
  const body = markupEscape(n.body);
  const urgencyByte = n.urgency === 'critical' ? 2 : 1;
  return [
    // `--` ends the options: a title or body starting with `-` is text.
    { cmd: 'notify-send', args: ['--app-name=flux-monitor', `--urgency=${n.urgency}`, '--', n.title, body] },
    {
      cmd: 'gdbus',
      args: [
        'call',
        '--session',
        `--timeout=${Math.max(1, Math.ceil(timeoutMs / 1000))}`,
        '--dest=org.freedesktop.Notifications',
        '--object-path=/org/freedesktop/Notifications',
        '--method=org.freedesktop.Notifications.Notify',
        // Notify(app_name s, replaces_id u, app_icon s, summary s, body s, actions as, hints a{sv}, expire_timeout i)
        gvariantString('flux-monitor'),
        'uint32 0',
        gvariantString(''),
        gvariantString(n.title),
        gvariantString(body),
        '@as []',
        `@a{sv} {"urgency": <byte ${urgencyByte}>}`,
        'int32 -1',
      ],
    },
  ];
}

/**
 * Runs `cmd args` detached (its own session, no stdio, no shell) with the environment given. Resolves `ok` or
 * `failed` with its exit, `missing` when it does not exist, `timeout` when it is still running after `timeoutMs`
 * (it is then left to finish on its own, unreferenced, so that it never holds the monitor up). Never rejects.
 */
export const spawnRunner: Runner = (cmd, args, { env, timeoutMs }) =>
  new Promise<RunResult>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (r: RunResult) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(r);
    };
    try {
      const child = spawn(cmd, [...args], { env, stdio: 'ignore', detached: true, shell: false, windowsHide: true });
      child.once('error', (err: NodeJS.ErrnoException) => settle(err.code === 'ENOENT' ? 'missing' : 'failed'));
      child.once('exit', (code) => settle(code === 0 ? 'ok' : 'failed'));
      timer = setTimeout(() => {
        child.unref();
        settle('timeout');
      }, Math.max(0, timeoutMs));
      timer.unref();
    } catch {
      settle('failed');
    }
  });

/**
 * Sends the notification of a finished session where the platform and `mode` allow it. Tries the commands of
 * `notifyCommands` in order until one succeeds, within `timeoutMs` in all; a command still running at the deadline
 * counts as sent (it is not repeated with another tool). Never throws.
 */
export async function notifySessionEnd(s: SessionState, o: NotifyOptions): Promise<NotifyOutcome> {
  try {
    if (QUIET.has(s.verdict ?? '')) return { sent: false, reason: `verdict ${s.verdict}` };
    const platform = o.platform ?? process.platform;
    const decision = notifyDecision(o.mode ?? 'auto', o.env, platform);
    if (!decision.on) return { sent: false, reason: decision.reason };
    const timeoutMs = o.timeoutMs ?? DEFAULT_NOTIFY_TIMEOUT_MS;
    const run = o.run ?? spawnRunner;
    const deadline = Date.now() + timeoutMs;
    const tried: string[] = [];
    for (const c of notifyCommands(notificationFor(s), platform, timeoutMs)) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let r: RunResult;
      try {
        r = await run(c.cmd, c.args, { env: o.env, timeoutMs: left });
      } catch {
        r = 'failed';
      }
      if (r === 'ok' || r === 'timeout') return { sent: true, via: c.cmd };
      tried.push(`${c.cmd} ${r}`);
    }
    return { sent: false, reason: tried.length ? tried.join(', ') : 'no time left' };
  } catch (err) {
    return { sent: false, reason: `internal: ${(err as Error).message}` };
  }
}
