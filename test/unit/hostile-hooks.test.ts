// Hostile surroundings of the git hooks: descriptors the caller of `git push` leaves open, a state directory that
// is not safely ours, no HOME, and a first push that must not promise a monitor (docs/security.md lists them).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installHooks } from '../../src/git/hooks.js';
import { checkStateDir, stateDir, StateDirError, statePaths } from '../../src/session/paths.js';
import { liveness } from '../../src/session/store.js';
import { CLI, eventually, fluxApp, requireBuild, ROOT, useE2eCluster, type TestRepo } from '../helpers/e2e.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const isRoot = process.getuid?.() === 0;
const hasProc = existsSync('/proc/self/fd');
const bash = spawnSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).stdout.trim();
const hasBash = bash !== '';

interface ShEnv {
  root: string;
  hooks: string;
  state: string;
  calls: string;
  marker: string;
  env: NodeJS.ProcessEnv;
}

/** A repository with our hooks, where "node" is a fake recording its arguments, environment and open files. */
function shSetup(): ShEnv {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'fm-hostile-')));
  spawnSync('git', ['init', '-q', root]);
  const hooks = join(root, '.git', 'hooks');
  const calls = join(root, 'calls');
  const fakeNode = join(root, 'fake-node');
  writeFileSync(
    fakeNode,
    `#!/bin/sh\n{ echo "argv $*"; echo "close=\${FLUX_MONITOR_CLOSE_FDS-unset}"; for f in /proc/$$/fd/*; do echo "fd \${f##*/} $(readlink "$f")"; done; echo end; } >> '${calls}'\n`,
    { mode: 0o755 },
  );
  writeFileSync(join(root, 'cli.js'), '');
  installHooks(hooks, { node: fakeNode, cli: join(root, 'cli.js') });
  const state = join(root, 'state');
  return { root, hooks, state, calls, marker: join(root, 'marker'), env: { PATH: process.env.PATH, HOME: root, XDG_STATE_HOME: state } };
}

/** Runs a hook as git does: cwd = work tree, a parent process (standing for git) that exits right after. */
function runHook(e: ShEnv, hook: string, args: string[], input: string, opts: { before?: string; parentShell?: string; env?: NodeJS.ProcessEnv } = {}) {
  const script = `${opts.before ?? ''}\n"$0" "$@"; rc=$?; echo "$$" > '${e.root}/parent-pid'; exit $rc`;
  const r = spawnSync(opts.parentShell ?? 'sh', ['-c', script, join(e.hooks, hook), ...args], { cwd: e.root, env: opts.env ?? e.env, input });
  return { status: r.status, stderr: r.stderr.toString(), parent: Number(readFileSync(join(e.root, 'parent-pid'), 'utf8')) };
}

async function helperCall(e: ShEnv): Promise<{ argv: string; close: string; fds: Map<number, string> }> {
  const text = await eventually(() => (existsSync(e.calls) && readFileSync(e.calls, 'utf8').includes('\nend\n') ? readFileSync(e.calls, 'utf8') : undefined), 10_000, 'the helper');
  const lines = text.split('\n');
  const fds = new Map<number, string>();
  for (const l of lines.filter((x) => x.startsWith('fd '))) {
    const [, n, ...target] = l.split(' ');
    fds.set(Number(n), target.join(' '));
  }
  return { argv: lines[0]!, close: lines[1]!.slice('close='.length), fds };
}

const branchPush = `refs/heads/main ${A} refs/heads/main ${B}\n`;

describe('§4 the helper keeps none of the descriptors git and its caller leave open', () => {
  it.skipIf(!hasProc || !hasBash)('closes 3–9 itself; above 9 (dash cannot name them) bash closes them before the helper waits for git', async () => {
    const e = shSetup();
    // The caller of git leaves 5, 12 and 240 open on a file (a pipe, in real life).
    const before = `exec 5>'${e.marker}' 12>'${e.marker}' 240>'${e.marker}'`;
    const r = runHook(e, 'pre-push', ['origin', 'u'], branchPush, { before, parentShell: bash });
    expect(r.status).toBe(0);
    const call = await helperCall(e);
    expect(call.argv).toBe(`argv ${join(e.root, 'cli.js')} hook push-done ${join(e.state, 'flux-monitor', 'intents', String(r.parent))}`);
    expect([...call.fds.values()]).not.toContain(e.marker);
    expect(call.close).toBe(''); // closed already: nothing left for the CLI to close
  });

  it.skipIf(!hasProc)('without bash, lists the descriptors above 9 for the CLI, which closes them first thing', async () => {
    const e = shSetup();
    // A PATH without bash: only what the hook needs.
    const bin = join(e.root, 'bin');
    mkdirSync(bin);
    for (const tool of ['sleep', 'setsid', 'find', 'mkdir', 'rm', 'readlink']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      if (found) writeFileSync(join(bin, tool), `#!/bin/sh\nexec ${found} "$@"\n`, { mode: 0o755 });
    }
    const env = { ...e.env, PATH: bin };
    const before = `exec 5>'${e.marker}' 12>'${e.marker}' 240>'${e.marker}'`;
    const r = runHook(e, 'pre-push', ['origin', 'u'], branchPush, { before, parentShell: hasBash ? bash : 'sh', env });
    expect(r.status).toBe(0);
    const call = await helperCall(e);
    const open = [...call.fds.entries()].filter(([, t]) => t === e.marker).map(([n]) => n);
    if (hasBash) {
      expect(open).toEqual([12, 240]); // 5 closed by the hook's sh; dash cannot name 12 or 240
      expect(call.close.split(' ')).toEqual(expect.arrayContaining(['12', '240']));
    }
    // The CLI side: a node process that inherited 12 and 240 closes them, and what it spawns inherits neither.
    const probe = `
      import { closeInheritedFds } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'session', 'spawn.js'))};
      import { readdirSync, readlinkSync } from 'node:fs';
      import { spawnSync } from 'node:child_process';
      const env = { ...process.env };
      const closed = closeInheritedFds(env);
      const mine = readdirSync('/proc/self/fd').filter((n) => { try { return readlinkSync('/proc/self/fd/' + n) === process.argv[1]; } catch { return false; } });
      const child = spawnSync('sh', ['-c', 'for f in /proc/$$/fd/*; do readlink "$f"; done'], { encoding: 'utf8' }).stdout.split('\\n');
      console.log(JSON.stringify({ closed, mine, child: child.includes(process.argv[1]), left: env.FLUX_MONITOR_CLOSE_FDS }));
    `;
    requireBuild();
    const out = spawnSync('bash', ['-c', `exec 12>'${e.marker}' 240>'${e.marker}' 300>'${e.marker}'; FLUX_MONITOR_CLOSE_FDS='12 240' exec "$0" --input-type=module -e "$1" "$2"`, process.execPath, probe, e.marker], {
      encoding: 'utf8',
    });
    expect(out.stderr).toBe('');
    const res = JSON.parse(out.stdout);
    // 12 and 240 because listed; 300, not listed, because Linux shows it without close-on-exec.
    expect(res.closed).toEqual(expect.arrayContaining([12, 240, 300]));
    expect(res).toMatchObject({ mine: [], child: false });
    expect(res.left).toBeUndefined();
  });
});

describe('§6 the state directory: one rule for the hooks and the CLI, and one that is not ours is refused', () => {
  it('without HOME (and XDG_STATE_HOME) the hooks do nothing at all: no shared fallback', async () => {
    const e = shSetup();
    const env = { PATH: process.env.PATH };
    const push = runHook(e, 'pre-push', ['origin', 'u'], branchPush, { env });
    expect(push).toMatchObject({ status: 0, stderr: '' });
    expect(existsSync(join('/tmp/.local/state/flux-monitor/intents', String(push.parent)))).toBe(false);
    const rt = runHook(e, 'reference-transaction', ['committed'], `${B} ${A} refs/remotes/origin/main\n`, { env });
    expect(rt).toMatchObject({ status: 0, stderr: '' });
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(e.calls)).toBe(false);
    // A relative HOME is no better.
    expect(runHook(e, 'pre-push', ['origin', 'u'], branchPush, { env: { ...env, HOME: 'home' } })).toMatchObject({ status: 0, stderr: '' });
    expect(existsSync(join(e.root, 'home'))).toBe(false);
  });

  it('the CLI applies the same rule: no HOME, a clear one-line error', () => {
    expect(() => stateDir({})).toThrow(StateDirError);
    expect(() => stateDir({ HOME: 'relative', XDG_STATE_HOME: 'also-relative' })).toThrow(/no state directory/);
    expect(stateDir({ HOME: '/h' })).toBe('/h/.local/state/flux-monitor');
    requireBuild();
    const r = spawnSync(process.execPath, [CLI, 'history'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toBe('flux-monitor history: no state directory: set HOME (or XDG_STATE_HOME) to an absolute path; the git hooks do nothing without one\n');
  });

  it('install without HOME installs the hooks and warns, in one line, that they will do nothing', () => {
    requireBuild();
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'fm-nohome-')));
    spawnSync('git', ['init', '-q', dir]);
    const r = spawnSync(process.execPath, [CLI, 'install'], { cwd: dir, env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1' }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('flux-monitor install: warning: no state directory: set HOME (or XDG_STATE_HOME) to an absolute path; the git hooks do nothing without one\n');
    expect(existsSync(join(dir, '.git', 'hooks', 'pre-push'))).toBe(true);
  });

  const refusals: Array<[string, (dir: string) => void, RegExp, boolean]> = [
    ['owned by another user', (dir) => chownSync(dir, 12345, 12345), /belongs to uid 12345, not to you/, !isRoot],
    ['writable by others', (dir) => chmodSync(dir, 0o777), /group or others may write to it \(mode 0777\)/, false],
    ['writable by its group', (dir) => chmodSync(dir, 0o770), /group or others may write to it \(mode 0770\)/, false],
  ];

  it.each(refusals)('a state directory %s: the hooks write nothing there and start nothing; the CLI refuses it', async (_what, spoil, message, skip) => {
    if (skip) return; // changing the owner needs root
    const e = shSetup();
    const dir = join(e.state, 'flux-monitor');
    mkdirSync(join(dir, 'intents'), { recursive: true, mode: 0o700 });
    spoil(dir);
    // pre-push: no intent, no log line, no helper.
    const push = runHook(e, 'pre-push', ['../r.git', '../r.git'], branchPush);
    expect(push).toMatchObject({ status: 0, stderr: '' });
    expect(readdirSync(join(dir, 'intents'))).toEqual([]);
    expect(existsSync(join(dir, 'hooks.log'))).toBe(false);
    // reference-transaction, with an intent another user planted for its parent (as root: chown): it writes no
    // confirmation next to it, and nothing to the log.
    if (isRoot) {
      const plant = `printf 'flux-monitor-intent 1\\nremote origin\\nurl u\\ndir d\\n' > '${dir}/intents/'$$ && chown 12345:12345 '${dir}/intents/'$$`;
      const rt = runHook(e, 'reference-transaction', ['committed'], `${B} ${A} refs/remotes/origin/main\n`, { before: plant });
      expect(rt).toMatchObject({ status: 0, stderr: '' });
      expect(existsSync(join(dir, 'intents', String(rt.parent)))).toBe(true);
      expect(existsSync(join(dir, 'intents', `${rt.parent}.confirmed`))).toBe(false);
      expect(existsSync(join(dir, 'hooks.log'))).toBe(false);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(e.calls)).toBe(false);
    // The CLI: a clear one-line error, for every command that uses the state.
    expect(() => statePaths(e.env)).toThrow(message);
    expect(() => checkStateDir(dir)).toThrow(StateDirError);
    requireBuild();
    const r = spawnSync(process.execPath, [CLI, 'history'], { env: e.env, encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr.split('\n')).toHaveLength(2); // one line and the final newline
    expect(r.stderr).toMatch(new RegExp(`^flux-monitor history: refusing the state directory ${dir}: `));
  });

  it('a private state directory of ours is used as before', () => {
    const e = shSetup();
    const push = runHook(e, 'pre-push', ['origin', 'u'], branchPush);
    expect(push.status).toBe(0);
    expect(existsSync(join(e.state, 'flux-monitor', 'intents', String(push.parent)))).toBe(true);
    expect(() => statePaths(e.env)).not.toThrow();
  });

  it('reference-transaction confirms only an intent of ours: not a symlink, nor one written through a planted .confirmed symlink', () => {
    const e = shSetup();
    const dir = join(e.state, 'flux-monitor');
    mkdirSync(join(dir, 'intents'), { recursive: true, mode: 0o700 });
    const victim = join(e.root, 'victim');
    writeFileSync(victim, 'precious\n');
    const intent = `printf 'flux-monitor-intent 1\\nremote origin\\nurl u\\ndir d\\n' > '${dir}/intents/'$$`;
    const input = `${B} ${A} refs/remotes/origin/main\n`;
    const viaSymlink = runHook(e, 'reference-transaction', ['committed'], input, { before: `ln -s '${victim}' '${dir}/intents/'$$` });
    expect(viaSymlink).toMatchObject({ status: 0, stderr: '' });
    const viaConfirmed = runHook(e, 'reference-transaction', ['committed'], input, { before: `${intent} && ln -s '${victim}' '${dir}/intents/'$$.confirmed` });
    expect(viaConfirmed).toMatchObject({ status: 0, stderr: '' });
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Real pushes: real git, the installed hooks, the built CLI, the detached monitor and the API simulator.

let seq = 0;

describe('real pushes', () => {
  const cluster = useE2eCluster();

  const newRepo = (config?: string): TestRepo => cluster.newRepo(config ? { config } : {});

  /** A GitRepository of the repository's remote on branch main, and a Kustomization from it, never reconciled. */
  const fluxFor = (r: TestRepo): void => void fluxApp(cluster.sim, r, `hostile-${++seq}`);

  it.skipIf(!hasBash)('§4 `git push 7>&1 240>&1 | …` reaches end of file when git exits, while the monitor it started still runs', async () => {
    // A session that would run 15 s: without the fix, the pipe stays open until it ends.
    const r = newRepo('config:\n  timeout: 15\n  polling_interval: 1\n');
    fluxFor(r);
    const sha = r.commit('hold no pipe');
    const id = join(r.base, 'pipe-id');
    const child = spawn('bash', ['-c', 'readlink /proc/$$/fd/1 > "$0" 2>/dev/null; exec git push -q origin main 7>&1 240>&1 >/dev/null 2>/dev/null', id], {
      cwd: r.work,
      env: r.env,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let gitExited = false;
    child.on('exit', () => (gitExited = true));
    child.stdout.resume();
    const atEof = await new Promise<{ sessions: string[] }>((resolve, reject) => {
      const ceiling = setTimeout(() => reject(new Error('the pipe never reached end of file')), 60_000);
      child.stdout.on('end', () => {
        clearTimeout(ceiling);
        // What the monitor of this push was doing when the last writer closed the pipe.
        resolve({ sessions: r.sessions().filter((s) => s.commit.sha === sha).map((s) => liveness(s)) });
      });
    });
    await eventually(() => gitExited, 10_000, 'git to exit');
    expect(atEof.sessions).not.toContain('finished');
    // The push did start a monitor, and it is still running after the pipe closed: it never held it.
    const s = await eventually(() => r.live().find((x) => x.commit.sha === sha), 15_000, `a running monitor; hooks.log:\n${r.hookLog()}`);
    expect(liveness(s)).toBe('running');
    if (hasProc && existsSync(id)) {
      const pipe = readFileSync(id, 'utf8').trim();
      const held = readdirSync(`/proc/${s.pid}/fd`).flatMap((n) => {
        try {
          return [readlinkSync(`/proc/${s.pid}/fd/${n}`)];
        } catch {
          return [];
        }
      });
      expect(pipe).toMatch(/^(pipe|socket):/); // node's 'pipe' is a socket pair
      expect(held).not.toContain(pipe);
    }
  });

  it('§1 the first push of a branch Flux does not follow promises nothing; the next ones say only what is known', async () => {
    const r = newRepo();
    fluxFor(r); // Flux follows main only
    r.ok(r.work, 'checkout', '-q', '-b', 'feature');
    const first = r.commit('feature work');
    const push = r.git(['push', '-q', 'origin', 'feature']);
    expect(push.status).toBe(0);
    // No watched-branches cache yet: the hook cannot know, and says so.
    expect(push.stderr).toBe(`flux-monitor: checking whether Flux follows feature@${first.slice(0, 7)}; if it does: flux-monitor status\n`);
    expect(await r.decided(first)).toContain('branch feature is not watched by Flux; left alone');
    expect(r.sessions()).toEqual([]);
    // Now the cache knows: a push of feature prints nothing, a push of main announces its monitor.
    const second = r.commit('more feature work');
    const again = r.git(['push', '-q', 'origin', 'feature']);
    expect(again.stderr).toBe('');
    await r.decided(second);
    r.ok(r.work, 'checkout', '-q', 'main');
    r.ok(r.work, 'merge', '-q', '--ff-only', 'feature');
    const main = r.commit('release');
    const third = r.git(['push', '-q', 'origin', 'main']);
    expect(third.stderr).toBe(`flux-monitor: following main@${main.slice(0, 7)} through Flux: flux-monitor status\n`);
    await r.decided(main);
    await eventually(() => r.sessions().find((s) => s.commit.sha === main), 10_000, 'the session of main');
  });
});
