// The push's waterfall (issue 28 item 2): bars on a shared axis at the right columns, the critical path marked
// and split into Flux waiting and working, the text form, every width, hostile timelines, and `t` in the live
// view on a virtual terminal.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from 'ink-testing-library';

vi.hoisted(() => {
  process.env.CI = '0';
  process.env.CONTINUOUS_INTEGRATION = '0';
});
import type { SessionState } from '../../src/core/types.js';
import { LiveApp } from '../../src/ui/live.js';
import { ansi, textWidth } from '../../src/ui/theme.js';
import { fitLine, sessionLines } from '../../src/ui/view.js';
import { BAR_GLYPH, linesText, waterfallLines } from '../../src/ui/waterfall.js';
import { edge, node, session, T0 } from './factory.js';

afterEach(() => cleanup());

/** repo → infra (its health checks 6 s) → apps, which waited the 30 s dependency requeue; `other` failed. */
function chain(): SessionState {
  const repo = node('GitRepository', 'fleet', 'Ready');
  const infra = node('Kustomization', 'infra', 'Ready');
  const apps = node('Kustomization', 'apps', 'Ready');
  const other = node('Kustomization', 'other', 'Failed', { reason: 'BuildFailed' });
  const s = session([repo, infra, apps, other], [edge(infra, repo, 'source'), edge(apps, repo, 'source'), edge(other, repo, 'source'), edge(apps, infra, 'dependsOn')], {
    status: 'finished',
    verdict: 'failed',
    endedAt: T0 + 40_000,
    updatedAt: T0 + 40_000,
  });
  s.timeline = {
    objects: {
      [repo.key]: { started: { at: T0 + 1_000, from: 'event' }, ready: { at: T0 + 2_000, from: 'condition' } },
      [infra.key]: {
        source: { at: T0 + 2_000, from: 'condition' },
        started: { at: T0 + 2_000, from: 'condition' },
        applied: { at: T0 + 4_000, from: 'event' },
        ready: { at: T0 + 10_000, from: 'condition' },
      },
      [other.key]: { started: { at: T0 + 2_000, from: 'event' }, failed: { at: T0 + 3_000, from: 'condition' } },
      [apps.key]: {
        waits: [{ from: T0 + 2_000, to: T0 + 38_000, on: 'dependency', blockers: ['flux-system/infra'], reason: 'DependencyNotReady' }],
        started: { at: T0 + 38_000, from: 'event' },
        ready: { at: T0 + 40_000, from: 'condition' },
      },
    },
  };
  return s;
}

const text = (s: SessionState, width: number, height?: number) => linesText(waterfallLines(s, { width, height }).map((l) => fitLine(l, width)), false, ansi);

describe('the waterfall', () => {
  it('draws each phase at its columns of the shared axis, and the end mark where it ended', () => {
    const lines = text(chain(), 120);
    const row = (name: string) => lines.find((l) => l.includes(`Kustomization flux-system/${name} `) || l.includes(`GitRepository flux-system/${name} `))!;
    const apps = row('apps');
    const axisStart = lines[1]!.indexOf('|0s');
    // 40 s over the bar's columns: the column of a time.
    const cols = lines[1]!.length - axisStart;
    expect(cols).toBeGreaterThan(40);
    const bar = (l: string) => l.slice(axisStart, axisStart + 120 - axisStart - 8);
    const width = bar(apps).length;
    const col = (ms: number) => Math.floor((ms / 40_000) * width);
    // apps: waiting from 2 s to 38 s, reconciling 38–40 s, Ready at 40 s (the last column).
    expect(bar(apps)[col(2_000)]).toBe(BAR_GLYPH.waiting);
    expect(bar(apps)[col(37_000)]).toBe(BAR_GLYPH.waiting);
    expect(bar(apps)[col(38_500)]).toBe(BAR_GLYPH.reconciling);
    expect(bar(apps).trimEnd().at(-1)).toBe(BAR_GLYPH.ready);
    expect(bar(apps).slice(0, col(2_000)).trim()).toBe('');
    // infra: reconciling 2–4 s, health check 4–10 s, Ready at 10 s, nothing after.
    const infra = bar(row('infra'));
    expect(infra[col(3_000)]).toBe(BAR_GLYPH.reconciling);
    expect(infra[col(7_000)]).toBe(BAR_GLYPH.health);
    expect(infra[col(10_000)]).toBe(BAR_GLYPH.ready);
    expect(infra.slice(col(10_000) + 1).trim()).toBe('');
    expect(bar(row('other'))[col(3_000)]).toBe(BAR_GLYPH.failed);
    // Each row ends with when it ended, from the push.
    expect(apps).toMatch(/\+40s$/);
    expect(row('infra')).toMatch(/\+10s$/);
  });

  it('marks the critical path and says how much of it was Flux waiting', () => {
    const lines = text(chain(), 120);
    const marked = lines.filter((l) => l.startsWith('* ') && !l.startsWith('* critical')).map((l) => l.slice(2).split(/\s{2,}/)[0]!.trim());
    expect(marked).toEqual(['GitRepository flux-system/fleet', 'Kustomization flux-system/infra', 'Kustomization flux-system/apps']);
    expect(lines.find((l) => l.startsWith('  Kustomization flux-system/other'))).toBeDefined();
    // 40 s: 1 s before the fetch + 0 s + the 28 s requeue after infra was Ready = 29 s waiting; 11 s working.
    expect(lines).toContain('* critical path: 40s from the push; 29s (73%) Flux waiting, 11s working');
    const appsLine = lines.find((l) => /^ {2}Kustomization flux-system\/apps +waited/.test(l))!;
    expect(appsLine).toContain('waited 28s for its dependency Kustomization infra, worked 2.0s');
  });

  it('fits every width and height, keeping the critical path\'s rows when it folds', () => {
    for (let w = 20; w <= 200; w += 7) {
      for (const l of waterfallLines(chain(), { width: w }).map((x) => fitLine(x, Math.max(30, w)))) expect(l.reduce((n, g) => n + textWidth(g.text), 0)).toBeLessThanOrEqual(Math.max(30, w));
    }
    const s = chain();
    // 40 more objects that ended early: over a 20-line height, folded into one line.
    for (let i = 0; i < 40; i++) {
      const n = node('HelmRelease', `svc-${i}`, 'Ready', { namespace: 'apps' });
      s.nodes[n.key] = n;
      s.timeline!.objects[n.key] = { started: { at: T0 + 2_000, from: 'event' }, ready: { at: T0 + 3_000, from: 'event' } };
    }
    const lines = text(s, 100, 20);
    expect(lines.length).toBeLessThanOrEqual(20);
    expect(lines.some((l) => /… \d+ more objects/.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith('* ') && !l.startsWith('* critical'))).toHaveLength(3);
  });

  it('a session without a timeline, or with nothing started yet, says so', () => {
    const s = chain();
    delete s.timeline;
    expect(text(s, 80).join('\n')).toContain('recorded no timeline');
    expect(text({ ...s, timeline: { objects: {} } }, 80).join('\n')).toContain('nothing recorded yet');
  });

  it('hostile timelines: escapes in keys are not printed, absurd times do not blow up the lines', () => {
    const s = chain();
    s.timeline!.objects['\u001b]0;pwned\u0007Kustomization/x/y'] = { started: { at: -1e300, from: 'event' }, ready: { at: 1e300, from: 'condition' } };
    s.timeline!.objects['Kustomization/flux-system/nowhere'] = { waits: [{ from: 5, to: 1, on: 'dependency', blockers: ['\u001b[2J'], reason: '\u001b[31m' }] };
    const out = text(s, 100);
    expect(out.join('\n')).not.toMatch(/\u001b/);
    for (const l of out) expect(textWidth(l)).toBeLessThanOrEqual(100);
  });
});

describe('`t` in the live view', () => {
  it('switches between the tree and the waterfall, and says so in the keys', async () => {
    const app = render(<LiveApp initial={{ ...chain(), status: 'running', verdict: undefined, endedAt: undefined }} subscribe={() => () => undefined} mode="watch" verbosity="normal" color={false} />);
    const frame = () => app.lastFrame() ?? '';
    expect(frame()).toContain('t timeline');
    expect(frame()).not.toContain('Timeline of 3f2a9c1');
    app.stdin.write('t');
    await vi.waitFor(() => expect(frame()).toContain('Timeline of 3f2a9c1'));
    expect(frame()).toContain('* critical path:');
    expect(frame()).toContain('t tree');
    app.stdin.write('t');
    await vi.waitFor(() => expect(frame()).not.toContain('Timeline of 3f2a9c1'));
  });

  it('the waterfall frame keeps to the terminal height', () => {
    const lines = sessionLines({ state: chain(), now: T0 + 40_000, verbosity: 'normal', showAll: false, width: 80, height: 12, spinnerFrame: 0, timeline: true });
    expect(lines.length).toBeLessThanOrEqual(12);
    expect(lines.map((l) => l.map((g) => g.text).join('')).join('\n')).toContain('Timeline of 3f2a9c1');
  });
});

describe('the plain printer', () => {
  it('prints the waterfall as text below the verdict at verbose, not at normal', async () => {
    const { createPlainPrinter } = await import('../../src/ui/plain.js');
    const printed = (verbosity: 'normal' | 'verbose') => {
      let out = '';
      const p = createPlainPrinter({ write: (s: string) => (out += s) }, { verbosity });
      p.finish(chain());
      return out;
    };
    const verbose = printed('verbose');
    expect(verbose).toContain('Timeline of 3f2a9c1');
    expect(verbose).toContain('* critical path: 40s from the push');
    expect(verbose.indexOf('Timeline of')).toBeGreaterThan(verbose.search(/Failed after|\[FAIL\]|✖/));
    expect(printed('normal')).not.toContain('Timeline of');
  });
});
