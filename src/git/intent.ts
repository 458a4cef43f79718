// Push intents: what pre-push recorded, what reference-transaction confirmed, and the decision of which
// branch and tag updates really reached the remote (docs/hooks.md).
import { redactUrl } from '../core/giturl.js';

export interface IntentRef {
  localRef: string;
  localSha: string;
  remoteRef: string;
  remoteSha: string;
}

export interface PushIntent {
  /** Remote name, or the URL itself for a push to a URL (git passes the URL twice then), without its secrets. */
  remote: string;
  /** The remote's URL without its secrets (`redactUrl`): enough to match GitRepositories, not to authenticate. */
  url: string;
  /** Directory the hook ran in (the work tree root). */
  dir: string;
  refs: IntentRef[];
}

export interface Confirmation {
  old: string;
  new: string;
  ref: string;
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export function isZeroSha(sha: string): boolean {
  return /^0+$/.test(sha);
}

/**
 * Parses an intent file (format written by hooks/pre-push). Throws on anything else. The hook writes the remote and
 * its URL redacted already; they are redacted again here (idempotent), so that an intent written by an older hook
 * never carries credentials further.
 */
export function parseIntent(text: string): PushIntent {
  const lines = text.split('\n');
  if (lines[0] !== 'flux-monitor-intent 1') throw new Error('not a flux-monitor intent (version line missing)');
  const field = (i: number, name: string): string => {
    const l = lines[i] ?? '';
    if (!l.startsWith(name + ' ')) throw new Error(`intent line ${i + 1}: expected "${name} …"`);
    return l.slice(name.length + 1);
  };
  const intent: PushIntent = { remote: redactUrl(field(1, 'remote')), url: redactUrl(field(2, 'url')), dir: field(3, 'dir'), refs: [] };
  for (const line of lines.slice(4)) {
    if (!line.trim()) continue;
    const [localRef, localSha, remoteRef, remoteSha] = line.split(' ');
    if (!localRef || !remoteRef || !localSha || !remoteSha || !SHA.test(localSha) || !SHA.test(remoteSha)) {
      throw new Error(`intent: malformed ref line "${line.slice(0, 200)}"`);
    }
    intent.refs.push({ localRef, localSha, remoteRef, remoteSha });
  }
  return intent;
}

/** Parses the `<old> <new> <ref>` lines that reference-transaction appended; malformed lines are ignored. */
export function parseConfirmations(text: string): Confirmation[] {
  const out: Confirmation[] = [];
  for (const line of text.split('\n')) {
    const [o, n, ref] = line.trim().split(' ');
    if (o && n && ref && SHA.test(o) && SHA.test(n)) out.push({ old: o, new: n, ref });
  }
  return out;
}

export type PushedHow = 'tracking-ref' | 'ls-remote';

export interface PushDecision {
  ref: IntentRef;
  /** The pushed branch (`refs/heads/<branch>`); empty for a tag or another ref. */
  branch: string;
  /** The pushed tag (`refs/tags/<tag>`), for a tag push. */
  tag?: string;
  pushed: boolean;
  how?: PushedHow;
  /** Why it is not considered pushed (or how it was confirmed). */
  reason: string;
}

export interface ConfirmDeps {
  /** URL of a remote name, or undefined when `remote` is not a configured remote (a push to a URL). */
  remoteUrl(remote: string): Promise<string | undefined>;
  /** The remote-tracking ref `git push` updates for `remoteRef` of a named remote, if any. */
  trackingRef(remote: string, remoteRef: string): Promise<string | undefined>;
  /** The sha of `remoteRef` on the remote (ls-remote). */
  lsRemote(remote: string, remoteRef: string): Promise<string | undefined>;
}

/** The branch or tag a remote ref names (`refs/heads/<branch>`, `refs/tags/<tag>`), else both empty. */
export function refTarget(remoteRef: string): { branch: string; tag: string } {
  const after = (prefix: string) => (remoteRef.startsWith(prefix) ? remoteRef.slice(prefix.length) : '');
  return { branch: after('refs/heads/'), tag: after('refs/tags/') };
}

/**
 * Decides which branch and tag updates of an intent reached the remote, once the pushing git process has exited:
 * - a branch of a named remote whose fetch refspec maps it: pushed iff reference-transaction committed that
 *   tracking ref to the pushed sha (a rejected push or `--dry-run` commits none);
 * - a push to a URL, a branch no refspec maps, and every tag (git updates no local ref for a pushed tag):
 *   pushed iff `git ls-remote` shows the pushed sha (for an annotated tag, the tag object's sha).
 */
export async function decidePushed(intent: PushIntent, confirmations: Confirmation[], deps: ConfirmDeps): Promise<PushDecision[]> {
  const named = intent.remote !== intent.url && (await deps.remoteUrl(intent.remote)) !== undefined;
  const out: PushDecision[] = [];
  for (const ref of intent.refs) {
    const { branch, tag } = refTarget(ref.remoteRef);
    const base = tag ? { ref, branch, tag } : { ref, branch };
    if ((!branch && !tag) || isZeroSha(ref.localSha)) {
      out.push({ ...base, pushed: false, reason: 'not a branch or tag update' });
      continue;
    }
    // Only a remote-tracking ref (refs/remotes/…) is confirmed by reference-transaction; a mirror's refspec
    // (+refs/*:refs/*) maps the branch onto itself, which the hook does not record: ask the remote then.
    const mapped = named && branch ? await deps.trackingRef(intent.remote, ref.remoteRef) : undefined;
    const tracking = mapped?.startsWith('refs/remotes/') ? mapped : undefined;
    if (tracking) {
      const ok = confirmations.some((c) => c.ref === tracking && c.new === ref.localSha);
      out.push(
        ok
          ? { ...base, pushed: true, how: 'tracking-ref', reason: `${tracking} committed` }
          : { ...base, pushed: false, reason: `${tracking} was not updated (push rejected, failed or --dry-run)` },
      );
      continue;
    }
    let remoteSha: string | undefined;
    try {
      remoteSha = await deps.lsRemote(intent.remote, ref.remoteRef);
    } catch (err) {
      out.push({ ...base, pushed: false, reason: `cannot confirm with ls-remote: ${(err as Error).message}` });
      continue;
    }
    out.push(
      remoteSha === ref.localSha
        ? { ...base, pushed: true, how: 'ls-remote', reason: `remote ${ref.remoteRef} is ${ref.localSha}` }
        : { ...base, pushed: false, reason: `remote ${ref.remoteRef} is ${remoteSha ?? 'absent'}, not ${ref.localSha}` },
    );
  }
  return out;
}

/** Whether `branch` is listed in `patterns` (`*` matches any run of characters, `?` one, like the hook's sh `case`). */
export function branchMatches(branch: string, patterns: string[]): boolean {
  return patterns.some((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(branch));
}
