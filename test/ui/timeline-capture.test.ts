// The waterfalls in README.md captured from the real controllers (test/conformance/timeline.test.ts,
// FLUX_MONITOR_TIMELINE_CAPTURE=1): their shape, checked without the controllers and without the clock: a title,
// an axis, one row per object of the chain with the critical path marked through GitRepository → infra → apps, the
// path's summary whose waiting and working add up to its total, and the legend.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BAR_GLYPH } from '../../src/ui/waterfall.js';
import { readTimelineCapture, TIMELINE_CAPTURES, writeTimelineCapture } from './timeline-capture.js';

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

/** `4.5s`, `850ms`, `36s`, `1m05s` in ms (whole seconds for the coarser forms). */
function ms(text: string): number {
  const m = /^(?:(\d+)m)?(\d+(?:\.\d)?)(ms|s)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return (Number(m[1] ?? 0) * 60 + Number(m[2])) * (m[3] === 'ms' ? 1 / 1000 : 1) * 1000;
}

describe('the README waterfalls from the real controllers', () => {
  for (const id of TIMELINE_CAPTURES) {
    it(`${id}: a waterfall of the chain with its critical path`, () => {
      const text = readTimelineCapture(README, id);
      expect(text, `README.md has no filled real-capture:${id} block`).toBeDefined();
      const lines = text!.split('\n');
      expect(lines[0]).toMatch(/^Timeline of [0-9a-f]{7} · push → verdict \S+$/);
      expect(lines[1]).toMatch(/^\s+\|0s\s/);
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
      const rows = lines.filter((l) => /^[* ] (GitRepository|Kustomization) /.test(l));
      const row = (name: string) => rows.find((l) => new RegExp(`^[* ] \\w+ [\\w-]+/${name} `).test(l));
      for (const name of ['repo', 'infra', 'apps']) expect(row(name), name).toBeDefined();
      // Every object of the chain became Ready (its row ends with ✓ and when, from the push); all on the path.
      for (const name of ['repo', 'infra', 'apps']) {
        expect(row(name)!.startsWith('* '), `${name} on the critical path`).toBe(true);
        expect(row(name)).toMatch(new RegExp(`${BAR_GLYPH.ready}\\s+\\+\\S+$`));
      }
      // apps ended after infra, infra after the repository (the columns of their ✓).
      const at = (name: string) => row(name)!.lastIndexOf(BAR_GLYPH.ready);
      expect(at('apps')).toBeGreaterThanOrEqual(at('infra'));
      expect(at('infra')).toBeGreaterThanOrEqual(at('repo'));
      const summary = lines.find((l) => l.startsWith('* critical path: '))!;
      const m = /^\* critical path: (\S+) from the push; (\S+) \((\d+)%\) Flux waiting, (\S+) working$/.exec(summary);
      expect(m, summary).not.toBeNull();
      // Rounded for display: the waiting and the working add up to the total within a second or so.
      expect(Math.abs(ms(m![2]!) + ms(m![4]!) - ms(m![1]!))).toBeLessThanOrEqual(2_000);
      const path = lines.slice(lines.indexOf(summary) + 1).filter((l) => /^ {2}\w+ \S+ +waited /.test(l)).map((l) => l.trim().split(/\s+/).slice(0, 2).join(' '));
      expect(path.at(-1)).toMatch(/^Kustomization \S+\/apps$/);
      expect(path.some((p) => /^Kustomization \S+\/infra$/.test(p))).toBe(true);
      expect(lines.at(-1)).toContain('legend:');
    });
  }

  it('reads and rewrites a block between its markers only', () => {
    const md = 'a\n<!-- real-capture:timeline-flux-alone (note) -->\n```\n```\n<!-- /real-capture -->\nb\n';
    expect(readTimelineCapture(md, 'timeline-flux-alone')).toBe('');
    const next = writeTimelineCapture(md, 'timeline-flux-alone', 'x\ny');
    expect(next).toBe('a\n<!-- real-capture:timeline-flux-alone (note) -->\n```\nx\ny\n```\n<!-- /real-capture -->\nb\n');
    expect(readTimelineCapture(next, 'timeline-flux-alone')).toBe('x\ny');
    expect(() => writeTimelineCapture('no block', 'timeline-flux-alone', 'x')).toThrow(/no real-capture block/);
  });
});
