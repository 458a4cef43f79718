// Finds the repository around a directory the way git does, by reading the file system: the root (and common
// directory) for `status`, `history`, `stop`, MCP get_session and list_history, `watch --revision --repo-url
// --branch` and the hook helper, which then start no git and, but for the helper, load no simple-git; and the
// first step of `gitInfo` (docs/performance.md (i)).
// Whenever the layout is anything but the plain case git resolves the same way every time, git itself is asked
// (`repoRoot`, loaded only then), so the answer is always git's.
import { readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { GitError } from './error.js';

/** Environment variables that change where git looks for the repository: with any of them set, git decides. */
const DISCOVERY_ENV = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_COMMON_DIR', 'GIT_CEILING_DIRECTORIES', 'GIT_DISCOVERY_ACROSS_FILESYSTEM'];

/**
 * Settings in a repository's config that move or remove its work tree (`core.worktree`, `core.bare`) or pull in
 * other files that might (`include`, `includeIf`): with any of them, git decides. A coarse match (any section) only
 * ever sends more cases to git.
 */
const CONFIG_ASKS_GIT = /^[ \t]*worktree[ \t]*=|^[ \t]*bare[ \t]*(?:$|=[ \t]*(?!false\b|no\b|off\b|0\b|[ \t]))|^[ \t]*\[[ \t]*include/im;

/**
 * The work tree's top directory found from the file system alone, as `git rev-parse --show-toplevel` gives it;
 * undefined when there is none or git must be asked: a `.git` that is not a plain repository's or a linked work
 * tree's, another user's repository (git's safe.directory check), a file-system boundary, a bare repository, or an
 * environment or config that moves the repository.
 */
export function plainWorkTreeRoot(dir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const found = plainRepository(dir, env);
  return found === NO_REPOSITORY ? undefined : found?.root;
}

/**
 * What plainRepository says when the file system alone settles that `dir` is in no repository: git's own search
 * would find nothing either (no `.git` and no `HEAD` in `dir` or any directory above it, on the same file system,
 * with no GIT_* variable that changes the search).
 */
export const NO_REPOSITORY = 'no repository' as const;

/** A plain repository found from the file system: its work tree's top and its common git directory (absolute). */
export interface PlainRepository {
  root: string;
  /** Where objects, refs and the shared config live (`git rev-parse --git-common-dir`, made absolute). */
  commonDir: string;
}

/** plainWorkTreeRoot, with the repository's common git directory; NO_REPOSITORY when there is none for sure. */
export function plainRepository(dir: string, env: NodeJS.ProcessEnv = process.env): PlainRepository | typeof NO_REPOSITORY | undefined {
  if (DISCOVERY_ENV.some((k) => env[k])) return undefined;
  let here: string;
  let start: Stats;
  try {
    here = realpathSync.native(resolve(dir));
    start = statSync(here);
  } catch {
    return undefined;
  }
  if (!start.isDirectory()) return undefined;
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  for (;;) {
    // Inside a git directory (`.git/…`, a bare repository): git's rules differ there.
    if (/(^|[\\/])\.git$/.test(here) || isFile(join(here, 'HEAD'))) return undefined;
    let dot: Stats | undefined;
    try {
      dot = statSync(join(here, '.git'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    }
    if (dot) {
      const gitDir = dot.isDirectory() ? join(here, '.git') : dot.isFile() ? linkedGitDir(here) : undefined;
      const commonDir = gitDir ? plainGitDir(gitDir) : undefined;
      if (!gitDir || !commonDir) return undefined;
      if (uid !== undefined && (statSync(here).uid !== uid || statSync(gitDir).uid !== uid)) return undefined;
      return { root: here, commonDir };
    }
    const up = dirname(here);
    if (up === here) return NO_REPOSITORY;
    try {
      if (statSync(up).dev !== start.dev) return undefined;
    } catch {
      return undefined;
    }
    here = up;
  }
}

/**
 * The repository root around `dir` (as `repoRoot`: the work tree's top, or a bare repository's directory), or
 * undefined outside any repository. Other git failures throw GitError.
 */
export async function findRepoRoot(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const plain = plainRepository(dir, env);
  if (plain === NO_REPOSITORY) return undefined;
  if (plain) return plain.root;
  const { repoRoot } = await import('./repo.js');
  try {
    return await repoRoot(dir, { env });
  } catch (err) {
    if (err instanceof GitError && /not a git repository|\.git directory/.test(err.message)) return undefined;
    throw err;
  }
}

/** The git directory a `.git` file points to (a linked work tree's or a submodule's), absolute; undefined if odd. */
function linkedGitDir(workTree: string): string | undefined {
  const text = readSmall(join(workTree, '.git'));
  if (!text) return undefined;
  const m = /^gitdir: (.+?)\r?\n?$/.exec(text);
  if (!m) return undefined;
  const p = m[1]!;
  return isAbsolute(p) ? p : resolve(workTree, p);
}

/**
 * The common directory of `gitDir` when it is a repository git would take without a second look: HEAD, objects/
 * and refs/ (in its common directory for a linked work tree), and no config setting that moves its work tree.
 */
function plainGitDir(gitDir: string): string | undefined {
  if (!isFile(join(gitDir, 'HEAD'))) return undefined;
  let common = gitDir;
  const commonFile = readSmall(join(gitDir, 'commondir'));
  if (commonFile === null) return undefined;
  if (commonFile !== undefined) {
    const p = commonFile.trim();
    if (!p) return undefined;
    common = isAbsolute(p) ? p : resolve(gitDir, p);
  }
  if (!isDir(join(common, 'objects')) || !isDir(join(common, 'refs'))) return undefined;
  for (const config of new Set([join(common, 'config'), join(gitDir, 'config'), join(gitDir, 'config.worktree'), join(common, 'config.worktree')])) {
    const text = readSmall(config, 1 << 20);
    if (text === null) return undefined;
    if (text !== undefined && CONFIG_ASKS_GIT.test(text)) return undefined;
  }
  return common;
}

/** A small file's text; undefined when it does not exist, null when it cannot be read or is too large. */
function readSmall(path: string, max = 4096): string | undefined | null {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > max) return null;
    return readFileSync(path, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : null;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
