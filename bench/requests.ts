// (c) API load: requests per minute and open watches of one running session over a fixed window of status
// churn, for fleets of different sizes. LIST+WATCH per kind means both must not depend on the object count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMonitor } from '../src/engine/run.js';
import { DEFAULT_CONFIG, type MonitorEvent, type SessionState } from '../src/core/types.js';
import type { ClientStats } from '../src/cluster/client.js';
import { REPO_URL, SHA_PUSHED_NOT_FETCHED, sleep, startChurn, startFleet, stopFleet, waitFor } from './lib.js';

export interface RequestsResult {
  requested: number;
  objects: number;
  windowS: number;
  churnWrites: number;
  phaseEvents: number;
  /** Requests the session made to start (discovery, lists, watches), as the simulator counted them. */
  startupRequests: number;
  /** Requests during the window, per minute: simulator count and the client's own count. */
  simRequestsPerMin: number;
  clientRequestsPerMin: number;
  watchesOpenMin: number;
  watchesOpenMax: number;
  watchesStartedInWindow: number;
  byVerb: Record<string, number>;
}

export async function benchRequests(sizes: number[], windowS: number, churnPerSecond: number): Promise<RequestsResult[]> {
  const out: RequestsResult[] = [];
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'fm-bench-c-'));
    const kc = join(dir, 'kubeconfig');
    const f = await startFleet(n, kc);
    const ac = new AbortController();
    let stats: ClientStats | undefined;
    let sessionSeen = false;
    let phaseEvents = 0;
    let done: Promise<SessionState> | undefined;
    try {
      // The pushed commit is not fetched yet: every object stays Pending and the session keeps running.
      done = runMonitor({
        pushed: { sha: SHA_PUSHED_NOT_FETCHED, branch: 'main' },
        repoUrl: REPO_URL,
        branch: 'main',
        config: { ...DEFAULT_CONFIG, timeout: 3600 },
        kubeconfig: kc,
        signal: ac.signal,
        onClient: (c) => (stats = c.stats),
        onEvent: (e: MonitorEvent) => {
          if (e.type === 'session') sessionSeen = true;
          else if (e.type === 'phase' && sessionSeen) phaseEvents++;
        },
      });
      await waitFor(() => sessionSeen && f.sim.stats().openWatches >= 7, 60_000, 'the session to start');
      const startupRequests = f.sim.stats().requests;
      const simBefore = f.sim.stats();
      const clientBefore = stats!.requests;
      const phaseBefore = phaseEvents;
      let wMin = Infinity;
      let wMax = 0;
      const stop = startChurn(f, churnPerSecond, SHA_PUSHED_NOT_FETCHED);
      const end = Date.now() + windowS * 1000;
      while (Date.now() < end) {
        const w = f.sim.stats().openWatches;
        wMin = Math.min(wMin, w);
        wMax = Math.max(wMax, w);
        await sleep(250);
      }
      const writes = stop();
      const simAfter = f.sim.stats();
      const byVerb: Record<string, number> = {};
      for (const [v, c] of Object.entries(simAfter.requestsByVerb)) {
        const d = c - (simBefore.requestsByVerb[v] ?? 0);
        if (d) byVerb[v] = d;
      }
      out.push({
        requested: n,
        objects: f.objects,
        windowS,
        churnWrites: writes,
        phaseEvents: phaseEvents - phaseBefore,
        startupRequests,
        simRequestsPerMin: ((simAfter.requests - simBefore.requests) * 60) / windowS,
        clientRequestsPerMin: ((stats!.requests - clientBefore) * 60) / windowS,
        watchesOpenMin: wMin,
        watchesOpenMax: wMax,
        watchesStartedInWindow: simAfter.watchesStarted - simBefore.watchesStarted,
        byVerb,
      });
    } finally {
      ac.abort('stopped');
      await done;
      await stopFleet(f);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}
