// A terminal for the tests of the live view: stdout writes go to a virtual terminal (vt.ts), which shows what the
// user would see; stdin can be typed into (raw mode when it is a TTY).
import { EventEmitter } from 'node:events';
import { VirtualTerminal } from './vt.js';

/** A terminal's stdout: what is written goes to a virtual terminal, which shows what the user would see. */
export class FakeStdout extends EventEmitter {
  isTTY = true;
  output = '';
  vt: VirtualTerminal;
  constructor(
    public columns = 80,
    public rows = 20,
  ) {
    super();
    this.vt = new VirtualTerminal(columns, rows);
  }
  write(s: string): boolean {
    this.output += s;
    this.vt.write(s);
    return true;
  }
  /** The screen as the user sees it now. */
  screen(): string {
    return this.vt.text();
  }
  /** The terminal is resized: a new screen keeps what the old one showed, as far as it fits. */
  resize(columns: number, rows: number): void {
    const vt = new VirtualTerminal(columns, rows);
    const shown = this.vt.text().split('\n');
    const { row } = this.vt.cursor();
    // Replay the visible lines, the cursor back where it was (on the line after the live area).
    vt.write(shown.slice(0, rows).map((l) => l.slice(0, columns)).join('\n') + '\n'.repeat(Math.max(0, row - shown.length + 1)));
    this.vt = vt;
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

export class FakeStdin extends EventEmitter {
  private queue: string[] = [];
  constructor(readonly isTTY: boolean) {
    super();
    if (isTTY) Object.assign(this, { setRawMode: () => this });
  }
  setEncoding(): void {}
  resume(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  ref(): void {}
  unref(): void {}
  read(): string | null {
    return this.queue.shift() ?? null;
  }
  type(s: string): void {
    this.queue.push(s);
    this.emit('readable');
  }
}
