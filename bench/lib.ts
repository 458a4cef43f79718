// Shared helpers of the benchmarks: statistics, process sampling (/proc), the simulated fleet, child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiSimulator } from '../src/sim/server.js';
import { RestClient, optionsFromKubeconfig } from '../src/sim/rest.js';
import { FLEET_URL, large, setupScenario } from '../src/sim/scenarios.js';
import { ks } from '../src/sim/flux-status.js';
import type { KubeObject } from '../src/core/types.js';

/** Root of the package (bench/ is compiled to dist/bench/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The `flux-monitor` command as users run it: package.json's bin (src/launch.ts). */
export const CLI = join(ROOT, 'dist', 'src', 'cli.cjs');

/** The commit Flux has applied everywhere when a fleet is seeded. */
export const SHA_APPLIED = 'abcdef0123456789abcdef0123456789abcdef01';
/** A pushed commit Flux has not fetched yet: every object stays Pending, the session keeps running. */
export const SHA_PUSHED_NOT_FETCHED = '2222222222222222222222222222222222222222';
export const REPO_URL = FLEET_URL;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

// ------------------------------------------------------------------------------------------------ statistics

export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  // Nearest-rank: the smallest value with at least q of the samples at or below it.
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}

export const median = (xs: number[]) => quantile(xs, 0.5);

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ------------------------------------------------------------------------------------------------ /proc sampling

export const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux

export interface ProcSample {
  /** Resident set size, bytes. */
  rss: number;
  /** Peak resident set size so far, bytes. */
  hwm: number;
  /** utime + stime, seconds. */
  cpu: number;
}

/** Reads VmRSS/VmHWM from /proc/<pid>/status and utime+stime from /proc/<pid>/stat. */
export function procSample(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, i.e. 11 and 12 after the name (state is field 3).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), cpu: ticks / CLK_TCK };
}

// ------------------------------------------------------------------------------------------------ the fleet

export interface Fleet {
  sim: ApiSimulator;
  admin: RestClient;
  /** Objects in the simulator (all Flux kinds, HelmCharts included). */
  objects: number;
  /** Kustomizations, for churn. */
  kustomizations: Array<{ namespace: string; name: string }>;
  seedMs: number;
}

/**
 * Starts a simulator holding about `n` Flux objects from the `large` scenario (a GitRepository, a
 * HelmRepository, Kustomizations each applying two HelmReleases, one HelmChart per HelmRelease), all reconciled
 * at SHA_APPLIED with the statuses the Flux controllers write.
 */
export async function startFleet(n: number, kubeconfigPath: string): Promise<Fleet> {
  // large(m) makes 2 + 3k objects (k = (m-2)/3) plus one HelmChart per HelmRelease: 2 + 5k in all.
  const k = Math.max(1, Math.round((n - 2) / 5));
  // Bookmarks about once a minute, as kube-apiserver sends them (the simulator's default, 1 s, is a stress test).
  const sim = new ApiSimulator({ historyLimit: 100_000, bookmarkIntervalMs: 60_000 });
  await sim.start();
  await sim.writeKubeconfig(kubeconfigPath);
  const admin = new RestClient(optionsFromKubeconfig(sim.kubeconfig({ admin: true })));
  const t = performance.now();
  await setupScenario(admin, large(2 + 3 * k), SHA_APPLIED, { concurrency: 32 });
  const seedMs = performance.now() - t;
  const kustomizations = sim.list('Kustomization').map((o) => ({ namespace: o.metadata.namespace!, name: o.metadata.name }));
  sim.resetStats();
  return { sim, admin, objects: sim.list().length, kustomizations, seedMs };
}

export async function stopFleet(f: Fleet): Promise<void> {
  f.admin.close();
  await f.sim.stop();
}

/**
 * What kustomize-controller writes when it reconciles `sha`: Reconciling (`progressing`, phase Progressing
 * for the monitor) then Ready. Call i writes the (i % 2)th of the two for Kustomization ⌊i / 2⌋ (round robin).
 */
export function churnWrite(f: Fleet, i: number, sha: string): KubeObject {
  const ref = f.kustomizations[Math.floor(i / 2) % f.kustomizations.length]!;
  const full = { kind: 'Kustomization', ...ref };
  const cur = f.sim.get(full)!;
  const rev = `main@sha1:${sha}`;
  const status = i % 2 === 0 ? ks.progressing(cur, 'build', rev) : ks.ready(cur, rev, { handled: new Date().toISOString() });
  return f.sim.setStatus(full, status);
}

/** Writes churn at `perSecond` until the returned stop function is called, which returns the number of writes. */
export function startChurn(f: Fleet, perSecond: number, sha: string): () => number {
  let i = 0;
  const period = 1000 / perSecond;
  const started = performance.now();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    // Catch up on the schedule so the rate holds even when timers fire late.
    const due = Math.floor((performance.now() - started) / period);
    while (i < due) churnWrite(f, i++, sha);
    timer = setTimeout(tick, Math.max(1, period));
  };
  let timer = setTimeout(tick, period);
  return () => {
    stopped = true;
    clearTimeout(timer);
    return i;
  };
}

// ------------------------------------------------------------------------------------------------ child processes

export interface LineProcess {
  child: ChildProcess;
  /** Lines of stdout with the time (performance.now()) each arrived. */
  lines: Array<{ t: number; line: string }>;
  onLine(cb: (line: string, t: number) => void): void;
  stderr(): string;
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

/** Spawns a process and splits its stdout into timestamped lines as they arrive. */
export function spawnLines(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; keep?: boolean } = {}): LineProcess {
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<{ t: number; line: string }> = [];
  const listeners: Array<(l: string, t: number) => void> = [];
  let buf = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const t = performance.now();
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (opts.keep !== false) lines.push({ t, line });
      for (const l of listeners) l(line, t);
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    if (err.length < 64 * 1024) err += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    onLine: (cb) => listeners.push(cb),
    stderr: () => err,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

// ------------------------------------------------------------------------------------------------ table

export interface Row {
  bench: string;
  case: string;
  value: string;
  target?: string;
  pass?: boolean;
}

export function formatTable(rows: Row[]): string {
  const head = ['bench', 'case', 'result', 'target', ''];
  const cells = rows.map((r) => [r.bench, r.case, r.value, r.target ?? '', r.pass === undefined ? '' : r.pass ? 'PASS' : 'FAIL']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export const mb = (bytes: number) => `${round(bytes / 1024 / 1024, 1)} MB`;
export const ms = (x: number) => `${round(x, 1)} ms`;
