// The push that just happened, before its session exists. `git push` returns before the detached monitor has
// written its session (the helper waits for git to exit, decides, then starts the monitor), so `status` right
// after a push would show the previous push. The hooks leave a trail that tells which push is newest:
//   intents/<pid>          pre-push's intent (remote, URL, work tree, ref lines), until push-done has decided;
//   intents/<pid>.outcome  push-done's decision per pushed ref: followed by session <id>, or not followed and why.
// Both are written by the user's own hooks in the private state directory; they are read as untrusted anyway
// (a malformed file is ignored).
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseIntent, refTarget } from '../git/intent.js';
import type { StatePaths } from './paths.js';
import { pidAlive } from './proc.js';

/** What push-done wrote about one pushed ref (`intents/<pid>.outcome`, one JSON object). */
export interface PushOutcome {
  schema: 1;
  /** Work tree (or bare repository) the push came from. */
  dir: string;
  pushedAt: number;
  refs: Array<{ sha: string; branch?: string; tag?: string; followed: boolean; sessionId?: string; reason?: string }>;
}

export interface PendingPush {
  /** When the push was recorded (ms since epoch). */
  at: number;
  sha: string;
  branch?: string;
  tag?: string;
  /**
   * `pushing`: git push is still running; `deciding`: it has exited and the hook helper is deciding whether Flux
   * follows it; `starting`: its monitor was started (session `sessionId`); `not-followed`: no monitor (`reason`).
   */
  state: 'pushing' | 'deciding' | 'starting' | 'not-followed';
  sessionId?: string;
  reason?: string;
}

/** A push older than this is not "the push that just happened" any more, whatever its files say. */
export const PENDING_MAX_AGE_MS = 10 * 60_000;

function samePath(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function parseOutcome(text: string): PushOutcome | undefined {
  try {
    const o = JSON.parse(text) as PushOutcome;
    if (o?.schema !== 1 || typeof o.dir !== 'string' || typeof o.pushedAt !== 'number' || !Array.isArray(o.refs)) return undefined;
    const ok = o.refs.every((r) => r && typeof r.sha === 'string' && /^[0-9a-f]{40,64}$/.test(r.sha) && typeof r.followed === 'boolean');
    return ok ? o : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The newest push from the repository `root` that the hooks are still handling or have just handled, from the
 * intents directory; undefined when there is none younger than `maxAgeMs`. With several refs in one push, the
 * first followed one (else the first) stands for it.
 */
export function newestPushFor(paths: StatePaths, root: string, opts: { now?: number; maxAgeMs?: number } = {}): PendingPush | undefined {
  const now = opts.now ?? Date.now();
  const maxAge = opts.maxAgeMs ?? PENDING_MAX_AGE_MS;
  let names: string[];
  try {
    names = readdirSync(paths.intents);
  } catch {
    return undefined;
  }
  let best: PendingPush | undefined;
  const consider = (p: PendingPush) => {
    if (now - p.at <= maxAge && (!best || p.at > best.at)) best = p;
  };
  for (const name of names) {
    const file = join(paths.intents, name);
    let text: string;
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
      if (now - mtime > maxAge) continue;
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // consumed meanwhile
    }
    if (/^\d+$/.test(name)) {
      let intent;
      try {
        intent = parseIntent(text);
      } catch {
        continue;
      }
      if (!samePath(intent.dir, root)) continue;
      const ref = intent.refs.find((r) => !/^0+$/.test(r.localSha) && (refTarget(r.remoteRef).branch || refTarget(r.remoteRef).tag));
      if (!ref) continue;
      const { branch, tag } = refTarget(ref.remoteRef);
      consider({ at: mtime, sha: ref.localSha, ...(branch ? { branch } : { tag }), state: pidAlive(Number(name)) ? 'pushing' : 'deciding' });
    } else if (name.endsWith('.outcome')) {
      const o = parseOutcome(text);
      if (!o || !samePath(o.dir, root)) continue;
      const r = o.refs.find((x) => x.followed) ?? o.refs[0];
      if (!r) continue;
      const where = r.branch ? { branch: r.branch } : r.tag ? { tag: r.tag } : {};
      consider(
        r.followed && r.sessionId
          ? { at: o.pushedAt, sha: r.sha, ...where, state: 'starting', sessionId: r.sessionId }
          : { at: o.pushedAt, sha: r.sha, ...where, state: 'not-followed', reason: r.reason ?? 'Flux does not follow it' },
      );
    }
  }
  return best;
}

/** `main@abc1234` / `tag v1.2@abc1234`. */
export function pushLabel(p: Pick<PendingPush, 'sha' | 'branch' | 'tag'>): string {
  return `${p.branch ?? (p.tag ? `tag ${p.tag}` : '')}@${p.sha.slice(0, 7)}`;
}
