// Durations as people write them in flags and in the hook file: `300`, `90s`, `5m`, `1h30m`, `1500ms`.
// Pure: used by the config loader and by the command-line flags, which turn the error into their own kind.

export class InvalidDurationError extends Error {
  constructor(readonly text: string) {
    super(`invalid duration "${text}" (use e.g. 90s, 5m, 1h)`);
    this.name = 'InvalidDurationError';
  }
}

/** Parses a duration into milliseconds. Bare numbers are seconds. Throws InvalidDurationError. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
    consumed += m[0].length;
  }
  if (consumed !== t.length || consumed === 0) throw new InvalidDurationError(text);
  return Math.round(total);
}
