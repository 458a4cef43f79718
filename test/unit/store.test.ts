import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { statePaths, stateDir } from '../../src/session/paths.js';
import { processStartToken } from '../../src/session/proc.js';
import {
  appendHistory,
  findSession,
  historyEntry,
  latestSessionFor,
  listSessions,
  liveness,
  readHistory,
  readSessionFile,
  sessionFile,
  SessionWriter,
  supersedingSession,
  writeJsonAtomic,
  type StoredSession,
} from '../../src/session/store.js';
import { displayState } from '../../src/session/follow.js';
import { runningSession } from '../helpers/session.js';
import { acquireMonitorLock, holderAlive, lockFile, lockKey, readLock, releaseMonitorLock, withMutex, type LockHolder } from '../../src/session/lock.js';

function tmpPaths() {
  const home = mkdtempSync(join(tmpdir(), 'fm-store-'));
  return statePaths({ XDG_STATE_HOME: home });
}

/** A running session of /repo/a. */
const session = (id: string, over: Partial<StoredSession> = {}): StoredSession => runningSession(id, { repo: { path: '/repo/a', branch: 'main', remote: 'origin' }, ...over });

/** A pid that certainly belongs to no process any more. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

describe('state directory', () => {
  it('uses XDG_STATE_HOME when absolute, else ~/.local/state', () => {
    expect(stateDir({ XDG_STATE_HOME: '/x/state', HOME: '/h' })).toBe('/x/state/flux-monitor');
    expect(stateDir({ XDG_STATE_HOME: 'relative', HOME: '/h' })).toBe('/h/.local/state/flux-monitor');
    expect(stateDir({ HOME: '/h' })).toBe('/h/.local/state/flux-monitor');
  });
});

describe('writeJsonAtomic', () => {
  it('writes mode 0600 files in 0700 directories whatever the umask, leaving no temporary file', () => {
    const p = tmpPaths();
    const old = process.umask(0);
    try {
      writeJsonAtomic(sessionFile(p, 's1'), session('s1'));
    } finally {
      process.umask(old);
    }
    expect(statSync(sessionFile(p, 's1')).mode & 0o777).toBe(0o600);
    expect(statSync(p.sessions).mode & 0o777).toBe(0o700);
    expect(statSync(p.root).mode & 0o777).toBe(0o700);
    expect(readdirSync(p.sessions)).toEqual(['s1.json']);
    expect(readSessionFile(sessionFile(p, 's1')).id).toBe('s1');
  });

  it('a failed write leaves the previous content and no temporary file', () => {
    const p = tmpPaths();
    const file = sessionFile(p, 's1');
    writeJsonAtomic(file, session('s1', { updatedAt: 1 }));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => writeJsonAtomic(file, cyclic)).toThrow();
    expect(readSessionFile(file).updatedAt).toBe(1);
    expect(readdirSync(p.sessions)).toEqual(['s1.json']);
  });

  it('a concurrent reader never sees a torn file', async () => {
    const p = tmpPaths();
    const file = sessionFile(p, 'big');
    const big = (n: number) => session('big', { updatedAt: n, warnings: Array.from({ length: 2000 }, (_, i) => `warning ${i} of version ${n}`) });
    writeJsonAtomic(file, big(0));
    // A separate process reads the file as fast as it can and counts reads that do not parse.
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');let bad=0,reads=0;const f=process.argv[1];
         const t=setInterval(()=>{},1000);
         process.stdin.on('data',()=>{clearInterval(t);console.log(JSON.stringify({bad,reads}));process.exit(0)});
         (function loop(){for(let i=0;i<50;i++){try{JSON.parse(fs.readFileSync(f,'utf8'));reads++}catch(e){bad++}}setImmediate(loop)})();`,
        file,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let out = '';
    reader.stdout.on('data', (d) => (out += d));
    await new Promise((r) => setTimeout(r, 100));
    for (let n = 1; n <= 300; n++) writeJsonAtomic(file, big(n));
    reader.stdin.write('stop\n');
    await new Promise((r) => reader.on('exit', r));
    const { bad, reads } = JSON.parse(out) as { bad: number; reads: number };
    expect(reads).toBeGreaterThan(0);
    expect(bad).toBe(0);
    expect(readSessionFile(file).updatedAt).toBe(300);
  });
});

describe('listSessions and corruption', () => {
  it('reports a corrupt file by itself and keeps every other session', () => {
    const p = tmpPaths();
    writeJsonAtomic(sessionFile(p, 'old'), session('old', { startedAt: 1 }));
    writeJsonAtomic(sessionFile(p, 'new'), session('new', { startedAt: 3 }));
    mkdirSync(p.sessions, { recursive: true });
    writeFileSync(sessionFile(p, 'torn'), '{"schema":1,"id":"torn","comm');
    writeFileSync(sessionFile(p, 'alien'), '{"hello":"world"}');
    writeFileSync(join(p.sessions, '.new.json.123.tmp'), 'partial');
    writeFileSync(join(p.sessions, 'new.log'), 'log');
    const all = listSessions(p);
    expect(all.filter((e) => e.session).map((e) => e.id)).toEqual(['new', 'old']);
    const bad = all.filter((e) => e.error);
    expect(bad.map((e) => e.id).sort()).toEqual(['alien', 'torn']);
    expect(bad.find((e) => e.id === 'torn')!.error).toMatch(/corrupt session file .*torn\.json: not JSON/);
    expect(bad.find((e) => e.id === 'alien')!.error).toMatch(/not a flux-monitor session/);
    expect(() => readSessionFile(sessionFile(p, 'torn'))).toThrow(/corrupt session file/);
  });

  it('finds sessions by id or unique prefix', () => {
    const p = tmpPaths();
    writeJsonAtomic(sessionFile(p, '20260101-aaa'), session('20260101-aaa'));
    writeJsonAtomic(sessionFile(p, '20260101-abb'), session('20260101-abb'));
    expect(findSession(p, '20260101-aa').id).toBe('20260101-aaa');
    expect(() => findSession(p, '20260101-a')).toThrow(/matches 2 sessions/);
    expect(() => findSession(p, 'zzz')).toThrow(/no session "zzz"/);
  });

  it('latestSessionFor prefers a running session of the repository, else its newest', () => {
    const p = tmpPaths();
    const me = { pid: process.pid, pidStart: processStartToken(process.pid) };
    writeJsonAtomic(sessionFile(p, 'running'), session('running', { startedAt: 1, ...me }));
    writeJsonAtomic(sessionFile(p, 'finished'), session('finished', { startedAt: 2, status: 'finished', verdict: 'success' }));
    writeJsonAtomic(sessionFile(p, 'other-repo'), session('other-repo', { startedAt: 3, repo: { path: '/repo/b' }, ...me }));
    expect(latestSessionFor(p, '/repo/a')!.id).toBe('running');
    expect(latestSessionFor(p, '/repo/b')!.id).toBe('other-repo');
    expect(latestSessionFor(p, '/repo/none')).toBeUndefined();
    writeJsonAtomic(sessionFile(p, 'running'), session('running', { startedAt: 1, status: 'finished', verdict: 'failed' }));
    expect(latestSessionFor(p, '/repo/a')!.id).toBe('finished');
  });

  it('latestSessionFor goes by push time and passes over superseded sessions (issue 16)', () => {
    const p = tmpPaths();
    const done = (verdict: StoredSession['verdict']) => ({ status: 'finished' as const, verdict });
    // r2's monitor started after r3's, found it was older and ended at once as superseded.
    writeJsonAtomic(sessionFile(p, 'r1'), session('r1', { pushedAt: 100, startedAt: 150, ...done('superseded') }));
    writeJsonAtomic(sessionFile(p, 'r3'), session('r3', { pushedAt: 300, startedAt: 400, ...done('success') }));
    writeJsonAtomic(sessionFile(p, 'r2'), session('r2', { pushedAt: 200, startedAt: 410, ...done('superseded') }));
    expect(latestSessionFor(p, '/repo/a')!.id).toBe('r3');
    // The session of the newest push wins over a later start even when nothing was superseded.
    writeJsonAtomic(sessionFile(p, 'r3'), session('r3', { pushedAt: 300, startedAt: 400, ...done('failed') }));
    writeJsonAtomic(sessionFile(p, 'r2'), session('r2', { pushedAt: 200, startedAt: 410, ...done('stopped') }));
    expect(latestSessionFor(p, '/repo/a')!.id).toBe('r3');
    // A superseded session of the newest push is passed over for an older one that was not superseded…
    writeJsonAtomic(sessionFile(p, 'r3'), session('r3', { pushedAt: 300, startedAt: 400, ...done('superseded') }));
    expect(latestSessionFor(p, '/repo/a')!.id).toBe('r2');
    // …and shown when nothing else exists.
    writeJsonAtomic(sessionFile(p, 'r2'), session('r2', { pushedAt: 200, startedAt: 410, ...done('superseded') }));
    expect(latestSessionFor(p, '/repo/a')!.id).toBe('r3');
    // A running session comes first.
    writeJsonAtomic(sessionFile(p, 'r1'), session('r1', { pushedAt: 100, startedAt: 150, pid: process.pid, pidStart: processStartToken(process.pid) }));
    expect(latestSessionFor(p, '/repo/a')!.id).toBe('r1');
  });

  it('supersedingSession is the session of a later push of the same repository and branch', () => {
    const p = tmpPaths();
    const me = { pid: process.pid, pidStart: processStartToken(process.pid) };
    const r1 = session('r1', { pushedAt: 100, status: 'finished', verdict: 'superseded' });
    writeJsonAtomic(sessionFile(p, 'r1'), r1);
    writeJsonAtomic(sessionFile(p, 'r2'), session('r2', { pushedAt: 200, startedAt: 900, status: 'finished', verdict: 'superseded' }));
    writeJsonAtomic(sessionFile(p, 'other-branch'), session('other-branch', { pushedAt: 500, repo: { path: '/repo/a', branch: 'dev' }, ...me }));
    writeJsonAtomic(sessionFile(p, 'older'), session('older', { pushedAt: 50, ...me }));
    expect(supersedingSession(r1, listSessions(p))!.id).toBe('r2'); // nothing better yet
    writeJsonAtomic(sessionFile(p, 'r3'), session('r3', { pushedAt: 300, startedAt: 800, ...me }));
    expect(supersedingSession(r1, listSessions(p))!.id).toBe('r3');
    expect(supersedingSession(session('r3', { pushedAt: 300 }), listSessions(p))).toBeUndefined();
  });
});

describe('liveness', () => {
  it('running while its process lives, dead when the process is gone or the pid was reused', () => {
    const token = processStartToken(process.pid);
    expect(token).toBeTruthy();
    expect(liveness(session('a', { pid: process.pid, pidStart: token }))).toBe('running');
    expect(liveness(session('a', { pid: deadPid(), pidStart: '1' }))).toBe('dead');
    expect(liveness(session('a', { pid: process.pid, pidStart: 'not-the-same-start' }))).toBe('dead');
    expect(liveness(session('a', { pid: undefined }))).toBe('dead');
    expect(liveness(session('a', { status: 'finished', verdict: 'success', pid: deadPid() }))).toBe('finished');
  });

  it('a dead session is displayed as an error that says what happened', () => {
    const s = session('a', { pid: 4242, logPath: '/x/a.log' });
    const shown = displayState(s, 'dead');
    expect(shown.status).toBe('finished');
    expect(shown.verdict).toBe('error');
    expect(shown.verdictMessage).toContain('pid 4242');
    expect(shown.verdictMessage).toContain('/x/a.log');
    expect(displayState(s, 'running')).toBe(s);
  });
});

describe('history', () => {
  it('appends one line per session (0600) and skips unreadable lines with their line number', () => {
    const p = tmpPaths();
    appendHistory(p, historyEntry(session('one', { status: 'finished', verdict: 'success', endedAt: 4000 })));
    writeFileSync(p.history, readFileSync(p.history, 'utf8') + 'garbage\n', { flag: 'w' });
    appendHistory(p, historyEntry(session('two', { status: 'finished', verdict: 'failed', endedAt: 2500 })));
    expect(statSync(p.history).mode & 0o777).toBe(0o600);
    const { entries, errors } = readHistory(p);
    expect(entries.map((e) => [e.id, e.verdict, e.durationMs])).toEqual([
      ['one', 'success', 3000],
      ['two', 'failed', 1500],
    ]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/history\.jsonl:2: unreadable history line/);
  });

  it('an absent history is empty', () => {
    expect(readHistory(tmpPaths())).toEqual({ entries: [], errors: [] });
  });
});

describe('SessionWriter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes at most once per interval, the latest state wins, and final() always writes', () => {
    vi.useFakeTimers();
    const p = tmpPaths();
    const file = sessionFile(p, 'w');
    let now = 10_000;
    const w = new SessionWriter(file, { minIntervalMs: 250, now: () => now });
    const at = () => readSessionFile(file).updatedAt;
    w.update(session('w', { updatedAt: 1 }));
    expect(at()).toBe(1); // the first write is immediate
    now += 100;
    w.update(session('w', { updatedAt: 2 }));
    w.update(session('w', { updatedAt: 3 }));
    expect(at()).toBe(1); // throttled
    now += 150;
    vi.advanceTimersByTime(150);
    expect(at()).toBe(3); // the pending latest state
    now += 10;
    w.update(session('w', { updatedAt: 4 }));
    expect(at()).toBe(3);
    w.final(session('w', { updatedAt: 5, status: 'finished', verdict: 'success' }));
    expect(at()).toBe(5);
    w.update(session('w', { updatedAt: 6 }));
    vi.advanceTimersByTime(1000);
    expect(at()).toBe(5); // nothing after final
  });

  it('reports write errors instead of throwing', () => {
    const p = tmpPaths();
    mkdirSync(p.sessions, { recursive: true });
    mkdirSync(sessionFile(p, 'dir')); // a directory where the file should be: rename fails
    const errors: unknown[] = [];
    const w = new SessionWriter(sessionFile(p, 'dir'), { onError: (e) => errors.push(e) });
    w.final(session('dir'));
    expect(errors).toHaveLength(1);
    expect(readdirSync(p.sessions)).toEqual(['dir.json']);
  });
});

// --- one live monitor per repository + branch -------------------------------------------------------------

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A live process standing for another monitor. */
function liveProcess(): { pid: number; pidStart?: string } {
  const c = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(c);
  return { pid: c.pid!, pidStart: processStartToken(c.pid!) };
}

function holder(p: { pid: number; pidStart?: string }, sessionId: string, pushedAt: number): LockHolder {
  return { ...p, sessionId, pushedAt, acquiredAt: Date.now() };
}

describe('lockKey', () => {
  it('is stable, file-name safe, and differs per repository and branch', () => {
    const k = lockKey('github.com/org/repo', 'feature/x y');
    expect(k).toBe(lockKey('github.com/org/repo', 'feature/x y'));
    expect(k).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(k).not.toBe(lockKey('github.com/org/repo', 'main'));
    expect(k).not.toBe(lockKey('github.com/org/other', 'feature/x y'));
  });
});

describe('acquireMonitorLock', () => {
  it('takes a free branch', async () => {
    const p = tmpPaths();
    const me = holder({ pid: process.pid, pidStart: processStartToken(process.pid) }, 's1', 100);
    expect(await acquireMonitorLock(p, 'k', me)).toEqual({ acquired: true });
    expect(readLock(p, 'k')).toEqual(me);
    expect(holderAlive(readLock(p, 'k'))).toBe(true);
  });

  it('supersedes a live monitor of an older push and returns it to be signalled', async () => {
    const p = tmpPaths();
    const old = holder(liveProcess(), 'old', 100);
    await acquireMonitorLock(p, 'k', old);
    const me = holder({ pid: process.pid, pidStart: processStartToken(process.pid) }, 'new', 200);
    expect(await acquireMonitorLock(p, 'k', me)).toEqual({ acquired: true, previous: old });
    expect(readLock(p, 'k')!.sessionId).toBe('new');
  });

  it('gives up to a live monitor of a newer push', async () => {
    const p = tmpPaths();
    const newer = holder(liveProcess(), 'newer', 300);
    await acquireMonitorLock(p, 'k', newer);
    const me = holder({ pid: process.pid, pidStart: processStartToken(process.pid) }, 'late', 200);
    expect(await acquireMonitorLock(p, 'k', me)).toEqual({ acquired: false, holder: newer });
    expect(readLock(p, 'k')!.sessionId).toBe('newer');
  });

  it('takes over the lock of a dead monitor, and of a reused pid, without signalling anyone', async () => {
    const p = tmpPaths();
    await acquireMonitorLock(p, 'k', holder({ pid: deadPid(), pidStart: '123' }, 'dead', 900));
    const me = holder({ pid: process.pid, pidStart: processStartToken(process.pid) }, 'me', 100);
    expect(await acquireMonitorLock(p, 'k', me)).toEqual({ acquired: true });

    // The pid is alive but it is another process than the one that took the lock.
    const other = liveProcess();
    await releaseMonitorLock(p, 'k', me);
    await acquireMonitorLock(p, 'k', holder({ pid: other.pid, pidStart: 'an earlier start' }, 'reused', 900));
    expect(await acquireMonitorLock(p, 'k', me)).toEqual({ acquired: true });
  });

  it('an unreadable lock file counts as free', async () => {
    const p = tmpPaths();
    mkdirSync(p.locks, { recursive: true });
    writeFileSync(lockFile(p, 'k'), '{ torn');
    const me = holder({ pid: process.pid }, 'me', 1);
    expect(await acquireMonitorLock(p, 'k', me)).toEqual({ acquired: true });
  });

  it('release removes the lock only for its holder', async () => {
    const p = tmpPaths();
    const a = holder(liveProcess(), 'a', 1);
    const b = holder(liveProcess(), 'b', 2);
    await acquireMonitorLock(p, 'k', a);
    await acquireMonitorLock(p, 'k', b);
    expect(await releaseMonitorLock(p, 'k', a)).toBe(false); // superseded: b holds it now
    expect(readLock(p, 'k')!.sessionId).toBe('b');
    expect(await releaseMonitorLock(p, 'k', b)).toBe(true);
    expect(existsSync(lockFile(p, 'k'))).toBe(false);
    expect(readdirSync(p.locks)).toEqual([]); // no mutex left behind
  });
});

describe('withMutex', () => {
  it('waits while a live process holds the mutex', async () => {
    const p = tmpPaths();
    mkdirSync(p.locks, { recursive: true });
    const other = liveProcess();
    const mutex = join(p.locks, 'k.mutex');
    writeFileSync(mutex, String(other.pid));
    let ran = false;
    const pending = withMutex(p, 'k', () => (ran = true), 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(ran).toBe(false);
    unlinkSync(mutex);
    await pending;
    expect(ran).toBe(true);
  });

  it('breaks the mutex of a dead process', async () => {
    const p = tmpPaths();
    mkdirSync(p.locks, { recursive: true });
    writeFileSync(join(p.locks, 'k.mutex'), String(deadPid()));
    expect(await withMutex(p, 'k', () => 'done', 2000)).toBe('done');
  });

  it('times out instead of waiting forever', async () => {
    const p = tmpPaths();
    mkdirSync(p.locks, { recursive: true });
    writeFileSync(join(p.locks, 'k.mutex'), String(liveProcess().pid));
    await expect(withMutex(p, 'k', () => 1, 150)).rejects.toThrow(/timed out waiting/);
  });
});

// --- following a session as the monitor rewrites it ---------------------------------------------------------

describe('followSession', () => {
  it('reports the current state, each change, and ends with the final one', async () => {
    const { followSession } = await import('../../src/session/follow.js');
    const p = tmpPaths();
    const me = { pid: process.pid, pidStart: processStartToken(process.pid) };
    writeJsonAtomic(sessionFile(p, 'f'), session('f', { updatedAt: 1, ...me }));
    const seen: Array<[number, string]> = [];
    const f = followSession(p, 'f', (s, live) => seen.push([s.updatedAt, live]), (e) => { throw e; }, { pollMs: 20 });
    expect(seen).toEqual([[1, 'running']]);
    writeJsonAtomic(sessionFile(p, 'f'), session('f', { updatedAt: 2, ...me }));
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 10));
    writeJsonAtomic(sessionFile(p, 'f'), session('f', { updatedAt: 3, ...me, status: 'finished', verdict: 'success' }));
    await f.done;
    expect(seen).toEqual([
      [1, 'running'],
      [2, 'running'],
      [3, 'finished'],
    ]);
  });

  it('ends with "dead" when the monitor process disappears without finishing', async () => {
    const { followSession } = await import('../../src/session/follow.js');
    const p = tmpPaths();
    const monitor = liveProcess();
    writeJsonAtomic(sessionFile(p, 'd'), session('d', { updatedAt: 1, ...monitor }));
    const seen: string[] = [];
    const f = followSession(p, 'd', (_s, live) => seen.push(live), (e) => { throw e; }, { pollMs: 20 });
    process.kill(monitor.pid, 'SIGKILL');
    await f.done;
    expect(seen).toEqual(['running', 'dead']);
  });

  it('ends with an error when the file is or becomes unreadable', async () => {
    const { followSession } = await import('../../src/session/follow.js');
    const p = tmpPaths();
    mkdirSync(p.sessions, { recursive: true });
    writeFileSync(sessionFile(p, 'x'), 'not json');
    const errors: Error[] = [];
    const f = followSession(p, 'x', () => undefined, (e) => errors.push(e), { pollMs: 10 });
    await f.done;
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/corrupt session file/);
  });
});

describe('writeJsonStreamed', () => {
  it('writes exactly what JSON.stringify writes, streaming large collections entry by entry', async () => {
    const { writeJsonStreamed } = await import('../../src/session/store.js');
    const { openSync, closeSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'fm-stream-'));
    const nodes: Record<string, unknown> = {};
    for (let i = 0; i < 5000; i++) nodes[`Kustomization/ns-${i}/app-"${i}"`] = { phase: i % 2 ? 'Ready' : 'Failed', message: `line\n\u001b[31m${'x'.repeat(i % 50)}`, gone: undefined, n: i };
    const data = {
      schema: 1,
      id: 's',
      skipped: undefined,
      nodes,
      small: { a: 1, b: [1, 2, { c: null }] },
      edges: Array.from({ length: 300 }, (_, i) => ({ from: `a${i}`, to: `b${i}`, type: 'dependsOn' })),
      empty: {},
      list: [undefined, 'x'],
    };
    const file = join(dir, 'state.json');
    const fd = openSync(file, 'w');
    writeJsonStreamed(fd, data);
    closeSync(fd);
    expect(readFileSync(file, 'utf8')).toBe(JSON.stringify(data) + '\n');
  });
});
