// (f) Cost of drawing the live view (SessionView through Ink) for a session of about 1,000 nodes. The session
// state is a real one: the engine's state while it follows a rollout on a simulated fleet.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { render, renderToString } from 'ink';
import { SessionView } from '../src/ui/view.js';
import { incrementalStdout } from '../src/ui/ink-incremental.js';
import { runMonitor } from '../src/engine/run.js';
import { DEFAULT_CONFIG, type SessionState } from '../src/core/types.js';
import { median, REPO_URL, SHA_PUSHED_NOT_FETCHED, sleep, startChurn, startFleet, stopFleet, waitFor } from './lib.js';

/** What one Ink instance measured over the frames (medians). */
export interface LiveModeResult {
  /** A new state arrives (the live view copies it, then React + Yoga + output): ms per frame. */
  updateFrameMs: number;
  /** The clock or spinner ticks, same state (the tree layout is reused): ms per frame. */
  tickFrameMs: number;
  /** The same two as CPU time of this process (process.cpuUsage): less moved by other processes on the machine. */
  updateFrameCpuMs: number;
  tickFrameCpuMs: number;
  /** Bytes written to the terminal per frame. */
  updateFrameBytes: number;
  tickFrameBytes: number;
}

/** The live view's figures (incremental rendering) at the top level; `full` has them for Ink's full redraw. */
export interface RenderResult extends LiveModeResult {
  /** React's build: `production` when NODE_ENV=production, else the (slower) development build. */
  reactBuild: string;
  nodes: number;
  phases: Record<string, number>;
  width: number;
  height: number;
  frames: number;
  full: LiveModeResult;
  /** renderToString of the whole tree (every node drawn, no cache), median ms. */
  fullTreeMs: number;
  fullTreeLines: number;
}

/** The engine's state of a session on a fleet of `objects` objects, part-way through a rollout. */
async function engineState(objects: number): Promise<SessionState> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-f-'));
  const kc = join(dir, 'kubeconfig');
  const f = await startFleet(objects, kc);
  const ac = new AbortController();
  let last: SessionState | undefined;
  let session = false;
  try {
    const done = runMonitor({
      pushed: { sha: SHA_PUSHED_NOT_FETCHED, branch: 'main' },
      repoUrl: REPO_URL,
      branch: 'main',
      config: { ...DEFAULT_CONFIG, timeout: 600 },
      kubeconfig: kc,
      signal: ac.signal,
      onState: (s) => (last = s),
      onEvent: (e) => (session ||= e.type === 'session'),
    });
    await waitFor(() => session, 60_000, 'the session to start');
    // Part of the Kustomizations take the pushed commit: a mix of Pending, Progressing and Ready.
    const stop = startChurn(f, 400, SHA_PUSHED_NOT_FETCHED);
    await sleep(1000);
    stop();
    await sleep(300);
    const snapshot = structuredClone(last!);
    ac.abort('stopped');
    await done;
    return { ...snapshot, status: 'running', verdict: undefined, endedAt: undefined };
  } finally {
    await stopFleet(f);
    rmSync(dir, { recursive: true, force: true });
  }
}

function fakeStdout(columns: number, rows: number): NodeJS.WriteStream & { bytes: number } {
  const w = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      (w as unknown as { bytes: number }).bytes += chunk.length;
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { bytes: number };
  w.bytes = 0;
  Object.assign(w, { columns, rows, isTTY: true });
  return w;
}

export async function benchRender(targetNodes: number, frames: number): Promise<RenderResult> {
  // Every simulated object of the large fleet is a monitored node with the default monitor_types (the HelmCharts
  // of the affected HelmReleases included): the fleet has as many objects as nodes are wanted.
  let state = await engineState(targetNodes);
  const nodes = Object.keys(state.nodes).length;
  const phases: Record<string, number> = {};
  for (const n of Object.values(state.nodes)) phases[n.phase] = (phases[n.phase] ?? 0) + 1;
  const width = 120;
  const height = 50;
  const base = { verbosity: 'normal' as const, showAll: false, width, color: true };
  const now = state.updatedAt;

  // Live: Ink instances as the live view runs them (log-update, not debug), unthrottled (maxFps 0: each rerender
  // draws synchronously), one erasing and rewriting the whole live area each frame (Ink's default), one rewriting
  // only the lines that changed (incrementalRendering, what the live view uses on a TTY). Same states, same clock,
  // frames interleaved so that the machine's noise falls on both alike.
  const modes = { full: false, incremental: true } as const;
  const per = {} as Record<keyof typeof modes, LiveModeResult>;
  const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  const runs = (Object.keys(modes) as (keyof typeof modes)[]).map((mode) => {
    const stdout = fakeStdout(width, height);
    const app = render(<SessionView {...base} state={structuredClone(state)} now={now} height={height - 1} spinnerFrame={0} />, {
      // As startLiveView: the incremental renderer writes through the cursor correction.
      stdout: modes[mode] ? incrementalStdout(stdout) : stdout,
      maxFps: 0,
      incrementalRendering: modes[mode],
      patchConsole: false,
      exitOnCtrlC: false,
    });
    return { mode, stdout, app, update: [] as number[], tick: [] as number[], updateCpu: [] as number[], tickCpu: [] as number[], updateBytes: [] as number[], tickBytes: [] as number[] };
  });
  // Each new state is the engine's state after one status write: one shown object changes phase (a new state with a
  // new nodes record and a new object for that node, as the engine publishes it), the others keep their objects.
  const shownKeys = Object.values(state.nodes).filter((n) => n.affected).map((n) => n.key);
  const original = new Map(shownKeys.map((k) => [k, { ...state.nodes[k]! }]));
  for (let i = 0; i < frames; i++) {
    const k = shownKeys[(i * 7919) % shownKeys.length]!;
    const node = state.nodes[k]!;
    const was = original.get(k)!;
    const changed = node.phase === was.phase ? { ...node, phase: was.phase === 'Ready' ? ('Progressing' as const) : ('Ready' as const), phaseSince: now + i * 100 } : { ...node, phase: was.phase, phaseSince: was.phaseSince };
    state = { ...state, nodes: { ...state.nodes, [k]: changed }, updatedAt: now + i * 100 };
    for (const r of i % 2 ? [...runs].reverse() : runs) {
      let b = r.stdout.bytes;
      let t = performance.now();
      let c = process.cpuUsage();
      const current = state; // the live view keeps each engine state as given (src/commands/output.ts)
      r.app.rerender(<SessionView {...base} state={current} now={now + i * 100} height={height - 1} spinnerFrame={i} />);
      r.update.push(performance.now() - t);
      r.updateCpu.push(cpuMs(process.cpuUsage(c)));
      r.updateBytes.push(r.stdout.bytes - b);
      b = r.stdout.bytes;
      t = performance.now();
      c = process.cpuUsage();
      r.app.rerender(<SessionView {...base} state={current} now={now + i * 100 + 1000} height={height - 1} spinnerFrame={i + 1} />);
      r.tick.push(performance.now() - t);
      r.tickCpu.push(cpuMs(process.cpuUsage(c)));
      r.tickBytes.push(r.stdout.bytes - b);
    }
  }
  for (const r of runs) {
    r.app.unmount();
    await r.app.waitUntilExit();
    if (r.stdout.bytes === 0) throw new Error('the live view wrote nothing');
    per[r.mode] = {
      updateFrameMs: median(r.update),
      tickFrameMs: median(r.tick),
      updateFrameCpuMs: median(r.updateCpu),
      tickFrameCpuMs: median(r.tickCpu),
      updateFrameBytes: median(r.updateBytes),
      tickFrameBytes: median(r.tickBytes),
    };
  }

  const full: number[] = [];
  let lines = 0;
  for (let i = 0; i < Math.max(3, Math.floor(frames / 5)); i++) {
    const t = performance.now();
    const out = renderToString(<SessionView {...base} state={state} now={now} height={nodes + 100} spinnerFrame={i} />, { columns: width });
    full.push(performance.now() - t);
    lines = out.split('\n').length;
  }
  return { reactBuild: process.env.NODE_ENV === 'production' ? 'production' : 'development', nodes, phases, width, height, frames, ...per.incremental, full: per.full, fullTreeMs: median(full), fullTreeLines: lines };
}
