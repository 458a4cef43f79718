// Where flux-monitor keeps its per-user state. The POSIX hooks compute the same directory
// (`${XDG_STATE_HOME:-$HOME/.local/state}/flux-monitor`), so keep the two in step.
import { chmodSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export interface StatePaths {
  root: string;
  /** `<id>.json` (state) and `<id>.log` (monitor output) per session. */
  sessions: string;
  /** Push intents written by the pre-push hook, one file per pushing git process. */
  intents: string;
  /** One lock per repository + branch: the live monitor. */
  locks: string;
  /** Append-only JSON lines, one per finished session. */
  history: string;
  /** Output of the hook helpers (everything that happens before a session exists). */
  hookLog: string;
}

/** `$XDG_STATE_HOME/flux-monitor`, else `~/.local/state/flux-monitor` (a relative XDG_STATE_HOME is ignored, as the spec says). */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'flux-monitor');
}

export function statePaths(env: NodeJS.ProcessEnv = process.env): StatePaths {
  const root = stateDir(env);
  return {
    root,
    sessions: join(root, 'sessions'),
    intents: join(root, 'intents'),
    locks: join(root, 'locks'),
    history: join(root, 'history.jsonl'),
    hookLog: join(root, 'hooks.log'),
  };
}

/** Creates a private directory (0700), parents included. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and not applied to an existing directory: set it explicitly.
  try {
    chmodSync(dir, 0o700);
  } catch {
    /* not ours to change (e.g. a shared XDG dir): leave it */
  }
}
