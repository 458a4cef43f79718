// Ink 6.8's incremental log-update and the correction the live view writes through (src/ui/ink-incremental.ts),
// on the virtual terminal.
import { describe, expect, it } from 'vitest';
// Ink does not export log-update: reach it by path (only to pin down the behaviour the correction relies on).
// @ts-expect-error no types for Ink's internal module
import logUpdate from '../../node_modules/ink/build/log-update.js';
import { fixIncrementalChunk } from '../../src/ui/ink-incremental.js';
import { VirtualTerminal } from './vt.js';

type Log = ((s: string) => void) & { clear(): void };

function run(frames: string[], fix: boolean): VirtualTerminal {
  const vt = new VirtualTerminal(40, 10);
  let afterNewline = false;
  const stream = {
    write(s: string) {
      if (fix) ({ chunk: s, afterNewline } = fixIncrementalChunk(s, afterNewline));
      vt.write(s);
      return true;
    },
  };
  const log = (logUpdate as { create(s: unknown, o: unknown): Log }).create(stream, { incremental: true });
  for (const f of frames) log(f);
  return vt;
}

/** A full redraw of the last frame: what the screen must show. */
function expected(frame: string): string {
  const vt = new VirtualTerminal(40, 10);
  vt.write(frame);
  return vt.text();
}

describe("Ink's incremental rendering", () => {
  const cases: Record<string, string[]> = {
    'the last line changes': ['a\nb\nc\n', 'a\nb\nX\n'],
    'the first line changes': ['a\nb\nc\n', 'X\nb\nc\n'],
    'the frame grows': ['a\nb\n', 'a\nX\nc\nd\n'],
    'the frame shrinks': ['a\nb\nc\nd\n', 'a\nX\n'],
    'one line': ['a\n', 'X\n'],
    'several frames': ['a\nb\nc\n', 'a\nY\nc\n', 'a\nY\nc\nd\n', 'Z\nY\n', 'Z\nY\nW\n'],
  };

  it('as Ink 6.8 writes it, puts changed lines one line too low (if this fails, Ink fixed it: drop the correction)', () => {
    const vt = run(cases['the last line changes']!, false);
    expect(vt.text()).not.toBe(expected('a\nb\nX\n'));
    expect(vt.text()).toBe('a\nb\nc\nX');
  });

  for (const [name, frames] of Object.entries(cases)) {
    it(`corrected, shows what a full redraw shows: ${name}`, () => {
      const vt = run(frames, true);
      expect(vt.text()).toBe(expected(frames.at(-1)!));
      // The cursor waits on the line below the frame, where the next frame starts from.
      expect(vt.cursor()).toEqual({ row: frames.at(-1)!.split('\n').length - 1, col: 0 });
    });
  }
});
