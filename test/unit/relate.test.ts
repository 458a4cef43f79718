// relateCommit against real git repositories: a bare remote and two clones (mine and a teammate's).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { relateCommit } from '../../src/git/relate.js';

const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

let base: string;
let remote: string;
let mine: string;
let theirs: string;

function commit(dir: string, file: string, content: string): string {
  writeFileSync(join(dir, file), content);
  git(dir, 'add', file);
  git(dir, 'commit', '-q', '-m', `${file}: ${content}`);
  return git(dir, 'rev-parse', 'HEAD');
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'fm-relate-'));
  remote = join(base, 'remote.git');
  mine = join(base, 'mine');
  theirs = join(base, 'theirs');
  git(base, 'init', '-q', '--bare', '--initial-branch=main', remote);
  git(base, 'clone', '-q', remote, mine);
  git(mine, 'checkout', '-q', '-b', 'main');
  commit(mine, 'a.txt', 'first');
  git(mine, 'push', '-q', 'origin', 'main');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

/** Everything a fetch could have touched in the clone: its refs, HEAD, FETCH_HEAD and the work tree. */
function footprint(dir: string) {
  return {
    refs: git(dir, 'for-each-ref', '--format=%(refname) %(objectname)'),
    head: git(dir, 'rev-parse', 'HEAD'),
    fetchHead: existsSync(join(dir, '.git', 'FETCH_HEAD')) ? readFileSync(join(dir, '.git', 'FETCH_HEAD'), 'utf8') : null,
    status: git(dir, 'status', '--porcelain'),
  };
}

describe('relateCommit', () => {
  it("fetches a teammate's commit this clone never saw, finds it contains the push, and touches no ref or file", async () => {
    const a = commit(mine, 'a.txt', 'A');
    git(mine, 'push', '-q', 'origin', 'main');
    git(base, 'clone', '-q', '--branch', 'main', remote, theirs);
    const b = commit(theirs, 'b.txt', 'B');
    git(theirs, 'push', '-q', 'origin', 'main');
    expect(() => git(mine, 'cat-file', '-e', `${b}^{commit}`)).toThrow();
    const before = footprint(mine);

    expect(await relateCommit(mine, a, b, { remote: 'origin', branch: 'main' })).toEqual({ relation: 'contains' });

    git(mine, 'cat-file', '-e', `${b}^{commit}`); // now in the object store
    expect(footprint(mine)).toEqual(before);
    expect(git(mine, 'for-each-ref', '--contains', b)).toBe('');
  });

  it('an older commit (Flux has not fetched the push yet) is older, and the same commit is the same', async () => {
    const parent = git(mine, 'rev-parse', 'HEAD');
    const a = commit(mine, 'a.txt', 'A');
    expect(await relateCommit(mine, a, parent, { remote: 'origin' })).toEqual({ relation: 'older' });
    expect(await relateCommit(mine, a, a.slice(0, 12), { remote: 'origin' })).toEqual({ relation: 'same' });
  });

  it('a force push that dropped the push has diverged, fetched from the remote', async () => {
    const a = commit(mine, 'a.txt', 'A');
    git(mine, 'push', '-q', 'origin', 'main');
    git(base, 'clone', '-q', '--branch', 'main', remote, theirs);
    git(theirs, 'reset', '-q', '--hard', 'HEAD~1');
    const c = commit(theirs, 'c.txt', 'instead of A');
    git(theirs, 'push', '-q', '--force', 'origin', 'main');
    expect(await relateCommit(mine, a, c, { remote: 'origin', branch: 'main' })).toEqual({ relation: 'diverged' });
  });

  it('a commit that cannot be fetched is unknown, with why, never a "no"', async () => {
    const a = commit(mine, 'a.txt', 'A');
    git(mine, 'remote', 'set-url', 'origin', join(base, 'gone.git'));
    const missing = 'b'.repeat(40);
    const r = await relateCommit(mine, a, missing, { remote: 'origin', branch: 'main' });
    expect(r.relation).toBe('unknown');
    expect(r.relation === 'unknown' && r.reason).toMatch(/^this clone does not have bbbbbbb and could not fetch it: /);
    // No remote to fetch from at all: said as such.
    expect(await relateCommit(mine, a, missing, {})).toEqual({ relation: 'unknown', reason: 'this clone does not have bbbbbbb and could not fetch it: the push named no remote to fetch from' });
  });

  it('in a shallow clone a "no" is unknown: the history in between may be missing', async () => {
    const a = commit(mine, 'a.txt', 'A');
    git(mine, 'push', '-q', 'origin', 'main');
    const b = commit(mine, 'b.txt', 'B');
    git(mine, 'push', '-q', 'origin', 'main');
    const shallow = join(base, 'shallow');
    git(base, 'clone', '-q', '--depth=1', '--branch', 'main', `file://${remote}`, shallow);
    const r = await relateCommit(shallow, b, a, { remote: 'origin', branch: 'main' });
    // `a` is fetched (by id) but the shallow boundary hides that it is b's parent.
    expect(r.relation).toBe('unknown');
  });

  it('hostile ids from the cluster never reach git as options', async () => {
    const a = commit(mine, 'a.txt', 'A');
    const marker = join(base, 'pwned');
    for (const other of [`--upload-pack=touch ${marker}`, '-h', `${'a'.repeat(40)} --exec=x`]) {
      expect(await relateCommit(mine, a, other, { remote: 'origin', branch: 'main' })).toEqual({ relation: 'unknown', reason: 'not a commit id' });
    }
    const r = await relateCommit(mine, a, 'c'.repeat(40), { remote: `--upload-pack=touch ${marker}`, branch: '--exec=x' });
    expect(r.relation).toBe('unknown');
    expect(existsSync(marker)).toBe(false);
  });
});
