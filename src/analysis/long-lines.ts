/**
 * The longest command lines of a file, one per command word: what a printer whose firmware reads
 * only so many characters per line (Marlin: 95 with the line number and checksum) would choke on.
 * The job checks them against the firmware's limit before the print starts (src/jobs/plan.ts);
 * per word, because some long lines (Klipper's `EXCLUDE_OBJECT_DEFINE … POLYGON=[…]`) are left
 * out for firmware that does not know them, and the others must still be checked.
 */

/** Lines with at most this many characters (comment and surrounding blanks stripped) are not recorded: every firmware limit is well above. */
export const LONG_LINE = 60;
/** Distinct command words recorded at most (a hostile file cannot grow the result). */
const MAX_WORDS = 64;
/** How much of a line's text is kept (enough to tell what it is and which quirk skips it). */
const TEXT_KEPT = 256;

/** The longest line of one command word: its 1-based line number, its length in characters and the start of its text. */
export interface LongLine {
  line: number;
  length: number;
  text: string;
}

const isBlank = (c: number) => c === 32 || c === 9 || c === 13;
const decoder = new TextDecoder();

export class LongLines {
  private readonly byWord = new Map<string, LongLine>();

  /**
   * Looks at the command part of a line: `buf[start, end)` without the comment. Cheap unless the
   * bytes already exceed {@link LONG_LINE}.
   */
  note(buf: Uint8Array, start: number, end: number, line: number): void {
    if (end - start <= LONG_LINE) return;
    while (start < end && isBlank(buf[start]!)) start++;
    while (end > start && isBlank(buf[end - 1]!)) end--;
    // Characters, not bytes (the host sends each as one byte: non-ASCII becomes `?`).
    let length = 0;
    for (let i = start; i < end; i++) if ((buf[i]! & 0xc0) !== 0x80) length++;
    if (length <= LONG_LINE) return;
    const text = decoder.decode(buf.subarray(start, Math.min(end, start + TEXT_KEPT * 4))).slice(0, TEXT_KEPT);
    const space = text.search(/\s/);
    const word = (space < 0 ? text : text.slice(0, space)).toUpperCase();
    const known = this.byWord.get(word);
    if (known ? length > known.length : this.byWord.size < MAX_WORDS) this.byWord.set(word, { line, length, text });
  }

  /** Longest first. */
  result(): LongLine[] {
    return [...this.byWord.values()].sort((a, b) => b.length - a.length || a.line - b.line);
  }
}
