// Reads what flux-monitor needs from a git repository, through simple-git. Git runs with the caller's environment
// untouched (hooks must see the GIT_* variables git gives them). Failures are categorised 'git'.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { simpleGit, type SimpleGitOptions } from 'simple-git';
import { redactSecrets } from '../core/sanitize.js';
import { GitError } from './error.js';
import { findRepoRoot } from './discover.js';

export { GitError };

export interface GitOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

const UNSAFE_ENV_ALLOWED = Object.fromEntries(
  [
    'allowUnsafeAlias', 'allowUnsafeAskPass', 'allowUnsafeConfigEnvCount', 'allowUnsafeConfigPaths', 'allowUnsafeCredentialHelper',
    'allowUnsafeDiffExternal', 'allowUnsafeDiffTextConv', 'allowUnsafeEditor', 'allowUnsafeFilter', 'allowUnsafeFsMonitor',
    'allowUnsafeGitProxy', 'allowUnsafeGpgProgram', 'allowUnsafeHooksPath', 'allowUnsafeMergeDriver', 'allowUnsafePack',
    'allowUnsafePager', 'allowUnsafeProtocolOverride', 'allowUnsafeSshCommand', 'allowUnsafeTemplateDir',
  ].map((k) => [k, true]),
) as SimpleGitOptions['unsafe'];

/**
 * When simple-git treats git as finished: at its `close` event only (git has exited and its stdout and stderr
 * have both ended, so all of its output has been read), never at `exit` (which may come before the last output).
 */
export const IMMEDIATE_COMPLETION: Pick<SimpleGitOptions, 'completion'> = { completion: { onClose: true, onExit: false } };

/**
 * simple-git's completion plugin waits a further 50 ms after a git process that wrote nothing to stdout or stderr
 * (`merge-base --is-ancestor`, `config --get` of an unset key, `rev-parse --verify --quiet` of a missing ref...),
 * whatever `completion` says: it takes "no output seen" to mean "output may still be on its way". With
 * IMMEDIATE_COMPLETION it is told only at `close`, after both streams have ended, so nothing can be on its way:
 * this output handler (simple-git calls it with the process's streams before its plugins attach) tells the plugin
 * so by passing an empty chunk when stdout ends, which comes before `close`. The empty chunk adds nothing to the
 * output simple-git collects.
 */
export function markOutputEnd(_command: string, stdout: NodeJS.ReadableStream): void {
  stdout.once('end', () => stdout.emit('data', EMPTY));
}
const EMPTY = Buffer.alloc(0);

/** Runs git in `cwd` and resolves with its stdout (trailing newline removed). */
export async function git(cwd: string, args: string[], opts: GitOptions = {}): Promise<string> {
  if (!existsSync(cwd)) throw new GitError(`not a git repository: ${cwd} does not exist`, 'Run this inside a git repository, or pass --repo PATH.');
  let exit: { exitCode: number; stderr: string } | undefined;
  const options: Partial<SimpleGitOptions> = {
    baseDir: cwd,
    maxConcurrentProcesses: 4,
    timeout: { block: opts.timeoutMs ?? 15_000 },
    // simple-git refuses environments that set an editor, pager, ssh command, askpass, GIT_CONFIG_* and the
    // like, as a guard against untrusted arguments. Ours are fixed read-only commands, and the environment is the
    // user's own (or the one git hands its hooks): pass it through unchanged.
    unsafe: UNSAFE_ENV_ALLOWED,
    ...IMMEDIATE_COMPLETION,
    // Every non-zero exit is an error (`merge-base --is-ancestor` answers "no" with exit 1 and no output).
    errors: (error, result) => {
      if (result.exitCode === 0) return error;
      exit = { exitCode: result.exitCode, stderr: Buffer.concat(result.stdErr).toString('utf8') };
      return error ?? new Error(exit.stderr || `exit status ${result.exitCode}`);
    },
  };
  const env = Object.fromEntries(Object.entries(opts.env ?? process.env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  try {
    const out = await simpleGit(options).env(env).outputHandler(markOutputEnd).raw(args);
    return out.replace(/\n$/, '');
  } catch (err) {
    const e = err as Error & { code?: string };
    if (!exit && /ENOENT|spawn git/.test(e.message)) {
      throw new GitError('git is not installed or not on PATH', 'Install git (2.28 or newer) and try again.');
    }
    if (!exit && /block timeout/i.test(e.message)) throw new GitError(`git ${args[0]} timed out`, 'Check the network and the remote, then try again.');
    const detail = ((exit?.stderr || e.message) ?? '').trim().split('\n')[0] ?? '';
    if (/not a git repository/i.test(detail)) {
      throw new GitError(`not a git repository: ${cwd}`, 'Run this inside a git repository, or pass --repo PATH.');
    }
    // The arguments and git's own message may name a remote with its credentials (`git push https://user:token@…`):
    // never let them reach a log or a terminal.
    throw new GitError(redactSecrets(`git ${args.join(' ')} failed: ${detail}`), 'Check the repository with `git status`.', exit?.exitCode);
  }
}

/**
 * Top directory of the work tree containing `cwd`; for a bare repository (which pushes, and runs its own hooks,
 * too), the repository directory itself.
 */
export async function repoRoot(cwd: string, opts?: GitOptions): Promise<string> {
  let top: string;
  try {
    top = await git(cwd, ['rev-parse', '--show-toplevel'], opts);
  } catch (err) {
    // git 2.25+ refuses --show-toplevel outside a work tree; older versions print nothing.
    if (!(err instanceof GitError && /must be run in a work tree/.test(err.message))) throw err;
    top = '';
  }
  if (top) return top;
  const [bare, dir] = (await git(cwd, ['rev-parse', '--is-bare-repository', '--absolute-git-dir'], opts)).split('\n');
  if (bare === 'true' && dir) return dir;
  throw new GitError(`${cwd} is inside the .git directory of a work tree`, 'Run this in the work tree.');
}

/** The directory git reads hooks from (honours core.hooksPath, as used by husky or lefthook), absolute. */
export async function hooksDir(repo: string, opts?: GitOptions): Promise<string> {
  return absoluteIn(repo, await git(repo, ['rev-parse', '--git-path', 'hooks'], opts));
}

/** The common git directory (shared by all work trees), absolute. */
export async function gitCommonDir(repo: string, opts?: GitOptions): Promise<string> {
  return absoluteIn(repo, await git(repo, ['rev-parse', '--git-common-dir'], opts));
}

function absoluteIn(dir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dir, p);
}

/** Current branch name, or undefined on a detached HEAD. */
export async function currentBranch(repo: string, opts?: GitOptions): Promise<string | undefined> {
  try {
    const ref = await git(repo, ['symbolic-ref', '--quiet', 'HEAD'], opts);
    return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
  } catch (err) {
    if (err instanceof GitError && err.exitCode === 1) return undefined; // detached
    throw err;
  }
}

export interface CommitInfo {
  sha: string;
  subject: string;
}

/** Sha and subject of a commit (default HEAD). */
export async function commitInfo(repo: string, rev = 'HEAD', opts?: GitOptions): Promise<CommitInfo> {
  const out = await git(repo, ['log', '-1', '--format=%H%x00%s', rev, '--'], opts);
  const [sha, subject = ''] = out.split('\0');
  if (!sha || !/^[0-9a-f]{40,64}$/.test(sha)) throw new GitError(`no commit at ${rev}`, 'Make a commit first.');
  return { sha, subject };
}

export interface Remote {
  name: string;
  url: string;
}

/** Remotes with their (fetch) URLs, in config order. */
export async function remotes(repo: string, opts?: GitOptions): Promise<Remote[]> {
  let out: string;
  try {
    out = await git(repo, ['config', '--get-regexp', '^remote\\..*\\.url$'], opts);
  } catch (err) {
    if (err instanceof GitError && err.exitCode === 1) return []; // none
    throw err;
  }
  const list: Remote[] = [];
  for (const line of out.split('\n')) {
    const m = /^remote\.(.+)\.url (.*)$/.exec(line);
    if (m) list.push({ name: m[1]!, url: m[2]! });
  }
  return list;
}

/** What push-done needs of one remote's configuration: its (first) URL, undefined when no such remote, and its fetch refspecs. */
export interface RemoteSettings {
  url?: string;
  fetch: string[];
}

/** One remote's (first) URL and fetch refspecs, in a single git process (`git config -z --get-regexp ^remote\.`). */
export async function remoteSettings(repo: string, name: string, opts?: GitOptions): Promise<RemoteSettings> {
  let out: string;
  try {
    out = await git(repo, ['config', '-z', '--get-regexp', '^remote\\.'], opts);
  } catch (err) {
    if (err instanceof GitError && err.exitCode === 1) return { fetch: [] }; // no remote at all
    throw err;
  }
  // -z: each entry is "<key>\n<value>\0"; git lowercases the section and the variable, never the remote's name.
  const settings: RemoteSettings = { fetch: [] };
  for (const entry of out.split('\0')) {
    const nl = entry.indexOf('\n');
    if (nl < 0) continue;
    const key = entry.slice(0, nl);
    const value = entry.slice(nl + 1);
    if (key === `remote.${name}.url`) settings.url ??= value;
    else if (key === `remote.${name}.fetch` && value) settings.fetch.push(value);
  }
  return settings;
}

/**
 * The remote-tracking ref that a fetch refspec list maps `remoteRef` to (`refs/heads/main` with the default
 * `+refs/heads/*:refs/remotes/origin/*` → `refs/remotes/origin/main`), as `git push` does when it updates
 * tracking refs. Negative refspecs (`^…`) exclude. Undefined when nothing maps it.
 */
export function trackingRef(refspecs: string[], remoteRef: string): string | undefined {
  const match = (pattern: string, ref: string): string | undefined => {
    const star = pattern.indexOf('*');
    if (star < 0) return pattern === ref ? '' : undefined;
    const pre = pattern.slice(0, star);
    const post = pattern.slice(star + 1);
    if (ref.length < pre.length + post.length || !ref.startsWith(pre) || !ref.endsWith(post)) return undefined;
    return ref.slice(pre.length, ref.length - post.length);
  };
  for (const spec of refspecs) if (spec.startsWith('^') && match(spec.slice(1), remoteRef) !== undefined) return undefined;
  for (const raw of refspecs) {
    if (raw.startsWith('^')) continue;
    const spec = raw.replace(/^\+/, '');
    const colon = spec.indexOf(':');
    if (colon < 0) continue;
    const src = spec.slice(0, colon);
    const dst = spec.slice(colon + 1);
    const m = match(src, remoteRef);
    if (m === undefined || !dst) continue;
    return dst.includes('*') ? dst.replace('*', m) : dst;
  }
  return undefined;
}

/** Value of a ref, or undefined when it does not exist. */
export async function resolveRef(repo: string, ref: string, opts?: GitOptions): Promise<string | undefined> {
  try {
    return (await git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], opts)) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The sha of `ref` on a remote (name or URL) via `git ls-remote`, or undefined when the remote has no such ref.
 * Never prompts: credentials must come from a helper or an agent.
 */
export async function lsRemote(repo: string, remote: string, ref: string, opts: GitOptions = {}): Promise<string | undefined> {
  const env = { ...(opts.env ?? process.env), GIT_TERMINAL_PROMPT: '0', GCM_INTERACTIVE: 'never' };
  const out = await git(repo, ['ls-remote', '--', remote, ref], { ...opts, env, timeoutMs: opts.timeoutMs ?? 30_000 });
  for (const line of out.split('\n')) {
    const [sha, name] = line.split('\t');
    if (name === ref && sha) return sha;
  }
  return undefined;
}

/** `git version` as [major, minor]. */
export async function gitVersion(opts?: GitOptions): Promise<[number, number]> {
  const out = await git(process.cwd(), ['version'], opts);
  const m = /(\d+)\.(\d+)/.exec(out);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** Whether `ancestor` is an ancestor of `descendant` (false when either is unknown locally). */
export async function isAncestor(repo: string, ancestor: string, descendant: string, opts?: GitOptions): Promise<boolean> {
  try {
    await git(repo, ['merge-base', '--is-ancestor', ancestor, descendant], opts);
    return true;
  } catch {
    return false;
  }
}

/** Full sha of a revision (branch, tag, short sha...), or undefined when git does not know it. */
export async function resolveCommit(repo: string, rev: string, opts?: GitOptions): Promise<string | undefined> {
  if (rev.startsWith('-')) return undefined; // never let a revision be read as an option
  return resolveRef(repo, rev, opts);
}

export interface GitInfo {
  /** Work tree root (for a bare repository, its directory). */
  root: string;
  /** HEAD sha; undefined in a repository without commits. */
  head?: string;
  subject?: string;
  /** Current branch; undefined on a detached HEAD. */
  branch?: string;
  /** The remote used: the one asked for, else the current branch's upstream remote, else origin, else the only one. */
  remote?: string;
  remoteUrl?: string;
}

/**
 * What `watch` and `status` need to know about the repository around `cwd`; undefined outside a repository.
 * Other failures (git missing, a broken repository) throw GitError.
 */
export async function gitInfo(cwd: string, remote?: string, opts?: GitOptions): Promise<GitInfo | undefined> {
  const root = await findRepoRoot(cwd, opts?.env ?? process.env);
  if (root === undefined) return undefined;
  const [branch, head, all] = await Promise.all([
    currentBranch(root, opts),
    commitInfo(root, 'HEAD', opts).catch(() => undefined),
    remotes(root, opts),
  ]);
  let name = remote;
  if (!name && branch) {
    const upstream = await git(root, ['config', '--get', `branch.${branch}.remote`], opts).catch(() => '');
    if (upstream && all.some((r) => r.name === upstream)) name = upstream;
  }
  if (!name) name = all.find((r) => r.name === 'origin')?.name ?? (all.length === 1 ? all[0]!.name : undefined);
  const url = name ? all.find((r) => r.name === name)?.url : undefined;
  if (remote && !url) throw new GitError(`no remote named "${remote}"`, `Known remotes: ${all.map((r) => r.name).join(', ') || 'none'}.`);
  return { root, head: head?.sha, subject: head?.subject, branch, remote: url ? name : undefined, remoteUrl: url ? absoluteRemote(url, root) : undefined };
}

/** A remote URL that is a relative path is relative to the repository (`dir`): made absolute so it can be matched. */
export function absoluteRemote(url: string, dir: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/]+:/.test(url) || isAbsolute(url)) return url;
  return resolve(dir, url);
}
