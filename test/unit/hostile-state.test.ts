// State files that parse but have the wrong shape (security.md §5), and the store's retention (§6): a session file
// or a history line of the wrong shape is skipped with one line naming it, and every other session keeps working in
// status, history, follow and the MCP tools; old sessions are pruned and history.jsonl rotated, never a live one.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import history from '../../src/commands/history.js';
import status from '../../src/commands/status.js';
import type { CommandIO } from '../../src/commands/types.js';
import { ConfigError, DEFAULT_RETENTION, parseConfig } from '../../src/config/load.js';
import { DEFAULT_CONFIG } from '../../src/core/types.js';
import { newSessionId } from '../../src/engine/run.js';
import { runToVerdict } from '../helpers/engine.js';
import { resultJson, sink, useMcp } from '../helpers/mcp.js';
import { finishedSession } from '../helpers/session.js';
import { type StatePaths } from '../../src/session/paths.js';
import { processStartToken } from '../../src/session/proc.js';
import { followSession } from '../../src/session/follow.js';
import {
  appendHistory,
  historyEntry,
  historyProblem,
  latestSessionFor,
  listSessions,
  pruneStore,
  readHistory,
  rotatedHistoryFile,
  sessionFile,
  sessionLogFile,
  sessionProblem,
  writeJsonAtomic,
  type StoredSession,
} from '../../src/session/store.js';
import { SCENARIOS, startSimulatedCluster, randomSha } from '../../src/sim/index.js';

const mcpTest = useMcp('fm-hostile-');
let dir: string;
let repo: string;
let env: NodeJS.ProcessEnv;
let paths: StatePaths;

beforeEach(() => {
  ({ dir, env, paths } = mcpTest);
  repo = join(dir, 'repo');
  mkdirSync(repo);
  mcpTest.git(repo, 'init', '-q', '-b', 'main');
});

/** A finished session of the test's repository. */
const session = (id: string, over: Partial<StoredSession> = {}): StoredSession => finishedSession(id, { repo: { path: repo, branch: 'main', remote: 'origin' }, ...over });


function run(cmd: { run(argv: string[], io: CommandIO): Promise<number> }, argv: string[], cwd = repo) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: CommandIO = { stdout: sink(stdout), stderr: sink(stderr), stdin: new PassThrough() as unknown as NodeJS.ReadStream, env, cwd };
  return cmd.run(argv, io).then((code) => ({ code, stdout: stdout.join(''), stderr: stderr.join('') }));
}

/** Writes a file in the sessions directory as it is, without the store's checks. */
function plant(name: string, content: string): string {
  mkdirSync(paths.sessions, { recursive: true });
  const file = join(paths.sessions, name);
  writeFileSync(file, content);
  return file;
}

function plantHistory(lines: string[]): void {
  mkdirSync(paths.root, { recursive: true });
  writeFileSync(paths.history, lines.map((l) => l + '\n').join(''));
}

const good = () => writeJsonAtomic(sessionFile(paths, 's-good'), session('s-good', { startedAt: 5000, updatedAt: 6000, endedAt: 6000 }));

/** Hostile session files: each parses (or is there) but is not a session; what the warning must say. */
const HOSTILE_SESSIONS: Array<[what: string, content: () => unknown, says: RegExp]> = [
  ['no repo (security.md §5)', () => { const s: Partial<StoredSession> = session('bad'); delete s.repo; return s; }, /repo must be an object/],
  ['repo a string', () => ({ ...session('bad'), repo: '/repo' }), /repo must be an object/],
  ['repo.path a number', () => ({ ...session('bad'), repo: { path: 5 } }), /repo\.path must be a string/],
  ['commit.sha a number', () => ({ ...session('bad'), commit: { sha: 7 } }), /commit\.sha must be a string/],
  ['startedAt a string', () => ({ ...session('bad'), startedAt: 'yesterday' }), /startedAt must be a number/],
  ['an unknown status', () => ({ ...session('bad'), status: 'exploded' }), /status must be one of starting, running, finished/],
  ['an unknown verdict', () => ({ ...session('bad'), verdict: 'pwned' }), /verdict must be one of/],
  ['nodes a list', () => ({ ...session('bad'), nodes: [] }), /nodes must be an object/],
  ['a node without a phase', () => ({ ...session('bad'), nodes: { 'Kustomization/a/b': { key: 'Kustomization/a/b', kind: 'Kustomization' } } }), /nodes\["Kustomization\/a\/b"\]\.namespace must be a string/],
  ['a node with a made-up phase', () => ({ ...session('bad'), nodes: { k: node({ phase: 'Exploded' }) } }), /nodes\["k"\]\.phase must be one of/],
  ['a diagnosis without workloads', () => ({ ...session('bad'), nodes: { k: node({ diagnosis: { events: [], notes: [] } }) } }), /diagnosis\.workloads must be a list/],
  ['edges an object', () => ({ ...session('bad'), edges: {} }), /edges must be a list/],
  ['warnings of numbers', () => ({ ...session('bad'), warnings: [1] }), /warnings\[0\] must be a string/],
  ['clusters without context', () => ({ ...session('bad'), clusters: [{ status: 'finished' }] }), /clusters\[0\]\.context must be a string/],
  ['a pid that is not a process id', () => ({ ...session('bad'), status: 'running', pid: -1 }), /pid must be a process id/],
  ['config.verbosity made up', () => ({ ...session('bad'), config: { verbosity: 'loud' } }), /config\.verbosity must be one of/],
  ['an id that is not its file name', () => session('s-good-but-elsewhere'), /its id "s-good-but-elsewhere" is not its file name/],
  ['an id with terminal escapes', () => session('\u001b]0;x\u0007'), /id must be a session id/],
  ['JSON null', () => null, /the document must be an object/],
  ['a JSON list', () => [session('bad')], /the document must be an object/],
  ['schema 2', () => ({ ...session('bad'), schema: 2 }), /schema must be 1/],
  ['a timeline moment without a time', () => ({ ...session('bad'), timeline: { objects: { k: { ready: { from: 'event' } } } } }), /timeline\.objects\["k"\]\.ready\.at must be a number/],
  ['a timeline moment from nowhere', () => ({ ...session('bad'), timeline: { objects: { k: { ready: { at: 1, from: 'rumour' } } } } }), /ready\.from must be one of condition, event/],
  ['a timeline of a million waits', () => ({ ...session('bad'), timeline: { objects: { k: { waits: Array.from({ length: 1_000_000 }, () => ({ from: 1, on: 'dependency', blockers: [], reason: '' })) } } } }), /waits must have at most 6 entries/],
  ['a timeline wait with a thousand blockers', () => ({ ...session('bad'), timeline: { objects: { k: { waits: [{ from: 1, on: 'dependency', blockers: Array.from({ length: 1000 }, (_, i) => `ns/d${i}`), reason: '' }] } } } }), /blockers must have at most 5 entries/],
  ['a timeline of more objects than any session records', () => ({ ...session('bad'), timeline: { objects: Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`k${i}`, {}])) } }), /timeline\.objects must have at most 10000 entries/],
];

function node(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { key: 'k', kind: 'Kustomization', namespace: 'a', name: 'b', apiVersion: 'kustomize.toolkit.fluxcd.io/v1', phase: 'Ready', reason: '', message: '', affected: true, settled: true, phaseSince: 1, firstSeen: 1, ...over };
}

describe('session files of the wrong shape', () => {
  for (const [what, content, says] of HOSTILE_SESSIONS) {
    it(`${what}: reported for itself, naming the file; the other sessions are read`, () => {
      good();
      const file = plant('bad.json', JSON.stringify(content()));
      const entries = listSessions(paths);
      const bad = entries.find((e) => e.id === 'bad')!;
      expect(bad.session).toBeUndefined();
      expect(bad.error).toContain(`corrupt session file ${file}: not a flux-monitor session`);
      expect(bad.error).toMatch(says);
      expect(bad.error!.split('\n')).toHaveLength(1);
      expect(latestSessionFor(paths, repo, entries)?.id).toBe('s-good');
    });
  }

  it('`status` (the case of the issue: one file without `repo` broke it in every repository): shows the session, one warning', async () => {
    good();
    const s: Partial<StoredSession> = session('bad', { startedAt: 9000 });
    delete s.repo;
    const file = plant('bad.json', JSON.stringify(s));
    const r = await run(status, ['--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 's-good', liveness: 'finished' });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`corrupt session file ${file}: not a flux-monitor session (repo must be an object)`);
    // And from another repository, and for the session itself by ID: a message, not a TypeError.
    const other = await run(status, ['--json'], dir);
    expect(other.stderr).not.toMatch(/Cannot read properties/);
    const byId = await run(status, ['bad', '--json']);
    expect(byId.code).toBe(3);
    expect(JSON.parse(byId.stdout)).toEqual({ session: null, message: expect.stringContaining('repo must be an object') });
  });

  it('`history` lists the other sessions and names the bad file once', async () => {
    good();
    writeJsonAtomic(sessionFile(paths, 's-run'), session('s-run', { status: 'running', pid: process.pid, pidStart: processStartToken(process.pid), endedAt: undefined, verdict: undefined }));
    const file = plant('bad.json', JSON.stringify({ ...session('bad'), nodes: 'lots' }));
    const r = await run(history, ['--all', '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Array<{ id: string }>).map((x) => x.id)).toEqual(['s-run']);
    expect(r.stderr.trim().split('\n')).toEqual([`flux-monitor: warning: corrupt session file ${file}: not a flux-monitor session (nodes must be an object)`]);
  });

  it('following a session whose file turns into the wrong shape ends with the message, not a crash', async () => {
    writeJsonAtomic(sessionFile(paths, 's1'), session('s1', { status: 'running', pid: process.pid, pidStart: processStartToken(process.pid), endedAt: undefined, verdict: undefined }));
    const errors: Error[] = [];
    const f = followSession(paths, 's1', () => undefined, (err) => errors.push(err), { pollMs: 10 });
    writeFileSync(sessionFile(paths, 's1'), JSON.stringify({ ...session('s1'), commit: null }));
    await f.done;
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/corrupt session file .*s1\.json: not a flux-monitor session \(commit must be an object\)/)]);
  });

  it('a FIFO or a directory named like a session does not block or break the listing', () => {
    good();
    const fifo = join(paths.sessions, 'fifo.json');
    const mk = spawnSync('mkfifo', [fifo]);
    mkdirSync(join(paths.sessions, 'dir.json'));
    const entries = listSessions(paths);
    if (mk.status === 0) expect(entries.find((e) => e.id === 'fifo')?.error).toBe(`corrupt session file ${fifo}: not a regular file`);
    expect(entries.find((e) => e.id === 'dir')?.error).toContain('not a regular file');
    expect(entries.find((e) => e.id === 's-good')?.session).toBeDefined();
  });

  it('terminal escapes in a file name or a key are written as \\xNN in the warning', () => {
    plant('\u001b[2Jx.json', JSON.stringify({ ...session('x'), nodes: { '\u001b]0;pwned\u0007': 5 } }));
    const [e] = listSessions(paths);
    expect(e!.error).not.toMatch(/[\u0000-\u001f]/);
    expect(e!.error).toContain('\\x1b[2Jx.json');
  });

  it('a real session state of the engine (with a diagnosis) passes the schema', async () => {
    const scenario = SCENARIOS['health-check-failure']!;
    const cluster = await startSimulatedCluster({ scenario, player: { speed: 20 } });
    mcpTest.onCleanup(() => cluster.stop());
    const kubeconfig = await cluster.sim.writeKubeconfig(join(dir, 'kubeconfig'), { context: 'sim' });
    const sha = randomSha();
    let pushed = false;
    const { final, states } = await runToVerdict({
      pushed: { sha, branch: scenario.repo.branch },
      repoUrl: scenario.repo.url,
      branch: scenario.repo.branch,
      remote: 'origin',
      config: { ...DEFAULT_CONFIG, timeout: 60 },
      kubeconfig,
      sessionId: newSessionId(),
      env: {},
      onEvent: (e) => {
        if (e.type === 'session' && !pushed) {
          pushed = true;
          cluster.push(sha);
        }
      },
    });
    expect(final.verdict).toBe('failed');
    expect(Object.values(final.nodes).some((n) => n.diagnosis)).toBe(true);
    for (const s of [...states, final]) expect(sessionProblem(JSON.parse(JSON.stringify({ ...s, pid: process.pid, pushedAt: 1, logPath: '/x.log' })))).toBeUndefined();
    expect(historyProblem(JSON.parse(JSON.stringify(historyEntry(final))))).toBeUndefined();
  });
});

describe('history lines of the wrong shape', () => {
  const line = (id: string, over: Record<string, unknown> = {}) => JSON.stringify({ ...historyEntry(session(id, { startedAt: 3000 })), ...over });

  it('the line of the issue, {"id":"h1","startedAt":5,"verdict":"success"}, no longer makes `history --all` exit 3', async () => {
    plantHistory([line('h0'), '{"id":"h1","startedAt":5,"verdict":"success"}', line('h2')]);
    const r = await run(history, ['--all']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('h0');
    expect(r.stdout).toContain('h2');
    expect(r.stdout).not.toContain('h1');
    expect(r.stderr).toBe(`flux-monitor: warning: ${paths.history}:2: unreadable history line (not a history entry: repo must be an object)\n`);
  });

  it('terminal escapes in a history line reach no terminal: `history` prints them escaped', async () => {
    plantHistory([line('h0', { commit: { sha: '\u001b[2J\u001b]0;x' }, repo: { path: '/r\u001b[31m', branch: 'b\u0007' } })]);
    const r = await run(history, ['--all']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('h0');
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
  });

  for (const [what, bad, says] of [
    ['commit without sha', line('x', { commit: {} }), /commit\.sha must be a string/],
    ['an unknown verdict', line('x', { verdict: 'pwned' }), /verdict must be one of/],
    ['counts a string', line('x', { counts: 'many' }), /counts must be an object/],
    ['clusters of strings', line('x', { clusters: ['a'] }), /clusters\[0\] must be an object/],
    ['endedAt missing', line('x', { endedAt: undefined }), /endedAt must be a number/],
    ['an id with terminal escapes', line('\u001b[2J'), /id must be a session id/],
    ['a JSON number', '42', /the document must be an object/],
    ['not JSON', '{"id":', /JSON/],
  ] as const) {
    it(`${what}: skipped with its line number`, () => {
      plantHistory([line('h0'), bad]);
      const { entries, errors } = readHistory(paths);
      expect(entries.map((e) => e.id)).toEqual(['h0']);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(`${paths.history}:2: unreadable history line (`);
      expect(errors[0]).toMatch(says);
    });
  }

  it('a FIFO as history.jsonl is skipped, not waited on', () => {
    mkdirSync(paths.root, { recursive: true });
    if (spawnSync('mkfifo', [paths.history]).status !== 0) return;
    expect(readHistory(paths)).toEqual({ entries: [], errors: [`${paths.history}: skipped (not a regular file)`] });
  });
});

describe('the MCP tools on a state directory with bad files', () => {
  const connect = () => mcpTest.connect({ io: mcpTest.io(repo) });
  const json = resultJson;

  it('get_session and list_history answer from the good sessions and lines', async () => {
    good();
    const s: Partial<StoredSession> = session('bad', { startedAt: 9000 });
    delete s.repo;
    plant('bad.json', JSON.stringify(s));
    appendHistory(paths, historyEntry(session('h-good', { startedAt: 4000 })));
    const { appendFileSync } = await import('node:fs');
    appendFileSync(paths.history, '{"id":"h1","startedAt":5,"verdict":"success"}\n');
    const client = await connect();
    expect(json(await client.callTool({ name: 'get_session', arguments: {} }))).toMatchObject({ id: 's-good' });
    expect((json(await client.callTool({ name: 'list_history', arguments: { all: true } })) as Array<{ id: string }>).map((r) => r.id)).toEqual(['h-good']);
  });
});

describe('retention: pruneStore', () => {
  const DAY = 24 * 60 * 60_000;
  const NOW = 100 * DAY;

  /** A finished session that ended `daysAgo` days before NOW, with its log. */
  function finished(id: string, daysAgo: number, over: Partial<StoredSession> = {}): void {
    const t = NOW - daysAgo * DAY;
    writeJsonAtomic(sessionFile(paths, id), session(id, { startedAt: t - 1000, updatedAt: t, endedAt: t, ...over }));
    writeFileSync(sessionLogFile(paths, id), 'log\n');
  }
  const files = () => readdirSync(paths.sessions).sort();

  it('keeps the newest `sessions` sessions and removes the others with their logs', async () => {
    for (let i = 1; i <= 6; i++) finished(`s${i}`, 7 - i); // s6 is the newest
    const r = await pruneStore(paths, { ...DEFAULT_RETENTION, sessions: 3 }, { now: NOW });
    expect(r.removed.sort()).toEqual(['s1', 's2', 's3']);
    expect(files()).toEqual(['s4.json', 's4.log', 's5.json', 's5.log', 's6.json', 's6.log']);
  });

  it('removes sessions that ended more than `days` ago', async () => {
    finished('old', 31);
    finished('recent', 29);
    const r = await pruneStore(paths, { ...DEFAULT_RETENTION, days: 30 }, { now: NOW });
    expect(r.removed).toEqual(['old']);
    expect(files()).toEqual(['recent.json', 'recent.log']);
  });

  it('never removes a live session: its monitor runs, a live lock names it, or it is the one starting', async () => {
    finished('running', 90, { status: 'running', pid: process.pid, pidStart: processStartToken(process.pid), endedAt: undefined, verdict: undefined });
    finished('locked', 90, { status: 'running', endedAt: undefined, verdict: undefined }); // no pid in the file: the lock tells
    mkdirSync(paths.locks, { recursive: true });
    writeFileSync(join(paths.locks, 'main-abc.lock'), JSON.stringify({ pid: process.pid, pidStart: processStartToken(process.pid), sessionId: 'locked', pushedAt: 1, acquiredAt: 1 }));
    finished('starting', 90);
    finished('dead', 90, { status: 'running', pid: 2 ** 22 + 12345, endedAt: undefined, verdict: undefined });
    const r = await pruneStore(paths, { ...DEFAULT_RETENTION, sessions: 1, days: 1 }, { now: NOW, keep: ['starting'] });
    expect(r.removed).toEqual(['dead']);
    expect(files()).toEqual(['locked.json', 'locked.log', 'running.json', 'running.log', 'starting.json', 'starting.log']);
  });

  it('a log without its session, or an unreadable session file, is left an hour (a monitor may be starting), then pruned by age', async () => {
    mkdirSync(paths.sessions, { recursive: true });
    writeFileSync(sessionLogFile(paths, 'fresh'), 'starting\n');
    writeFileSync(sessionLogFile(paths, 'orphan'), 'old\n');
    writeFileSync(sessionFile(paths, 'junk'), '{"not":"a session"}');
    writeFileSync(join(paths.sessions, '.s.json.123.abcd.tmp'), '{');
    const old = (Date.now() - 40 * DAY) / 1000;
    for (const f of [sessionLogFile(paths, 'orphan'), sessionFile(paths, 'junk'), join(paths.sessions, '.s.json.123.abcd.tmp')]) utimesSync(f, old, old);
    const r = await pruneStore(paths, DEFAULT_RETENTION);
    expect(r.removed.sort()).toEqual(['junk', 'orphan']);
    expect(files()).toEqual(['fresh.log']);
  });

  it('rotates history.jsonl to history.jsonl.1 past `history_size`; history reads both, oldest first', async () => {
    for (let i = 0; i < 40; i++) appendHistory(paths, historyEntry(session(`h${i}`, { startedAt: 1000 + i })));
    const size = statSync(paths.history).size;
    expect(await pruneStore(paths, { ...DEFAULT_RETENTION, history_size: size })).toMatchObject({ rotated: false });
    expect(await pruneStore(paths, { ...DEFAULT_RETENTION, history_size: size - 1 })).toMatchObject({ rotated: true });
    expect(existsSync(paths.history)).toBe(false);
    expect(statSync(rotatedHistoryFile(paths)).size).toBe(size);
    appendHistory(paths, historyEntry(session('h40', { startedAt: 2000 })));
    const { entries, errors } = readHistory(paths);
    expect(errors).toEqual([]);
    expect(entries.map((e) => e.id)).toEqual([...Array.from({ length: 40 }, (_, i) => `h${i}`), 'h40']);
    // The next rotation replaces the previous generation: the history stays under twice history_size.
    for (let i = 41; i < 90; i++) appendHistory(paths, historyEntry(session(`h${i}`, { startedAt: 1000 + i })));
    expect(await pruneStore(paths, { ...DEFAULT_RETENTION, history_size: size - 1 })).toMatchObject({ rotated: true });
    expect(readHistory(paths).entries[0]!.id).toBe('h40');
  });

  it('config.retention sets it, with the defaults for what it does not say, and rejects nonsense', () => {
    expect(DEFAULT_RETENTION).toEqual({ sessions: 200, days: 30, history_size: 1024 * 1024 });
    expect(parseConfig('config:\n  timeout: 10\n', 'hook.yaml').retention).toBeUndefined();
    expect(parseConfig('config:\n  retention:\n    sessions: 50\n    history_size: 2MB\n', 'hook.yaml').retention).toEqual({ sessions: 50, days: 30, history_size: 2 * 1024 * 1024 });
    expect(parseConfig('config:\n  retention:\n    days: 7\n    history_size: 65536\n', 'hook.yaml').retention).toEqual({ sessions: 200, days: 7, history_size: 65536 });
    const err = (text: string) => {
      try {
        parseConfig(text, 'hook.yaml');
      } catch (e) {
        if (e instanceof ConfigError) return e.message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(err('config:\n  retention:\n    sessions: 0\n')).toBe('hook.yaml:3:15: retention.sessions must be a whole number from 1 to 100000 (got 0)');
    expect(err('config:\n  retention:\n    days: -1\n')).toBe('hook.yaml:3:11: retention.days must be a number of days from 1 to 3650 (got -1)');
    expect(err('config:\n  retention:\n    history_size: lots\n')).toBe('hook.yaml:3:19: retention.history_size must be a size from 4KB to 1GB, in bytes or with KB, MB or GB (got "lots")');
    expect(err('config:\n  retention:\n    keep: 3\n')).toBe('hook.yaml:3:5: unknown key "config.retention.keep" (allowed: sessions, days, history_size)');
    expect(err('config:\n  retention: 5\n')).toBe('hook.yaml:2:14: retention must be a mapping with keys sessions, days, history_size (got 5)');
  });
});
