// Works out what `watch` monitors: the commit, branch and repository URL, from flags and the local repository.
import { DEFAULT_CONFIG, type MonitorConfig } from '../core/types.js';
import type { RunOptions } from '../engine/run.js';
import { loadConfig } from '../config/load.js';
import { MonitorError } from '../cluster/errors.js';
import { UsageError } from './args.js';
import type { CommandIO } from './types.js';
import type { GitInfo } from '../git/repo.js';
import { findRepoRoot } from '../git/discover.js';

/** What `watch` hands to the engine (see RunOptions for the meaning of each field). */
export type WatchTarget = Pick<RunOptions, 'pushed' | 'repoUrl' | 'branch' | 'remote' | 'repoPath' | 'subject' | 'config' | 'relateCommit'>;

export interface TargetFlags {
  revision?: string;
  branch?: string;
  repoUrl?: string;
  remote?: string;
  all?: boolean;
}

/**
 * Flags win; what they leave open comes from the repository in the current directory (HEAD, its branch, the
 * branch's upstream remote URL). Outside a repository, --revision and --repo-url (or --all) are required.
 */
export async function resolveWatchTarget(io: CommandIO, f: TargetFlags): Promise<WatchTarget> {
  const info: (GitInfo & { full: boolean }) | undefined =
    f.revision && f.repoUrl && f.branch && !f.remote
      ? await rootOnly(io)
      : await (await import('../git/repo.js')).gitInfo(io.cwd, f.remote).then((i) => i && { ...i, full: true });
  if (!info) {
    if (!f.revision) throw new UsageError('not inside a git repository: pass --revision SHA (and --repo-url URL --branch B, or --all)');
    if (!f.repoUrl && !f.all) throw new UsageError('not inside a git repository: pass --repo-url URL and --branch B, or --all');
    if (!/^[0-9a-f]{7,64}$/i.test(f.revision)) throw new UsageError(`--revision must be a commit sha outside a repository (got "${f.revision}")`);
    return {
      pushed: { sha: f.revision.toLowerCase(), branch: f.branch },
      repoUrl: f.repoUrl,
      branch: f.branch ?? (f.all ? undefined : 'main'),
      config: { ...DEFAULT_CONFIG },
    };
  }
  let config: MonitorConfig;
  try {
    config = loadConfig(info.root).config;
  } catch (err) {
    const e = err as { message: string };
    throw new MonitorError({ category: 'config', message: e.message, hint: 'Fix .kiro/hooks/flux-reconciliation-monitor.yaml (see docs/config.md).' });
  }
  // simple-git is loaded only here, inside a repository (git/discover.ts settles "no repository" without it).
  const { commitInfo, gitInfo, remotes, resolveCommit } = await import('../git/repo.js');
  const [sha, head] = f.revision
    ? await Promise.all([resolveCommit(info.root, f.revision), info.full ? undefined : commitInfo(info.root).catch(() => undefined)])
    : [info.head, undefined];
  if (!sha) throw new UsageError(f.revision ? `unknown revision "${f.revision}"` : 'the repository has no commits yet');
  const branch = f.branch ?? info.branch;
  if (!branch && !f.all) throw new UsageError('HEAD is detached: pass --branch B to say which branch Flux follows');
  const repoUrl = f.repoUrl ?? info.remoteUrl;
  // Flux sources are matched by URL: without one, nothing would ever match (the local path is no URL Flux uses).
  if (!repoUrl && !f.all) throw await noRemoteError(info.root, remotes);
  const headSha = info.full ? info.head : head?.sha;
  const subject = info.full ? info.subject : head?.subject;
  // The remote a missing commit is fetched from: the one gitInfo picks (the branch's upstream, else origin...).
  // When the flags said everything else, it is looked up only if a commit has to be related.
  let fetchRemote: Promise<string | undefined> | undefined = info.full ? Promise.resolve(info.remote ?? info.remoteUrl) : undefined;
  const remoteToFetch = () =>
    (fetchRemote ??= gitInfo(info.root).then(
      (i) => i?.remote ?? i?.remoteUrl,
      () => undefined,
    ));
  return {
    pushed: { sha, branch },
    repoUrl,
    branch,
    remote: info.remote,
    repoPath: info.root,
    subject: sha === headSha ? subject : undefined,
    config,
    relateCommit: async (other) => (await import('../git/relate.js')).relateCommit(info.root, sha, other, { remote: await remoteToFetch(), branch }),
  };
}

/**
 * With --revision, --repo-url and --branch all given, `watch` needs of the repository only its root (the hook
 * file, the revision), not gitInfo's branch, remotes and upstream (four more git processes): undefined outside a
 * repository, as gitInfo. Found from the file system (git/discover.ts): outside a repository, no git at all.
 */
async function rootOnly(io: CommandIO): Promise<(GitInfo & { full: false }) | undefined> {
  const root = await findRepoRoot(io.cwd, io.env);
  return root === undefined ? undefined : { root, full: false };
}

/** Why the repository gives no URL to match Flux sources against, and what to pass instead. */
async function noRemoteError(root: string, remotes: typeof import('../git/repo.js').remotes): Promise<MonitorError> {
  const known = await remotes(root).catch(() => []);
  if (known.length === 0) {
    return new MonitorError({
      category: 'config',
      message: `the repository ${root} has no remote, so there is no repository URL to match Flux sources against`,
      hint: 'Pass --repo-url URL (the url of your GitRepository), add the remote (`git remote add origin URL`), or pass --all to follow every Flux object.',
    });
  }
  return new MonitorError({
    category: 'config',
    message: `cannot tell which remote Flux follows: the branch has no upstream and there is no "origin" (remotes: ${known.map((r) => r.name).join(', ')})`,
    hint: 'Pass --remote NAME or --repo-url URL.',
  });
}
