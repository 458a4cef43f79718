// What `watch` asks git when its flags already say the commit, the repository URL and the branch
// (src/commands/target.ts): the repository's root, the revision and HEAD's subject, and nothing of gitInfo's branch,
// remotes and upstream lookups, which are made only when a commit has to be related (fetched from the remote).
// Real git, run through a wrapper on PATH that records each command line.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveWatchTarget } from '../../src/commands/target.js';
import type { CommandIO } from '../../src/commands/types.js';

const ID = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();

function sh(cwd: string, ...args: string[]): string {
  return execFileSync(realGit, args, { cwd, encoding: 'utf8', env: { ...process.env, ...ID } }).trim();
}

let base: string;
let calls: string;

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'fm-target-')));
  const bin = join(base, 'bin');
  mkdirSync(bin);
  calls = join(base, 'calls.log');
  // Records the arguments of every git command, then runs the real git with them.
  writeFileSync(join(bin, 'git'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nexec '${realGit}' "$@"\n`);
  chmodSync(join(bin, 'git'), 0o755);
  vi.stubEnv('PATH', `${bin}:${process.env.PATH}`);
});

afterEach(() => {
  vi.unstubAllEnvs();
});

function gitCalls(): string[] {
  try {
    return readFileSync(calls, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** A clone of a bare remote (origin, main tracking origin/main), with a hook file; and a second clone. */
function setup(): { root: string; bare: string; other: string; head: string } {
  const bare = join(base, 'remote.git');
  const root = join(base, 'work');
  sh(base, 'init', '-q', '--bare', '-b', 'main', bare);
  sh(base, 'init', '-q', '-b', 'main', root);
  mkdirSync(join(root, '.kiro/hooks'), { recursive: true });
  writeFileSync(join(root, '.kiro/hooks/flux-reconciliation-monitor.yaml'), 'enabled: true\nconfig:\n  timeout: 300\n');
  sh(root, 'add', '.');
  sh(root, 'commit', '-q', '-m', 'first commit');
  sh(root, 'remote', 'add', 'origin', bare);
  sh(root, 'push', '-q', '-u', 'origin', 'main');
  const other = join(base, 'other');
  sh(base, 'clone', '-q', bare, other);
  return { root, bare, other, head: sh(root, 'rev-parse', 'HEAD') };
}

const ioIn = (cwd: string) => ({ cwd, env: process.env, stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough() }) as unknown as CommandIO;

describe('watch --revision --repo-url --branch', () => {
  it('asks git only for the revision and HEAD (the root comes from the file system), and still reads the hook file and the subject', async () => {
    const { root, head } = setup();
    const t = await resolveWatchTarget(ioIn(root), { revision: head.slice(0, 10), repoUrl: 'https://example.com/o/r.git', branch: 'main' });
    expect(t.pushed).toEqual({ sha: head, branch: 'main' });
    expect(t.repoUrl).toBe('https://example.com/o/r.git');
    expect(t.repoPath).toBe(root);
    expect(t.subject).toBe('first commit');
    expect(t.config.timeout).toBe(300);
    const asked = gitCalls();
    expect(asked.filter((c) => c.startsWith('rev-parse --show-toplevel'))).toEqual([]);
    // gitInfo's questions: the current branch, the remotes, the branch's upstream.
    expect(asked.filter((c) => /^symbolic-ref|^config /.test(c))).toEqual([]);
    expect(asked).toHaveLength(2);
  });

  it('a commit the clone lacks is still fetched from the upstream remote, looked up only then', async () => {
    const { root, other } = setup();
    sh(other, 'commit', '-q', '--allow-empty', '-m', 'a teammate on top');
    sh(other, 'push', '-q', 'origin', 'main');
    const theirs = sh(other, 'rev-parse', 'HEAD');
    const head = sh(root, 'rev-parse', 'HEAD');
    const t = await resolveWatchTarget(ioIn(root), { revision: head, repoUrl: 'https://example.com/o/r.git', branch: 'main' });
    expect(t.relateCommit).toBeDefined();
    expect(gitCalls().filter((c) => /^symbolic-ref|^config /.test(c))).toEqual([]);
    expect(await t.relateCommit!(theirs)).toEqual({ relation: 'contains' });
    expect(gitCalls().some((c) => c.startsWith('config --get-regexp'))).toBe(true);
    expect(gitCalls().some((c) => /^fetch .* origin/.test(c))).toBe(true);
  });

  it('outside a repository, the flags are all there is', async () => {
    const t = await resolveWatchTarget(ioIn(base), { revision: 'A'.repeat(40), repoUrl: 'https://example.com/o/r.git', branch: 'dev' });
    expect(t).toEqual({ pushed: { sha: 'a'.repeat(40), branch: 'dev' }, repoUrl: 'https://example.com/o/r.git', branch: 'dev', config: expect.any(Object) });
    expect(gitCalls()).toEqual([]); // the file system settles that there is no repository: git never runs
  });

  it('with --remote too, the remote is checked as before', async () => {
    const { root, head } = setup();
    await expect(resolveWatchTarget(ioIn(root), { revision: head, repoUrl: 'https://example.com/o/r.git', branch: 'main', remote: 'nope' })).rejects.toThrow(/no remote named "nope"/);
  });
});
