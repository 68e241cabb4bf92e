/**
 * Splits what a printer sends into lines: bytes in, one string per line out (without its `\n` or
 * `\r\n`), decoded as UTF-8 once the whole line is there (a character split between two reads
 * decodes whole; a newline byte never occurs inside one). Pure: no I/O.
 *
 * Most of a print's traffic is the same few short lines (`ok`, `ok P15 B3`, `wait`), so short
 * lines are looked up by their bytes in a small table of recent ones: the usual line costs a
 * scan of its bytes and no decoding or allocation — the serial path's hot spot on a fast link.
 *
 * Example: `new LineSplitter().push(bytes("ok\r\nok P1"), f)` calls `f("ok")`; `P1` waits for its newline.
 */

/** Lines up to this many bytes are remembered. */
const SHORT = 32;
const TABLE = 64; // a power of two

/**
 * Where an unfinished line is kept so that another thread can read it (a printer thread stopped
 * mid-reply, see src/printers/handoff.ts): `bytes` holds it while it fits, `publish` tells its
 * length after every push (-1: it did not fit).
 */
export interface SharedPartial {
  bytes: Uint8Array;
  publish(length: number): void;
}

export class LineSplitter {
  private readonly decoder = new TextDecoder();
  // The start of a line whose newline has not come yet.
  private partial: Uint8Array;
  private partialLength = 0;
  // Recent short lines by a hash of their bytes: the bytes (to compare) and the text.
  private readonly known: ({ bytes: Uint8Array; text: string } | undefined)[] = new Array(TABLE);

  constructor(private readonly shared?: SharedPartial) {
    this.partial = shared?.bytes ?? new Uint8Array(256);
  }

  /** Feeds bytes as they arrived; `line` is called for every line they complete, in order. */
  push(chunk: Uint8Array, line: (text: string) => void): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== 10) continue;
      if (this.partialLength === 0) line(this.text(chunk, start, i));
      else {
        this.keep(chunk, start, i);
        line(this.text(this.partial, 0, this.partialLength));
        this.partialLength = 0;
        // A line longer than the shared room was kept apart: the next goes back there.
        if (this.shared && this.partial !== this.shared.bytes) this.partial = this.shared.bytes;
      }
      start = i + 1;
    }
    if (start < chunk.length) this.keep(chunk, start, chunk.length);
    if (this.shared) this.publish(this.shared);
  }

  /** Forgets an unfinished line (the link was closed). */
  reset(): void {
    this.partialLength = 0;
    if (this.shared) {
      this.partial = this.shared.bytes;
      this.publish(this.shared);
    }
  }

  private publish(shared: SharedPartial): void {
    shared.publish(this.partial === shared.bytes ? this.partialLength : -1);
  }

  private keep(chunk: Uint8Array, from: number, to: number): void {
    const need = this.partialLength + (to - from);
    if (need > this.partial.length) {
      const grown = new Uint8Array(Math.max(need, this.partial.length * 2));
      grown.set(this.partial.subarray(0, this.partialLength));
      this.partial = grown;
    }
    this.partial.set(chunk.subarray(from, to), this.partialLength);
    this.partialLength = need;
  }

  /** The text of bytes [from, to) less a trailing `\r`. */
  private text(bytes: Uint8Array, from: number, to: number): string {
    if (to > from && bytes[to - 1] === 13) to--;
    const length = to - from;
    if (length > SHORT) return this.decoder.decode(bytes.subarray(from, to));
    let hash = length;
    for (let i = from; i < to; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    const slot = (hash ^ (hash >>> 16)) & (TABLE - 1);
    const entry = this.known[slot];
    if (entry && entry.bytes.length === length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (entry.bytes[i] !== bytes[from + i]) {
          same = false;
          break;
        }
      }
      if (same) return entry.text;
    }
    const copy = bytes.slice(from, to);
    const text = this.decoder.decode(copy);
    this.known[slot] = { bytes: copy, text };
    return text;
  }
}
