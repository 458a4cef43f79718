// Parses a LIST response as it arrives: each element of the top-level `items` array is parsed on its own as soon
// as it is complete, and the rest of the document (apiVersion, kind, metadata) separately. A list of 10,000 Flux
// objects is then never one multi-megabyte buffer, nor one multi-megabyte string, nor one parse of everything at
// once: the monitor's memory high-water mark (which its RSS keeps) is set by the objects, not by the response.
// The result is the same value as JSON.parse of the whole body.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const COMMA = 0x2c;
const ITEMS = Buffer.from('items');

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

export class ListBodyParser {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Inside the top-level `items` array. */
  private inItems = false;
  private itemsSeen = false;
  /** The bytes of the document outside the items' elements. */
  private rest: Buffer[] = [];
  /** The bytes of the element being read, when one is. */
  private item: Buffer[] | undefined;
  /** The last string read at depth 1 (a key, when followed by `[`), up to a few bytes. */
  private key: number[] = [];
  private keyTooLong = false;
  private readonly items: unknown[] = [];

  write(chunk: Buffer): void {
    let restFrom = this.inItems ? -1 : 0;
    let itemFrom = this.item ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
        else if (this.depth === 1 && !this.inItems) {
          if (this.key.length < ITEMS.length + 1) this.key.push(b);
          else this.keyTooLong = true;
        }
        continue;
      }
      if (this.inItems && this.depth === 2) {
        // Between or at the end of elements of the items array.
        if (b === COMMA || b === CLOSE_ARR) {
          if (this.item) {
            this.item.push(chunk.subarray(itemFrom, i));
            this.finishItem();
            itemFrom = -1;
          }
          if (b === CLOSE_ARR) {
            this.inItems = false;
            this.depth = 1;
            restFrom = i; // the `]` goes to the rest: `"items":[]`
          }
          continue;
        }
        if (isSpace(b)) continue;
        if (!this.item) {
          this.item = [];
          itemFrom = i;
        }
      }
      if (b === QUOTE) {
        this.inString = true;
        if (this.depth === 1 && !this.inItems) {
          this.key = [];
          this.keyTooLong = false;
        }
      } else if (b === OPEN_OBJ || b === OPEN_ARR) {
        if (b === OPEN_ARR && this.depth === 1 && !this.itemsSeen && !this.keyTooLong && ITEMS.equals(Buffer.from(this.key))) {
          // `"items":[`: the `[` stays in the rest, the elements are read one by one.
          this.itemsSeen = true;
          this.inItems = true;
          this.rest.push(chunk.subarray(restFrom, i + 1));
          restFrom = -1;
          this.depth = 2;
          continue;
        }
        this.depth++;
      } else if (b === CLOSE_OBJ || b === CLOSE_ARR) {
        this.depth--;
      } else if (b === COMMA && this.depth === 1) {
        this.keyTooLong = true; // the last string was a value (or an element), not the key of what follows
      }
    }
    if (this.item && itemFrom >= 0) this.item.push(chunk.subarray(itemFrom));
    if (!this.inItems && restFrom >= 0) this.rest.push(chunk.subarray(restFrom));
  }

  private finishItem(): void {
    const text = Buffer.concat(this.item!).toString('utf8').trim();
    this.item = undefined;
    if (text) this.items.push(JSON.parse(text));
  }

  /** The parsed document; throws (a SyntaxError) when it is not valid JSON. */
  end(): unknown {
    if (this.inItems || this.item || this.inString) throw new SyntaxError('Unexpected end of JSON input');
    const text = Buffer.concat(this.rest).toString('utf8');
    this.rest = [];
    if (!text.trim()) return undefined;
    const doc = JSON.parse(text) as Record<string, unknown>;
    if (this.itemsSeen && doc && typeof doc === 'object' && Array.isArray(doc.items)) doc.items = this.items;
    return doc;
  }
}
