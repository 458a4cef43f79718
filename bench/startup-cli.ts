// (i) Start-up of the CLI as users run it (the built dist/src/cli.js, a new node process each time), as ratios to
// `kubectl version --client` measured in the same run, round after round, so that the machine's load falls on
// every case alike:
//   --version; status --json with no session, and with a finished session; history --json; watch --json to its
//   first event (12 objects); mcp to its answer to `initialize`; and, from bench (a), push → session recorded by
//   the detached monitor.
// Each case is timed from spawn() to the process's exit (one-shot commands) or to the first line that answers
// (watch: the first event; mcp: the response to `initialize`). `node -e 0` is measured beside them: Node's own
// start-up, which no change to flux-monitor can take away.
//
// NODE_EXTRA_CA_CERTS makes Node 20 read and parse the whole bundle of CA certificates at start-up, in every
// process, before any of our code runs (~70 ms on the bench machine). When it is set, every case is measured both
// with it (the environment as given) and without it, interleaved.
//
// Standalone: `npm run build && node dist/bench/startup-cli.js [--rounds 10] [--pushes 10] [--compare LABEL=OTHER/dist/src/cli.js]...`.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runMonitor } from '../src/engine/run.js';
import { DEFAULT_CONFIG } from '../src/core/types.js';
import { statePaths } from '../src/session/paths.js';
import { appendHistory, historyEntry, sessionFile, writeJsonAtomic, type StoredSession } from '../src/session/store.js';
import { CLI, formatTable, median, REPO_URL, round, SHA_APPLIED, startFleet, stopFleet, type Row } from './lib.js';
import { pushBench, watchedRepo } from './hooks.js';

export interface CliStartupCase {
  name: string;
  /** Environment variant: 'as given', or 'without NODE_EXTRA_CA_CERTS'. */
  env: string;
  samples: number[];
  medianMs: number;
  /** median / kubectl's median in the same variant. */
  ratio: number;
}

export interface CliStartupResult {
  rounds: number;
  /** Whether dist/src/cli.js is the bundle (bench/bundle.mjs), not tsc's per-file output (`tsc` alone rewrites it). */
  bundled: boolean;
  kubectlVersion: string;
  loadBefore: number[];
  loadAfter: number[];
  cases: CliStartupCase[];
  /** Medians over the pushes, from `git push`'s exit: the session file written, and its line in history.jsonl. */
  pushToSessionFileMs?: number;
  pushToHistoryMs?: number;
  pushes?: number;
  /** The same medians for each build of `--compare`, its pushes alternating with this build's. */
  pushCompare?: Record<string, { pushToSessionFileMs: number; pushToHistoryMs: number }>;
}

interface Case {
  name: string;
  cmd: string;
  args: string[];
  cwd: string;
  /** Ends the timing at the first stdout line that satisfies it (then the process is killed); else at exit. */
  until?: (line: string) => boolean;
  stdin?: string;
  /** Exit codes that are the expected answer (status with no session exits 1). */
  codes?: number[];
}

function timeOnce(c: Case, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(c.cmd, c.args, { cwd: c.cwd, env, stdio: [c.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let done = false;
    let buf = '';
    let err = '';
    const finish = (t: number) => {
      if (done) return;
      done = true;
      resolve(t - t0);
      if (c.until) child.kill('SIGKILL');
    };
    if (c.stdin) child.stdin!.end(c.stdin);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const t = performance.now();
      if (!c.until) return;
      buf += chunk;
      for (const line of buf.split('\n').slice(0, -1)) if (c.until(line)) finish(t);
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const t = performance.now();
      if (done) return;
      if (c.until) return reject(new Error(`${c.name}: exited ${code} before answering: ${err.slice(0, 300)}`));
      if (code !== 0 && !(c.codes ?? []).includes(code ?? -1)) return reject(new Error(`${c.name}: exited ${code}: ${err.slice(0, 300)}`));
      finish(t);
    });
  });
}

/**
 * `compare`: other builds of the CLI by label (e.g. of the commit before a change, `--compare before=/tmp/old/dist/src/cli.js`)
 * whose cases run interleaved with this one's, named `… [label]`.
 */
export async function benchCliStartup(rounds: number, pushes: number, compare: Record<string, string> = {}): Promise<CliStartupResult> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-i-'));
  const kc = join(dir, 'kubeconfig');
  const fleet = await startFleet(10, kc);
  try {
    const state = join(dir, 'state');
    const base: NodeJS.ProcessEnv = { ...process.env, HOME: dir, XDG_STATE_HOME: state, KUBECONFIG: kc, NODE_ENV: undefined };
    delete base.NODE_ENV;
    delete base.FLUX_MONITOR_DEBUG;
    const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: base, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const repo = (name: string) => {
      const r = join(dir, name);
      mkdirSync(r);
      git(r, 'init', '-q', '-b', 'main');
      git(r, '-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '--allow-empty', '-m', 'bench');
      git(r, 'remote', 'add', 'origin', REPO_URL);
      return r;
    };
    const withSession = repo('with-session');
    const empty = repo('no-session');
    // A finished session of the 12-object fleet (Flux is done: success), as the detached monitor stores it: the
    // engine's final state, the session file and its history line.
    const final = await runMonitor({ pushed: { sha: SHA_APPLIED, branch: 'main' }, repoUrl: REPO_URL, branch: 'main', repoPath: withSession, config: { ...DEFAULT_CONFIG, timeout: 120 }, kubeconfig: kc, sessionId: '20260101-000000-bench001' });
    if (final.verdict !== 'success') throw new Error(`the fleet's session ended ${final.verdict}: ${final.verdictMessage}`);
    const paths = statePaths(base);
    const stored: StoredSession = { ...final, config: { ...DEFAULT_CONFIG, timeout: 120 }, status: 'finished', endedAt: final.endedAt ?? Date.now(), pushedAt: Date.now() };
    writeJsonAtomic(sessionFile(paths, stored.id), stored);
    appendHistory(paths, historyEntry(stored));

    const node = process.execPath;
    const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '0' } } }) + '\n';
    const cases: Case[] = [
      { name: 'kubectl version --client', cmd: 'kubectl', args: ['version', '--client'], cwd: dir },
      { name: 'node -e 0', cmd: node, args: ['-e', '0'], cwd: dir },
      { name: '--version', cmd: node, args: [CLI, '--version'], cwd: dir },
      { name: 'status --json, no session', cmd: node, args: [CLI, 'status', '--json'], cwd: empty, codes: [1] },
      { name: 'status --json, finished session', cmd: node, args: [CLI, 'status', '--json'], cwd: withSession },
      { name: 'history --json', cmd: node, args: [CLI, 'history', '--json'], cwd: withSession },
      {
        name: 'watch --json → first event (12 objects)',
        cmd: node,
        args: [CLI, 'watch', '--json', '--revision', SHA_APPLIED, '--repo-url', REPO_URL, '--branch', 'main', '--kubeconfig', kc, '--timeout', '2m'],
        // Outside a repository, as bench (b) runs it: the pushed commit is the fleet's, not a local one.
        cwd: dir,
        until: (l) => l.startsWith('{'),
      },
      { name: 'mcp → initialize answered', cmd: node, args: [CLI, 'mcp'], cwd: withSession, stdin: initialize, until: (l) => l.includes('"id":1') },
    ];
    const ours = cases.filter((x) => x.args[0] === CLI);
    for (const [label, cli] of Object.entries(compare)) {
      for (const c of ours) cases.push({ ...c, name: `${c.name} [${label}]`, args: [cli, ...c.args.slice(1)] });
    }
    const variants: Array<[string, NodeJS.ProcessEnv]> = [['as given', base]];
    if (base.NODE_EXTRA_CA_CERTS) {
      const without = { ...base };
      delete without.NODE_EXTRA_CA_CERTS;
      variants.push(['without NODE_EXTRA_CA_CERTS', without]);
    }
    const kubectlVersion = (() => {
      try {
        return execFileSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).split('\n')[0]!.trim();
      } catch (err) {
        throw new Error(`kubectl is needed for (i): ${(err as Error).message}`);
      }
    })();
    const samples = new Map<string, number[]>();
    const loadBefore = loadavg();
    // One warm-up round (page cache, the compile cache where Node has one), then the measured rounds.
    for (let r = -1; r < rounds; r++) {
      for (const c of cases) {
        for (const [v, env] of variants) {
          const t = await timeOnce(c, env);
          if (r < 0) continue;
          const k = `${c.name}\u0000${v}`;
          samples.set(k, [...(samples.get(k) ?? []), t]);
        }
      }
    }
    const loadAfter = loadavg();
    const out: CliStartupCase[] = [];
    for (const [v] of variants) {
      const ref = median(samples.get(`${cases[0]!.name}\u0000${v}`)!);
      for (const c of cases) {
        const s = samples.get(`${c.name}\u0000${v}`)!;
        out.push({ name: c.name, env: v, samples: s.map((x) => round(x, 1)), medianMs: median(s), ratio: median(s) / ref });
      }
    }
    const bundled = readFileSync(CLI, 'utf8').includes('./chunks/');
    const result: CliStartupResult = { rounds, bundled, kubectlVersion, loadBefore, loadAfter, cases: out };
    if (pushes > 0) {
      // Each build's pushes in turns of a few, so that the machine's load falls on every build alike.
      const builds: Array<[string, string]> = [['', CLI], ...Object.entries(compare)];
      const got = new Map<string, { file: number[]; hist: number[] }>(builds.map(([l]) => [l, { file: [], hist: [] }]));
      for (let done = 0; done < pushes; done += 5) {
        for (const [label, cli] of builds) {
          const r = await pushToSession(Math.min(5, pushes - done), cli);
          got.get(label)!.file.push(...r.file);
          got.get(label)!.hist.push(...r.hist);
        }
      }
      const med = (l: string) => ({ pushToSessionFileMs: median(got.get(l)!.file), pushToHistoryMs: median(got.get(l)!.hist) });
      Object.assign(result, med(''), { pushes });
      if (builds.length > 1) result.pushCompare = Object.fromEntries(builds.slice(1).map(([l]) => [l, med(l)]));
    }
    return result;
  } finally {
    await stopFleet(fleet);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); // a monitor may still be releasing its lock
  }
}

/**
 * Push → session recorded, as bench (a) sets it up (hooks installed by `flux-monitor install`, a local bare remote,
 * `branches: [main]` in the hook file, KUBECONFIG pointing at a missing file so that the session ends at once with
 * a config error), timed from the exit of `git push` to (1) the session file in the state directory (what
 * `flux-monitor status` waits for) and (2) the session's line in history.jsonl (the session ended). Each push waits
 * for the previous session to end.
 */
async function pushToSession(pushes: number, cli = CLI): Promise<{ file: number[]; hist: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-i-push-'));
  const { env, git } = pushBench(dir);
  try {
    const work = watchedRepo(dir, git, 'work');
    execFileSync(process.execPath, [cli, 'install', '--repo', work], { env, stdio: 'ignore' });
    const sessions = join(dir, 'state', 'flux-monitor', 'sessions');
    const history = join(dir, 'state', 'flux-monitor', 'history.jsonl');
    const count = () => {
      try {
        return readFileSync(history, 'utf8').split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    };
    const files = () => {
      try {
        return new Set(readdirSync(sessions).filter((n) => n.endsWith('.json')));
      } catch {
        return new Set<string>();
      }
    };
    const file: number[] = [];
    const hist: number[] = [];
    for (let i = -1; i < pushes; i++) {
      git(work, 'commit', '-q', '--allow-empty', '-m', `change ${i}`);
      const before = files();
      const n = count();
      await new Promise<void>((resolve, reject) => {
        const child = spawn('git', ['push', '-q', 'origin', 'main'], { cwd: work, env, stdio: 'ignore' });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`git push exited ${code}`))));
      });
      const t0 = performance.now();
      let tFile = NaN;
      let tHist = NaN;
      // Woken by the file system (inotify) rather than a busy poll, which on 2 vCPUs took CPU from the very
      // helper it timed; a poll every 50 ms stays as the fallback of a missed event.
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (Number.isNaN(tFile) && [...files()].some((f) => !before.has(f))) tFile = performance.now() - t0;
          if (count() > n) {
            tHist = performance.now() - t0;
            done();
          }
        };
        const watchers = [join(dir, 'state', 'flux-monitor'), sessions].filter((d) => existsSync(d)).map((d) => watch(d, check));
        const poll = setInterval(check, 50);
        const timer = setTimeout(() => (done(), reject(new Error(`no session recorded after a hooked push (see ${join(dir, 'state', 'flux-monitor', 'hooks.log')})`))), 30_000);
        function done(): void {
          for (const w of watchers) w.close();
          clearInterval(poll);
          clearTimeout(timer);
          resolve();
        }
        check();
      });
      if (Number.isNaN(tFile)) tFile = tHist;
      if (i >= 0) {
        file.push(tFile);
        hist.push(tHist);
      }
    }
    return { file, hist };
  } finally {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); // a monitor may still be releasing its lock
  }
}

/** Issue targets: status and history ≤ ×1.5 kubectl, watch's first event and mcp's initialize ≤ ×2. */
const TARGETS: Record<string, number> = {
  'status --json, no session': 1.5,
  'status --json, finished session': 1.5,
  'history --json': 1.5,
  'watch --json → first event (12 objects)': 2,
  'mcp → initialize answered': 2,
};

export function cliStartupRows(r: CliStartupResult): Row[] {
  const rows: Row[] = r.cases.map((c) => {
    const target = TARGETS[c.name.replace(/ \[[^\]]*\]$/, '')];
    const ref = c.name.startsWith('kubectl');
    return {
      bench: '(i) start-up',
      case: `${c.name}${c.env === 'as given' ? '' : ` (${c.env})`}`,
      value: ref ? `${round(c.medianMs, 1)} ms (median of ${c.samples.length}; ${r.kubectlVersion})` : `×${round(c.ratio, 2)} kubectl (${round(c.medianMs, 1)} ms)`,
      ...(target ? { target: `≤ ×${target}`, pass: c.ratio <= target } : {}),
    };
  });
  if (r.pushToHistoryMs !== undefined) {
    rows.push({ bench: '(i) start-up', case: `push → session file written (detached; median of ${r.pushes})`, value: `${round(r.pushToSessionFileMs!, 1)} ms`, target: '≤ 150 ms', pass: r.pushToSessionFileMs! <= 150 });
    rows.push({ bench: '(i) start-up', case: `push → session ended, in history.jsonl (bench (a)'s "session recorded")`, value: `${round(r.pushToHistoryMs, 1)} ms` });
    for (const [label, c] of Object.entries(r.pushCompare ?? {})) {
      rows.push({ bench: '(i) start-up', case: `push → session file written / ended [${label}]`, value: `${round(c.pushToSessionFileMs, 1)} / ${round(c.pushToHistoryMs, 1)} ms` });
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const num = (flag: string, d: number) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : d;
  };
  const compare: Record<string, string> = {};
  argv.forEach((a, i) => {
    if (a !== '--compare') return;
    const v = argv[i + 1] ?? '';
    const eq = v.indexOf('=');
    compare[eq > 0 ? v.slice(0, eq) : `compared ${Object.keys(compare).length + 1}`] = eq > 0 ? v.slice(eq + 1) : v;
  });
  const r = await benchCliStartup(num('--rounds', 10), num('--pushes', 10), compare);
  const head = `flux-monitor bench (i), ${new Date().toISOString()}: ${cpus().length} CPUs, node ${process.version}, ${r.bundled ? 'bundled CLI' : 'CLI NOT BUNDLED (tsc output: run npm run build)'}, load ${r.loadBefore.map((x) => x.toFixed(2)).join(' ')} → ${r.loadAfter.map((x) => x.toFixed(2)).join(' ')}`;
  process.stdout.write(`${head}\n\n${formatTable(cliStartupRows(r))}\n`);
  if (argv.includes('--json')) process.stdout.write(JSON.stringify(r) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`bench (i) failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 2;
  });
}
