// After `git push`: real git, the installed hooks, the detached monitor and the API simulator.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/core/types.js';
import { git as gitStatus, ks as ksStatus } from '../../src/sim/flux-status.js';
import { liveness, readHistory, sessionFile } from '../../src/session/store.js';
import { pidAlive } from '../../src/session/proc.js';
import { CLI, eventually, fluxApp, TestRepo, useE2eCluster, type RepoOptions } from '../helpers/e2e.js';

const cluster = useE2eCluster();
let seq = 0;

function spawnCli(r: TestRepo, args: string[]): { out: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: r.work, env: r.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return { out: () => out, exit: new Promise((res) => child.on('exit', (code) => res(code))) };
}

const newRepo = (opts: Partial<RepoOptions> = {}): TestRepo => cluster.newRepo(opts);

/** A GitRepository on the test's remote (branch main) and a Kustomization from it, both at `sha`. */
function fluxFor(r: TestRepo, sha: string): { name: string; deliver: (sha: string) => void } {
  const name = `app-${++seq}`;
  return { name, deliver: fluxApp(cluster.sim, r, name, sha).deliver };
}

describe('git push → session', () => {
  it('a successful push starts a detached session that follows Flux to its verdict', async () => {
    const r = newRepo();
    const flux = fluxFor(r, r.ok(r.work, 'rev-parse', 'HEAD'));
    const sha = r.commit('deploy v2');
    const push = r.git(['push', 'origin', 'main']);
    expect(push.status).toBe(0);
    // The first push of this repository: no watched-branches cache yet, so the hook cannot know whether Flux
    // follows main, and says so rather than promise a monitor (hostile-hooks.test.ts: the cache's later answers).
    expect(push.stderr).toContain(`flux-monitor: checking whether Flux follows main@${sha.slice(0, 7)}; if it does: flux-monitor status`);
    await r.decided(sha);
    const s = await eventually(() => r.sessions().find((x) => x.commit.sha === sha), 10_000, 'the session');
    expect(s.repo).toMatchObject({ path: r.work, branch: 'main', remote: 'origin' });
    expect(s.commit.subject).toBe('deploy v2');
    expect(s.config?.timeout).toBe(20);
    expect(statSync(sessionFile(r.paths, s.id)).mode & 0o777).toBe(0o600);
    // Flux fetches and applies the commit: the monitor sees it and ends with success.
    await eventually(() => r.sessions().find((x) => x.id === s.id && Object.keys(x.nodes).length > 0), 10_000, 'the monitor to see the Flux objects');
    flux.deliver(sha);
    const done = await eventually(() => r.sessions().find((x) => x.id === s.id && x.status === 'finished'), 15_000, 'the verdict');
    expect(done.verdict).toBe('success');
    await eventually(() => !pidAlive(done.pid!), 5000, 'the monitor process to exit');
    expect(done.matchedSources).toEqual([`GitRepository/flux-system/${flux.name}`]);
    expect(readHistory(r.paths).entries.map((e) => [e.id, e.verdict])).toEqual([[s.id, 'success']]);

    const json = r.cli(['status', '--json']);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: s.id, liveness: 'finished', verdict: 'success' });
    const human = r.cli(['status']);
    expect(human.status).toBe(0);
    expect(human.stdout).toContain(sha.slice(0, 7));
    const hist = r.cli(['history']);
    expect(hist.stdout).toMatch(new RegExp(`main\\s+${sha.slice(0, 7)}\\s+success\\s+${s.id}`));
  });

  it('status follows a running session as the monitor writes it, to the end', async () => {
    const r = newRepo();
    const flux = fluxFor(r, r.ok(r.work, 'rev-parse', 'HEAD'));
    const sha = r.commit('follow me');
    r.git(['push', '-q', 'origin', 'main']);
    await r.decided(sha);
    const s = await eventually(() => r.live().find((x) => x.commit.sha === sha && Object.keys(x.nodes).length > 0), 10_000, 'a running monitor');
    // Two followers: the plain printer (no terminal) and NDJSON for scripts.
    const plain = spawnCli(r, ['status']);
    const ndjson = spawnCli(r, ['status', '--json', '--follow', '--exit-code']);
    await eventually(() => plain.out().includes(sha.slice(0, 7)) && ndjson.out().includes('"liveness":"running"'), 10_000, 'the followers to attach');
    flux.deliver(sha);
    const [pc, nc] = await Promise.all([plain.exit, ndjson.exit]);
    expect(pc).toBe(0);
    expect(plain.out()).toMatch(/Succeeded/);
    expect(nc).toBe(0);
    const lines = ndjson.out().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatchObject({ id: s.id, liveness: 'running' });
    expect(lines.at(-1)).toMatchObject({ id: s.id, liveness: 'finished', status: 'finished', verdict: 'success' });
  });

  it('stop ends a running monitor with verdict stopped', async () => {
    const r = newRepo();
    fluxFor(r, r.ok(r.work, 'rev-parse', 'HEAD'));
    const sha = r.commit('to be stopped');
    r.git(['push', '-q', 'origin', 'main']);
    await r.decided(sha);
    const s = await eventually(() => r.live().find((x) => x.commit.sha === sha), 10_000, 'a running monitor');
    const res = r.cli(['stop']);
    expect(res.status).toBe(0);
    expect(res.stdout).toBe(`session ${s.id} stopped\n`);
    expect(r.sessions()[0]).toMatchObject({ id: s.id, status: 'finished', verdict: 'stopped' });
    expect(readHistory(r.paths).entries.map((e) => e.verdict)).toEqual(['stopped']);
    await eventually(() => !pidAlive(s.pid!), 5000, 'the monitor process to exit');
    expect(r.cli(['stop']).stdout).toBe(`session ${s.id} already finished: stopped\n`);
  });

  it('a push to a bare URL (no tracking ref) is confirmed with ls-remote', async () => {
    const r = newRepo();
    fluxFor(r, r.ok(r.work, 'rev-parse', 'HEAD'));
    const sha = r.commit('by url');
    const push = r.git(['push', r.remote, 'main']);
    expect(push.status).toBe(0);
    expect(push.stderr).toContain('flux-monitor: checking whether Flux follows this push; if it does: flux-monitor status');
    expect(await r.decided(sha)).toMatch(/confirmed \(remote refs\/heads\/main is /);
    const s = await eventually(() => r.sessions().find((x) => x.commit.sha === sha), 10_000, 'the session');
    expect(s.repo.remote).toBeUndefined();
    expect(s.repo.url).toBe(r.remote);
  });

  it('pushing a tag a GitRepository follows starts a monitor for the tagged commit (annotated tag, semver range)', async () => {
    const r = newRepo();
    const { sim } = cluster;
    const name = `tags-${++seq}`;
    const ref = (kind: string) => ({ kind, namespace: 'flux-system', name });
    sim.apply({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name, namespace: 'flux-system' },
      spec: { url: r.remote, ref: { semver: '>=1.0.0 <2.0.0', branch: 'main' }, interval: '1m' },
    } as KubeObject);
    sim.apply({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name, namespace: 'flux-system' },
      spec: { sourceRef: { kind: 'GitRepository', name }, path: './deploy', interval: '1m', prune: true },
    } as KubeObject);
    const sha = r.commit('release 1.1.0');
    r.ok(r.work, 'tag', '-a', '-m', 'release 1.1.0', 'v1.1.0');
    const tagObject = r.ok(r.work, 'rev-parse', 'refs/tags/v1.1.0');
    expect(tagObject).not.toBe(sha);
    const push = r.git(['push', 'origin', 'v1.1.0']);
    expect(push.status).toBe(0);
    expect(push.stderr).toContain('flux-monitor: checking whether Flux follows tag v1.1.0; if it does: flux-monitor status');
    const log = await r.decided(tagObject);
    expect(log).toContain(`push refs/tags/v1.1.0 ${tagObject.slice(0, 12)}: confirmed (remote refs/tags/v1.1.0 is ${tagObject})`);
    expect(log).toContain(`tag v1.1.0 is followed by GitRepository/flux-system/${name}`);
    const s = await eventually(() => r.sessions().find((x) => x.commit.tag === 'v1.1.0'), 10_000, 'the session of the tag');
    expect(s.commit.sha).toBe(sha); // the tagged commit, not the tag object
    expect(s.commit.subject).toBe('release 1.1.0');
    expect(s.repo).toMatchObject({ path: r.work, remote: 'origin' });
    expect(s.repo.branch).toBeUndefined();
    // source-controller checks out the tag: the monitor sees the commit through Flux and ends with success.
    await eventually(() => r.sessions().find((x) => x.id === s.id && Object.keys(x.nodes).length > 0), 10_000, 'the monitor to see the Flux objects');
    const rev = `v1.1.0@sha1:${sha}`;
    sim.setStatus(ref('GitRepository'), gitStatus.ready(sim.get(ref('GitRepository'))!, rev));
    sim.setStatus(ref('Kustomization'), ksStatus.ready(sim.get(ref('Kustomization'))!, rev, {}));
    const done = await eventually(() => r.sessions().find((x) => x.id === s.id && x.status === 'finished'), 15_000, 'the verdict');
    expect(done.verdict).toBe('success');
    expect(done.matchedSources).toEqual([`GitRepository/flux-system/${name}`]);
    expect(r.cli(['history']).stdout).toMatch(new RegExp(`v1\\.1\\.0\\s+${sha.slice(0, 7)}\\s+success`));

    // A tag outside the range, and a lightweight tag nobody follows by name: nothing starts.
    const other = r.commit('not a release');
    r.ok(r.work, 'tag', 'v2.0.0');
    r.ok(r.work, 'tag', 'nightly');
    expect(r.git(['push', '-q', 'origin', 'v2.0.0', 'nightly']).status).toBe(0);
    const log2 = await r.decided(other);
    expect(log2).toContain('tag v2.0.0 is followed by no GitRepository of this repository; left alone');
    expect(log2).toContain('tag nightly is followed by no GitRepository of this repository; left alone');
    expect(r.sessions().map((x) => x.id)).toEqual([s.id]);
  });

  it('rapid successive pushes leave exactly one live monitor, the others superseded', async () => {
    const r = newRepo();
    fluxFor(r, r.ok(r.work, 'rev-parse', 'HEAD'));
    const shas: string[] = [];
    for (let i = 1; i <= 3; i++) {
      shas.push(r.commit(`change ${i}`));
      expect(r.git(['push', '-q', 'origin', 'main']).status).toBe(0);
    }
    for (const sha of shas) await r.decided(sha);
    await eventually(
      () => {
        const all = r.sessions();
        return all.length === 3 && all.filter((s) => s.commit.sha !== shas[2]).every((s) => s.status === 'finished') && r.live().length === 1;
      },
      15_000,
      'the older monitors to end',
    );
    const live = r.live();
    expect(live.map((s) => s.commit.sha)).toEqual([shas[2]]);
    for (const s of r.sessions().filter((x) => x.commit.sha !== shas[2])) expect(s.verdict).toBe('superseded');
  });

  it('after three pushes in a row, status and stop choose the newest push, also when an older monitor starts last', async () => {
    const r = newRepo();
    const flux = fluxFor(r, r.ok(r.work, 'rev-parse', 'HEAD'));
    // The remote holds the push of r2 in its post-receive hook until the test releases it: r2's `git push` ends
    // (and its monitor starts) after r3 was pushed and monitored, the order issue 16 reported.
    const hold = join(r.remote, 'hold-sha');
    writeFileSync(
      join(r.remote, 'hooks', 'post-receive'),
      `#!/bin/sh\nwhile read old new ref; do\n  if [ "$new" = "$(cat "${hold}" 2>/dev/null)" ]; then\n    : > "${r.remote}/holding"; i=0\n    while [ ! -f "${r.remote}/release" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n  fi\ndone\n`,
      { mode: 0o755 },
    );
    const session = (sha: string) => r.sessions().find((x) => x.commit.sha === sha);

    const r1 = r.commit('change 1');
    expect(r.git(['push', '-q', 'origin', 'main']).status).toBe(0);
    await r.decided(r1);
    const s1 = await eventually(() => r.live().find((x) => x.commit.sha === r1), 10_000, 'the monitor of r1');
    // Someone follows the status from here (no ID): it must move on from r1 to r3 when r1 is superseded.
    const follower = spawnCli(r, ['status', '--json', '--follow', '--exit-code']);
    await eventually(() => follower.out().includes(s1.id), 10_000, 'the follower to attach to r1');

    const r2 = r.commit('change 2');
    writeFileSync(hold, r2);
    const push2 = spawn('git', ['push', '-q', 'origin', 'main'], { cwd: r.work, env: r.env, stdio: 'ignore' });
    const push2Exit = new Promise<number | null>((res) => push2.on('exit', (code) => res(code)));
    await eventually(() => existsSync(join(r.remote, 'holding')), 15_000, 'the remote to hold the push of r2');
    const r3 = r.commit('change 3');
    expect(r.git(['push', '-q', 'origin', 'main']).status).toBe(0);
    await r.decided(r3);
    const s3 = await eventually(() => r.live().find((x) => x.commit.sha === r3), 10_000, 'the monitor of r3');
    await eventually(() => session(r1)?.status === 'finished', 10_000, 'r1 to be superseded');

    writeFileSync(join(r.remote, 'release'), '');
    expect(await push2Exit).toBe(0);
    await r.decided(r2);
    const s2 = await eventually(() => (session(r2)?.status === 'finished' ? session(r2) : undefined), 10_000, 'the monitor of r2 to end');
    expect(s2.verdict).toBe('superseded');
    expect(s2.startedAt).toBeGreaterThan(s3.startedAt); // the older push's monitor started last
    expect(session(r1)!.verdict).toBe('superseded');

    // While r3 runs, and once its monitor has ended: status shows r3, never the superseded r2.
    expect(JSON.parse(r.cli(['status', '--json']).stdout)).toMatchObject({ id: s3.id, liveness: 'running' });
    await eventually(() => Object.keys(session(r3)?.nodes ?? {}).length > 0, 10_000, 'the monitor of r3 to see the Flux objects');
    flux.deliver(r3);
    await eventually(() => session(r3)?.status === 'finished', 15_000, 'the verdict of r3');
    const json = r.cli(['status', '--json']);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: s3.id, commit: { sha: r3 }, liveness: 'finished', verdict: 'success' });
    expect(r.cli(['status']).stdout).toContain(`Succeeded`);
    expect(r.cli(['stop']).stdout).toBe(`session ${s3.id} already finished: success\n`);
    // A superseded session is still there when asked for by ID.
    expect(JSON.parse(r.cli(['status', s2.id, '--json']).stdout)).toMatchObject({ id: s2.id, verdict: 'superseded' });

    // The follower went from r1 (superseded) to r3 and ended with r3's verdict.
    expect(await follower.exit).toBe(0);
    const lines = follower.out().trim().split('\n').map((l) => JSON.parse(l) as { id: string; verdict?: string; liveness: string });
    expect(lines[0]).toMatchObject({ id: s1.id, liveness: 'running' });
    expect(lines.find((l) => l.id === s1.id && l.liveness === 'finished')).toMatchObject({ verdict: 'superseded' });
    expect(lines.at(-1)).toMatchObject({ id: s3.id, liveness: 'finished', verdict: 'success' });
  }, 90_000);

  it('a killed monitor is reported dead, not running', async () => {
    const r = newRepo();
    fluxFor(r, r.ok(r.work, 'rev-parse', 'HEAD'));
    const sha = r.commit('will be killed');
    r.git(['push', '-q', 'origin', 'main']);
    await r.decided(sha);
    const s = await eventually(() => r.live().find((x) => x.commit.sha === sha), 10_000, 'a running monitor');
    process.kill(s.pid!, 'SIGKILL');
    await eventually(() => !r.live().length, 5000, 'the process to be gone');
    const json = JSON.parse(r.cli(['status', '--json']).stdout);
    expect(json).toMatchObject({ id: s.id, liveness: 'dead' });
    expect(json.status).not.toBe('finished');
    const human = r.cli(['status', '--exit-code']);
    expect(human.status).toBe(3);
    expect(human.stdout).toMatch(/monitor process \(pid \d+\) is dead/);
    expect(r.cli(['history']).stdout).toMatch(new RegExp(`${sha.slice(0, 7)}\\s+dead`));
    // stop records the end so that history is complete.
    expect(r.cli(['stop']).stdout).toContain('had died; marked stopped');
    expect(liveness(r.sessions()[0]!)).toBe('finished');
  });

  it('a corrupt session file is reported and nothing else is lost', async () => {
    const r = newRepo();
    fluxFor(r, r.ok(r.work, 'rev-parse', 'HEAD'));
    const sha = r.commit('good one');
    r.git(['push', '-q', 'origin', 'main']);
    await r.decided(sha);
    const s = await eventually(() => r.sessions().find((x) => x.commit.sha === sha), 10_000, 'the session');
    writeFileSync(join(r.paths.sessions, '20200101-000000-broken.json'), '{"schema":1,"id":"20200101-000000-broken","nod');
    const st = r.cli(['status', '--json']);
    expect(st.status).toBe(0);
    expect(JSON.parse(st.stdout).id).toBe(s.id);
    expect(st.stderr).toMatch(/warning: corrupt session file .*20200101-000000-broken\.json: not JSON/);
    const hist = r.cli(['history', '--json']);
    expect(hist.status).toBe(0);
    expect(JSON.parse(hist.stdout).map((h: { id: string }) => h.id)).toEqual([s.id]);
    expect(hist.stderr).toMatch(/corrupt session file/);
    const byId = r.cli(['status', '20200101-000000-broken']);
    expect(byId.status).toBe(3);
    expect(byId.stderr).toMatch(/corrupt session file/);
  });
});

describe('pushes that start nothing', () => {
  async function nothingStarted(r: TestRepo) {
    // Barrier: a later, real push to an unwatched branch is decided after anything the earlier command started.
    r.ok(r.work, 'checkout', '-q', '-b', `barrier-${++seq}`);
    const sha = r.commit('barrier');
    r.git(['push', '-q', 'origin', 'HEAD']);
    await r.decided(sha);
    r.ok(r.work, 'checkout', '-q', 'main');
    expect(r.sessions()).toEqual([]);
  }

  it('a push rejected as non-fast-forward', async () => {
    const r = newRepo();
    const other = join(r.base, 'other');
    r.ok(r.base, 'clone', '-q', r.remote, other);
    writeFileSync(join(other, 'x'), 'x');
    r.ok(other, 'add', 'x');
    r.ok(other, 'commit', '-q', '-m', 'someone else');
    r.ok(other, 'push', '-q', '--no-verify', 'origin', 'main');
    r.commit('diverged');
    const push = r.git(['push', 'origin', 'main']);
    expect(push.status).not.toBe(0);
    expect(push.stderr).toMatch(/rejected/);
    expect(push.stderr).not.toContain('flux-monitor:');
    await nothingStarted(r);
  });

  it('a push the remote rejects (pre-receive)', async () => {
    const r = newRepo();
    writeFileSync(join(r.remote, 'hooks', 'pre-receive'), '#!/bin/sh\necho "denied by policy" >&2\nexit 1\n', { mode: 0o755 });
    const sha = r.commit('refused');
    const push = r.git(['push', 'origin', 'main']);
    expect(push.status).not.toBe(0);
    expect(push.stderr).toContain('denied by policy');
    expect(await r.decided(sha)).toMatch(/not pushed \(refs\/remotes\/origin\/main was not updated/);
    expect(r.sessions()).toEqual([]);
  });

  it('--dry-run', async () => {
    const r = newRepo();
    const sha = r.commit('dry');
    expect(r.git(['push', '--dry-run', 'origin', 'main']).status).toBe(0);
    expect(await r.decided(sha)).toMatch(/not pushed/);
    expect(r.sessions()).toEqual([]);
  });

  it('a tag push no GitRepository follows, a tag deletion, a branch deletion and a fetch', async () => {
    const r = newRepo();
    fluxFor(r, r.ok(r.work, 'rev-parse', 'HEAD')); // follows the branch main, no tag
    r.ok(r.work, 'tag', 'v1.0.0');
    const tagged = r.ok(r.work, 'rev-parse', 'HEAD');
    expect(r.git(['push', '-q', 'origin', 'v1.0.0']).status).toBe(0);
    expect(await r.decided(tagged)).toContain('tag v1.0.0 is followed by no GitRepository of this repository; left alone');
    expect(r.git(['push', '-q', 'origin', ':refs/tags/v1.0.0']).status).toBe(0);
    r.ok(r.work, 'push', '-q', '--no-verify', 'origin', 'main:refs/heads/old');
    expect(r.git(['push', '-q', 'origin', ':old']).status).toBe(0);
    // Someone else pushes; our fetch updates refs/remotes/origin/main (reference-transaction committed).
    const other = join(r.base, 'other');
    r.ok(r.base, 'clone', '-q', r.remote, other);
    writeFileSync(join(other, 'y'), 'y');
    r.ok(other, 'add', 'y');
    r.ok(other, 'commit', '-q', '-m', 'upstream');
    r.ok(other, 'push', '-q', '--no-verify', 'origin', 'main');
    const fetch = r.git(['fetch', 'origin']);
    expect(fetch.status).toBe(0);
    expect(fetch.stderr).not.toContain('flux-monitor');
    await nothingStarted(r);
  });

  it('a branch Flux does not watch', async () => {
    const r = newRepo();
    r.ok(r.work, 'checkout', '-q', '-b', 'feature/x');
    const sha = r.commit('wip');
    expect(r.git(['push', '-q', 'origin', 'feature/x']).status).toBe(0);
    expect(await r.decided(sha)).toContain('branch feature/x is not watched by Flux; left alone');
    expect(r.sessions()).toEqual([]);
  });

  it('enabled: false', async () => {
    const r = newRepo({ config: 'enabled: false\n' });
    const sha = r.commit('quiet');
    const push = r.git(['push', 'origin', 'main']);
    expect(push.status).toBe(0);
    expect(push.stderr).not.toContain('flux-monitor'); // install recorded that no branch is watched
    expect(await r.decided(sha)).toContain('enabled: false; no monitor started');
    expect(r.sessions()).toEqual([]);
  });
});

describe('configuration errors', () => {
  it('an invalid hook file gives a finished error session naming file and line', async () => {
    const r = newRepo();
    r.writeConfig('config:\n  timeout: 20\n  verbosty: loud\n');
    const sha = r.commit('typo');
    r.git(['push', '-q', 'origin', 'main']);
    await r.decided(sha);
    const [s] = r.sessions();
    expect(s).toMatchObject({ status: 'finished', verdict: 'error', commit: { sha } });
    expect(s!.verdictMessage).toBe(`${join(r.work, '.kiro/hooks/flux-reconciliation-monitor.yaml')}:3:3: unknown key "config.verbosty" (allowed: timeout, ci_timeout, polling_interval, verbosity, monitor_types, show_dependencies, auto_reconcile, branches, namespaces, notify, contexts, custom_kinds, otel, fail_fast, fail_fast_grace, retention)`);
  });
});

describe('install and uninstall', () => {
  it('chain a husky-style hook under core.hooksPath and restore it exactly', async () => {
    let before: { bytes: string; mode: number } | undefined;
    const r = newRepo({
      beforeInstall: (t) => {
        // husky's layout: core.hooksPath = .husky/_, whose hooks dispatch by their own name to .husky/<hook>.
        const husky = join(t.work, '.husky');
        mkdirSync(join(husky, '_'), { recursive: true });
        writeFileSync(join(husky, '_', 'h'), '#!/usr/bin/env sh\nn=$(basename "$0")\ns=$(dirname "$(dirname "$0")")/$n\n[ -f "$s" ] || exit 0\nsh -e "$s" "$@"\n', { mode: 0o755 });
        writeFileSync(join(husky, '_', 'pre-push'), '#!/usr/bin/env sh\n. "$(dirname "$0")/h"\n');
        chmodSync(join(husky, '_', 'pre-push'), 0o755);
        writeFileSync(join(husky, 'pre-push'), 'echo "husky ran for $1" > "$(git rev-parse --git-dir)/husky-ran"\n');
        t.ok(t.work, 'config', 'core.hooksPath', '.husky/_');
        const p = join(husky, '_', 'pre-push');
        before = { bytes: readFileSync(p, 'latin1'), mode: statSync(p).mode & 0o7777 };
      },
    });
    const hook = join(r.work, '.husky', '_', 'pre-push');
    expect(readFileSync(hook, 'utf8')).toContain('# flux-monitor-hook: pre-push');
    expect(readFileSync(hook + '.flux-monitor-chained', 'latin1')).toBe(before!.bytes);
    expect(r.cli(['install']).stdout).toContain('pre-push: already installed'); // twice is safe

    fluxFor(r, r.ok(r.work, 'rev-parse', 'HEAD'));
    const sha = r.commit('through husky');
    expect(r.git(['push', '-q', 'origin', 'main']).status).toBe(0);
    expect(readFileSync(join(r.work, '.git', 'husky-ran'), 'utf8')).toBe('husky ran for origin\n');
    await r.decided(sha);
    await eventually(() => r.sessions().find((s) => s.commit.sha === sha), 10_000, 'the session');
    r.stopAll();

    // A husky hook that rejects still rejects, and then nothing starts.
    writeFileSync(join(r.work, '.husky', 'pre-push'), 'echo "tests failed" >&2\nexit 1\n');
    const refused = r.commit('refused by husky');
    const push = r.git(['push', 'origin', 'main']);
    expect(push.status).not.toBe(0);
    expect(push.stderr).toContain('tests failed');
    expect(r.sessions().some((s) => s.commit.sha === refused)).toBe(false);

    const un = r.cli(['uninstall']);
    expect(un.status).toBe(0);
    expect(un.stdout).toContain('restored');
    expect({ bytes: readFileSync(hook, 'latin1'), mode: statSync(hook).mode & 0o7777 }).toEqual(before);
    expect(r.cli(['uninstall']).status).toBe(0); // twice is safe
    expect({ bytes: readFileSync(hook, 'latin1'), mode: statSync(hook).mode & 0o7777 }).toEqual(before);
  });

  it('outside a git repository: a clear error', () => {
    const r = newRepo({ install: false });
    const dir = mkdtempSync(join(tmpdir(), 'fm-nogit-'));
    const res = r.cli(['install'], dir);
    expect(res.status).toBe(3);
    expect(res.stderr).toBe(`flux-monitor install: not a git repository: ${dir}\n  hint: Run this inside a git repository, or pass --repo PATH.\n`);
    const st = r.cli(['status'], dir);
    expect(st.status).toBe(1);
    expect(st.stderr).toContain('not inside a git repository, and no session yet');
  });
});
