// Replays a transcript recorded against the real Flux controllers (test/fixtures/transcripts/, written by the
// conformance suite with FLUX_MONITOR_RECORD=1) through flux-monitor's engine: the objects as they were before
// the push go into the API simulator, the engine starts as it did after the push, and every later version of
// every object is written in the recorded order. Gaps are shortened (never reordered) so the fast suite stays
// fast; the verdict must still be the one the real run reached.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG, type CommitRelation, type KubeObject, type MonitorEvent, type SessionState } from '../../src/core/types.js';
import type { ApiSimulator } from '../../src/sim/server.js';
import { startEngine, startSim, summaryOf, waitFor } from './engine.js';
import type { Transcript } from '../conformance/recorder.js';

export type { Transcript };

export const TRANSCRIPT_DIR = fileURLToPath(new URL('../fixtures/transcripts/', import.meta.url));

export function loadTranscripts(): Transcript[] {
  return readdirSync(TRANSCRIPT_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(TRANSCRIPT_DIR, f), 'utf8')) as Transcript);
}

/** The push the recorded session followed: `monitored` when set (an older, superseded push), else the last one. */
export function monitoredPush(t: Transcript): Transcript['pushes'][number] {
  return (t.monitored && t.pushes.find((p) => p.sha === t.monitored)) || t.pushes.at(-1)!;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The entries before the last push (the state the monitor started from, in the order the apiserver wrote them:
 * resourceVersion) and after it, in the order the recorder received them. The recorder had one watch per kind,
 * and watches of different kinds are not ordered with each other: the replay keeps that cross-kind disorder of
 * the real run (a Kustomization's "applied" before the generation bump of the HelmRelease it applied, say), which
 * the engine must meet as it did live, instead of re-sorting it away.
 */
export function splitAtPush(t: Transcript): { before: Transcript['entries']; after: Transcript['entries'] } {
  const push = monitoredPush(t);
  const byRv = (a: Transcript['entries'][number], b: Transcript['entries'][number]) => Number(a.object.metadata.resourceVersion) - Number(b.object.metadata.resourceVersion);
  return { before: t.entries.filter((e) => e.t < push.t).sort(byRv), after: t.entries.filter((e) => e.t >= push.t) };
}

function write(sim: ApiSimulator, e: Transcript['entries'][number]): void {
  const o = structuredClone(e.object) as KubeObject;
  const ref = { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name };
  if (e.type === 'DELETED') {
    sim.delete(ref);
    return;
  }
  delete (o.metadata as { resourceVersion?: string }).resourceVersion;
  delete (o.metadata as { uid?: string }).uid;
  const stored = sim.apply(o);
  // The simulator derives generations from spec changes as the apiserver does; the recorded ones must agree.
  const want = e.object.metadata.generation;
  if (want !== undefined && stored.metadata.generation !== want) {
    throw new Error(`replay: ${ref.kind} ${ref.name} has generation ${stored.metadata.generation} in the simulator, ${want} in the transcript`);
  }
}

export interface ReplayResult {
  state: SessionState;
  events: MonitorEvent[];
  summary: Extract<MonitorEvent, { type: 'summary' }>;
}

/**
 * How `other` stands to `pushed` in the recorded history: from the pushes' recorded parents when the transcript
 * has them, else (older transcripts, one line of history on one branch) by push order.
 */
export function recordedRelation(t: Transcript, pushed: string, other: string): CommitRelation {
  const find = (sha: string) => t.pushes.find((p) => p.sha.startsWith(sha) || sha.startsWith(p.sha));
  const o = find(other);
  if (!o) return { relation: 'unknown', reason: 'not a recorded push' };
  if (t.pushes.every((p) => p.parents)) {
    const reaches = (from: string, to: string): boolean => {
      const seen = new Set<string>();
      const stack = [from];
      while (stack.length) {
        const c = stack.pop()!;
        if (c === to) return true;
        if (seen.has(c)) continue;
        seen.add(c);
        stack.push(...(find(c)?.parents ?? []));
      }
      return false;
    };
    return { relation: reaches(o.sha, pushed) ? 'contains' : reaches(pushed, o.sha) ? 'older' : 'diverged' };
  }
  const order = t.pushes.map((p) => p.sha);
  return { relation: order.indexOf(o.sha) > order.indexOf(pushed) ? 'contains' : 'older' };
}

/**
 * Replays `t` and runs the engine on its last push to the verdict. `maxGapMs` caps the pause between two
 * writes; `timeoutSec` is the engine's timeout (the recorded run's, scaled, for a case that ended by timeout).
 */
export async function replay(t: Transcript, opts: { maxGapMs?: number; timeoutSec?: number } = {}): Promise<ReplayResult> {
  const target = await startSim();
  try {
    const { sim, kubeconfig } = target;
    const { before, after } = splitAtPush(t);
    for (const e of before) write(sim, e);
    const push = monitoredPush(t);
    const run = startEngine({
      pushed: { sha: push.sha, branch: t.branch },
      repoUrl: t.repoUrl,
      branch: t.branch,
      kubeconfig,
      // ci_timeout as timeout: a case that ended waiting for CI ends here at the same scaled time.
      config: { ...DEFAULT_CONFIG, timeout: opts.timeoutSec ?? 120, ci_timeout: opts.timeoutSec ?? 120 },
      // Time is compressed here: so are the controllers-down thresholds (10 s and 30 s in a real session).
      tuning: { diagnoseEveryMs: 100, notHandledMs: 1_000, stillMs: 3_000 },
      relateCommit: async (sha) => recordedRelation(t, push.sha, sha),
    });
    await waitFor('the replayed session to start', () => run.events.some((e) => e.type === 'session' || e.type === 'summary'), 120_000);
    let last = push.t;
    for (const e of after) {
      await sleep(Math.min(opts.maxGapMs ?? 60, Math.max(0, e.t - last)));
      last = e.t;
      write(sim, e);
    }
    const state = await run.p;
    return { state, events: run.events, summary: summaryOf(run.events) };
  } finally {
    await target.stop();
  }
}
