// The installed POSIX hooks, run by sh the way git runs them (a parent process standing for `git push`).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHAINED_SUFFIX, installHooks } from '../../src/git/hooks.js';

const Z = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

interface Env {
  root: string;
  hooks: string;
  state: string;
  calls: string;
  env: NodeJS.ProcessEnv;
}

/** A git repository with our hooks installed, where "node" is a fake that records how the CLI is called. */
function setup(): Env {
  const root = mkdtempSync(join(tmpdir(), 'fm-hooksh-'));
  spawnSync('git', ['init', '-q', root]);
  const hooks = join(root, '.git', 'hooks');
  const calls = join(root, 'calls');
  const fakeNode = join(root, 'fake-node');
  writeFileSync(fakeNode, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${calls}'\n`, { mode: 0o755 });
  const cli = join(root, 'cli.js');
  writeFileSync(cli, '');
  installHooks(hooks, { node: fakeNode, cli });
  const state = join(root, 'state');
  return { root, hooks, state, calls, env: { PATH: process.env.PATH, HOME: root, XDG_STATE_HOME: state } };
}

/** Runs a hook as git does: cwd = work tree, a parent process (standing for git) that exits right after. */
function runHook(e: Env, hook: string, args: string[], input: string, before = '', cwd = e.root) {
  const script = `${before}\n"$0" "$@"; rc=$?; echo "$$" > '${e.root}/parent-pid'; exit $rc`;
  const r = spawnSync('sh', ['-c', script, join(e.hooks, hook), ...args], { cwd, env: e.env, input });
  return { status: r.status, stderr: r.stderr.toString(), stdout: r.stdout.toString(), parent: Number(readFileSync(join(e.root, 'parent-pid'), 'utf8')) };
}

async function eventually<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function chain(e: Env, hook: string, body: string, shebang = '#!/bin/sh') {
  writeFileSync(join(e.hooks, hook + CHAINED_SUFFIX), `${shebang}\n${body}\n`, { mode: 0o755 });
}

describe('pre-push', () => {
  it('records branch and tag updates (no deletions, no other refs) and hands over once git has exited', async () => {
    const e = setup();
    const input = [
      `refs/heads/main ${A} refs/heads/main ${B}`,
      `refs/tags/v1 ${A} refs/tags/v1 ${Z}`,
      `(delete) ${Z} refs/heads/old ${B}`,
      `refs/notes/x ${A} refs/notes/x ${Z}`,
      `HEAD ${B} refs/heads/feature ${Z}`,
    ].join('\n') + '\n';
    const r = runHook(e, 'pre-push', ['origin', 'git@example.com:org/repo.git'], input);
    expect(r.status).toBe(0);
    // A branch push to a named remote is announced by reference-transaction; a tag push, which updates no local
    // ref, here (no watched-tags cache yet: whether Flux follows it is not known yet, and the line says so).
    expect(r.stderr).toBe('flux-monitor: checking whether Flux follows tag v1; if it does: flux-monitor status\n');
    const intent = join(e.state, 'flux-monitor', 'intents', String(r.parent));
    expect(readFileSync(intent, 'utf8')).toBe(
      [
        'flux-monitor-intent 1',
        'remote origin',
        'url git@example.com:org/repo.git',
        `dir ${e.root}`,
        `refs/heads/main ${A} refs/heads/main ${B}`,
        `refs/tags/v1 ${A} refs/tags/v1 ${Z}`,
        `HEAD ${B} refs/heads/feature ${Z}`,
        '',
      ].join('\n'),
    );
    // The background helper waits for the parent (git) to be gone, then runs `flux-monitor hook push-done`.
    const calls = await eventually(() => (existsSync(e.calls) ? readFileSync(e.calls, 'utf8') : undefined));
    expect(calls).toBe([join(e.root, 'cli.js'), 'hook', 'push-done', intent, ''].join('\n'));
  });

  it('records nothing and starts nothing for deletions only (tag or branch) or an up-to-date push', async () => {
    const e = setup();
    const deletions = runHook(e, 'pre-push', ['origin', 'u'], `(delete) ${Z} refs/tags/v2 ${A}\n(delete) ${Z} refs/heads/old ${B}\n`);
    expect(deletions.status).toBe(0);
    expect(deletions.stderr).toBe('');
    expect(runHook(e, 'pre-push', ['origin', 'u'], '').status).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    const intents = join(e.state, 'flux-monitor', 'intents');
    expect(existsSync(intents) ? readdirSync(intents) : []).toEqual([]);
    expect(existsSync(e.calls)).toBe(false);
  });

  it('announces pushed tags the watched-tags cache lists, in one line, and only those', () => {
    const e = setup();
    const cache = join(e.root, '.git', 'flux-monitor', 'watched-tags');
    mkdirSync(join(e.root, '.git', 'flux-monitor'));
    writeFileSync(cache, 'v[0-9]*.[0-9]*.[0-9]*\nstable\n');
    const tags = (...names: string[]) => names.map((n) => `refs/tags/${n} ${A} refs/tags/${n} ${Z}\n`).join('');
    const one = runHook(e, 'pre-push', ['origin', 'u'], tags('v1.2.3', 'latest'));
    expect(one.status).toBe(0);
    expect(one.stderr).toBe('flux-monitor: if this push succeeds, follow what Flux does with tag v1.2.3: flux-monitor status\n');
    const two = runHook(e, 'pre-push', ['origin', 'u'], tags('v1.2.3', 'stable', 'v1.2'));
    expect(two.stderr).toBe('flux-monitor: if this push succeeds, follow what Flux does with tags v1.2.3, stable: flux-monitor status\n');
    // Listed by none: silent, yet recorded (push-done asks the cluster again).
    const none = runHook(e, 'pre-push', ['origin', 'u'], tags('latest'));
    expect(none.stderr).toBe('');
    expect(readFileSync(join(e.state, 'flux-monitor', 'intents', String(none.parent)), 'utf8')).toContain(`refs/tags/latest ${A} refs/tags/latest ${Z}\n`);
    // An empty cache (the hook is disabled, or no GitRepository follows a tag): silent.
    writeFileSync(cache, '');
    expect(runHook(e, 'pre-push', ['origin', 'u'], tags('v1.2.3')).stderr).toBe('');
    // In a linked work tree (.git is a file) the cache is found in the common directory all the same.
    const wt = join(e.root, '..', `${e.root.split('/').pop()}-wt`);
    spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'x'], { cwd: e.root });
    spawnSync('git', ['worktree', 'add', '-q', wt], { cwd: e.root });
    writeFileSync(cache, 'stable\n');
    expect(runHook(e, 'pre-push', ['origin', 'u'], tags('stable', 'v1.2.3'), '', wt).stderr).toBe('flux-monitor: if this push succeeds, follow what Flux does with tag stable: flux-monitor status\n');
    writeFileSync(cache, '');
    // A branch push is announced by reference-transaction, not here; a push to a URL once, whatever it holds.
    expect(runHook(e, 'pre-push', ['origin', 'u'], `refs/heads/main ${A} refs/heads/main ${B}\n`).stderr).toBe('');
    expect(runHook(e, 'pre-push', ['../r.git', '../r.git'], tags('v1.2.3')).stderr).toBe('flux-monitor: checking whether Flux follows this push; if it does: flux-monitor status\n');
  });

  it('announces a push to a URL itself (no tracking ref will confirm it), without promising a monitor', () => {
    const e = setup();
    const r = runHook(e, 'pre-push', ['../remote.git', '../remote.git'], `refs/heads/main ${A} refs/heads/main ${B}\n`);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('flux-monitor: checking whether Flux follows this push; if it does: flux-monitor status\n');
  });

  it('runs the chained hook with the same arguments and input, and a rejection still rejects', () => {
    const e = setup();
    chain(e, 'pre-push', `printf '%s|' "$@" > args\ncat > input.txt\necho "rejected by policy" >&2\nexit 7`);
    const input = `refs/heads/main ${A} refs/heads/main ${B}\n`;
    const r = runHook(e, 'pre-push', ['origin', 'https://h/x y'], input);
    expect(r.status).toBe(7);
    expect(r.stderr).toBe('rejected by policy\n');
    expect(readFileSync(join(e.root, 'args'), 'utf8')).toBe('origin|https://h/x y|');
    expect(readFileSync(join(e.root, 'input.txt'), 'utf8')).toBe(input);
    expect(existsSync(join(e.state, 'flux-monitor', 'intents'))).toBe(false); // a rejected push records nothing
  });

  it('runs a chained shell hook with $0 = the hook path (husky-style dispatchers look at their name)', () => {
    const e = setup();
    chain(e, 'pre-push', `basename "$0" > name.txt`, '#!/usr/bin/env sh');
    expect(runHook(e, 'pre-push', ['origin', 'u'], '').status).toBe(0);
    expect(readFileSync(join(e.root, 'name.txt'), 'utf8')).toBe('pre-push\n');
  });

  it('executes a chained hook in another language directly, with arguments and input', () => {
    const e = setup();
    chain(
      e,
      'pre-push',
      `const fs=require('fs');fs.writeFileSync('node-hook.txt', JSON.stringify([process.argv.slice(2), fs.readFileSync(0,'utf8')]));process.exit(3)`,
      '#!/usr/bin/env node',
    );
    const r = runHook(e, 'pre-push', ['origin', 'u'], 'line one\nline two\n');
    expect(r.status).toBe(3);
    expect(JSON.parse(readFileSync(join(e.root, 'node-hook.txt'), 'utf8'))).toEqual([['origin', 'u'], 'line one\nline two\n']);
  });

  it('ignores a chained hook that is not executable, as git would', () => {
    const e = setup();
    chain(e, 'pre-push', 'exit 1');
    chmodSync(join(e.hooks, 'pre-push' + CHAINED_SUFFIX), 0o644);
    expect(runHook(e, 'pre-push', ['origin', 'u'], '').status).toBe(0);
  });

  it('never fails nor prints when the state directory cannot be written', () => {
    const e = setup();
    writeFileSync(join(e.root, 'not-a-dir'), '');
    e.env.XDG_STATE_HOME = join(e.root, 'not-a-dir');
    const r = runHook(e, 'pre-push', ['origin', 'u'], `refs/heads/main ${A} refs/heads/main ${B}\n`);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('reference-transaction', () => {
  const intentFor = (e: Env) =>
    `mkdir -p '${e.state}/flux-monitor/intents' && printf 'flux-monitor-intent 1\\nremote origin\\nurl u\\ndir d\\nrefs/heads/main ${A} refs/heads/main ${B}\\n' > '${e.state}/flux-monitor/intents/'$$`;

  it('confirms tracking-ref updates committed by the process that recorded the intent, and says how to follow', () => {
    const e = setup();
    const input = [`${B} ${A} refs/remotes/origin/main`, `${A} ${Z} refs/remotes/origin/gone`, `${B} ${A} refs/remotes/other/main`, `${B} ${A} refs/heads/main`].join('\n') + '\n';
    const r = runHook(e, 'reference-transaction', ['committed'], input, intentFor(e));
    expect(r.status).toBe(0);
    // No watched-branches cache yet: push-done has still to ask the cluster, and the line says so.
    expect(r.stderr).toBe('flux-monitor: checking whether Flux follows main@aaaaaaa; if it does: flux-monitor status\n');
    expect(readFileSync(join(e.state, 'flux-monitor', 'intents', `${r.parent}.confirmed`), 'utf8')).toBe(`${B} ${A} refs/remotes/origin/main\n`);
    mkdirSync(join(e.root, '.git', 'flux-monitor'));
    writeFileSync(join(e.root, '.git', 'flux-monitor', 'watched-branches'), 'main\n');
    expect(runHook(e, 'reference-transaction', ['committed'], input, intentFor(e)).stderr).toBe('flux-monitor: following main@aaaaaaa through Flux: flux-monitor status\n');
  });

  it('stays silent for branches the watched-branches cache does not list', () => {
    const e = setup();
    mkdirSync(join(e.root, '.git', 'flux-monitor'));
    writeFileSync(join(e.root, '.git', 'flux-monitor', 'watched-branches'), 'release/*\nprod\n');
    const r = runHook(e, 'reference-transaction', ['committed'], `${B} ${A} refs/remotes/origin/main\n`, intentFor(e));
    expect(r.stderr).toBe('');
    expect(readFileSync(join(e.state, 'flux-monitor', 'intents', `${r.parent}.confirmed`), 'utf8')).toBe(`${B} ${A} refs/remotes/origin/main\n`);
    const r2 = runHook(e, 'reference-transaction', ['committed'], `${B} ${A} refs/remotes/origin/release/1.2\n`, intentFor(e));
    expect(r2.stderr).toBe('flux-monitor: following release/1.2@aaaaaaa through Flux: flux-monitor status\n');
  });

  it('does nothing for prepared/aborted states or without an intent of this process (commits, fetches)', () => {
    const e = setup();
    const input = `${B} ${A} refs/remotes/origin/main\n`;
    for (const state of ['prepared', 'aborted']) {
      const r = runHook(e, 'reference-transaction', [state], input, intentFor(e));
      expect(r.status).toBe(0);
      expect(r.stderr).toBe('');
      expect(existsSync(join(e.state, 'flux-monitor', 'intents', `${r.parent}.confirmed`))).toBe(false);
    }
    const fetch = runHook(e, 'reference-transaction', ['committed'], input); // no intent: a fetch
    expect(fetch.stderr).toBe('');
    expect(existsSync(join(e.state, 'flux-monitor', 'intents', `${fetch.parent}.confirmed`))).toBe(false);
  });

  it('a chained hook still decides a prepared transaction and gets the same input', () => {
    const e = setup();
    chain(e, 'reference-transaction', `cat > rt-input.txt\n[ "$1" = prepared ] && exit 1\nexit 0`);
    const input = `${B} ${A} refs/heads/main\n`;
    expect(runHook(e, 'reference-transaction', ['prepared'], input).status).toBe(1);
    expect(readFileSync(join(e.root, 'rt-input.txt'), 'utf8')).toBe(input);
    expect(runHook(e, 'reference-transaction', ['committed'], input).status).toBe(0);
  });
});
