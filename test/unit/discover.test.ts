// git/discover.ts finds the repository from the file system for `status` and `history`: in every layout below its
// answer must be git's own (`git rev-parse --show-toplevel`, or the bare repository's directory), and it must hand
// every layout it does not read the same way git does to git.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRepoRoot, NO_REPOSITORY, plainRepository, plainWorkTreeRoot } from '../../src/git/discover.js';
import { gitCommonDir, repoRoot } from '../../src/git/repo.js';

const ENV = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t', GIT_CONFIG_NOSYSTEM: '1' };
for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_COMMON_DIR', 'GIT_CEILING_DIRECTORIES', 'GIT_DISCOVERY_ACROSS_FILESYSTEM']) delete ENV[k];

function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: ENV, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** What git says the repository around `dir` is (repoRoot's rule), or undefined outside one. */
function gitsAnswer(dir: string): string | undefined {
  const r = spawnSync('git', ['rev-parse', '--show-toplevel'], { cwd: dir, encoding: 'utf8', env: ENV });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  const b = spawnSync('git', ['rev-parse', '--is-bare-repository', '--absolute-git-dir'], { cwd: dir, encoding: 'utf8', env: ENV });
  const [bare, gitDir] = b.stdout.trim().split('\n');
  return b.status === 0 && bare === 'true' ? gitDir : undefined;
}

const base = realpathSync(mkdtempSync(join(tmpdir(), 'fm-discover-')));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function newRepo(name: string): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  sh(dir, 'init', '-q', '-b', 'main');
  sh(dir, 'commit', '-q', '--allow-empty', '-m', 'first');
  return dir;
}

describe('plainWorkTreeRoot / findRepoRoot', () => {
  const main = newRepo('main');
  mkdirSync(join(main, 'a', 'b', 'c'), { recursive: true });
  const linked = join(base, 'linked');
  sh(main, 'worktree', 'add', '-q', linked);
  mkdirSync(join(linked, 'sub'));
  const sub = newRepo('submodule-src');
  sh(main, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', sub, 'mods/sub');
  const bare = join(base, 'bare.git');
  sh(base, 'init', '-q', '--bare', bare);
  const outside = join(base, 'outside');
  mkdirSync(outside);
  const link = join(base, 'link-to-deep');
  symlinkSync(join(main, 'a', 'b'), link);
  const moved = newRepo('moved');
  sh(moved, 'config', 'core.worktree', join(base, 'moved-tree'));
  mkdirSync(join(base, 'moved-tree'));
  const included = newRepo('included');
  sh(included, 'config', 'include.path', join(base, 'extra.config'));
  writeFileSync(join(base, 'extra.config'), '[core]\n\tbare = false\n');

  // The layouts read from the file system alone: the answer is git's, and no git process is needed.
  const plain: Array<[string, string]> = [
    ['the top of a work tree', main],
    ['a directory deep inside it', join(main, 'a', 'b', 'c')],
    ['a symbolic link into it', link],
    ['a linked work tree (git worktree add)', linked],
    ['a directory inside a linked work tree', join(linked, 'sub')],
  ];
  it.each(plain)('%s: git\'s answer, from the file system', (_name, dir) => {
    const expected = gitsAnswer(dir);
    expect(expected).toBeTruthy();
    expect(plainWorkTreeRoot(dir, ENV)).toBe(expected);
  });

  // The layouts git resolves by rules of its own: handed to git, whose answer findRepoRoot returns.
  const asksGit: Array<[string, string]> = [
    ['a bare repository', bare],
    ['a submodule (git sets core.worktree in its git directory)', join(main, 'mods', 'sub')],
    ['inside a work tree\'s .git directory', join(main, '.git', 'refs')],
    ['outside any repository', outside],
    ['a repository whose config moves its work tree (core.worktree)', moved],
    ['a repository whose config includes another file', included],
  ];
  it.each(asksGit)('%s: left to git', async (_name, dir) => {
    expect(plainWorkTreeRoot(dir, ENV)).toBeUndefined();
    const expected = gitsAnswer(dir);
    await expect(findRepoRoot(dir, ENV)).resolves.toBe(expected);
  });

  it('leaves the search to git when the environment moves the repository (GIT_DIR, GIT_WORK_TREE, …)', async () => {
    for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_COMMON_DIR', 'GIT_CEILING_DIRECTORIES', 'GIT_DISCOVERY_ACROSS_FILESYSTEM']) {
      expect(plainWorkTreeRoot(main, { ...ENV, [k]: join(sub, '.git') })).toBeUndefined();
    }
    // The file system says `main`, but git, told GIT_DIR, says otherwise: findRepoRoot follows git.
    const env = { ...ENV, GIT_DIR: join(sub, '.git'), GIT_WORK_TREE: sub };
    const viaGit = await findRepoRoot(main, env);
    expect(viaGit).toBe(sub);
  });

  it('settles "no repository" from the file system only when git would find none: not for a bare repository or inside .git', () => {
    expect(plainRepository(outside, ENV)).toBe(NO_REPOSITORY);
    expect(gitsAnswer(outside)).toBeUndefined();
    for (const dir of [bare, join(main, '.git', 'refs'), moved]) expect(plainRepository(dir, ENV), dir).toBeUndefined();
    expect(plainRepository(outside, { ...ENV, GIT_DIR: join(sub, '.git') })).toBeUndefined();
  });

  // git refuses another user's repository (safe.directory); the search leaves that check to git. Changing a
  // directory's owner needs root: the case runs where the tests run as root (CI does).
  it.skipIf(process.getuid?.() !== 0)("another user's repository is left to git", () => {
    const theirs = newRepo('theirs');
    chownSync(theirs, 65534, 65534);
    expect(plainWorkTreeRoot(theirs, ENV)).toBeUndefined();
    chownSync(theirs, 0, 0);
    chownSync(join(theirs, '.git'), 65534, 65534);
    expect(plainWorkTreeRoot(theirs, ENV)).toBeUndefined();
    chownSync(join(theirs, '.git'), 0, 0);
    expect(plainWorkTreeRoot(theirs, ENV)).toBe(theirs);
  });

  it('a .git file or config past its bound is left to git, not read whole', () => {
    const big = join(base, 'big-gitfile');
    mkdirSync(big);
    writeFileSync(join(big, '.git'), `gitdir: ${'x/'.repeat(5000)}\n`);
    expect(plainWorkTreeRoot(big, ENV)).toBeUndefined();
    const bigConfig = newRepo('big-config');
    writeFileSync(join(bigConfig, '.git', 'config'), '[core]\n\trepositoryformatversion = 0\n' + '#'.repeat(2 << 20) + '\n');
    expect(plainWorkTreeRoot(bigConfig, ENV)).toBeUndefined();
  });

  it('a directory that does not exist, or a file, is no repository', async () => {
    expect(plainWorkTreeRoot(join(base, 'missing'), ENV)).toBeUndefined();
    await expect(findRepoRoot(join(base, 'missing'), ENV)).resolves.toBeUndefined();
    writeFileSync(join(outside, 'file'), 'x');
    expect(plainWorkTreeRoot(join(outside, 'file'), ENV)).toBeUndefined();
  });

  it('a .git file that points nowhere, or a .git directory that is no repository, is left to git', async () => {
    const broken = join(base, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, '.git'), 'gitdir: ../does-not-exist\n');
    expect(plainWorkTreeRoot(broken, ENV)).toBeUndefined();
    const hollow = join(base, 'hollow');
    mkdirSync(join(hollow, '.git'), { recursive: true });
    expect(plainWorkTreeRoot(hollow, ENV)).toBeUndefined();
    // What git makes of them, findRepoRoot says (here: no repository, or an error of git's).
    for (const dir of [broken, hollow]) {
      const expected = gitsAnswer(dir);
      const got = await findRepoRoot(dir, ENV).catch((e: Error) => `error: ${e.message}`);
      if (expected) expect(got).toBe(expected);
      else expect(got === undefined || String(got).startsWith('error:')).toBe(true);
    }
  });

  it('agrees with repoRoot (the git path) on every plain layout', async () => {
    for (const [, dir] of plain) {
      expect(await findRepoRoot(dir, ENV)).toBe(await repoRoot(dir));
      expect(plainRepository(dir, ENV)?.commonDir).toBe(await gitCommonDir(await repoRoot(dir))); // as push-done asks
    }
  });
});
