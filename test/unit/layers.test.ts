// The layers of src/ import downward only (README "Architecture"): commands → ui/session → engine → cluster →
// core. A lower layer that imports a higher one (config reaching into commands for a helper) fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidDurationError, parseDuration } from '../../src/core/duration.js';

const SRC = resolve(import.meta.dirname, '..', '..', 'src');

/** Rank of each layer: a file may import its own layer and lower ranks only. */
const RANK: Record<string, number> = {
  core: 0,
  cluster: 1,
  config: 1,
  git: 1,
  sim: 2,
  engine: 2,
  session: 3,
  ui: 3,
  commands: 4,
  '.': 5, // cli.ts
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : []));
}

const layerOf = (file: string) => relative(SRC, file).split('/').slice(0, -1)[0] ?? '.';

describe('layers', () => {
  it('every relative import in src/ points to the same or a lower layer', () => {
    const upward: string[] = [];
    for (const file of files(SRC)) {
      const text = readFileSync(file, 'utf8');
      const from = layerOf(file);
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = resolve(dirname(file), m[1]!);
        const to = layerOf(target);
        expect(RANK[from], `unknown layer ${from}`).toBeDefined();
        expect(RANK[to], `unknown layer ${to} (imported by ${relative(SRC, file)})`).toBeDefined();
        if (from !== to && RANK[to]! >= RANK[from]!) upward.push(`${relative(SRC, file)} → ${m[1]}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('the duration parser lives in core and is shared by flags and the hook file', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('300')).toBe(300_000);
    expect(parseDuration('1500ms')).toBe(1500);
    expect(() => parseDuration('5 minutes')).toThrow(InvalidDurationError);
  });
});
