// `status` right after `git push`: the push the hooks are still handling is the newest, not the last stored session.
// The intents directory is laid out as the hooks leave it (hooks/pre-push writes intents/<pid of git push>,
// push-done writes intents/<pid>.outcome before it removes the intent).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { statePaths, type StatePaths } from '../../src/session/paths.js';
import { newestPushFor, type PushOutcome } from '../../src/session/pending.js';
import { type StoredSession } from '../../src/session/store.js';
import { finishedSession, storeSession as writeSession } from '../helpers/session.js';
import { noSessionJson, pickSession } from '../../src/commands/status.js';
import type { CommandIO } from '../../src/commands/types.js';

const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);

function setup() {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'fm-pending-')));
  const repo = join(base, 'repo');
  mkdirSync(repo);
  execFileSync('git', ['init', '-q', repo]);
  const paths = statePaths({ XDG_STATE_HOME: join(base, 'state') });
  mkdirSync(paths.intents, { recursive: true });
  mkdirSync(paths.sessions, { recursive: true });
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (d) => (err += String(d)));
  const io = { cwd: repo, env: {}, stdout: new PassThrough(), stderr, stdin: new PassThrough() } as unknown as CommandIO;
  return { base, repo, paths, io, err: () => err };
}

/** A session of `repo` at `sha` that finished half a minute ago, written to the state directory. */
function storeSession(paths: StatePaths, id: string, repo: string, sha: string, over: Partial<StoredSession> = {}): StoredSession {
  const startedAt = Date.now() - 60_000;
  return writeSession(paths, finishedSession(id, { repo: { path: repo, branch: 'main', remote: 'origin' }, commit: { sha }, startedAt, updatedAt: startedAt + 30_000, endedAt: startedAt + 30_000, pushedAt: startedAt, ...over }));
}

/** intents/<pid> as hooks/pre-push writes it. */
function writeIntent(paths: StatePaths, pid: number, dir: string, sha: string, ref = 'refs/heads/main') {
  writeFileSync(join(paths.intents, String(pid)), `flux-monitor-intent 1\nremote origin\nurl https://example.invalid/r.git\ndir ${dir}\nrefs/heads/main ${sha} ${ref} ${OLD}\n`);
}

function writeOutcome(paths: StatePaths, pid: number, o: PushOutcome) {
  writeFileSync(join(paths.intents, `${pid}.outcome`), JSON.stringify(o));
}

/** A pid that belongs to no process any more (git push has exited). */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('the push that just happened', () => {
  it('while git push runs, status names the new commit instead of showing the previous push', async () => {
    const t = setup();
    storeSession(t.paths, 'old', t.repo, OLD);
    writeIntent(t.paths, process.pid, t.repo, NEW); // this process stands for the running git push
    const r = await pickSession(t.io, t.paths, undefined, undefined, { waitMs: 0 });
    expect(r).toMatchObject({ code: 0, pending: { sha: NEW, branch: 'main', state: 'pushing' } });
    expect(noSessionJson(r as never)).toMatchObject({ session: null, commit: NEW, branch: 'main', state: 'pushing' });
    expect(t.err()).toContain('main@bbbbbbb is being pushed');
  });

  it('waits for the session push-done started and shows it', async () => {
    const t = setup();
    storeSession(t.paths, 'old', t.repo, OLD);
    const pid = deadPid();
    writeOutcome(t.paths, pid, { schema: 1, dir: t.repo, pushedAt: Date.now(), refs: [{ sha: NEW, branch: 'main', followed: true, sessionId: 'new-session' }] });
    let slept = 0;
    const r = await pickSession(t.io, t.paths, undefined, undefined, {
      waitMs: 60_000,
      sleep: async () => {
        // The detached monitor writes its session while status waits.
        if (++slept === 3) storeSession(t.paths, 'new-session', t.repo, NEW, { status: 'running', verdict: undefined, endedAt: undefined, pushedAt: Date.now() });
      },
    });
    expect(r).toMatchObject({ id: 'new-session', session: { commit: { sha: NEW } } });
    expect(slept).toBe(3);
  });

  it('a push Flux does not follow is said so, with why, never shown as the previous session', async () => {
    const t = setup();
    storeSession(t.paths, 'old', t.repo, OLD);
    writeOutcome(t.paths, deadPid(), {
      schema: 1,
      dir: t.repo,
      pushedAt: Date.now(),
      refs: [{ sha: NEW, branch: 'feature', followed: false, reason: 'branch feature is not watched by Flux' }],
    });
    const r = await pickSession(t.io, t.paths, undefined, undefined, { waitMs: 60_000 });
    expect(r).toEqual({
      code: 1,
      message: 'the push of feature@bbbbbbb is not followed: branch feature is not watched by Flux',
      pending: expect.objectContaining({ sha: NEW, state: 'not-followed' }),
    });
  });

  it('after the bounded wait, a session that has not appeared is "starting" for that commit', async () => {
    const t = setup();
    storeSession(t.paths, 'old', t.repo, OLD);
    writeIntent(t.paths, deadPid(), t.repo, NEW);
    const r = await pickSession(t.io, t.paths, undefined, undefined, { waitMs: 0 });
    expect(noSessionJson(r as never)).toEqual({
      session: null,
      message: 'the monitor of main@bbbbbbb is starting (checking whether Flux follows it); ask again in a moment, or use --follow',
      commit: NEW,
      branch: 'main',
      state: 'deciding',
    });
  });

  it('a stored session of the pushed commit is shown at once; pushes of other repositories and old ones are not pending', async () => {
    const t = setup();
    storeSession(t.paths, 'new', t.repo, NEW, { pushedAt: Date.now(), startedAt: Date.now() });
    writeIntent(t.paths, deadPid(), t.repo, NEW);
    let slept = 0;
    const r = await pickSession(t.io, t.paths, undefined, undefined, { waitMs: 60_000, sleep: async () => void slept++ });
    expect(r).toMatchObject({ id: 'new' });
    expect(slept).toBe(0);

    const u = setup();
    storeSession(u.paths, 'old', u.repo, OLD);
    writeIntent(u.paths, 4_000_001, join(u.base, 'elsewhere'), NEW);
    const stale = deadPid();
    writeIntent(u.paths, stale, u.repo, NEW);
    const hourAgo = (Date.now() - 3_600_000) / 1000;
    utimesSync(join(u.paths.intents, String(stale)), hourAgo, hourAgo);
    writeFileSync(join(u.paths.intents, '77.outcome'), '{"schema":1,"dir":'); // cut short: ignored
    expect(newestPushFor(u.paths, u.repo)).toBeUndefined();
    expect(await pickSession(u.io, u.paths, undefined, undefined, { waitMs: 0 })).toMatchObject({ id: 'old' });
  });
});
