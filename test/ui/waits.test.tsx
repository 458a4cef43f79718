// "Every wait says how long" on screen: the live view on a virtual terminal counts down to the next dependency
// retry as time passes, the tree shows timeouts and fetches, and the plain printer says the bound on the phase
// line. The waits are the ones core/waits.ts derives (test/unit/waits.test.ts checks them against the
// controllers' condition shapes).
import { describe, expect, it, vi } from 'vitest';
import type { NodeState, SessionState } from '../../src/core/types.js';
import type { WaitInfo } from '../../src/core/waits.js';
import { startLiveView } from '../../src/ui/live.js';
import { sessionLines } from '../../src/ui/view.js';
import { createPlainPrinter } from '../../src/ui/plain.js';

// The interactive path only runs outside CI; Ink decides once, when it is loaded (see live.test.tsx).
vi.hoisted(() => {
  process.env.CI = '0';
  process.env.CONTINUOUS_INTEGRATION = '0';
});
import { edge, node, session, T0 } from './factory.js';
import { FakeStdin, FakeStdout } from './term.js';

const retry = (from: number | undefined, ms = 30_000): WaitInfo => ({ kind: 'retry', ms, basis: 'flag', controller: 'kustomize-controller', flag: '--requeue-dependency', ...(from !== undefined ? { from } : {}) });

/**
 * infra progressing (its health check), apps waiting on it (dependency retry), the source not yet fetched; the
 * session started 10 s and the phases 5 s before `base` (`now` unless given), the state is of `now`.
 */
function chain(now: number, waits: { apps?: WaitInfo; infra?: WaitInfo; src?: WaitInfo } = {}, base = now): SessionState {
  const src = node('GitRepository', 'flux-system', 'Pending', { reason: 'NotFetched', phaseSince: base - 5_000, ...(waits.src ? { wait: waits.src } : {}) });
  const infra = node('Kustomization', 'infra', 'Progressing', { reason: 'Progressing', phaseSince: base - 5_000, ...(waits.infra ? { wait: waits.infra } : {}) });
  const apps = node('Kustomization', 'apps', 'Waiting', {
    reason: 'DependencyNotReady',
    message: "dependency 'flux-system/infra' is not ready",
    blockers: ['flux-system/infra'],
    phaseSince: base - 5_000,
    ...(waits.apps ? { wait: waits.apps } : {}),
  });
  return session([src, infra, apps], [edge(infra, src, 'source'), edge(apps, src, 'source'), edge(apps, infra, 'dependsOn')], { matchedSources: [src.key], startedAt: base - 10_000, updatedAt: now });
}

const text = (state: SessionState, now: number, o: { width?: number; verbosity?: 'normal' | 'verbose' } = {}) =>
  sessionLines({ state, now, verbosity: o.verbosity ?? 'normal', showAll: false, width: o.width ?? 100, height: 40, spinnerFrame: 0 }).map((l) => l.map((g) => g.text).join('').trimEnd());
const rowOf = (lines: string[], needle: string) => lines.find((l) => l.includes(needle)) ?? '';

describe('the live view counts down', () => {
  it('on a virtual terminal, the dependency retry bound shrinks as the clock ticks, and goes once the session ends', async () => {
    // The retry of an attempt 2 s ago (to the second, as lastTransitionTime), every 30 s.
    const from = Math.floor(Date.now() / 1000) * 1000 - 2_000;
    const state = chain(Date.now(), { apps: retry(from) });
    const listeners = new Set<(s: SessionState) => void>();
    const stdout = new FakeStdout(100, 30);
    const view = startLiveView({
      initial: state,
      subscribe: (cb) => (listeners.add(cb), () => listeners.delete(cb)),
      mode: 'watch',
      verbosity: 'normal',
      stdout: stdout as unknown as NodeJS.WriteStream,
      stdin: new FakeStdin(false) as unknown as NodeJS.ReadStream,
      env: { NO_COLOR: '1' },
    });
    const shownBound = (): number | undefined => {
      const m = /Kustomization flux-system\/apps +Waiting +\S+ {2}retry ≤ (\d+)s$/.exec(rowOf(stdout.screen().split('\n'), 'flux-system/apps'));
      return m ? Number(m[1]) : undefined;
    };
    const until = async (what: string, pred: () => boolean, ms = 10_000) => {
      const end = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > end) throw new Error(`${what}; the screen:\n${stdout.screen()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until('the apps row shows its retry bound', () => shownBound() !== undefined);
    const first = shownBound()!;
    // from + 1 s (the second it is known to) + 30 s + 1 s for the controller's work, seen 2–3 s after `from`.
    expect(first).toBeGreaterThanOrEqual(27);
    expect(first).toBeLessThanOrEqual(30);
    await until('the bound counts down', () => (shownBound() ?? first) < first);
    expect(shownBound()).toBeLessThan(first);
    // Only apps waits for something known: infra and the source show no wait.
    expect(rowOf(stdout.screen().split('\n'), 'Kustomization flux-system/infra')).not.toMatch(/retry|timeout|fetch/);
    const done: SessionState = { ...state, status: 'finished', verdict: 'success', verdictMessage: 'commit 3f2a9c1 is applied', endedAt: Date.now(), updatedAt: Date.now() };
    for (const l of listeners) l(done);
    await view.waitUntilExit();
    expect(stdout.screen()).not.toMatch(/retry ≤/);
  });

  it('timeouts, fetches, a period without a known start, and a timeout that has passed', () => {
    const now = T0 + 100_000;
    const state = chain(now, {
      infra: { kind: 'timeout', ms: 300_000, basis: 'status', from: now - 60_000 },
      apps: retry(undefined),
      src: { kind: 'fetch', ms: 60_000, basis: 'spec', jitter: 0.05, controller: 'source-controller', from: now - 10_000 },
    });
    const lines = text(state, now);
    // Started 60 s ago with 5 m: 4 m left, and the second its start is known to.
    expect(rowOf(lines, 'Kustomization flux-system/infra')).toMatch(/Progressing +5s {2}timeout in 4m01s$/);
    expect(rowOf(lines, 'Kustomization flux-system/apps')).toMatch(/Waiting +5s {2}retry every 30s$/);
    // The fetch: the last one 10 s ago, every 60 s ±5%: by 10 s ago + 1 s + 63 s + 1 s.
    expect(rowOf(lines, 'GitRepository flux-system/flux-system')).toMatch(/Pending +5s {2}fetch ≤ 55s$/);
    // The phase column stays aligned with the waits after it.
    const col = (needle: string) => rowOf(lines, needle).search(/(Waiting|Progressing|Pending) /);
    expect(new Set([col('flux-system/infra'), col('flux-system/apps'), col('GitRepository')]).size).toBe(1);
    const late = text(state, now + 250_000);
    expect(rowOf(late, 'Kustomization flux-system/infra')).toMatch(/timeout due$/);
  });

  it('a blocked node waits for nothing; a narrow terminal keeps the names and leaves the waits out; verbose says the basis', () => {
    const now = T0 + 100_000;
    const state = chain(now, { apps: retry(now - 3_000) });
    // The attempt 3 s ago: by 3 s ago + 1 s + 30 s + 1 s.
    expect(rowOf(text(state, now), 'flux-system/apps')).toMatch(/retry ≤ 29s$/);
    const blocked: SessionState = { ...state, nodes: { ...state.nodes, 'Kustomization/flux-system/apps': { ...(state.nodes['Kustomization/flux-system/apps'] as NodeState), settled: true, blockedBy: 'Kustomization/flux-system/infra' } } };
    expect(text(blocked, now).join('\n')).not.toMatch(/retry/);
    const narrow = text(state, now, { width: 55 });
    expect(narrow.join('\n')).not.toMatch(/retry/);
    expect(rowOf(narrow, 'Waiting')).toMatch(/◷ Kustomization \S+ +Waiting +5s$/);
    expect(text(state, now, { verbosity: 'verbose' }).join('\n')).toContain('retries every 30s (--requeue-dependency of kustomize-controller, read from its Deployment)');
  });
});

describe('the plain printer', () => {
  it('says the bound on the phase line, and again when a new wait starts in the same phase', () => {
    let out = '';
    const printer = createPlainPrinter({ write: (s: string) => (out += s) }, { verbosity: 'normal' });
    const now = T0 + 100_000;
    printer.onState(chain(now, { apps: retry(now - 3_000) }));
    // The line carries the time apps went Waiting (+5s); the retry attempt it knows of came at +7s (`from`): as of
    // then, the next one comes within 31 s (+38s), 33 s after the line's time. (Counted from the state's time, +10s,
    // `≤ 29s` would read as +34s from the line: earlier than the bound.)
    expect(out).toMatch(/ {4}\+5s ◷ Kustomization flux-system\/apps {2}Waiting {2}.*· retry ≤ 33s\n/);
    const before = out;
    // The same wait a second later: nothing new to say.
    printer.onState(chain(now + 1_000, { apps: retry(now - 3_000) }, now));
    expect(out).toBe(before);
    // infra's health check starts (same phase, Progressing): its timeout is printed.
    printer.onState(chain(now + 2_000, { apps: retry(now - 3_000), infra: { kind: 'timeout', ms: 120_000, basis: 'status', from: now + 2_000 } }, now));
    // Printed again in the same phase: with the time of the state that shows the new wait, and since when it lasts.
    expect(out.slice(before.length)).toBe('   +12s ⟳ Kustomization flux-system/infra  Progressing  Progressing · progressing since +5s · timeout in 2m01s\n');
  });
});
