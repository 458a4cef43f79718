import { EventEmitter } from 'node:events';
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
    expect(text()).toContain('BuildFailed: kustomize build failed');
    expect(text()).not.toContain('resource podinfo.yaml not found');
    expect(text()).toContain('v more detail');
    stdin.write('v');
    await vi.waitFor(() => expect(text()).toContain('resource podinfo.yaml not found'));
    expect(text()).toContain('v less detail');
    stdin.write('v');
    await vi.waitFor(() => expect(text()).not.toContain('resource podinfo.yaml not found'));
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

class FakeStdout extends EventEmitter {
  isTTY = true;
  columns = 80;
  rows = 20;
  output = '';
  write(s: string): boolean {
    this.output += s;
    return true;
  }
}

class FakeStdin extends EventEmitter {
  private queue: string[] = [];
  constructor(readonly isTTY: boolean) {
    super();
    if (isTTY) Object.assign(this, { setRawMode: () => this });
  }
  setEncoding(): void {}
  resume(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  ref(): void {}
  unref(): void {}
  read(): string | null {
    return this.queue.shift() ?? null;
  }
  type(s: string): void {
    this.queue.push(s);
    this.emit('readable');
  }
}

function start(state: SessionState, stdin: FakeStdin, mode: LiveMode = 'watch') {
  const stdout = new FakeStdout();
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
  });
  return { view, stdout, src, onQuit };
}

describe('startLiveView', () => {
  it('works without a TTY on stdin (no raw mode, no keys) and exits after the session finished', async () => {
    const f = fleet();
    const done: SessionState = { ...f.state, status: 'finished', verdict: 'failed', verdictMessage: 'apps failed', endedAt: T0 + 5000 };
    const { view, stdout } = start(done, new FakeStdin(false), 'status');
    await view.waitUntilExit();
    const out = stripAnsi(stdout.output);
    expect(out).toContain('✖ Failed after 5s: apps failed');
    // A finished session has no monitor left to keep running, and the header says it is over.
    expect(out).not.toContain('detached — the monitor keeps running');
    expect(out).toContain('· finished');
    expect(out).not.toContain('q quit');
  });

  it('q resolves waitUntilExit and calls onQuit; the live area stays below the terminal height', async () => {
    const many = session(Array.from({ length: 60 }, (_, i) => node('Kustomization', `app-${i}`, 'Ready')));
    const stdin = new FakeStdin(true);
    const { view, stdout, onQuit } = start(many, stdin);
    await vi.waitFor(() => expect(stripAnsi(stdout.output)).toContain('q quit'));
    const frameLines = stripAnsi(stdout.output).trimEnd().split('\n');
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
    await vi.waitFor(() => expect(stripAnsi(stdout.output)).toContain('q quit'));
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
    await vi.waitFor(() => expect(stripAnsi(stdout.output)).toContain('q quit'));
    stdin.type('q');
    await view.waitUntilExit();
    const out = stripAnsi(stdout.output);
    const last = out.slice(out.lastIndexOf('⟳ flux-monitor'));
    expect(last).toContain('detached — the monitor keeps running');
    expect(last).not.toContain('q quit');
  });

  it('re-lays out when the terminal is resized', async () => {
    const many = session(Array.from({ length: 60 }, (_, i) => node('Kustomization', `app-${i}`, 'Ready')));
    const { view, stdout } = start(many, new FakeStdin(false));
    await vi.waitFor(() => expect(stripAnsi(stdout.output)).toMatch(/\+\d+ more ready/));
    stdout.output = '';
    stdout.rows = 80;
    stdout.emit('resize');
    await vi.waitFor(() => expect(stripAnsi(stdout.output)).toContain('flux-system/app-59'));
    expect(stripAnsi(stdout.output)).not.toMatch(/\+\d+ more ready/);
    view.unmount();
    await view.waitUntilExit();
  });
});
