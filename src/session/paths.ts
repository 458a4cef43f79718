// Where flux-monitor keeps its per-user state. The POSIX hooks (hooks/lib/common.sh) apply the same rule, so keep
// the two in step: `$XDG_STATE_HOME/flux-monitor` when XDG_STATE_HOME is absolute, else
// `$HOME/.local/state/flux-monitor` when HOME is absolute, else none (no fallback to the password database or to
// a shared directory such as /tmp: the hooks could not find the same one). A state directory owned by another
// user, or writable by group or others, is refused by both.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** The state directory cannot be used (none can be named, or it is not safely ours). One line, no hint. */
export class StateDirError extends Error {
  readonly category = 'config' as const;
  readonly hint = '';
  constructor(message: string) {
    super(message);
    this.name = 'StateDirError';
  }
}

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

/**
 * `$XDG_STATE_HOME/flux-monitor`, else `$HOME/.local/state/flux-monitor` (a relative XDG_STATE_HOME or HOME is
 * ignored, as the XDG spec says); throws StateDirError when neither names an absolute directory.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'flux-monitor');
  const home = env.HOME;
  if (home && isAbsolute(home)) return join(home, '.local', 'state', 'flux-monitor');
  throw new StateDirError('no state directory: set HOME (or XDG_STATE_HOME) to an absolute path; the git hooks do nothing without one');
}

/**
 * Refuses a state directory that exists and is not safely this user's: owned by another user, or writable by its
 * group or by others (whoever can write there could plant sessions, locks, intents or symlinks). A missing
 * directory is fine (it is created 0700). A symlink is judged by what it points to, as the hooks do.
 */
export function checkStateDir(root: string, uid: number | undefined = process.getuid?.()): void {
  let st;
  try {
    st = statSync(root);
  } catch {
    return; // missing (or unreadable: its use fails later with the system's error)
  }
  if (!st.isDirectory()) throw new StateDirError(`refusing the state directory ${root}: it is not a directory`);
  if (uid !== undefined && st.uid !== uid) {
    throw new StateDirError(`refusing the state directory ${root}: it belongs to uid ${st.uid}, not to you (uid ${uid}); remove it or set XDG_STATE_HOME`);
  }
  if (st.mode & 0o022) {
    throw new StateDirError(
      `refusing the state directory ${root}: group or others may write to it (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); run chmod 700 ${root}`,
    );
  }
}

/** The state paths, after checking the state directory (throws StateDirError when it cannot be used). */
export function statePaths(env: NodeJS.ProcessEnv = process.env): StatePaths {
  const root = stateDir(env);
  checkStateDir(root);
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
