// `status` the moment `git push` returns: real git, the installed hooks, the detached monitor and the API
// simulator. The answer is always about the push that just happened, never the previous push's session.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, eventually, fluxApp, useE2eCluster, type TestRepo } from '../helpers/e2e.js';

const cluster = useE2eCluster();

const fluxFor = (r: TestRepo, name: string) => fluxApp(cluster.sim, r, name, r.ok(r.work, 'rev-parse', 'HEAD')).deliver;

/** The commit a `status --json` answer is about: the session's, or that of the push it says is starting. */
function commitOf(json: { session?: null; commit?: string | { sha: string } }): string | undefined {
  return typeof json.commit === 'string' ? json.commit : json.commit?.sha;
}

const FOLLOW_MAIN = 'config:\n  timeout: 20\n  polling_interval: 1\n  branches: [main]\n';

/** A repository following main, with one commit pushed, applied by Flux and its session finished. */
async function finishedPush(app: string, subject: string): Promise<{ r: TestRepo; sha: string }> {
  const r = cluster.newRepo({ config: FOLLOW_MAIN });
  const deliver = fluxFor(r, app);
  const sha = r.commit(subject);
  r.git(['push', '-q', 'origin', 'main']);
  await r.decided(sha);
  deliver(sha);
  await eventually(() => r.sessions().find((s) => s.commit.sha === sha && s.status === 'finished'), 15_000, `the session of ${sha.slice(0, 7)} to end`);
  return { r, sha };
}

describe('status right after git push', () => {
  it('answers for the push that just happened, every time, never with the previous push', async () => {
    const r = cluster.newRepo({ config: FOLLOW_MAIN });
    const deliver = fluxFor(r, 'status-after-push');
    let previous: string | undefined;
    for (let i = 0; i < 3; i++) {
      const sha = r.commit(`push ${i}`);
      expect(r.git(['push', '-q', 'origin', 'main']).status).toBe(0);
      // The moment git push returns.
      const st = r.cli(['status', '--json']);
      const json = JSON.parse(st.stdout);
      expect(commitOf(json), st.stdout + st.stderr).toBe(sha);
      if (previous) expect(st.stdout).not.toContain(previous);
      if (json.session === null) expect(json).toMatchObject({ branch: 'main', state: expect.stringMatching(/^(pushing|deciding|starting)$/) });
      // Flux applies it; its session ends in success before the next push.
      await r.decided(sha);
      deliver(sha);
      await eventually(() => r.sessions().find((s) => s.commit.sha === sha && s.status === 'finished'), 15_000, `the session of ${sha.slice(0, 7)} to end`);
      previous = sha;
    }
  });

  it('a push of a branch Flux does not follow is said so, instead of showing the session of another branch', async () => {
    const { r, sha: main } = await finishedPush('not-followed', 'on main');

    r.ok(r.work, 'checkout', '-q', '-b', 'feature');
    const feature = r.commit('on feature');
    expect(r.git(['push', '-q', 'origin', 'feature']).status).toBe(0);
    const st = r.cli(['status', '--json']);
    expect(st.status).toBe(1);
    expect(JSON.parse(st.stdout)).toEqual({
      session: null,
      message: `the push of feature@${feature.slice(0, 7)} is not followed: branch feature is not watched by Flux (watched: main)`,
      commit: feature,
      branch: 'feature',
      state: 'not-followed',
    });
    expect(st.stdout).not.toContain(main);
  });

  it('status and history find the repository without running git (docs/performance.md (i))', async () => {
    const { r, sha } = await finishedPush('no-git', 'read without git');
    // A PATH with no git on it: in a plain work tree (from a subdirectory too) both answer from the file system.
    const noGit = join(r.base, 'no-git-bin');
    mkdirSync(noGit, { recursive: true });
    mkdirSync(join(r.work, 'deep', 'er'), { recursive: true });
    const run = (args: string[], cwd: string) => spawnSync(process.execPath, [CLI, ...args], { cwd, env: { ...r.env, PATH: noGit }, encoding: 'utf8', timeout: 30_000 });
    const st = run(['status', '--json'], join(r.work, 'deep', 'er'));
    expect(st.status, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ commit: { sha }, repo: { path: r.work }, verdict: 'success' });
    const hist = run(['history', '--json'], r.work);
    expect(hist.status, hist.stderr).toBe(0);
    expect(hist.stdout).toContain(sha);
  });
});
