import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { branchMatches, decidePushed, parseConfirmations, parseIntent, type ConfirmDeps, type PushIntent } from '../../src/git/intent.js';
import {
  absoluteRemote,
  commitInfo,
  currentBranch,
  git,
  gitInfo,
  GitError,
  hooksDir,
  isAncestor,
  lsRemote,
  remotes,
  remoteSettings,
  repoRoot,
  resolveCommit,
  trackingRef,
} from '../../src/git/repo.js';
import { handlePushDone } from '../../src/session/push-done.js';
import { statePaths } from '../../src/session/paths.js';
import { processStartToken } from '../../src/session/proc.js';
import { listSessions, liveness, readSessionFile, sessionFile, sessionLogFile } from '../../src/session/store.js';
import { newSessionState } from '../../src/core/types.js';

const Z = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();
}

function repo(): { root: string; bare: string } {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'fm-git-')));
  const bare = join(base, 'remote.git');
  const root = join(base, 'work');
  sh(base, 'init', '-q', '--bare', bare);
  sh(base, 'init', '-q', '-b', 'main', root);
  sh(root, 'commit', '-q', '--allow-empty', '-m', 'first commit');
  return { root, bare };
}

describe('trackingRef', () => {
  const def = ['+refs/heads/*:refs/remotes/origin/*'];
  it('maps like git push does when it updates remote-tracking refs', () => {
    expect(trackingRef(def, 'refs/heads/main')).toBe('refs/remotes/origin/main');
    expect(trackingRef(def, 'refs/heads/feature/x')).toBe('refs/remotes/origin/feature/x');
    expect(trackingRef(def, 'refs/tags/v1')).toBeUndefined();
    expect(trackingRef(['+refs/heads/main:refs/remotes/origin/main'], 'refs/heads/main')).toBe('refs/remotes/origin/main');
    expect(trackingRef(['+refs/heads/main:refs/remotes/origin/main'], 'refs/heads/dev')).toBeUndefined(); // single-branch clone
    expect(trackingRef([...def, '^refs/heads/tmp/*'], 'refs/heads/tmp/a')).toBeUndefined();
    expect(trackingRef(['refs/heads/*'], 'refs/heads/main')).toBeUndefined(); // no destination
    expect(trackingRef([], 'refs/heads/main')).toBeUndefined();
  });
});

describe('intents', () => {
  const text = ['flux-monitor-intent 1', 'remote origin', 'url ../remote.git', 'dir /w', `refs/heads/main ${A} refs/heads/main ${B}`, `refs/heads/dev ${B} refs/heads/dev ${Z}`, ''].join('\n');

  it('parses what pre-push writes', () => {
    expect(parseIntent(text)).toEqual({
      remote: 'origin',
      url: '../remote.git',
      dir: '/w',
      refs: [
        { localRef: 'refs/heads/main', localSha: A, remoteRef: 'refs/heads/main', remoteSha: B },
        { localRef: 'refs/heads/dev', localSha: B, remoteRef: 'refs/heads/dev', remoteSha: Z },
      ],
    });
  });

  it('rejects anything else', () => {
    expect(() => parseIntent('hello')).toThrow(/not a flux-monitor intent/);
    expect(() => parseIntent('flux-monitor-intent 1\nremote o\nurl u\n')).toThrow(/expected "dir/);
    expect(() => parseIntent('flux-monitor-intent 1\nremote o\nurl u\ndir d\nrefs/heads/x nothex refs/heads/x ' + Z)).toThrow(/malformed/);
  });

  it('parses confirmations, ignoring malformed lines', () => {
    expect(parseConfirmations(`${B} ${A} refs/remotes/origin/main\ngarbage\n\n`)).toEqual([{ old: B, new: A, ref: 'refs/remotes/origin/main' }]);
  });
});

describe('decidePushed', () => {
  const named: PushIntent = { remote: 'origin', url: '/r.git', dir: '/w', refs: [{ localRef: 'refs/heads/main', localSha: A, remoteRef: 'refs/heads/main', remoteSha: B }] };
  const deps = (o: Partial<ConfirmDeps> & { calls?: string[] } = {}): ConfirmDeps => ({
    remoteUrl: async (n) => (n === 'origin' ? '/r.git' : undefined),
    trackingRef: async (_r, ref) => ref.replace('refs/heads/', 'refs/remotes/origin/'),
    lsRemote: async () => {
      o.calls?.push('ls-remote');
      return undefined;
    },
    ...o,
  });

  it('named remote: pushed iff the tracking ref was committed to the pushed sha; no network call', async () => {
    const calls: string[] = [];
    const ok = await decidePushed(named, [{ old: B, new: A, ref: 'refs/remotes/origin/main' }], deps({ calls }));
    expect(ok).toMatchObject([{ branch: 'main', pushed: true, how: 'tracking-ref' }]);
    const rejected = await decidePushed(named, [], deps({ calls }));
    expect(rejected).toMatchObject([{ pushed: false }]);
    expect(rejected[0]!.reason).toMatch(/rejected, failed or --dry-run/);
    const otherSha = await decidePushed(named, [{ old: B, new: B, ref: 'refs/remotes/origin/main' }], deps({ calls }));
    expect(otherSha[0]!.pushed).toBe(false);
    expect(calls).toEqual([]);
  });

  it('push to a URL, or a branch no refspec maps: asks the remote', async () => {
    const url: PushIntent = { ...named, remote: '/r.git' };
    expect(await decidePushed(url, [], deps({ lsRemote: async () => A }))).toMatchObject([{ pushed: true, how: 'ls-remote' }]);
    expect(await decidePushed(url, [], deps({ lsRemote: async () => B }))).toMatchObject([{ pushed: false }]);
    const unmapped = await decidePushed(named, [], deps({ trackingRef: async () => undefined, lsRemote: async () => A }));
    expect(unmapped).toMatchObject([{ pushed: true, how: 'ls-remote' }]);
    // A mirror clone (+refs/*:refs/*) maps the branch onto refs/heads/main itself: no remote-tracking ref to confirm.
    const mirror = await decidePushed(named, [], deps({ trackingRef: async (_r, r) => r, lsRemote: async () => A }));
    expect(mirror).toMatchObject([{ pushed: true, how: 'ls-remote' }]);
    const failing = await decidePushed(url, [], deps({ lsRemote: async () => Promise.reject(new Error('auth needed')) }));
    expect(failing[0]!.pushed).toBe(false);
    expect(failing[0]!.reason).toMatch(/auth needed/);
  });

  it('never counts deletions or refs that are neither branches nor tags (tags: see push-tags.test.ts)', async () => {
    const i: PushIntent = {
      ...named,
      refs: [
        { localRef: '(delete)', localSha: Z, remoteRef: 'refs/heads/x', remoteSha: A },
        { localRef: '(delete)', localSha: Z, remoteRef: 'refs/tags/v0', remoteSha: A },
        { localRef: 'refs/notes/commits', localSha: A, remoteRef: 'refs/notes/commits', remoteSha: Z },
      ],
    };
    const d = await decidePushed(i, [{ old: A, new: Z, ref: 'refs/remotes/origin/x' }], deps({ lsRemote: async () => A }));
    expect(d.map((x) => x.pushed)).toEqual([false, false, false]);
  });
});

describe('branchMatches', () => {
  it('matches names and shell-style patterns, like the hook', () => {
    expect(branchMatches('main', ['main', 'master'])).toBe(true);
    expect(branchMatches('release/1.2', ['release/*'])).toBe(true);
    expect(branchMatches('release', ['release/*'])).toBe(false);
    expect(branchMatches('v1', ['v?'])).toBe(true);
    expect(branchMatches('a.b', ['a+b', 'a?c'])).toBe(false);
    expect(branchMatches('main', [])).toBe(false);
  });
});

describe('repository helpers (real git)', () => {
  it('a directory outside any repository is a clear git error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-nogit-'));
    const err = await repoRoot(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    expect((err as GitError).category).toBe('git');
    expect((err as GitError).message).toBe(`not a git repository: ${dir}`);
    expect((err as GitError).hint).toMatch(/--repo/);
    expect(await gitInfo(dir)).toBeUndefined();
  });

  it('reads root, branch, commit, remotes and refspecs', async () => {
    const { root, bare } = repo();
    mkdirSync(join(root, 'sub'));
    expect(await repoRoot(join(root, 'sub'))).toBe(root);
    expect(await currentBranch(root)).toBe('main');
    const head = await commitInfo(root);
    expect(head.subject).toBe('first commit');
    expect(head.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await resolveCommit(root, 'main')).toBe(head.sha);
    expect(await resolveCommit(root, 'nope')).toBeUndefined();
    expect(await resolveCommit(root, '--all')).toBeUndefined();
    expect(await remotes(root)).toEqual([]);
    sh(root, 'remote', 'add', 'origin', '../remote.git');
    sh(root, 'remote', 'add', 'mirror', 'https://user:secret@example.com/org/repo.git');
    expect(await remotes(root)).toEqual([
      { name: 'origin', url: '../remote.git' },
      { name: 'mirror', url: 'https://user:secret@example.com/org/repo.git' },
    ]);
    expect((await remoteSettings(root, 'origin')).fetch).toEqual(['+refs/heads/*:refs/remotes/origin/*']);
    expect((await remoteSettings(root, 'none')).fetch).toEqual([]);
    const info = await gitInfo(root);
    expect(info).toMatchObject({ root, branch: 'main', head: head.sha, subject: 'first commit', remote: 'origin', remoteUrl: bare });
    expect((await gitInfo(root, 'mirror'))!.remoteUrl).toBe('https://user:secret@example.com/org/repo.git');
    await expect(gitInfo(root, 'nope')).rejects.toThrow(/no remote named "nope"/);
  });

  it('prefers the upstream remote of the current branch', async () => {
    const { root } = repo();
    sh(root, 'remote', 'add', 'origin', 'https://example.com/a.git');
    sh(root, 'remote', 'add', 'fork', 'https://example.com/b.git');
    sh(root, 'config', 'branch.main.remote', 'fork');
    expect((await gitInfo(root))!.remote).toBe('fork');
  });

  it('has no branch on a detached HEAD', async () => {
    const { root } = repo();
    sh(root, 'checkout', '-q', '--detach');
    expect(await currentBranch(root)).toBeUndefined();
    expect((await gitInfo(root))!.branch).toBeUndefined();
  });

  it('finds the hooks directory, honouring core.hooksPath', async () => {
    const { root } = repo();
    expect(await hooksDir(root)).toBe(join(root, '.git', 'hooks'));
    sh(root, 'config', 'core.hooksPath', '.husky/_');
    expect(await hooksDir(root)).toBe(join(root, '.husky', '_'));
  });

  it('ls-remote and ancestry', async () => {
    const { root, bare } = repo();
    const first = (await commitInfo(root)).sha;
    sh(root, 'push', '-q', bare, 'main');
    expect(await lsRemote(root, bare, 'refs/heads/main')).toBe(first);
    expect(await lsRemote(root, bare, 'refs/heads/none')).toBeUndefined();
    await expect(lsRemote(root, join(root, 'missing.git'), 'refs/heads/main')).rejects.toBeInstanceOf(GitError);
    sh(root, 'commit', '-q', '--allow-empty', '-m', 'second');
    const second = (await commitInfo(root)).sha;
    expect(await isAncestor(root, first, second)).toBe(true);
    expect(await isAncestor(root, second, first)).toBe(false);
  });

  it('a git command that prints nothing resolves when git has finished, with no timer in between', async () => {
    // simple-git's completion plugin waits 50 ms (a timer) after a process that printed nothing. With the timers
    // frozen, that wait never ends: the commands below settle only if nothing waits on a timer once git is done.
    const { root } = repo();
    const first = (await commitInfo(root)).sha;
    sh(root, 'commit', '-q', '--allow-empty', '-m', 'second');
    const second = (await commitInfo(root)).sha;
    const realSetTimeout = globalThis.setTimeout;
    const settled = async <T>(p: Promise<T>): Promise<{ value?: T; error?: unknown } | 'pending'> => {
      let result: { value?: T; error?: unknown } | undefined;
      p.then((value) => (result = { value }), (error) => (result = { error }));
      // A generous ceiling: git itself takes milliseconds.
      for (let i = 0; i < 200 && !result; i++) await new Promise((r) => realSetTimeout(r, 50));
      return result ?? 'pending';
    };
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      // `merge-base --is-ancestor` answers with its exit status only; `config --get` of an unset key and
      // `rev-parse --verify --quiet` of a missing ref print nothing and exit 1.
      expect(await settled(isAncestor(root, first, second))).toEqual({ value: true });
      expect(await settled(isAncestor(root, second, first))).toEqual({ value: false });
      expect(await settled(resolveCommit(root, 'no-such-ref'))).toEqual({ value: undefined });
      const unset = await settled(git(root, ['config', '--get', 'branch.main.remote']));
      expect(unset).not.toBe('pending');
      expect((unset as { error?: unknown }).error).toBeInstanceOf(GitError);
      // Output is still read in full.
      expect(await settled(git(root, ['log', '-2', '--format=%H']))).toEqual({ value: `${second}\n${first}` });
    } finally {
      vi.useRealTimers();
    }
  });

  it('absoluteRemote resolves relative paths only', () => {
    expect(absoluteRemote('../r.git', '/w/repo')).toBe('/w/r.git');
    expect(absoluteRemote('/abs/r.git', '/w')).toBe('/abs/r.git');
    expect(absoluteRemote('git@github.com:o/r.git', '/w')).toBe('git@github.com:o/r.git');
    expect(absoluteRemote('https://h/o/r', '/w')).toBe('https://h/o/r');
    expect(absoluteRemote('file:///x/r.git', '/w')).toBe('file:///x/r.git');
  });
});

describe('remoteSettings (one git process for what push-done needs of a remote)', () => {
  it('agrees with remotes() and `git config --get-all`, for dotted names, several refspecs and missing remotes', async () => {
    const { root } = repo();
    sh(root, 'remote', 'add', 'origin', 'https://example.com/o/r.git');
    sh(root, 'remote', 'add', 'team.mirror', 'git@example.com:o/r.git');
    sh(root, 'config', '--add', 'remote.team.mirror.fetch', '+refs/tags/*:refs/tags/*');
    sh(root, 'config', '--add', 'remote.team.mirror.fetch', '^refs/heads/wip/*');
    sh(root, 'remote', 'add', 'team', 'https://example.com/team.git'); // a prefix of another remote's name
    for (const name of ['origin', 'team.mirror', 'team', 'absent', 'Origin']) {
      const got = await remoteSettings(root, name);
      const url = (await remotes(root)).find((r) => r.name === name)?.url;
      const fetch = spawnSync('git', ['config', '--get-all', `remote.${name}.fetch`], { cwd: root, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      expect(got, name).toEqual({ ...(url !== undefined ? { url } : {}), fetch });
    }
    expect((await remoteSettings(root, 'team.mirror')).fetch).toEqual(['+refs/heads/*:refs/remotes/team.mirror/*', '+refs/tags/*:refs/tags/*', '^refs/heads/wip/*']);
    const { root: bare } = repo();
    expect(await remoteSettings(bare, 'origin')).toEqual({ fetch: [] });
  });
});

describe('push-done (the helper that runs once git push has exited)', () => {
  function setup(config: string) {
    const { root, bare } = repo();
    sh(root, 'remote', 'add', 'origin', 'https://user:tok@example.com/org/repo.git');
    mkdirSync(join(root, '.kiro', 'hooks'), { recursive: true });
    writeFileSync(join(root, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml'), config);
    const paths = statePaths({ XDG_STATE_HOME: join(root, '..', 'state') });
    mkdirSync(paths.intents, { recursive: true });
    const head = sh(root, 'rev-parse', 'HEAD');
    const intent = join(paths.intents, '4242');
    writeFileSync(intent, ['flux-monitor-intent 1', 'remote origin', 'url https://user:tok@example.com/org/repo.git', `dir ${root}`, `refs/heads/main ${head} refs/heads/main ${Z}`, `refs/heads/dev ${head} refs/heads/dev ${Z}`, ''].join('\n'));
    const confirm = (ref: string) => writeFileSync(intent + '.confirmed', `${Z} ${head} ${ref}\n`, { flag: 'a' });
    return { root, bare, paths, intent, head, confirm };
  }

  it('starts one monitor per confirmed, watched branch, with credentials kept off the command line', async () => {
    const t = setup('config:\n  branches: [main]\n');
    t.confirm('refs/remotes/origin/main');
    t.confirm('refs/remotes/origin/dev');
    const started: string[][] = [];
    const logs: string[] = [];
    const res = await handlePushDone({
      intentFile: t.intent,
      paths: t.paths,
      env: {},
      log: (l) => logs.push(l),
      startMonitor: async (args) => (started.push(args), 999),
    });
    expect(res.decisions.map((d) => [d.branch, d.pushed])).toEqual([
      ['main', true],
      ['dev', true],
    ]);
    expect(started).toHaveLength(1);
    const args = started[0]!;
    expect(args.slice(0, 1)).toEqual(['run-session']);
    const flag = (n: string) => args[args.indexOf(n) + 1];
    expect(flag('--repo')).toBe(t.root);
    expect(flag('--branch')).toBe('main');
    expect(flag('--sha')).toBe(t.head);
    expect(flag('--remote')).toBe('origin');
    expect(flag('--url')).toBe('https://user:***@example.com/org/repo.git');
    expect(args.join(' ')).not.toContain('tok');
    expect(logs).toContain('branch dev is not watched by Flux; left alone');
    expect(logs.at(-1)).toMatch(/^done .*: 1 monitor\(s\) started$/);
    // The intent is consumed, and the hook's message cache now lists the watched branches.
    expect(existsSync(t.intent)).toBe(false);
    expect(existsSync(t.intent + '.confirmed')).toBe(false);
    expect(readFileSync(join(t.root, '.git', 'flux-monitor', 'watched-branches'), 'utf8')).toBe('main\n');
  });

  it('runs two git processes before the monitor starts (plain work tree, named remote): the remote, the subject', async () => {
    const t = setup('config:\n  branches: [main]\n');
    t.confirm('refs/remotes/origin/main');
    // A git on PATH that records each command it runs, then runs the real one.
    const bin = join(t.root, '..', 'git-shim');
    mkdirSync(bin, { recursive: true });
    const calls = join(bin, 'calls');
    const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    writeFileSync(join(bin, 'git'), `#!/bin/sh\necho "$*" >> '${calls}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`;
    try {
      const res = await handlePushDone({ intentFile: t.intent, paths: t.paths, env: { ...process.env }, log: () => undefined, startMonitor: async () => 999 });
      expect(res.started).toHaveLength(1);
    } finally {
      process.env.PATH = saved;
    }
    const ran = readFileSync(calls, 'utf8').trim().split('\n');
    expect(ran).toEqual(expect.arrayContaining([expect.stringMatching(/^config -z --get-regexp /), expect.stringMatching(/^log -1 /)]));
    expect(ran).toHaveLength(2);
  });

  it("writes the session's first state as soon as its monitor is spawned: starting, owned by the monitor's pid, 0600", async () => {
    const t = setup('config:\n  branches: [main]\n  timeout: 120\n');
    t.confirm('refs/remotes/origin/main');
    // The monitor: a live process that has not written anything yet.
    const monitor = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => monitor.once('spawn', r));
      const res = await handlePushDone({ intentFile: t.intent, paths: t.paths, env: {}, log: () => undefined, startMonitor: async () => monitor.pid! });
      const id = res.started[0]!.sessionId;
      const file = sessionFile(t.paths, id);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const s = readSessionFile(file);
      expect(s).toMatchObject({
        id,
        status: 'starting',
        pid: monitor.pid,
        pidStart: processStartToken(monitor.pid!),
        commit: { sha: t.head, subject: 'first commit' },
        repo: { path: t.root, url: 'https://user:***@example.com/org/repo.git', remote: 'origin', branch: 'main' },
        timeoutMs: 120_000,
        logPath: sessionLogFile(t.paths, id),
      });
      expect(s.pushedAt).toBe(Math.round(s.pushedAt!)); // the intent's mtime, as passed to the monitor (--pushed-at)
      expect(liveness(s)).toBe('running');
      // `status` right after the push finds it: the session push-done started is there.
      expect(listSessions(t.paths).map((e) => e.id)).toEqual([id]);
    } finally {
      monitor.kill('SIGKILL');
    }
  });

  it('never replaces what the monitor has already written, and a monitor that died leaves a dead session, not a running one', async () => {
    const t = setup('config:\n  branches: [main]\n');
    t.confirm('refs/remotes/origin/main');
    // A monitor that wrote its session (here: finished) before push-done got to write the first state.
    const res = await handlePushDone({
      intentFile: t.intent,
      paths: t.paths,
      env: {},
      log: () => undefined,
      startMonitor: async (args) => {
        const id = args[args.indexOf('--id') + 1]!;
        mkdirSync(t.paths.sessions, { recursive: true });
        writeFileSync(sessionFile(t.paths, id), JSON.stringify({ ...newSessionState({ id, sha: t.head, timeoutMs: 0, now: Date.now() }, (u) => u), status: 'finished', verdict: 'error', verdictMessage: 'from the monitor', endedAt: Date.now() }), { mode: 0o600 });
        return 1;
      },
    });
    const s = readSessionFile(sessionFile(t.paths, res.started[0]!.sessionId));
    expect(s).toMatchObject({ status: 'finished', verdictMessage: 'from the monitor' });

    // A monitor that exits before writing anything.
    const t2 = setup('config:\n  branches: [main]\n');
    t2.confirm('refs/remotes/origin/main');
    const crashed = spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' });
    await new Promise((r) => crashed.once('spawn', r));
    const res2 = await handlePushDone({ intentFile: t2.intent, paths: t2.paths, env: {}, log: () => undefined, startMonitor: async () => crashed.pid! });
    await new Promise((r) => (crashed.exitCode !== null ? r(undefined) : crashed.once('exit', r)));
    const s2 = readSessionFile(sessionFile(t2.paths, res2.started[0]!.sessionId));
    expect(s2).toMatchObject({ status: 'starting', pid: crashed.pid });
    expect(liveness(s2)).toBe('dead');
  });

  it('ignores a stale intent and starts nothing for an unconfirmed push', async () => {
    const t = setup('config:\n  branches: [main]\n');
    const old = (Date.now() - 25 * 3600_000) / 1000;
    utimesSync(t.intent, old, old);
    const start = async () => 1;
    const stale = await handlePushDone({ intentFile: t.intent, paths: t.paths, env: {}, log: () => undefined, startMonitor: start });
    expect(stale).toEqual({ decisions: [], started: [] });
    expect(existsSync(t.intent)).toBe(false);

    const t2 = setup('config:\n  branches: [main]\n');
    const res = await handlePushDone({ intentFile: t2.intent, paths: t2.paths, env: {}, log: () => undefined, startMonitor: start });
    expect(res.started).toEqual([]);
    expect(res.decisions.every((d) => !d.pushed)).toBe(true);
  });
});

