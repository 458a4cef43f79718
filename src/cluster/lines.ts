// Splits a watch stream into lines (one JSON event each) as its chunks arrive. Each byte is looked at once: a
// chunk is searched from where the previous search stopped, never the whole unfinished line again, and the pieces
// of a line are joined once, when its newline comes. (Appending chunks to one string and searching it from its
// start on every chunk costs the square of the line's length: minutes of CPU for a 64 MB line sent in small
// chunks.) Lines are split on bytes: a newline byte never occurs inside a multi-byte UTF-8 character.

const NL = 0x0a;

export type SplitResult = 'ok' | 'stopped' | 'too-large';

export class LineSplitter {
  private parts: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes looked at for a newline, over the life of the splitter: at most the bytes written. */
  scanned = 0;

  /** @param maxLine the longest line accepted, in bytes (a longer one makes write() answer 'too-large'). */
  constructor(private readonly maxLine: number) {}

  /** Bytes of the line not finished yet. */
  get pending(): number {
    return this.pendingBytes;
  }

  /**
   * Calls `onLine` with each line the chunk completes (without its newline, decoded as UTF-8). `onLine` returns
   * false to stop: the rest of the chunk is dropped and write() answers 'stopped'.
   */
  write(chunk: Buffer, onLine: (line: string) => boolean): SplitResult {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start);
      if (nl < 0) {
        this.scanned += chunk.length - start;
        break;
      }
      this.scanned += nl + 1 - start;
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      let line: Buffer = piece;
      if (this.parts.length > 0) {
        this.parts.push(piece);
        line = Buffer.concat(this.parts, this.pendingBytes + piece.length);
        this.parts = [];
        this.pendingBytes = 0;
      }
      if (line.length > this.maxLine) return 'too-large';
      if (!onLine(line.toString('utf8'))) return 'stopped';
    }
    if (start < chunk.length) {
      const tail = chunk.subarray(start);
      this.parts.push(tail);
      this.pendingBytes += tail.length;
      if (this.pendingBytes > this.maxLine) return 'too-large';
    }
    return 'ok';
  }
}
