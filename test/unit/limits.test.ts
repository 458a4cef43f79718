// One validation of durations for the flags, the hook file and the MCP arguments (security.md §6, newcomer issue
// §9): the same limits (DURATION_LIMITS), the same words, the flag named `--timeout` and the key `timeout`; nothing
// out of range is silently changed, and nothing past Node's timer limit (2^31-1 ms) gets through.
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../src/commands/args.js';
import demo from '../../src/commands/demo.js';
import history from '../../src/commands/history.js';
import { watchFlags } from '../../src/commands/mcp.js';
import type { CommandIO } from '../../src/commands/types.js';
import { applyFlagOverrides, WATCH_FLAGS } from '../../src/commands/watch.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { checkDuration, DURATION_LIMITS, formatLimit } from '../../src/core/duration.js';
import { DEFAULT_CONFIG } from '../../src/core/types.js';

/** Node's setTimeout fires at once for a delay past this (and warns TimeoutOverflowWarning). */
const NODE_TIMER_MAX = 2 ** 31 - 1;

/** What `watch --FLAG VALUE` says, or the config it runs with. */
function flag(name: string, value: string): { error: string } | { config: typeof DEFAULT_CONFIG } {
  try {
    return { config: applyFlagOverrides(DEFAULT_CONFIG, parseArgs([`--${name}`, value], WATCH_FLAGS)) };
  } catch (err) {
    if (err instanceof UsageError) return { error: err.message };
    throw err;
  }
}

/** What the hook file says about `config: {KEY: VALUE}` (the problem without its position), or the config. */
function hookFile(key: string, value: string): { error: string } | { config: typeof DEFAULT_CONFIG } {
  try {
    return { config: parseConfig(`config:\n  ${key}: ${value}\n`, 'hook.yaml').config };
  } catch (err) {
    if (err instanceof ConfigError) return { error: err.problems.map((p) => p.message).join('\n') };
    throw err;
  }
}

describe('the table of duration limits', () => {
  it('every maximum is far below the timer limit of Node, and is documented', () => {
    for (const [name, l] of Object.entries(DURATION_LIMITS)) {
      expect(l.max, name).toBeLessThan(NODE_TIMER_MAX);
      expect(l.min, name).toBeLessThanOrEqual(l.max);
    }
    expect(DURATION_LIMITS.timeout).toEqual({ min: 1000, max: 24 * 3_600_000 });
    expect(DURATION_LIMITS.polling_interval).toEqual({ min: 250, max: 10 * 60_000 });
    expect([250, 1000, 600_000, 86_400_000, 5_400_000, 0].map(formatLimit)).toEqual(['250ms', '1s', '10m', '24h', '1h30m', '0s']);
    expect(checkDuration('600h', 'timeout')).toEqual({ problem: 'must be a positive duration between 1s and 24h (got "600h")', outOfRange: true });
    expect(checkDuration(90, 'timeout')).toEqual({ ms: 90_000 });
  });
});

describe('durations in flags and in the hook file alike', () => {
  // [flag, key, value as typed, the problem (after the name), or the seconds it gives]
  const CASES: Array<[flag: string, key: string, value: string, expected: string | number]> = [
    ['timeout', 'timeout', '600h', 'must be a positive duration between 1s and 24h (got "600h")'],
    ['timeout', 'timeout', '0', 'must be a positive duration between 1s and 24h (got 0)'],
    ['timeout', 'timeout', '0s', 'must be a positive duration between 1s and 24h (got "0s")'],
    ['timeout', 'timeout', '500ms', 'must be a positive duration between 1s and 24h (got "500ms")'],
    ['timeout', 'timeout', '25h', 'must be a positive duration between 1s and 24h (got "25h")'],
    ['timeout', 'timeout', 'soon', 'must be a positive number of seconds or a duration such as 90s or 5m (got "soon")'],
    ['timeout', 'timeout', '-5', 'must be a positive number of seconds or a duration such as 90s or 5m (got -5)'],
    ['timeout', 'timeout', '24h', 86_400],
    ['timeout', 'timeout', '1s', 1],
    ['timeout', 'timeout', '1.5s', 1.5],
    ['timeout', 'timeout', '90', 90],
    ['timeout', 'timeout', '1h30m', 5400],
    ['poll-interval', 'polling_interval', '0s', 'must be a positive duration between 250ms and 10m (got "0s")'],
    ['poll-interval', 'polling_interval', '0', 'must be a positive duration between 250ms and 10m (got 0)'],
    ['poll-interval', 'polling_interval', '100ms', 'must be a positive duration between 250ms and 10m (got "100ms")'],
    ['poll-interval', 'polling_interval', '11m', 'must be a positive duration between 250ms and 10m (got "11m")'],
    ['poll-interval', 'polling_interval', '250ms', 0.25],
    ['poll-interval', 'polling_interval', '2s', 2],
    ['poll-interval', 'polling_interval', '10m', 600],
    ['fail-fast-grace', 'fail_fast_grace', '2h', 'must be at most 1h (got "2h")'],
    ['fail-fast-grace', 'fail_fast_grace', 'soon', 'must be a positive number of seconds or a duration such as 90s or 5m (got "soon")'],
    ['fail-fast-grace', 'fail_fast_grace', '45s', 45],
    ['fail-fast-grace', 'fail_fast_grace', '0', 0],
  ];

  for (const [f, key, value, expected] of CASES) {
    it(`--${f} ${value} and ${key}: ${value}`, () => {
      const fromFlag = flag(f, value);
      const fromFile = hookFile(key, value);
      if (typeof expected === 'string') {
        // The same problem, named by the flag on the command line and by the key in the file.
        expect(fromFlag).toEqual({ error: `--${f}: ${expected.replace(/\(got (-?[\d.]+)\)$/, '(got "$1")')}` });
        expect(fromFile).toEqual({ error: `${key} ${expected}` });
      } else {
        const field = key as 'timeout' | 'polling_interval' | 'fail_fast_grace';
        expect('config' in fromFlag && fromFlag.config[field]).toBe(expected);
        expect('config' in fromFile && fromFile.config[field]).toBe(expected);
      }
    });
  }

  it('ci_timeout and custom_kinds.wait have their limits in the hook file too', () => {
    expect(hookFile('ci_timeout', '600h')).toEqual({ error: 'ci_timeout must be a positive duration between 1s and 24h (got "600h")' });
    expect(hookFile('ci_timeout', '24h')).toMatchObject({ config: { ci_timeout: 86_400 } });
    const kinds = (wait: string) => hookFile('custom_kinds', `\n    - preset: tekton-pipelineruns\n      wait: ${wait}`);
    expect(kinds('600h')).toEqual({ error: 'custom_kinds.wait must be at most 24h (got "600h")' });
    expect(kinds('25h')).toEqual({ error: 'custom_kinds.wait must be at most 24h (got "25h")' });
    expect(kinds('10m')).toMatchObject({ config: { custom_kinds: [{ wait: 600 }] } });
    expect(kinds('true')).toMatchObject({ config: { custom_kinds: [{ wait: Infinity }] } }); // until the session timeout
    expect(kinds('false')).toMatchObject({ config: { custom_kinds: [{ wait: 0 }] } });
  });

  it('`--timeout 0` is refused, not turned into 1 s; `--poll-interval 0s` is refused, not turned into 250 ms', () => {
    expect(flag('timeout', '0')).toHaveProperty('error');
    expect(flag('poll-interval', '0s')).toHaveProperty('error');
    expect(flag('timeout', '600h')).toHaveProperty('error');
  });

  it('the MCP arguments of watch_commit go through the same flags: 600h, 0 and "0s" are refused with the same words', () => {
    const viaMcp = (a: Parameters<typeof watchFlags>[0]) => {
      try {
        return applyFlagOverrides(DEFAULT_CONFIG, watchFlags(a));
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(viaMcp({ timeout: '600h' })).toBe('--timeout: must be a positive duration between 1s and 24h (got "600h")');
    expect(viaMcp({ timeout: 2_160_000 })).toBe('--timeout: must be a positive duration between 1s and 24h (got "2160000")');
    expect(viaMcp({ pollInterval: '0s' })).toBe('--poll-interval: must be a positive duration between 250ms and 10m (got "0s")');
    expect(viaMcp({ timeout: '5m', pollInterval: 2 })).toMatchObject({ timeout: 300, polling_interval: 2 });
  });
});

describe('other flags name the real problem', () => {
  let dir: string;
  let stderr: string[];
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'fm-limits-')));
    stderr = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const io = (): CommandIO => ({
    stdout: { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream,
    stderr: { write: (s: string) => (stderr.push(s), true) } as unknown as NodeJS.WriteStream,
    stdin: new PassThrough() as unknown as NodeJS.ReadStream,
    env: { XDG_STATE_HOME: join(dir, 'state'), HOME: dir, PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1' },
    cwd: dir,
  });

  it('`demo --speed 0` says what is allowed (not "between 0 and 100")', async () => {
    for (const v of ['0', '-1', '101', 'fast', '']) {
      await expect(demo.run(['--speed', v], io())).rejects.toThrow(new UsageError(`--speed must be a number greater than 0 and at most 100 (got ${JSON.stringify(v)})`));
    }
  });

  it('`history --repo /nonexistent` says there is no such directory, and a directory that is no repository says so, instead of "No sessions yet"', async () => {
    await expect(history.run(['--repo', join(dir, 'nonexistent')], io())).rejects.toThrow(new UsageError(`no such directory: ${join(dir, 'nonexistent')}`));
    mkdirSync(join(dir, 'plain'));
    await expect(history.run(['--repo', join(dir, 'plain')], io())).rejects.toThrow(new UsageError(`not a git repository: ${join(dir, 'plain')}`));
    // --all does not look at --repo.
    expect(await history.run(['--all', '--repo', join(dir, 'nonexistent')], io())).toBe(0);
  });
});
