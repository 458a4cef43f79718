// What the built CLI says when something is missing: no session, no remote, no cluster (issue 14).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, requireBuild, TestRepo } from '../helpers/e2e.js';

beforeAll(() => requireBuild());

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('status --json without a session', () => {
  it('prints {"session": null} on stdout in every case, with the reason', () => {
    const r = new TestRepo({ kubeconfig: '/nonexistent', install: false });
    const none = run(['status', '--json'], r.work, r.env);
    expect(none.status).toBe(1);
    expect(JSON.parse(none.stdout)).toEqual({ session: null, message: expect.stringContaining(`no session for ${r.work} yet`) });
    expect(none.stderr).toContain('no session for');

    const follow = run(['status', '--json', '--follow'], r.work, r.env);
    expect(follow.status).toBe(1);
    expect(follow.stdout.trim().split('\n')).toHaveLength(1); // NDJSON: one line
    expect(JSON.parse(follow.stdout)).toMatchObject({ session: null });

    const unknown = run(['status', 'no-such-id', '--json'], r.work, r.env);
    expect(unknown.status).toBe(3);
    expect(JSON.parse(unknown.stdout)).toEqual({ session: null, message: 'no session "no-such-id" (see `flux-monitor history`)' });
    expect(unknown.stderr).toBe('flux-monitor status: no session "no-such-id" (see `flux-monitor history`)\n');

    const outside = run(['status', '--json'], realpathSync(mkdtempSync(join(tmpdir(), 'fm-nogit-'))), r.env);
    expect(outside.status).toBe(1);
    expect(JSON.parse(outside.stdout)).toEqual({
      session: null,
      message: 'not inside a git repository, and no session yet: run status in the repository you pushed from, pass --repo PATH, or give a session ID (flux-monitor history --all)',
    });
  });
});

describe('watch', () => {
  it('in a repository without a remote: says so and what to pass, instead of using the local path', () => {
    const r = new TestRepo({ kubeconfig: '/nonexistent', install: false });
    r.ok(r.work, 'remote', 'remove', 'origin');
    const res = run(['watch'], r.work, r.env);
    expect(res.status).toBe(3);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(
      `flux-monitor watch: the repository ${r.work} has no remote, so there is no repository URL to match Flux sources against\n` +
        '  hint: Pass --repo-url URL (the url of your GitRepository), add the remote (`git remote add origin URL`), or pass --all to follow every Flux object.\n',
    );
    // Several remotes, none of them origin nor the branch's upstream: which one is it?
    r.ok(r.work, 'remote', 'add', 'a', '../remote.git');
    r.ok(r.work, 'remote', 'add', 'b', '../remote.git');
    const two = run(['watch'], r.work, r.env);
    expect(two.status).toBe(3);
    expect(two.stderr).toContain('cannot tell which remote Flux follows');
    expect(two.stderr).toContain('hint: Pass --remote NAME or --repo-url URL.');
  });

  it('a cluster error is said once on stdout and once on stderr; the header of a run that ended at once has no timeout', () => {
    const r = new TestRepo({ kubeconfig: join(tmpdir(), 'fm-no-such-kubeconfig'), install: false });
    const res = run(['watch'], r.work, r.env);
    expect(res.status).toBe(3);
    const sentence = 'no kubeconfig found';
    expect(count(res.stdout, sentence)).toBe(1);
    expect(count(res.stderr, sentence)).toBe(1);
    expect(count(res.stdout + res.stderr, 'Point KUBECONFIG or --kubeconfig at your cluster config')).toBe(2);
    expect(res.stdout).not.toContain('timeout 5m00s');
    expect(res.stdout).toMatch(/· finished after \d+ms\n/);
    expect(res.stdout).toMatch(/✖ Error after \d+ms \(see the error above\)\n$/);
  });
});
