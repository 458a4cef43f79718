// The one harness for tests that drive the engine: a cluster to watch (the API simulator, or any kubeconfig such as
// a real kube-apiserver's), and `runMonitor` (src/engine/run.ts, what `flux-monitor watch` runs) started on a push
// with every event, every published state and its client recorded, stopped and cleaned up after each test.
// Written against the public entry points only (runMonitor, ApiSimulator): no engine internals.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMonitor, type RunOptions } from '../../src/engine/run.js';
import type { ClusterClient } from '../../src/cluster/client.js';
import { ApiSimulator, type ApiSimulatorOptions } from '../../src/sim/server.js';
import { DEFAULT_CONFIG, type MonitorEvent, type SessionState } from '../../src/core/types.js';
import { SHA_NEW } from './flux.js';

/** The repository the usual test fleet follows. */
export const FLEET_URL = 'https://github.com/acme/fleet.git';

/** Engine tuning for the simulator: fast backoff, a short stall limit, a short settle delay. */
export const SIM_TUNING: NonNullable<RunOptions['tuning']> = { backoffMs: 20, maxBackoffMs: 200, stallMs: 2000, settleDelayMs: 300 };

/**
 * Waits until `pred` holds, checking every 10 ms; fails after `ms` (a ceiling, never a timing assertion) naming
 * `what`, or the predicate's source when the call names nothing.
 */
export async function waitFor(what: string, pred: () => boolean | Promise<boolean>, ms?: number): Promise<void>;
export async function waitFor(pred: () => boolean | Promise<boolean>, ms?: number): Promise<void>;
export async function waitFor(a: string | (() => boolean | Promise<boolean>), b?: number | (() => boolean | Promise<boolean>), c?: number): Promise<void> {
  const [what, pred, ceiling] = typeof a === 'string' ? [a, b as () => boolean | Promise<boolean>, c] : [String(a), a, b as number | undefined];
  const ms = ceiling ?? 20_000;
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The simulator

export interface SimCluster {
  sim: ApiSimulator;
  /** A kubeconfig file for the simulator (in a temp dir of its own). */
  kubeconfig: string;
  /** The temp dir, removed by stop(). */
  dir: string;
  stop(): Promise<void>;
}

const liveSims = new Set<SimCluster>();

/**
 * Starts an API simulator and writes a kubeconfig for it (`context` names its context; default the simulator's).
 * `cleanup()` stops every simulator still running.
 */
export async function startSim(opts: ApiSimulatorOptions = {}, kc: { context?: string } = {}): Promise<SimCluster> {
  const sim = new ApiSimulator(opts);
  await sim.start();
  const dir = mkdtempSync(join(tmpdir(), 'fm-sim-'));
  const kubeconfig = await sim.writeKubeconfig(join(dir, 'kubeconfig'), kc);
  const c: SimCluster = {
    sim,
    kubeconfig,
    dir,
    async stop() {
      liveSims.delete(c);
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  liveSims.add(c);
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// The engine

export type SessionEvent = Extract<MonitorEvent, { type: 'session' }>;
export type SummaryEvent = Extract<MonitorEvent, { type: 'summary' }>;
export type ErrorEvent = Extract<MonitorEvent, { type: 'error' }>;

export interface EngineRun {
  /** The session's final state (runMonitor's promise). */
  p: Promise<SessionState>;
  /** Every event, in order. */
  events: MonitorEvent[];
  /** A copy of every state the engine published, in order (so each is the state as it was then). */
  states: SessionState[];
  /** The last published state. */
  last(): SessionState | undefined;
  client(): ClusterClient;
  /** Resolves once the engine has listed everything and emitted its `session` event. */
  session(ms?: number): Promise<SessionEvent>;
  /** Resolves once `key` has been reported in `phase`. */
  phase(key: string, phase: string, ms?: number): Promise<void>;
  /** Aborts the session (as Ctrl-C does); `p` then resolves with verdict `stopped`. */
  stop(): void;
}

export type EngineOptions = Partial<RunOptions>;

const liveRuns = new Set<EngineRun>();

/**
 * Starts runMonitor as `flux-monitor watch` would, on the push of SHA_NEW to main of FLEET_URL, with a 20 s
 * timeout and SIM_TUNING unless `over` says otherwise; records events, states and the client.
 */
export function startEngine(over: EngineOptions): EngineRun {
  const events: MonitorEvent[] = [];
  const states: SessionState[] = [];
  const ac = new AbortController();
  let client: ClusterClient | undefined;
  const p = runMonitor({
    pushed: { sha: SHA_NEW, branch: 'main' },
    repoUrl: FLEET_URL,
    branch: 'main',
    config: { ...DEFAULT_CONFIG, timeout: 20 },
    tuning: SIM_TUNING,
    ...over,
    signal: ac.signal,
    onEvent: (e) => {
      events.push(e);
      over.onEvent?.(e);
    },
    onState: (s) => {
      states.push(structuredClone(s));
      over.onState?.(s);
    },
    onClient: (c) => {
      client = c;
      over.onClient?.(c);
    },
  });
  const run: EngineRun = {
    p,
    events,
    states,
    last: () => states.at(-1),
    client: () => {
      if (!client) throw new Error('the engine has not created its client');
      return client;
    },
    async session(ms = 30_000) {
      await waitFor('the engine to emit its session event', () => events.some((e) => e.type === 'session' || e.type === 'summary'), ms);
      const s = events.find((e) => e.type === 'session');
      if (!s) throw new Error(`the session ended before starting: ${JSON.stringify(events.at(-1))}`);
      return s as SessionEvent;
    },
    async phase(key, phase, ms = 30_000) {
      await waitFor(`${key} to be reported ${phase}`, () => events.some((e) => e.type === 'phase' && e.key === key && e.phase === phase), ms);
    },
    stop: () => ac.abort('test cleanup'),
  };
  // A caller's own signal stops the session too.
  if (over.signal?.aborted) ac.abort(over.signal.reason);
  else over.signal?.addEventListener('abort', () => ac.abort(over.signal!.reason), { once: true });
  liveRuns.add(run);
  void p.finally(() => liveRuns.delete(run));
  return run;
}

/** Runs the engine to its verdict: the final state with the events and states that led to it. */
export async function runToVerdict(over: EngineOptions): Promise<{ final: SessionState; events: MonitorEvent[]; states: SessionState[] }> {
  const run = startEngine(over);
  const final = await run.p;
  return { final, events: run.events, states: run.states };
}

/** Stops the sessions a test left running (so they leak no watches into the next test) and waits for their end. */
export async function stopEngines(): Promise<void> {
  const runs = [...liveRuns];
  for (const r of runs) r.stop();
  await Promise.all(runs.map((r) => r.p.catch(() => undefined)));
}

/** For afterEach: stops the sessions left running, then every simulator started with startSim. */
export async function cleanup(): Promise<void> {
  await stopEngines();
  await Promise.all([...liveSims].map((c) => c.stop()));
}

// ---------------------------------------------------------------------------------------------------------------
// Reading what the engine said

export const phasesOf = (events: MonitorEvent[], key: string) =>
  events.filter((e): e is Extract<MonitorEvent, { type: 'phase' }> => e.type === 'phase' && e.key === key).map((e) => e.phase);

export const errorsOf = (events: MonitorEvent[]) => events.filter((e): e is ErrorEvent => e.type === 'error');

/** The session's summary, which must be its last event. */
export function summaryOf(events: MonitorEvent[]): SummaryEvent {
  const s = events.at(-1);
  if (s?.type !== 'summary') throw new Error(`last event is not the summary: ${JSON.stringify(s)}`);
  return s;
}
