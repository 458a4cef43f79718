import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import type { SessionState } from '../../src/core/types.js';
import { LiveApp, startLiveView, type LiveMode } from '../../src/ui/live.js';

// These tests drive the interactive terminal path, which flux-monitor only takes outside CI (shouldUseInk).
// Ink decides once, when it is loaded, whether it runs in CI (then it writes only the last frame): hide a CI
// environment from it before the imports run.
vi.hoisted(() => {
  process.env.CI = '0';
  process.env.CONTINUOUS_INTEGRATION = '0';
});
import { fleet, node, session, T0 } from './factory.js';
import { FakeStdin, FakeStdout } from './term.js';

afterEach(() => cleanup());

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g, '');

/** A state source the tests push states into, like the engine's store. */
function feed(initial: SessionState) {
  const listeners = new Set<(s: SessionState) => void>();
  const unsubscribed = vi.fn();
  return {
    initial,
    subscribe(cb: (s: SessionState) => void) {
      listeners.add(cb);
      return () => {
        listeners.delete(cb);
        unsubscribed();
      };
    },
    push(s: SessionState) {
      for (const l of listeners) l(s);
    },
    unsubscribed,
  };
}

function failingFleet(): SessionState {
  const f = fleet({ apps: 'Failed' });
  f.state.nodes[f.apps.key] = { ...f.apps, reason: 'BuildFailed', message: 'kustomize build failed\nresource podinfo.yaml not found' };
  f.state.nodes['Kustomization/other/unrelated'] = node('Kustomization', 'unrelated', 'Ready', { namespace: 'other', affected: false });
  return f.state;
}

function mount(state: SessionState, mode: LiveMode = 'watch') {
  const src = feed(state);
  const onQuit = vi.fn();
  const app = render(<LiveApp initial={src.initial} subscribe={src.subscribe} mode={mode} verbosity="normal" onQuit={onQuit} color={false} />);
  const text = () => stripAnsi(app.lastFrame() ?? '');
  return { ...app, src, onQuit, text };
}

describe('LiveApp', () => {
  it('follows the states it is fed', async () => {
    const f = fleet();
    const { src, text } = mount(f.state);
    expect(text()).toContain('Kustomization flux-system/apps');
    expect(text()).toMatch(/Kustomization flux-system\/apps +Progressing/);
    src.push({ ...f.state, nodes: { ...f.state.nodes, [f.apps.key]: { ...f.apps, phase: 'Ready' } } });
    await vi.waitFor(() => expect(text()).toMatch(/✔ Kustomization flux-system\/apps +Ready/));
  });

  it('v toggles the verbose details', async () => {
    const { stdin, text } = mount(failingFleet());
    // Normal: the line of the message that carries the cause (the last); verbose: the whole message.
    expect(text()).toContain('BuildFailed: resource podinfo.yaml not found');
    expect(text()).not.toContain('kustomize build failed');
    expect(text()).toContain('v more detail');
    stdin.write('v');
    await vi.waitFor(() => expect(text()).toContain('BuildFailed: kustomize build failed'));
    expect(text()).toContain('resource podinfo.yaml not found');
    expect(text()).toContain('v less detail');
    stdin.write('v');
    await vi.waitFor(() => expect(text()).not.toContain('kustomize build failed'));
  });

  it('a toggles between affected objects and all objects', async () => {
    const { stdin, text } = mount(failingFleet());
    expect(text()).not.toContain('other/unrelated');
    expect(text()).toContain('a all objects');
    stdin.write('a');
    await vi.waitFor(() => expect(text()).toMatch(/Kustomization other\/unrelated +Ready/));
    expect(text()).toContain('a affected only');
    stdin.write('a');
    await vi.waitFor(() => expect(text()).not.toContain('other/unrelated'));
  });

  it('q quits through onQuit and unsubscribes', async () => {
    const { stdin, onQuit, src } = mount(fleet().state);
    stdin.write('q');
    await vi.waitFor(() => expect(src.unsubscribed).toHaveBeenCalledTimes(1));
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('Ctrl-C quits the same way', async () => {
    const { stdin, onQuit, src } = mount(fleet().state);
    stdin.write('\u0003');
    await vi.waitFor(() => expect(src.unsubscribed).toHaveBeenCalledTimes(1));
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('in status mode says the monitor keeps running when detaching', async () => {
    const { stdin, onQuit, text, src } = mount(fleet().state, 'status');
    expect(text()).toContain('detached — the monitor keeps running · q quit');
    stdin.write('q');
    await vi.waitFor(() => expect(src.unsubscribed).toHaveBeenCalled());
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('shows the verdict and exits by itself once the session finishes', async () => {
    const f = fleet();
    const { src, text, onQuit } = mount(f.state);
    const done: SessionState = {
      ...f.state,
      status: 'finished',
      verdict: 'success',
      verdictMessage: 'all 4 objects applied 3f2a9c1',
      endedAt: T0 + 65_000,
      nodes: Object.fromEntries(Object.values(f.state.nodes).map((n) => [n.key, { ...n, phase: 'Ready' as const }])),
    };
    src.push(done);
    await vi.waitFor(() => expect(text()).toContain('✔ Succeeded after 1m05s: all 4 objects applied 3f2a9c1'));
    // The final frame stays on the terminal once the program has ended: no key hints on it.
    expect(text()).not.toContain('q quit');
    await vi.waitFor(() => expect(src.unsubscribed).toHaveBeenCalledTimes(1));
    expect(onQuit).not.toHaveBeenCalled();
  });
});

function start(state: SessionState, stdin: FakeStdin, mode: LiveMode = 'watch', stdout = new FakeStdout(), incremental?: boolean) {
  const src = feed(state);
  const onQuit = vi.fn();
  const view = startLiveView({
    initial: state,
    subscribe: src.subscribe,
    mode,
    verbosity: 'normal',
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    onQuit,
    env: { NO_COLOR: '1' },
    incremental,
  });
  return { view, stdout, src, onQuit };
}

describe('startLiveView', () => {
  it('works without a TTY on stdin (no raw mode, no keys) and exits after the session finished', async () => {
    const f = fleet();
    const done: SessionState = { ...f.state, status: 'finished', verdict: 'failed', verdictMessage: 'apps failed', endedAt: T0 + 5000 };
    const { view, stdout } = start(done, new FakeStdin(false), 'status');
    await view.waitUntilExit();
    // What stays on the terminal: the final frame, complete.
    const out = stdout.screen();
    expect(out).toContain('✖ Failed after 5s: apps failed');
    expect(out).toContain('Kustomization flux-system/apps');
    // A finished session has no monitor left to keep running, and the header says it is over.
    expect(out).not.toContain('detached — the monitor keeps running');
    expect(out).toContain('· finished');
    expect(out).not.toContain('q quit');
  });

  it('q resolves waitUntilExit and calls onQuit; the live area stays below the terminal height', async () => {
    const many = session(Array.from({ length: 60 }, (_, i) => node('Kustomization', `app-${i}`, 'Ready')));
    const stdin = new FakeStdin(true);
    const { view, stdout, onQuit } = start(many, stdin);
    await vi.waitFor(() => expect(stdout.screen()).toContain('q quit'));
    const frameLines = stdout.screen().split('\n');
    expect(frameLines.length).toBeLessThan(stdout.rows);
    expect(frameLines.some((l) => /\+\d+ more ready/.test(l))).toBe(true);
    stdin.type('q');
    await view.waitUntilExit();
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('waitUntilExit settles when it is asked for only after q has already ended the view', async () => {
    // watch and demo first wait for the monitor to stop, then for the view: by then Ink has unmounted.
    const stdin = new FakeStdin(true);
    const { view, stdout, src, onQuit } = start(fleet().state, stdin);
    await vi.waitFor(() => expect(stdout.screen()).toContain('q quit'));
    stdin.type('q');
    await vi.waitFor(() => expect(src.unsubscribed).toHaveBeenCalledTimes(1));
    await new Promise((r) => setTimeout(r, 50));
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      view.waitUntilExit().then(() => 'exited'),
      new Promise((r) => (timer = setTimeout(() => r('still waiting after 10s'), 10_000))),
    ]);
    clearTimeout(timer);
    expect(settled).toBe('exited');
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('the last frame after q has no key hints (it stays on the terminal)', async () => {
    const stdin = new FakeStdin(true);
    const { view, stdout } = start(fleet().state, stdin, 'status');
    await vi.waitFor(() => expect(stdout.screen()).toContain('q quit'));
    stdin.type('q');
    await view.waitUntilExit();
    const last = stdout.screen();
    expect(last.match(/⟳ flux-monitor/g)).toHaveLength(1);
    expect(last).toContain('Kustomization flux-system/apps');
    expect(last).toContain('detached — the monitor keeps running');
    expect(last).not.toContain('q quit');
  });

  it('re-lays out when the terminal is resized', async () => {
    const many = session(Array.from({ length: 60 }, (_, i) => node('Kustomization', `app-${i}`, 'Ready')));
    const { view, stdout } = start(many, new FakeStdin(false));
    await vi.waitFor(() => expect(stdout.screen()).toMatch(/\+\d+ more ready/));
    stdout.resize(80, 80);
    await vi.waitFor(() => expect(stdout.screen()).toContain('flux-system/app-59'));
    expect(stdout.screen()).not.toMatch(/\+\d+ more ready/);
    expect(stdout.screen().match(/⟳ flux-monitor/g)).toHaveLength(1);
    // Narrower and shorter again: the screen shows one frame, cut to the new size.
    stdout.resize(60, 20);
    await vi.waitFor(() => expect(stdout.screen()).toMatch(/\+\d+ more ready/));
    const lines = stdout.screen().split('\n');
    expect(lines.length).toBeLessThan(20);
    expect(lines.every((l) => l.length <= 60)).toBe(true);
    expect(stdout.screen().match(/⟳ flux-monitor/g)).toHaveLength(1);
    view.unmount();
    await view.waitUntilExit();
  });

  it('a tree that shrinks leaves no lines of the larger one on the screen', async () => {
    const f = fleet({ apps: 'Failed' });
    f.state.nodes[f.apps.key] = { ...f.apps, reason: 'BuildFailed', message: 'kustomize build failed\nresource podinfo.yaml not found' };
    const stdin = new FakeStdin(true);
    const { view, stdout } = start(f.state, stdin);
    await vi.waitFor(() => expect(stdout.screen()).toContain('v more detail'));
    stdin.type('v');
    await vi.waitFor(() => expect(stdout.screen()).toContain('kustomize build failed'));
    const tall = stdout.screen().split('\n').length;
    stdin.type('v');
    await vi.waitFor(() => expect(stdout.screen()).not.toContain('kustomize build failed'));
    const screen = stdout.screen();
    expect(screen.split('\n').length).toBeLessThan(tall);
    expect(screen.split('\n').at(-1)).toContain('v more detail');
    expect(screen.match(/⟳ flux-monitor/g)).toHaveLength(1);
    view.unmount();
    await view.waitUntilExit();
  });
});

describe('incremental rendering (issue 15)', () => {
  afterEach(() => vi.useRealTimers());

  /**
   * What a view wrote from `from` on, per frame: bytes, lines rewritten (Ink ends each line it rewrites
   * incrementally with erase-to-end) and lines of text. Ink wraps each frame in synchronized-output marks.
   */
  const since = (stdout: FakeStdout, from: number) => {
    const out = stdout.output.slice(from);
    const frames = out.split('\u001b[?2026h').length - 1;
    expect(frames).toBeGreaterThan(0);
    const per = (n: number) => n / frames;
    return { frames, bytes: per(Buffer.byteLength(out)), rewritten: per(out.split('\u001b[K').length - 1), lines: per(stripAnsi(out).split('\n').length - 1) };
  };

  it('a clock tick and one node changing rewrite only their lines; the screen is the same as with a full redraw', async () => {
    // Objects in their phase for two hours (their durations change once a minute), the session 30 s old: a tick
    // changes the header's clock only. No object progresses: the clock ticks once a second, no spinner.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0 + 30_000);
    const since2h = { phaseSince: T0 - 7_200_000, firstSeen: T0 - 7_200_000 };
    const nodes = Array.from({ length: 40 }, (_, i) => node('Kustomization', `app-${String(i).padStart(2, '0')}`, i === 7 ? 'Pending' : 'Ready', since2h));
    const state = session(nodes);
    const inc = start(state, new FakeStdin(false), 'watch', new FakeStdout(100, 60), true);
    const full = start(state, new FakeStdin(false), 'watch', new FakeStdout(100, 60), false);
    await vi.waitFor(() => expect(inc.stdout.screen()).toContain('flux-system/app-39'));
    await vi.waitFor(() => expect(inc.stdout.screen()).toBe(full.stdout.screen()));
    const first = inc.stdout.screen();
    expect(first).toContain('· 30s ·');

    // The clock ticks.
    let [i0, f0] = [inc.stdout.output.length, full.stdout.output.length];
    vi.setSystemTime(T0 + 31_000);
    await vi.waitFor(() => expect(inc.stdout.screen()).toMatch(/· 3[1-9]s ·/), { timeout: 3000 });
    await vi.waitFor(() => expect(full.stdout.screen()).toBe(inc.stdout.screen()), { timeout: 3000 });
    const tickInc = since(inc.stdout, i0);
    const tickFull = since(full.stdout, f0);
    expect(tickInc.rewritten).toBe(1); // the header line with the clock, in each frame
    expect(tickFull.lines).toBeGreaterThanOrEqual(43); // header, 40 objects, summary: all of them again
    expect(tickInc.bytes * 10).toBeLessThan(tickFull.bytes);

    // One object changes phase: its line and the summary line.
    [i0, f0] = [inc.stdout.output.length, full.stdout.output.length];
    const n7 = nodes[7]!;
    const next = session(nodes.map((n) => (n === n7 ? { ...n, phase: 'Ready' as const, settled: true } : n)));
    inc.src.push(next);
    full.src.push(next);
    await vi.waitFor(() => expect(inc.stdout.screen()).toContain('40 ready'));
    await vi.waitFor(() => expect(full.stdout.screen()).toBe(inc.stdout.screen()));
    const changeInc = since(inc.stdout, i0);
    const changeFull = since(full.stdout, f0);
    expect(changeInc.rewritten).toBeLessThanOrEqual(3);
    expect(changeInc.bytes * 5).toBeLessThan(changeFull.bytes);

    // The end: the final frame stays on both screens, the same.
    const done: SessionState = { ...next, status: 'finished', verdict: 'success', verdictMessage: 'all 40 objects applied 3f2a9c1', endedAt: T0 + 31_000 };
    inc.src.push(done);
    full.src.push(done);
    await inc.view.waitUntilExit();
    await full.view.waitUntilExit();
    expect(inc.stdout.screen()).toContain('✔ Succeeded after 31s: all 40 objects applied 3f2a9c1');
    expect(inc.stdout.screen()).toBe(full.stdout.screen());
    expect(inc.stdout.screen().split('\n')[0]).toMatch(/flux-monitor 3f2a9c1/);
    expect(inc.stdout.screen().match(/flux-monitor 3f2a9c1/g)).toHaveLength(1);
  });
});
