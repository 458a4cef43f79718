// How to present a session: the live Ink view (interactive terminal) or the plain line printer (pipes, CI,
// dumb terminals), and whether to colour. Pure functions of the environment and the stream passed in.

type Env = Record<string, string | undefined>;

/** An environment flag counts as set when present and not empty, "0" or "false". */
function flagSet(v: string | undefined): boolean {
  if (v === undefined) return false;
  const t = v.trim().toLowerCase();
  return t !== '' && t !== '0' && t !== 'false';
}

/** True when the live Ink view should be used: stdout is a terminal, not in CI, and the terminal is not dumb. */
export function shouldUseInk(env: Env, stdout: { isTTY?: boolean }): boolean {
  if (!stdout.isTTY) return false;
  if (flagSet(env.CI) || flagSet(env.CONTINUOUS_INTEGRATION)) return false;
  if (env.TERM === 'dumb') return false;
  return true;
}

/**
 * Whether colours may be used: false when NO_COLOR is set to a non-empty value (https://no-color.org),
 * when FORCE_COLOR is "0"/"false", or TERM=dumb. Otherwise true (the terminal's own support still applies).
 */
export function colorEnabled(env: Env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR?.trim().toLowerCase();
  if (force === '0' || force === 'false') return false;
  if (env.TERM === 'dumb') return false;
  return true;
}
