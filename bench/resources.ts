// (e) Memory and CPU of a monitor process watching a large fleet: an idle window (nothing changes) then a churn
// window (status writes at a fixed rate), read from /proc/<pid>/status (VmRSS, VmHWM) and /proc/<pid>/stat
// (utime + stime). Two processes: the foreground `watch --json` and the detached `run-session` (which also
// persists the session file as it changes).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DETACHED_ENV, DETACHED_NODE_FLAGS } from '../src/session/spawn.js';
import { CLI, procSample, REPO_URL, SHA_PUSHED_NOT_FETCHED, sleep, spawnLines, startChurn, startFleet, stopFleet, waitFor, type Fleet, type LineProcess, type ProcSample } from './lib.js';

export interface WindowResult {
  seconds: number;
  /** Mean CPU over the window, % of one core. */
  cpuPercent: number;
  rssStartMB: number;
  rssEndMB: number;
  rssMaxMB: number;
  churnWrites?: number;
}

export type MonitorProcess = 'watch --json' | 'run-session' | 'watch --json, node --optimize-for-size';

export interface ResourcesResult {
  process: MonitorProcess;
  requested: number;
  objects: number;
  startupMs: number;
  idle: WindowResult;
  churn: WindowResult;
  /** Peak RSS over the whole life of the process (VmHWM), MB. */
  peakMB: number;
  churnPerSecond: number;
}

const toMB = (b: number) => b / 1024 / 1024;

async function sampleWindow(pid: number, seconds: number): Promise<WindowResult> {
  const first = procSample(pid);
  let max = first.rss;
  let last: ProcSample = first;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(1000, Math.max(1, end - performance.now())));
    last = procSample(pid);
    max = Math.max(max, last.rss);
  }
  const wall = (performance.now() - t0) / 1000;
  return { seconds: wall, cpuPercent: ((last.cpu - first.cpu) / wall) * 100, rssStartMB: toMB(first.rss), rssEndMB: toMB(last.rss), rssMaxMB: toMB(max) };
}

/** A git repository with one commit (run-session reads its configuration and the commit subject there). */
function makeRepo(dir: string): string {
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'README.md'), 'bench\n');
  // Long enough for both windows: the default timeout (5 min) would end the session first with long windows.
  mkdirSync(join(repo, '.kiro', 'hooks'), { recursive: true });
  writeFileSync(join(repo, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml'), 'enabled: true\nconfig:\n  timeout: 7200\n');
  git('add', '.');
  git('-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '-m', 'bench');
  return repo;
}

async function startProcess(kind: MonitorProcess, f: Fleet, kc: string, dir: string): Promise<{ p: LineProcess; ready: () => boolean }> {
  if (kind !== 'run-session') {
    // The last variant shows what V8's memory-saving mode would change (it cannot be set from the shebang line).
    const flags = kind === 'watch --json' ? [] : ['--optimize-for-size'];
    const p = spawnLines(process.execPath, [...flags, CLI, 'watch', '--json', '--revision', SHA_PUSHED_NOT_FETCHED, '--repo-url', REPO_URL, '--branch', 'main', '--kubeconfig', kc, '--timeout', '1h'], { cwd: dir, keep: false });
    let session = false;
    p.onLine((l) => (session ||= l.startsWith('{"type":"session"')));
    return { p, ready: () => session };
  }
  const repo = makeRepo(dir);
  const env = { ...process.env, XDG_STATE_HOME: join(dir, 'state'), HOME: dir, ...DETACHED_ENV };
  const id = `bench-${process.pid}`;
  const p = spawnLines(
    process.execPath,
    // Started as the hooks start it (src/session/spawn.ts), with the same V8 flags and environment.
    [...DETACHED_NODE_FLAGS, CLI, 'run-session', '--id', id, '--repo', repo, '--branch', 'main', '--sha', SHA_PUSHED_NOT_FETCHED, '--pushed-at', String(Date.now()), '--url', REPO_URL, '--kubeconfig', kc],
    { cwd: repo, env, keep: false },
  );
  // The detached monitor has no output to read: it is running when the simulator sees its eight watches (one
  // per Flux kind it serves, ExternalArtifact included).
  return { p, ready: () => f.sim.stats().openWatches >= 8 };
}

export async function benchResources(n: number, windowS: number, churnPerSecond: number, kinds: MonitorProcess[]): Promise<ResourcesResult[]> {
  const out: ResourcesResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-e-'));
  const kc = join(dir, 'kubeconfig');
  const f = await startFleet(n, kc);
  try {
    for (const kind of kinds) {
      const sub = join(dir, `p${kinds.indexOf(kind)}`);
      mkdirSync(sub);
      const t0 = performance.now();
      const { p, ready } = await startProcess(kind, f, kc, sub);
      try {
        await waitFor(() => ready() || p.child.exitCode !== null, 60_000, `${kind} to start`);
        if (p.child.exitCode !== null) throw new Error(`${kind} exited ${p.child.exitCode}: ${p.stderr().slice(0, 500)}`);
        const startupMs = performance.now() - t0;
        // Let start-up garbage be collected before the idle window.
        await sleep(2000);
        const idle = await sampleWindow(p.child.pid!, windowS);
        const stop = startChurn(f, churnPerSecond, SHA_PUSHED_NOT_FETCHED);
        const churn = await sampleWindow(p.child.pid!, windowS);
        churn.churnWrites = stop();
        const peakMB = toMB(procSample(p.child.pid!).hwm);
        if (p.child.exitCode !== null) throw new Error(`${kind} exited during the windows: ${p.stderr().slice(0, 500)}`);
        out.push({ process: kind, requested: n, objects: f.objects, startupMs, idle, churn, peakMB, churnPerSecond });
      } finally {
        await p.kill();
      }
    }
  } finally {
    await stopFleet(f);
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
