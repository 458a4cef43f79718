// Tiny presentation helpers shared by the live view and the plain printer: icons, colours, text width,
// truncation and sanitising. Pure: no I/O, no environment reads.
import type { Phase, Verdict } from '../core/types.js';

/**
 * What a row shows in its phase column: the phase, `Blocked` for a Pending/Waiting object that can no longer
 * move, or `Unchanged` for a Ready object whose readiness the push has not moved (layout.ts shownPhase(), after
 * countKey() in core/types.ts).
 */
export type ShownPhase = Phase | 'Blocked' | 'Unchanged';

/** Icons of the phases. Progressing is drawn with the spinner in the live view; this is its still form. */
export const PHASE_ICON: Record<ShownPhase, string> = {
  Ready: '✔',
  Progressing: '⟳',
  Waiting: '◷',
  Failing: '✗',
  Failed: '✖',
  Stalled: '✖',
  Pending: '○',
  Suspended: '⏸',
  Superseded: '↷',
  Unknown: '?',
  Blocked: '⊘',
  Unchanged: '·',
};

/** ASCII tags of the phases, for logs that must stay 7-bit. All 6 columns wide. */
export const PHASE_TAG: Record<ShownPhase, string> = {
  Ready: '[ OK ]',
  Progressing: '[ .. ]',
  Waiting: '[WAIT]',
  Failing: '[FLNG]',
  Failed: '[FAIL]',
  Stalled: '[FAIL]',
  Pending: '[PEND]',
  Suspended: '[SUSP]',
  Superseded: '[SUPR]',
  Unknown: '[ ?? ]',
  Blocked: '[BLKD]',
  Unchanged: '[SAME]',
};

/** Colour names understood by both Ink (chalk) and the plain printer. */
export type ColorName = 'green' | 'red' | 'yellow' | 'cyan' | 'gray' | 'magenta';

export const PHASE_COLOR: Record<ShownPhase, ColorName> = {
  Ready: 'green',
  Progressing: 'cyan',
  Waiting: 'yellow',
  Failing: 'red',
  Failed: 'red',
  Stalled: 'red',
  Pending: 'gray',
  Suspended: 'magenta',
  Superseded: 'gray',
  Unknown: 'gray',
  Blocked: 'yellow',
  Unchanged: 'gray',
};

export const VERDICT_ICON: Record<Verdict, string> = {
  success: '✔',
  failed: '✖',
  timeout: '◷',
  superseded: '↷',
  stopped: '■',
  error: '✖',
  blocked: '⏸',
};

export const VERDICT_COLOR: Record<Verdict, ColorName> = {
  success: 'green',
  failed: 'red',
  timeout: 'yellow',
  superseded: 'yellow',
  stopped: 'yellow',
  error: 'red',
  blocked: 'magenta',
};

export { VERDICT_TITLE } from '../core/types.js';

/** Braille spinner frames for Progressing rows. */
export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

export function spinnerGlyph(frame: number): string {
  const n = SPINNER_FRAMES.length;
  return SPINNER_FRAMES[((Math.trunc(frame) % n) + n) % n]!;
}

const ANSI_CODE: Record<ColorName, number> = { red: 31, green: 32, yellow: 33, magenta: 35, cyan: 36, gray: 90 };

/** Wraps text in an ANSI SGR colour (for the plain printer; Ink colours through chalk). */
export function ansi(text: string, color: ColorName | undefined, enabled: boolean): string {
  if (!enabled || !color || text === '') return text;
  return `\u001b[${ANSI_CODE[color]}m${text}\u001b[39m`;
}

// ESC/CSI/OSC sequences, then any remaining C0/C1 control character except newline.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-_]|\u009b[0-?]*[ -/]*[@-~]/g;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Removes terminal escapes and control characters from text that came from the cluster; tabs become spaces. */
export function cleanText(s: string | undefined): string {
  if (!s) return '';
  return s.replace(/\r\n?/g, '\n').replace(ESCAPES, '').replace(/\t/g, ' ').replace(CONTROLS, '');
}

/** Text on one line: sanitised, newlines folded into single spaces. */
export function oneLine(s: string | undefined): string {
  return cleanText(s).replace(/\s*\n\s*/g, ' ').trim();
}

/** First non-empty line of a message, sanitised. */
export function firstLine(s: string | undefined): string {
  for (const line of cleanText(s).split('\n')) {
    const t = line.trim();
    if (t) return t;
  }
  return '';
}

/** Terminal columns of one code point: 0 for combining marks, 2 for East Asian wide/fullwidth and emoji. */
function charWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0xfe00 && cp <= 0xfe0f)) {
    return 0;
  }
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** Columns the (escape-free) text takes in a terminal. */
export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

/** Cuts text to at most `width` columns, ending with … when cut. Never wraps. */
export function truncate(s: string, width: number): string {
  if (width <= 0) return '';
  if (textWidth(s) <= width) return s;
  let out = '';
  let w = 0;
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + '…';
}

/**
 * Cuts text to at most `width` columns from the middle (`monitoring-crds` → `moni…g-crds`), keeping its start and
 * its end: names that differ only at the end (a suffix such as `-crds`) stay apart. `tail` is the share of the
 * kept columns given to the end.
 */
export function truncateMiddle(s: string, width: number, tail = 0.5): string {
  if (width <= 0) return '';
  if (textWidth(s) <= width) return s;
  if (width <= 2) return truncate(s, width);
  const room = width - 1;
  const tailRoom = Math.min(room - 1, Math.max(1, Math.round(room * tail)));
  const chars = [...s];
  let head = '';
  let w = 0;
  for (const ch of chars) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > room - tailRoom) break;
    head += ch;
    w += cw;
  }
  let end = '';
  let tw = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const cw = charWidth(chars[i]!.codePointAt(0)!);
    if (tw + cw > tailRoom) break;
    end = chars[i]! + end;
    tw += cw;
  }
  return `${head}…${end}`;
}

/** Pads with spaces to `width` columns (no-op when already wider). */
export function padEnd(s: string, width: number): string {
  const w = textWidth(s);
  return w >= width ? s : s + ' '.repeat(width - w);
}

export function padStart(s: string, width: number): string {
  const w = textWidth(s);
  return w >= width ? s : ' '.repeat(width - w) + s;
}

/** Wraps one line into chunks of at most `width` columns, at spaces where possible (for verbose messages). */
export function wrapLine(s: string, width: number): string[] {
  if (width <= 0 || textWidth(s) <= width) return [s];
  const out: string[] = [];
  let cur = '';
  const flush = () => {
    if (cur) out.push(cur.trimEnd());
    cur = '';
  };
  for (const word of s.split(/(?<= )/)) {
    if (textWidth(cur + word.trimEnd()) <= width) {
      cur += word;
      continue;
    }
    flush();
    // A word longer than the line is cut into pieces.
    let rest = word;
    while (textWidth(rest.trimEnd()) > width) {
      let piece = '';
      for (const ch of rest) {
        if (textWidth(piece + ch) > width) break;
        piece += ch;
      }
      if (!piece) piece = String.fromCodePoint(rest.codePointAt(0)!); // wider than the whole line: emit anyway
      out.push(piece);
      rest = rest.slice(piece.length);
    }
    cur = rest;
  }
  flush();
  return out;
}

/** A repository URL for display: no scheme, no user info, no `.git` (`github.com/acme/fleet`). */
export function shortUrl(url: string | undefined): string {
  return oneLine(url)
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/^[^@/]+@/, '')
    .replace(/\.git$/, '')
    .replace(/\/$/, '');
}

/** Cuts a line of styled segments to `width` columns (… at the cut): the live view's rows and the waterfall's. */
export function fitLine<S extends { text: string }>(line: S[], width: number): S[] {
  let total = 0;
  for (const g of line) total += textWidth(g.text);
  if (total <= width) return line;
  const out: S[] = [];
  let room = width;
  for (const g of line) {
    const w = textWidth(g.text);
    if (w < room) {
      out.push(g);
      room -= w;
      continue;
    }
    // This segment reaches the edge: cut it here (truncate adds the …).
    out.push({ ...g, text: truncate(g.text, room) });
    break;
  }
  return out;
}
