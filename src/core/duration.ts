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

/** Go's time units (time.ParseDuration's table: `us`, `µs` U+00B5 and `μs` U+03BC are all microseconds), in ms. */
const GO_UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * A duration in Go's syntax (time.ParseDuration: one or more `<number><unit>`, `0` alone; no sign here), in ms;
 * undefined when `text` is not one or the total is over `max`. Shared by what people write in Flux objects
 * (waits.ts parseGoDuration, `spec.interval`, controller flags) and what the controllers print (flux-wait.ts
 * parseDurationString, which first checks Go's Duration.String() form).
 */
export function goDurationMs(text: string, max: number): number | undefined {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * GO_UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== text.length || !Number.isFinite(total) || total > max) return undefined;
  return Math.round(total);
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** The range a duration setting must be in, in milliseconds (both ends allowed). */
export interface DurationLimit {
  min: number;
  max: number;
}

/**
 * The one table of duration limits, shared by the flags (`--timeout`, `--poll-interval`), the hook file
 * (`timeout`, `ci_timeout`, `polling_interval`, `custom_kinds.wait`) and the MCP arguments (which go through the
 * flags). The maxima keep every timer far below Node's limit of 2^31-1 ms (about 24.8 days): past it, a timer
 * fires at once (`--timeout 600h` used to end the session after a few ms). docs/config.md documents them.
 */
export const DURATION_LIMITS = {
  /** The session timeout. */
  timeout: { min: SECOND, max: 24 * HOUR },
  /** How long CI may take to publish the artifact of the pushed commit. */
  ci_timeout: { min: SECOND, max: 24 * HOUR },
  /** The base polling period (the engine never polls faster than every 250 ms). */
  polling_interval: { min: 250, max: 10 * MINUTE },
  /** How long the verdict waits for a first object of a custom kind (0: not at all). */
  custom_wait: { min: 0, max: 24 * HOUR },
  /** How long fail-fast evidence must hold before the verdict (0: at once). */
  fail_fast_grace: { min: 0, max: HOUR },
} as const satisfies Record<string, DurationLimit>;

export type DurationSetting = keyof typeof DURATION_LIMITS;

/** A limit as people write it: `250ms`, `1s`, `10m`, `24h`, `1h30m`. */
export function formatLimit(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % SECOND) return `${ms}ms`;
  const h = Math.floor(ms / HOUR);
  const m = Math.floor((ms % HOUR) / MINUTE);
  const s = Math.floor((ms % MINUTE) / SECOND);
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

/**
 * Why a duration setting is invalid, without the setting's name (the caller puts the flag `--timeout` or the key
 * `timeout` in front), or its value in ms. `value` is the text of a flag, or what the hook file holds (a number
 * of seconds or a duration string). The same words for flags, the hook file and MCP arguments.
 */
export function checkDuration(value: unknown, setting: DurationSetting): { ms: number } | { problem: string; outOfRange: boolean } {
  const limit: DurationLimit = DURATION_LIMITS[setting];
  const got = value === null || value === undefined ? 'nothing' : typeof value === 'string' ? JSON.stringify(value) : String(value);
  let ms: number | undefined;
  if (typeof value === 'number') ms = Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  else if (typeof value === 'string') {
    try {
      ms = parseDuration(value);
    } catch {
      ms = undefined;
    }
  }
  if (ms === undefined || !Number.isFinite(ms)) return { problem: `must be a positive number of seconds or a duration such as 90s or 5m (got ${got})`, outOfRange: false };
  if (ms < limit.min || ms > limit.max) {
    const range = limit.min > 0 ? `a positive duration between ${formatLimit(limit.min)} and ${formatLimit(limit.max)}` : `at most ${formatLimit(limit.max)}`;
    return { problem: `must be ${range} (got ${got})`, outOfRange: true };
  }
  return { ms };
}
