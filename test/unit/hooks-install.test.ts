import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHAINED_SUFFIX, installHooks, isOurHook, renderHook, uninstallHooks } from '../../src/git/hooks.js';

const target = { node: '/opt/node dir/bin/node', cli: "/opt/it's/dist/src/cli.js" };

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'fm-hooks-'));
}

function snapshot(path: string): { bytes: string; mode: number } {
  return { bytes: readFileSync(path, 'latin1'), mode: statSync(path).mode & 0o7777 };
}

describe('renderHook', () => {
  it('inlines the shared part and fills in the quoted paths; the result is valid sh', () => {
    for (const name of ['pre-push', 'reference-transaction'] as const) {
      const text = renderHook(name, target);
      expect(isOurHook(text)).toBe(true);
      expect(text.startsWith('#!/bin/sh\n')).toBe(true);
      expect(text).not.toContain('flux-monitor-include');
      expect(text).toContain('fm_chain()');
      const r = spawnSync('sh', ['-n'], { input: text });
      expect(r.status, r.stderr.toString()).toBe(0);
    }
    const pp = renderHook('pre-push', target);
    expect(pp).toContain(`fm_node='/opt/node dir/bin/node'`);
    expect(pp).toContain(`fm_cli='/opt/it'\\''s/dist/src/cli.js'`);
    // The quoted value reads back as the path.
    const r = spawnSync('sh', ['-c', `${pp.split('\n').find((l) => l.startsWith('fm_cli='))}; printf %s "$fm_cli"`]);
    expect(r.stdout.toString()).toBe(target.cli);
  });

  it('recognises only its own hooks', () => {
    expect(isOurHook('#!/bin/sh\n# flux-monitor-hook: pre-push\n')).toBe(true);
    expect(isOurHook('#!/bin/sh\necho "# flux-monitor-hook: in a string later"\n\n\n\n# flux-monitor-hook:')).toBe(false);
    expect(isOurHook('#!/usr/bin/env sh\n. "$(dirname "$0")/h"\n')).toBe(false);
  });
});

describe('installHooks / uninstallHooks', () => {
  it('installs executable hooks in an empty (even missing) directory and removes them again', () => {
    const dir = join(tmp(), 'hooks');
    const actions = installHooks(dir, target);
    expect(actions.map((a) => [a.hook, a.action])).toEqual([
      ['pre-push', 'installed'],
      ['reference-transaction', 'installed'],
    ]);
    for (const h of ['pre-push', 'reference-transaction']) {
      expect(statSync(join(dir, h)).mode & 0o777).toBe(0o755);
      expect(isOurHook(readFileSync(join(dir, h), 'utf8'))).toBe(true);
    }
    expect(uninstallHooks(dir).map((a) => a.action)).toEqual(['removed', 'removed']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('is idempotent: a second install changes nothing, a second uninstall too', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'pre-push'), '#!/bin/sh\nexit 0\n', { mode: 0o750 });
    installHooks(dir, target);
    const after1 = snapshot(join(dir, 'pre-push'));
    const chained1 = snapshot(join(dir, 'pre-push' + CHAINED_SUFFIX));
    expect(installHooks(dir, target).map((a) => a.action)).toEqual(['unchanged', 'unchanged']);
    expect(snapshot(join(dir, 'pre-push'))).toEqual(after1);
    expect(snapshot(join(dir, 'pre-push' + CHAINED_SUFFIX))).toEqual(chained1);
    uninstallHooks(dir);
    expect(uninstallHooks(dir).map((a) => a.action)).toEqual(['skipped', 'absent']);
    expect(readFileSync(join(dir, 'pre-push'), 'utf8')).toBe('#!/bin/sh\nexit 0\n');
  });

  it('chains an existing hook and restores it byte for byte, mode included', () => {
    const dir = tmp();
    const original = '#!/bin/sh\r\n# not ours, CRLF and a trailing space \necho "pushing $1"\nexit 0'; // no final newline
    writeFileSync(join(dir, 'pre-push'), original);
    chmodSync(join(dir, 'pre-push'), 0o751); // an unusual mode, to see it kept
    const before = snapshot(join(dir, 'pre-push'));
    const actions = installHooks(dir, target);
    expect(actions[0]).toMatchObject({ hook: 'pre-push', action: 'chained', chained: join(dir, 'pre-push' + CHAINED_SUFFIX) });
    expect(actions[1]!.action).toBe('installed');
    expect(snapshot(join(dir, 'pre-push' + CHAINED_SUFFIX))).toEqual(before);
    expect(isOurHook(readFileSync(join(dir, 'pre-push'), 'utf8'))).toBe(true);

    // An update (new paths) keeps the chained hook.
    expect(installHooks(dir, { ...target, cli: '/elsewhere/cli.js' })[0]!.action).toBe('updated');
    expect(snapshot(join(dir, 'pre-push' + CHAINED_SUFFIX))).toEqual(before);

    expect(uninstallHooks(dir).map((a) => a.action)).toEqual(['restored', 'removed']);
    expect(snapshot(join(dir, 'pre-push'))).toEqual(before);
    expect(existsSync(join(dir, 'pre-push' + CHAINED_SUFFIX))).toBe(false);
    expect(existsSync(join(dir, 'reference-transaction'))).toBe(false);
  });

  it('keeps a symlinked hook a symlink', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'real-hook'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    symlinkSync('real-hook', join(dir, 'reference-transaction'));
    installHooks(dir, target);
    expect(lstatSync(join(dir, 'reference-transaction' + CHAINED_SUFFIX)).isSymbolicLink()).toBe(true);
    uninstallHooks(dir);
    expect(lstatSync(join(dir, 'reference-transaction')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'reference-transaction'))).toBe('real-hook');
  });

  it('re-chains when another tool rewrote the hook identically, and refuses to drop a different one without --force', () => {
    const dir = tmp();
    const husky = '#!/usr/bin/env sh\n. "$(dirname "$0")/h"\n';
    writeFileSync(join(dir, 'pre-push'), husky, { mode: 0o755 });
    installHooks(dir, target);
    // The tool re-creates its hook over ours, same content: chained again, nothing lost.
    writeFileSync(join(dir, 'pre-push'), husky, { mode: 0o755 });
    expect(installHooks(dir, target)[0]!.action).toBe('chained');
    expect(readFileSync(join(dir, 'pre-push' + CHAINED_SUFFIX), 'utf8')).toBe(husky);

    // A different hook replaced ours: keep both until the user decides.
    writeFileSync(join(dir, 'pre-push'), '#!/bin/sh\necho new\n', { mode: 0o755 });
    const skipped = installHooks(dir, target)[0]!;
    expect(skipped.action).toBe('skipped');
    expect(skipped.note).toMatch(/--force/);
    expect(readFileSync(join(dir, 'pre-push'), 'utf8')).toBe('#!/bin/sh\necho new\n');
    expect(readFileSync(join(dir, 'pre-push' + CHAINED_SUFFIX), 'utf8')).toBe(husky);
    expect(installHooks(dir, { ...target, force: true })[0]!.action).toBe('chained');
    expect(readFileSync(join(dir, 'pre-push' + CHAINED_SUFFIX), 'utf8')).toBe('#!/bin/sh\necho new\n');
  });

  it('uninstall leaves hooks that are not ours alone', () => {
    const dir = tmp();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pre-push'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    writeFileSync(join(dir, 'pre-push' + CHAINED_SUFFIX), 'older', { mode: 0o755 });
    const a = uninstallHooks(dir)[0]!;
    expect(a.action).toBe('skipped');
    expect(a.note).toMatch(/left in place/);
    expect(readFileSync(join(dir, 'pre-push'), 'utf8')).toBe('#!/bin/sh\nexit 0\n');
    expect(readFileSync(join(dir, 'pre-push' + CHAINED_SUFFIX), 'utf8')).toBe('older');
  });
});

// A bare repository runs its own pre-push and reference-transaction hooks for the pushes made from it (a bare
// clone or mirror that pushes to the server): install puts them there, and the whole pipeline works from it.
describe('a bare repository that pushes', () => {
  it('gets the hooks (core.hooksPath honoured); a real push from it starts a monitor that `status` there shows', async () => {
    const { ApiSimulator } = await import('../../src/sim/server.js');
    const { git: gitStatus, ks: ksStatus } = await import('../../src/sim/flux-status.js');
    const { TestRepo, eventually, requireBuild } = await import('../helpers/e2e.js');
    requireBuild();
    const sim = new ApiSimulator();
    await sim.start();
    const kubeconfig = join(tmp(), 'kubeconfig');
    await sim.writeKubeconfig(kubeconfig);
    const r = new TestRepo({ kubeconfig, install: false });
    try {
      const bare = join(r.base, 'pusher.git');
      r.ok(r.base, 'clone', '-q', '--bare', r.remote, bare);
      r.ok(bare, 'config', 'core.hooksPath', 'custom-hooks'); // relative: git runs a bare repository's hooks in it
      const inst = r.cli(['install', '--repo', bare]);
      expect(inst.stderr).toBe('');
      expect(inst.status).toBe(0);
      expect(inst.stdout).toContain(`flux-monitor hooks in ${join(bare, 'custom-hooks')} (core.hooksPath = custom-hooks)`);
      expect(inst.stdout).toContain('bare repository');
      expect(isOurHook(readFileSync(join(bare, 'custom-hooks', 'pre-push'), 'utf8'))).toBe(true);

      // Flux follows main of the server; a new commit reaches the bare clone, which pushes it.
      const name = 'from-bare';
      const ref = (kind: string) => ({ kind, namespace: 'flux-system', name });
      sim.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name, namespace: 'flux-system' }, spec: { url: r.remote, ref: { branch: 'main' }, interval: '1m' } } as never);
      sim.apply({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace: 'flux-system' }, spec: { sourceRef: { kind: 'GitRepository', name }, path: './deploy', interval: '1m', prune: true } } as never);
      const sha = r.commit('pushed from a bare clone');
      r.ok(r.work, 'push', '-q', '--no-verify', bare, 'main');
      const push = r.git(['push', 'origin', 'main'], bare);
      expect(push.status).toBe(0);
      // A bare clone has no remote-tracking refs: the push is confirmed with ls-remote.
      expect(await r.decided(sha)).toMatch(/confirmed \(remote refs\/heads\/main is /);
      const s = await eventually(() => r.sessions().find((x) => x.commit.sha === sha), 10_000, 'the session');
      expect(s.repo).toMatchObject({ path: bare, branch: 'main', remote: 'origin', url: r.remote });
      expect(s.commit.subject).toBe('pushed from a bare clone');

      // `status` and `history` in the bare repository find it.
      const st = r.cli(['status', '--json'], bare);
      expect(st.status).toBe(0);
      expect(JSON.parse(st.stdout)).toMatchObject({ id: s.id });
      await eventually(() => r.sessions().find((x) => x.id === s.id && Object.keys(x.nodes).length > 0), 10_000, 'the monitor to see the Flux objects');
      const rev = `main@sha1:${sha}`;
      sim.setStatus(ref('GitRepository'), gitStatus.ready(sim.get(ref('GitRepository'))!, rev));
      sim.setStatus(ref('Kustomization'), ksStatus.ready(sim.get(ref('Kustomization'))!, rev, {}));
      const done = await eventually(() => r.sessions().find((x) => x.id === s.id && x.status === 'finished'), 15_000, 'the verdict');
      expect(done.verdict).toBe('success');
      expect(r.cli(['history'], bare).stdout).toMatch(new RegExp(`main\\s+${sha.slice(0, 7)}\\s+success\\s+${s.id}`));

      const un = r.cli(['uninstall'], bare);
      expect(un.status).toBe(0);
      expect(readdirSync(join(bare, 'custom-hooks'))).toEqual([]);
    } finally {
      r.stopAll();
      await sim.stop();
    }
  });

  it('the .git directory of a work tree is not a repository to install into: it says where to run it', () => {
    const dir = tmp();
    expect(spawnSync('git', ['init', '-q', dir]).status).toBe(0);
    const CLI = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.cjs');
    const r = spawnSync(process.execPath, [CLI, 'install'], { cwd: join(dir, '.git'), encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('is inside the .git directory of a work tree');
    expect(r.stderr).toContain('Run this in the work tree.');
  });
});
