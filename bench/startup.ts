// (b) Time to the first answer: from runMonitor() to the `session` event and to the `summary`, for fleets that
// Flux has already reconciled at the pushed commit (so the verdict can come at once); and the same through the
// CLI (`watch --json` as a child process: node start-up, module loading and JSON output included).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMonitor } from '../src/engine/run.js';
import { DEFAULT_CONFIG, type MonitorEvent } from '../src/core/types.js';
import type { ClientStats } from '../src/cluster/client.js';
import { CLI, median, REPO_URL, SHA_APPLIED, spawnLines, startFleet, stopFleet } from './lib.js';

export interface StartupResult {
  requested: number;
  objects: number;
  monitored: number;
  seedMs: number;
  runs: number;
  /** Medians over the runs, ms. */
  sessionMs: number;
  summaryMs: number;
  cliSessionMs: number;
  cliSummaryMs: number;
  verdict: string;
  /** API requests of one in-process session. */
  requests: number;
}

async function inProcess(kubeconfig: string): Promise<{ session: number; summary: number; verdict: string; requests: number; monitored: number }> {
  let session = NaN;
  let summary = NaN;
  let stats: ClientStats | undefined;
  const t0 = performance.now();
  const final = await runMonitor({
    pushed: { sha: SHA_APPLIED, branch: 'main' },
    repoUrl: REPO_URL,
    branch: 'main',
    config: { ...DEFAULT_CONFIG, timeout: 120 },
    kubeconfig,
    onEvent: (e: MonitorEvent) => {
      if (e.type === 'session' && Number.isNaN(session)) session = performance.now() - t0;
      if (e.type === 'summary' && Number.isNaN(summary)) summary = performance.now() - t0;
    },
    onClient: (c) => (stats = c.stats),
  });
  return { session, summary, verdict: final.verdict ?? 'none', requests: stats?.requests ?? 0, monitored: Object.keys(final.nodes).length };
}

async function viaCli(kubeconfig: string, cwd: string): Promise<{ session: number; summary: number; code: number | null }> {
  const t0 = performance.now();
  let session = NaN;
  let summary = NaN;
  const p = spawnLines(process.execPath, [CLI, 'watch', '--json', '--revision', SHA_APPLIED, '--repo-url', REPO_URL, '--branch', 'main', '--kubeconfig', kubeconfig, '--timeout', '2m'], { cwd, keep: false });
  p.onLine((line, t) => {
    if (Number.isNaN(session) && line.startsWith('{"type":"session"')) session = t - t0;
    if (Number.isNaN(summary) && line.startsWith('{"type":"summary"')) summary = t - t0;
  });
  const code = await p.exited;
  if (code !== 0) throw new Error(`watch --json exited ${code}: ${p.stderr().slice(0, 500)}`);
  return { session, summary, code };
}

export async function benchStartup(sizes: number[], runs: number): Promise<StartupResult[]> {
  const out: StartupResult[] = [];
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'fm-bench-b-'));
    const kc = join(dir, 'kubeconfig');
    const f = await startFleet(n, kc);
    try {
      const ip: Awaited<ReturnType<typeof inProcess>>[] = [];
      const cli: Awaited<ReturnType<typeof viaCli>>[] = [];
      // One warm-up of each (JIT, the simulator's caches), then the measured runs.
      await inProcess(kc);
      for (let i = 0; i < runs; i++) ip.push(await inProcess(kc));
      for (let i = 0; i < runs; i++) cli.push(await viaCli(kc, dir));
      out.push({
        requested: n,
        objects: f.objects,
        monitored: ip[0]!.monitored,
        seedMs: f.seedMs,
        runs,
        sessionMs: median(ip.map((r) => r.session)),
        summaryMs: median(ip.map((r) => r.summary)),
        cliSessionMs: median(cli.map((r) => r.session)),
        cliSummaryMs: median(cli.map((r) => r.summary)),
        verdict: ip[0]!.verdict,
        requests: ip[0]!.requests,
      });
    } finally {
      await stopFleet(f);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}
