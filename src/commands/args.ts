// Tiny, strict command-line parser shared by every command (no dependency needed).
import { checkDuration, InvalidDurationError, parseDuration, type DurationSetting } from '../core/duration.js';

export interface FlagSpec {
  /** Flag takes a value (`--timeout 5m` or `--timeout=5m`). */
  value?: boolean;
  /** Short alias, without the dash. */
  short?: string;
  /** May be given more than once; values are collected. */
  multiple?: boolean;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[]>;
  positionals: string[];
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) if (s.short) byShort.set(s.short, name);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq >= 0 ? a.slice(eq + 1) : undefined;
    } else if (a.startsWith('-') && a.length > 1) {
      name = byShort.get(a.slice(1));
      if (!name) throw new UsageError(`unknown flag ${a}`);
    } else {
      positionals.push(a);
      continue;
    }
    const s = spec[name];
    if (!s) throw new UsageError(`unknown flag --${name}`);
    let v: string | boolean;
    if (s.value) {
      if (inline !== undefined) v = inline;
      else {
        const next = argv[i + 1];
        if (next === undefined) throw new UsageError(`--${name} needs a value`);
        v = next;
        i++;
      }
    } else {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      v = true;
    }
    if (s.multiple) {
      const prev = flags[name];
      flags[name] = [...(Array.isArray(prev) ? prev : []), String(v)];
    } else flags[name] = v;
  }
  return { flags, positionals };
}

export function str(p: ParsedArgs, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function bool(p: ParsedArgs, name: string): boolean {
  return p.flags[name] === true;
}

export function list(p: ParsedArgs, name: string): string[] {
  const v = p.flags[name];
  if (Array.isArray(v)) return v.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
  if (typeof v === 'string') return v.split(',').map((x) => x.trim()).filter(Boolean);
  return [];
}

/**
 * A duration flag (`--timeout 5m`) in milliseconds; a malformed one is a usage error. With `setting`, the value
 * must also be within that setting's limits (DURATION_LIMITS in core/duration.ts, the same as the hook file's),
 * and the error names the flag: `--timeout: must be a positive duration between 1s and 24h (got "600h")`.
 */
export function duration(p: ParsedArgs, name: string, setting?: DurationSetting): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (setting) {
    const r = checkDuration(v, setting);
    if ('problem' in r) throw new UsageError(`--${name}: ${r.problem}`);
    return r.ms;
  }
  try {
    return parseDuration(v);
  } catch (err) {
    if (err instanceof InvalidDurationError) throw new UsageError(`--${name}: ${err.message}`);
    throw err;
  }
}
