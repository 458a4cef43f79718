// Bad input from the user's machine: broken, missing or incomplete kubeconfigs, and a state directory that
// cannot be used. Each must end in a clear, categorised error (verdict `error`, category `config`), never a
// stack trace, both from the engine and from the built CLI.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_CONFIG, type MonitorEvent, type SessionState } from '../../src/core/types.js';
import { cleanup, runToVerdict, startSim } from '../helpers/engine.js';
import { statePaths, type StatePaths } from '../../src/session/paths.js';
import { appendHistory, historyEntry, listSessions, readHistory, SessionWriter, sessionFile, writeJsonAtomic, type StoredSession } from '../../src/session/store.js';
import { SHA_NEW } from '../helpers/flux.js';
import { finishedSession } from '../helpers/session.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.cjs');
const URL_ = 'https://github.com/acme/fleet.git';
const STACK = /\n\s+at |\bat .+:\d+:\d+\)?$/m;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fm-bad-'));
});
afterEach(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** A well-formed kubeconfig with two contexts, one per simulated cluster URL. */
function kubeconfig(over: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'dev', cluster: { server: 'http://127.0.0.1:1', 'insecure-skip-tls-verify': true } },
      { name: 'prod', cluster: { server: 'https://127.0.0.1:2', 'certificate-authority': 'missing-ca.crt' } },
    ],
    users: [{ name: 'me', user: { token: 'secret-token' } }],
    contexts: [
      { name: 'dev', context: { cluster: 'dev', user: 'me' } },
      { name: 'prod', context: { cluster: 'prod', user: 'me' } },
      { name: 'nowhere', context: { cluster: 'gone', user: 'me' } },
    ],
    'current-context': 'dev',
    ...over,
  });
}

/** The engine to its verdict with the engine's own tuning, a 5 s timeout and an empty environment unless given. */
const monitor = (opts: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv }) =>
  runToVerdict({ config: { ...DEFAULT_CONFIG, timeout: 5 }, tuning: undefined, kubeconfig: opts.kubeconfig, context: opts.context, env: opts.env ?? {} });

/** A session that could not start because of its configuration: categorised, explained, exit code 3, no stack. */
function expectConfigError(r: { final: SessionState; events: MonitorEvent[] }, message: RegExp): void {
  expect(r.final.verdict).toBe('error');
  expect(r.final.error?.category).toBe('config');
  expect(r.final.error?.message).toMatch(message);
  expect(r.final.error?.hint.length).toBeGreaterThan(10);
  for (const text of [r.final.error!.message, r.final.error!.hint, r.final.verdictMessage!]) {
    expect(text).not.toMatch(STACK);
    expect(text).not.toContain('\n');
  }
  expect(r.events.map((e) => e.type)).toEqual(['error', 'summary']);
  expect(r.events[1]).toMatchObject({ type: 'summary', verdict: 'error', exitCode: 3 });
}

describe('bad kubeconfigs', () => {
  it('garbage YAML', async () => {
    const p = file('kc', 'apiVersion: v1\nclusters: [ {name: a, cluster: {server: x}\n  users: : :\n');
    expectConfigError(await monitor({ kubeconfig: p }), new RegExp(`cannot read kubeconfig ${p}: .*line \\d+`));
  });

  it('binary garbage', async () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    expectConfigError(await monitor({ kubeconfig: file('kc', bytes) }), /cannot read kubeconfig/);
  });

  it('YAML that is not a kubeconfig: a list, a scalar, lists of the wrong shape', async () => {
    expectConfigError(await monitor({ kubeconfig: file('a', '- one\n- two\n') }), /not a YAML mapping/);
    expectConfigError(await monitor({ kubeconfig: file('b', 'just text\n') }), /not a YAML mapping/);
    expectConfigError(await monitor({ kubeconfig: file('c', 'clusters: {dev: {server: x}}\n') }), /clusters must be a list/);
    expectConfigError(await monitor({ kubeconfig: file('d', stringify({ contexts: [{ context: { cluster: 'x' } }] })) }), /contexts\[0\]\.name is missing/);
  });

  it('an empty file, and a directory instead of a file', async () => {
    expectConfigError(await monitor({ kubeconfig: file('empty', '') }), /no current context/);
    mkdirSync(join(dir, 'adir'));
    expectConfigError(await monitor({ kubeconfig: join(dir, 'adir') }), /it is a directory/);
  });

  it('a missing kubeconfig, named or default', async () => {
    const named = await monitor({ kubeconfig: join(dir, 'nope', 'config') });
    // A path given with --kubeconfig is named as such, with a hint about that path, not about $KUBECONFIG.
    expectConfigError(named, /^kubeconfig .*nope\/config \(given with --kubeconfig\) does not exist$/);
    expect(named.final.error?.hint).toBe('Check the path given to --kubeconfig; without it, $KUBECONFIG or ~/.kube/config is used.');
    // Neither --kubeconfig nor KUBECONFIG: ~/.kube/config, which does not exist in this HOME.
    const byDefault = await monitor({ env: { HOME: dir } });
    expectConfigError(byDefault, new RegExp(`looked at ${dir}/\\.kube/config`));
  });

  it('an unknown context lists the known ones', async () => {
    const r = await monitor({ kubeconfig: file('kc', kubeconfig()), context: 'staging' });
    expectConfigError(r, /context "staging" is not in the kubeconfig/);
    expect(r.final.error?.hint).toBe('Known contexts: dev, prod, nowhere.');
  });

  it('no current context, a current context that does not exist, a context whose cluster does not exist', async () => {
    expectConfigError(await monitor({ kubeconfig: file('a', kubeconfig({ 'current-context': undefined })) }), /has no current context/);
    expectConfigError(await monitor({ kubeconfig: file('b', kubeconfig({ 'current-context': 'old' })) }), /current context "old" is not in the kubeconfig/);
    expectConfigError(await monitor({ kubeconfig: file('c', kubeconfig()), context: 'nowhere' }), /names cluster "gone", which is not in the kubeconfig/);
  });

  it('a cluster without a server, or with a server that is not a URL', async () => {
    const noServer = kubeconfig({ clusters: [{ name: 'dev', cluster: {} }] });
    expectConfigError(await monitor({ kubeconfig: file('a', noServer) }), /context "dev" has no cluster server/);
    const badUrl = kubeconfig({ clusters: [{ name: 'dev', cluster: { server: 'not a url' } }] });
    expectConfigError(await monitor({ kubeconfig: file('b', badUrl) }), /invalid server URL/);
  });

  it('a certificate authority file that does not exist (relative to the kubeconfig)', async () => {
    const r = await monitor({ kubeconfig: file('kc', kubeconfig()), context: 'prod' });
    expectConfigError(r, new RegExp(`certificate authority ${dir}/missing-ca.crt .*ENOENT`));
  });

  it('credentials in the kubeconfig never appear in the error', async () => {
    const r = await monitor({ kubeconfig: file('kc', kubeconfig()), context: 'staging' });
    expect(JSON.stringify(r.events)).not.toContain('secret-token');
  });

  it('an exec credential plugin: a working one authenticates, a failing one is an unauthorized error with a hint', async () => {
    const { sim } = await startSim({ token: 'from-plugin' });
    const plugin = (name: string, body: string) => {
      const p = file(name, `#!/bin/sh\n${body}\n`);
      chmodSync(p, 0o755);
      return p;
    };
    const ok = plugin('ok.sh', `echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"from-plugin"}}'`);
    const failing = plugin('fail.sh', 'echo "error: you must log in first" >&2; exit 1');
    const withExec = (command: string) =>
      stringify({
        clusters: [{ name: 'sim', cluster: { server: sim.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command, interactiveMode: 'Never' } } }],
        contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'u' } }],
        'current-context': 'sim',
      });
    // Authenticated: the simulator answers (it has no GitRepository, hence not-found rather than unauthorized).
    const good = await monitor({ kubeconfig: file('good', withExec(ok)) });
    expect(good.final.error?.category).toBe('not-found');
    const bad = await monitor({ kubeconfig: file('bad', withExec(failing)) });
    expect(bad.final.verdict).toBe('error');
    expect(bad.final.error?.category).toBe('unauthorized');
    expect(bad.final.error?.message).toBe("the kubeconfig's credential plugin (exec) failed: error: you must log in first");
    expect(bad.final.error?.hint).toMatch(/Log in again/);
    // The same through the CLI: `watch --json` runs from its code-cached CommonJS bundle (src/cjs-cache.ts), which
    // loads the Kubernetes client, an ES module package it leaves external, for the plugin.
    const out = await new Promise<string>((done) => {
      const c = spawn(process.execPath, [CLI, 'watch', '--json', '--revision', SHA_NEW, '--repo-url', URL_, '--branch', 'main', '--kubeconfig', file('good-cli', withExec(ok)), '--timeout', '10s'], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1', FLUX_MONITOR_DEBUG: '1' },
      });
      let text = '';
      c.stdout.on('data', (d: Buffer) => (text += d.toString()));
      c.stderr.on('data', (d: Buffer) => (text += d.toString()));
      c.on('close', () => done(text));
    });
    expect(out).toContain('watch from chunks/watch.cjs, code cache taken');
    expect(out).toMatch(/"type":"error"[^\n]*"category":"not-found"/);
  });

  it('a tokenFile relative to the kubeconfig authenticates; a missing one is a config error naming it', async () => {
    const { sim } = await startSim({ token: 'in-a-file' });
    const withTokenFile = (tokenFile: string) =>
      stringify({
        clusters: [{ name: 'sim', cluster: { server: sim.url } }],
        users: [{ name: 'u', user: { tokenFile } }],
        contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'u' } }],
        'current-context': 'sim',
      });
    file('token', 'in-a-file\n');
    expect((await monitor({ kubeconfig: file('good', withTokenFile('token')) })).final.error?.category).toBe('not-found');
    const bad = await monitor({ kubeconfig: file('bad', withTokenFile('no-token')) });
    expect(bad.final.error?.category).toBe('config');
    expect(bad.final.error?.message).toContain(join(dir, 'no-token'));
  });

  it('files merged like kubectl: the first file to set a context or current-context wins', async () => {
    const { sim } = await startSim({ token: 'right' });
    const first = file('first', stringify({ 'current-context': 'sim', contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'u' } }] }));
    const second = file('second', stringify({
      'current-context': 'dev',
      clusters: [{ name: 'sim', cluster: { server: sim.url } }],
      users: [{ name: 'u', user: { token: 'right' } }],
      contexts: [{ name: 'sim', context: { cluster: 'elsewhere' } }],
    }));
    const r = await monitor({ kubeconfig: `${first}:${second}` });
    // It reached the simulator with the token (no GitRepository there: not-found, not a config error).
    expect(r.final.error?.category).toBe('not-found');
    expect(r.final.cluster.context).toBe('sim');
    expect(sim.stats().requests).toBeGreaterThan(0);
  });
});

describe('the CLI with a bad kubeconfig', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` builds before running the tests)`);
  });

  const watch = (kc: string, extra: string[] = []) =>
    spawnSync(process.execPath, [CLI, 'watch', '--revision', SHA_NEW, '--repo-url', URL_, '--branch', 'main', '--kubeconfig', kc, ...extra], {
      cwd: dir, // not a git repository: the flags say everything
      env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 20_000,
    });

  for (const [what, content] of [
    ['garbage YAML', 'clusters: [ {name: a\n  : : :\n'],
    ['an unknown current context', kubeconfig({ 'current-context': 'old' })],
  ] as const) {
    it(`${what}: exit 3, one line on stderr, no stack trace`, () => {
      const kc = file('kc', content);
      for (const json of [false, true]) {
        const r = watch(kc, json ? ['--json'] : []);
        expect(r.status).toBe(3);
        const err = r.stderr.trim();
        expect(err.split('\n')).toHaveLength(1);
        expect(err).toMatch(/kubeconfig/);
        expect(r.stderr + r.stdout).not.toMatch(STACK);
        if (json) {
          // stdout stays machine-readable: the error and summary events only.
          const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as MonitorEvent);
          expect(events.map((e) => e.type)).toEqual(['error', 'summary']);
          expect(events[0]).toMatchObject({ category: 'config' });
        }
      }
    });
  }

  it('a missing kubeconfig: exit 3, says where it looked', () => {
    const r = watch(join(dir, 'missing'));
    expect(r.status).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(join(dir, 'missing'));
    expect(r.stderr + r.stdout).not.toMatch(STACK);
  });
});

describe('a state directory that cannot be used', () => {
  /** State paths under a regular file: every mkdir and open fails with ENOTDIR, even for root. */
  function pathsUnderAFile(): StatePaths {
    const blocker = file('not-a-dir', 'x');
    return statePaths({ XDG_STATE_HOME: join(blocker, 'state') });
  }

  const session = (id: string): StoredSession =>
    finishedSession(id, { repo: {}, commit: { sha: SHA_NEW }, startedAt: 1, updatedAt: 1, endedAt: undefined, timeoutMs: 1000 });

  it('writes fail with a clear error; the session writer reports them instead of throwing', () => {
    const p = pathsUnderAFile();
    expect(() => writeJsonAtomic(sessionFile(p, 's1'), session('s1'))).toThrow(/ENOTDIR/);
    const errors: unknown[] = [];
    const w = new SessionWriter(sessionFile(p, 's2'), { onError: (e) => errors.push(e) });
    expect(() => w.update(session('s2'))).not.toThrow();
    expect(() => w.final(session('s2'))).not.toThrow();
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOTDIR');
  });

  it('reading sessions and history fails with the path in the message', () => {
    const p = pathsUnderAFile();
    expect(() => listSessions(p)).toThrow(new RegExp(`ENOTDIR.*${p.sessions}`));
    expect(() => readHistory(p)).toThrow(new RegExp(`ENOTDIR.*${p.history}`));
  });

  it('a full disk: appending to the history fails with ENOSPC and writes nothing else', () => {
    const root = join(dir, 'state');
    // /dev/full accepts the open and fails every write with ENOSPC.
    const p: StatePaths = { ...statePaths({ XDG_STATE_HOME: root }), history: '/dev/full' };
    expect(() => appendHistory(p, historyEntry(session('s1')))).toThrow(/ENOSPC/);
    expect(readdirSync(join(root, 'flux-monitor'))).toEqual([]);
  });

  it('status and history commands: exit 3, one line on stderr naming the directory, no stack trace', () => {
    const blocker = file('not-a-dir', 'x');
    for (const cmd of ['status', 'history']) {
      const r = spawnSync(process.execPath, [CLI, cmd], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: dir, XDG_STATE_HOME: join(blocker, 'state'), NO_COLOR: '1' },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status).toBe(3);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(blocker);
      expect(r.stderr + r.stdout).not.toMatch(STACK);
    }
  });
});
