// Ink 6.8's incremental renderer (render option incrementalRendering, log-update's createIncremental) starts each
// frame that is not shorter than the previous one with cursorUp(previousVisibleLines - 1). That is right when the
// previous frame ended on its last line (a frame as tall as the terminal, written without a trailing newline),
// but Ink leaves the cursor on the line *below* every other frame (its trailing newline): from there the cursor
// lands on the frame's second line and every changed line is written one line too low (a stale copy of the old
// line stays above it). The live view's frames always end with a newline (they stay below the terminal's height),
// so it writes through this stream wrapper, which moves the cursor up one line more at the start of such a frame.
// test/ui/ink-incremental.test.ts checks both Ink's behaviour (so that an Ink upgrade that fixes it shows) and the
// corrected screen, on a virtual terminal.

// eslint-disable-next-line no-control-regex
const PRIVATE_MODES = /^(?:\u001b\[\?[0-9;]*[hl])+/; // cursor show/hide, synchronized output: no cursor movement
// eslint-disable-next-line no-control-regex
const LEADING_UP = /^\u001b\[(\d+)A/;

/** Rewrites one chunk written by Ink; `afterNewline` is whether the previous frame left the cursor below itself. */
export function fixIncrementalChunk(chunk: string, afterNewline: boolean): { chunk: string; afterNewline: boolean } {
  const prefix = PRIVATE_MODES.exec(chunk)?.[0] ?? '';
  let content = chunk.slice(prefix.length);
  if (content === '') return { chunk, afterNewline };
  const up = LEADING_UP.exec(content);
  if (up && afterNewline) {
    // A count of 0 moves one line on terminals, as Ink's cursorUp(0) for a one-line frame does.
    content = `\u001b[${Math.max(1, Number(up[1])) + 1}A` + content.slice(up[0].length);
  }
  const ends = content.endsWith('\n') || content.endsWith('\u001b[E');
  return { chunk: prefix + content, afterNewline: ends };
}

/** stdout for Ink with incrementalRendering: the same stream, its writes corrected as described above. */
export function incrementalStdout(stdout: NodeJS.WriteStream): NodeJS.WriteStream {
  let afterNewline = false;
  const write = (chunk: unknown, ...rest: unknown[]): boolean => {
    if (typeof chunk === 'string') {
      const fixed = fixIncrementalChunk(chunk, afterNewline);
      afterNewline = fixed.afterNewline;
      chunk = fixed.chunk;
    }
    return (stdout.write as (...a: unknown[]) => boolean)(chunk, ...rest);
  };
  return new Proxy(stdout, {
    get(target, prop) {
      if (prop === 'write') return write;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
