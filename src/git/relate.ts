// Where a commit that a Flux source reports stands relative to the pushed one: does it contain the push (a
// teammate's commit on top of ours), is it older (Flux has not fetched ours yet), or did history diverge (a force
// push)? When this clone does not have the commit, it is fetched once from the remote the push went to, by its id,
// into the object store only: no branch, remote-tracking ref, FETCH_HEAD or work tree is touched.
//
// The sha comes from the cluster (untrusted): only hex ids are ever put on git's command line.
import type { CommitRelation } from '../core/types.js';
import { git, GitError, type GitOptions } from './repo.js';

export interface RelateOptions {
  /** The remote to fetch a missing commit from: a remote name of the repository, or a URL. */
  remote?: string;
  /** The branch Flux follows: fetched when the commit is known only by a short id (chart revisions). */
  branch?: string;
  /** Bound on the fetch (default 20 s). */
  fetchTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

const HEX = /^[0-9a-f]{7,64}$/;

/** Whether the repository has the commit `sha` (any object id form git accepts; hex only). */
export async function hasCommit(repo: string, sha: string, opts?: GitOptions): Promise<boolean> {
  if (!HEX.test(sha)) return false;
  try {
    await git(repo, ['cat-file', '-e', `${sha}^{commit}`], opts);
    return true;
  } catch {
    return false;
  }
}

/**
 * The environment for a fetch nobody can answer a prompt for: git never asks for a password on the terminal,
 * and ssh (unless the user chose an ssh command of their own) fails instead of asking.
 */
export function nonInteractiveEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, GIT_TERMINAL_PROMPT: '0' };
  if (!env.GIT_SSH_COMMAND && !env.GIT_SSH) out.GIT_SSH_COMMAND = 'ssh -o BatchMode=yes';
  return out;
}

/**
 * Fetches the commit `sha` from `remote` into the object store (nothing else is written). A full id is asked for
 * directly (protocol v2 serves any reachable commit); a short id, or a server that refuses, falls back to the
 * branch, still with no ref updated. Resolves with git's one-line complaint when it could not.
 */
export async function fetchCommit(repo: string, sha: string, opts: RelateOptions): Promise<string | undefined> {
  if (!opts.remote) return 'the push named no remote to fetch from';
  if (opts.remote.startsWith('-')) return `refusing remote "${opts.remote}"`;
  const g: GitOptions = { env: nonInteractiveEnv(opts.env), timeoutMs: opts.fetchTimeoutMs ?? 20_000 };
  // --refmap= (empty): no remote-tracking branch is updated for what is named on the command line.
  const base = ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', '--refmap=', opts.remote];
  let problem: string | undefined;
  if (sha.length >= 40) {
    try {
      await git(repo, [...base, sha], g);
      if (await hasCommit(repo, sha)) return undefined;
    } catch (err) {
      problem = fetchProblem(err);
    }
  }
  if (opts.branch && /^[\w./-]+$/.test(opts.branch) && !opts.branch.startsWith('-')) {
    try {
      await git(repo, [...base, `refs/heads/${opts.branch}`], g);
      if (await hasCommit(repo, sha)) return undefined;
      problem ??= `${opts.remote} ${opts.branch} does not contain ${sha.slice(0, 12)}`;
    } catch (err) {
      problem = fetchProblem(err);
    }
  }
  return problem ?? `${opts.remote} did not serve ${sha.slice(0, 12)}`;
}

function fetchProblem(err: unknown): string {
  const m = err instanceof GitError ? err.message : String(err);
  // "git fetch … failed: fatal: could not read Username …" → the part after the command line.
  const detail = m.replace(/^git fetch[^:]*failed:\s*/, '').replace(/^fatal:\s*/, '');
  return detail.split('\n')[0]!.slice(0, 200);
}

async function ancestor(repo: string, a: string, b: string): Promise<boolean | undefined> {
  try {
    await git(repo, ['merge-base', '--is-ancestor', a, b]);
    return true;
  } catch (err) {
    // Exit 1 is git's "no"; anything else (128: a missing object) is no answer.
    return err instanceof GitError && err.exitCode === 1 ? false : undefined;
  }
}

/**
 * How `other` stands to `pushed` in `repo`, fetching `other` when the clone lacks it. `unknown` is never a "no":
 * the caller may ask again later.
 */
export async function relateCommit(repo: string, pushed: string, other: string, opts: RelateOptions = {}): Promise<CommitRelation> {
  const p = pushed.toLowerCase();
  const o = other.toLowerCase();
  if (!HEX.test(p) || !HEX.test(o)) return { relation: 'unknown', reason: 'not a commit id' };
  if (p.startsWith(o) || o.startsWith(p)) return { relation: 'same' };
  if (!(await hasCommit(repo, o))) {
    const problem = await fetchCommit(repo, o, opts);
    if (problem) return { relation: 'unknown', reason: `this clone does not have ${o.slice(0, 7)} and could not fetch it: ${problem}` };
  }
  if (!(await hasCommit(repo, p))) return { relation: 'unknown', reason: `this clone does not have the pushed commit ${p.slice(0, 7)}` };
  const contains = await ancestor(repo, p, o);
  if (contains === true) return { relation: 'contains' };
  const older = contains === false ? await ancestor(repo, o, p) : undefined;
  if (older === true) return { relation: 'older' };
  if (contains === undefined || older === undefined) return { relation: 'unknown', reason: `git could not compare ${p.slice(0, 7)} with ${o.slice(0, 7)}` };
  // In a shallow clone a "no" may only mean that the history in between is missing.
  const shallow = await git(repo, ['rev-parse', '--is-shallow-repository']).catch(() => 'false');
  if (shallow === 'true') return { relation: 'unknown', reason: `this clone is shallow: its history cannot tell whether ${o.slice(0, 7)} includes ${p.slice(0, 7)}` };
  return { relation: 'diverged' };
}
