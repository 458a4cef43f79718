// A small virtual terminal for tests that read what the live view wrote: it applies the text and the escape
// sequences Ink's log-update emits (cursor up/down/next line/column, erase line/end of line, clear screen) to a
// screen of `rows` x `columns`, the way a terminal would, instead of concatenating the writes. Pure; no I/O.
//
// What it models: printable characters overwrite cells and advance the cursor (one cell per code point), with
// autowrap at the right margin; "\n" moves to the start of the next line (a tty's onlcr), scrolling the screen
// when it is on the last row; "\r" goes to column 0. CSI A/B/E move up/down/to the next line and stop at the
// screen's edges without scrolling (as VT100s do; a count of 0 moves 1), G/H place the cursor, K and 2K erase,
// 2J clears the screen, 3J the scrollback. SGR (colours), private modes (cursor show/hide, synchronized output)
// and OSC sequences change nothing on the screen and are dropped. Lines that scroll off the top go to the
// scrollback.

export class VirtualTerminal {
  /** Lines scrolled off the top, oldest first. */
  readonly scrollback: string[][] = [];
  private screen: string[][];
  private row = 0;
  private col = 0;
  /** Bytes (UTF-8) written so far. */
  bytes = 0;
  /** Number of write() calls so far. */
  writes = 0;

  constructor(
    readonly columns = 80,
    readonly rows = 24,
  ) {
    this.screen = Array.from({ length: rows }, () => []);
  }

  write(data: string): void {
    this.writes++;
    this.bytes += Buffer.byteLength(data);
    let i = 0;
    while (i < data.length) {
      const ch = data[i]!;
      if (ch === '\u001b') {
        i = this.escape(data, i);
        continue;
      }
      if (ch === '\n') this.lineFeed();
      else if (ch === '\r') this.col = 0;
      else if (ch === '\u0007' || ch === '\u0008') {
        if (ch === '\u0008') this.col = Math.max(0, this.col - 1);
      } else {
        const cp = data.codePointAt(i)!;
        const s = String.fromCodePoint(cp);
        this.put(s);
        i += s.length;
        continue;
      }
      i++;
    }
  }

  /** The visible screen, each line without trailing blanks, trailing empty lines dropped. */
  text(): string {
    return trimLines(this.screen.map(render));
  }

  /** Scrollback and screen together. */
  all(): string {
    return trimLines([...this.scrollback, ...this.screen].map(render));
  }

  /** The cursor, 0-based, on the screen. */
  cursor(): { row: number; col: number } {
    return { row: this.row, col: this.col };
  }

  private put(s: string): void {
    if (this.col >= this.columns) {
      // Autowrap: the character goes to the start of the next line.
      this.lineFeed();
    }
    const line = this.screen[this.row]!;
    while (line.length < this.col) line.push(' ');
    line[this.col] = s;
    this.col++;
  }

  private lineFeed(): void {
    this.col = 0;
    if (this.row < this.rows - 1) {
      this.row++;
      return;
    }
    this.scrollback.push(this.screen.shift()!);
    this.screen.push([]);
  }

  /** Applies the escape sequence at data[i] (an ESC); returns the index after it. */
  private escape(data: string, i: number): number {
    const next = data[i + 1];
    if (next === ']') {
      // OSC: up to BEL or ST.
      const bel = data.indexOf('\u0007', i);
      const st = data.indexOf('\u001b\\', i);
      const ends = [bel >= 0 ? bel + 1 : -1, st >= 0 ? st + 2 : -1].filter((e) => e > 0);
      return ends.length ? Math.min(...ends) : data.length;
    }
    if (next !== '[') return i + 2; // a two-character escape (ESC 7, ESC 8, ...): nothing we draw with
    let j = i + 2;
    while (j < data.length && /[0-9;?<>=]/.test(data[j]!)) j++;
    const params = data.slice(i + 2, j);
    const final = data[j];
    const end = j + 1;
    if (final === undefined) return data.length;
    if (/^[?<>=]/.test(params)) return end; // private modes, kitty keyboard: nothing on the screen
    const nums = params === '' ? [] : params.split(';').map((p) => (p === '' ? 0 : Number(p)));
    const n = Math.max(1, nums[0] ?? 1); // a count of 0 means 1
    switch (final) {
      case 'A':
        this.row = Math.max(0, this.row - n);
        break;
      case 'B':
        this.row = Math.min(this.rows - 1, this.row + n);
        break;
      case 'E':
        this.row = Math.min(this.rows - 1, this.row + n);
        this.col = 0;
        break;
      case 'F':
        this.row = Math.max(0, this.row - n);
        this.col = 0;
        break;
      case 'G':
        this.col = Math.min(this.columns - 1, n - 1);
        break;
      case 'H':
      case 'f':
        this.row = Math.min(this.rows - 1, Math.max(1, nums[0] ?? 1) - 1);
        this.col = Math.min(this.columns - 1, Math.max(1, nums[1] ?? 1) - 1);
        break;
      case 'K': {
        const mode = nums[0] ?? 0;
        const line = this.screen[this.row]!;
        if (mode === 0) line.length = Math.min(line.length, this.col);
        else if (mode === 1) for (let k = 0; k <= this.col && k < line.length; k++) line[k] = ' ';
        else this.screen[this.row] = [];
        break;
      }
      case 'J': {
        const mode = nums[0] ?? 0;
        if (mode === 2) this.screen = Array.from({ length: this.rows }, () => []);
        else if (mode === 3) this.scrollback.length = 0;
        else if (mode === 0) {
          this.screen[this.row]!.length = Math.min(this.screen[this.row]!.length, this.col);
          for (let r = this.row + 1; r < this.rows; r++) this.screen[r] = [];
        }
        break;
      }
      default:
        // m (SGR) and anything else: no effect on the text.
        break;
    }
    return end;
  }
}

function render(cells: string[]): string {
  return cells.join('').trimEnd();
}

function trimLines(lines: string[]): string {
  let n = lines.length;
  while (n > 0 && lines[n - 1] === '') n--;
  return lines.slice(0, n).join('\n');
}
