/**
 * Reads a G-code file for streaming: incrementally, a chunk at a time (a 2 GB file costs no
 * RAM), yielding cleaned commands with the byte offset where each line ends (progress by bytes,
 * and the point to resume from). The next chunk is prefetched while the current one drains, so
 * the serial path never waits on the disk.
 */

export interface SourceLine {
  /** The command without comment or surrounding whitespace; never empty. */
  command: string;
  /** Byte offset just past this line's newline. */
  end: number;
  /** Its line number in the file (1-based, comment and blank lines counted). */
  line: number;
}

const CHUNK = 256 * 1024;

/** What `String.prototype.trim` removes, among latin1 characters: tab, LF, VT, FF, CR, space, NBSP. */
function isBlank(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 160;
}

export class GcodeSource {
  private buffer: Buffer = Buffer.alloc(0);
  private pos = 0; // read position inside `buffer`
  private bufferStart: number; // file offset of buffer[0]
  private loadedTo: number; // file offset up to which bytes are in `buffer`
  private loading: Promise<void> | undefined;
  private readError: Error | undefined;
  /** Line number of the next line to read. */
  private lineNo: number;

  /** `start` lets a job resume from a byte offset (it must be a line start, line number `startLine`). */
  constructor(
    private readonly path: string,
    readonly size: number,
    start = 0,
    startLine = 1,
  ) {
    this.bufferStart = start;
    this.loadedTo = start;
    this.lineNo = startLine;
  }

  /** True once every line has been returned. */
  get done(): boolean {
    return this.loadedTo >= this.size && this.pos >= this.buffer.length;
  }

  /** A read failure (file deleted or disk error) is kept here and ends the stream. */
  get error(): Error | undefined {
    return this.readError;
  }

  /**
   * The next command, or undefined when the loaded bytes are used up (then await `fill()`,
   * unless `done`). One pass over the line's bytes finds its end, its comment and the command's
   * ends, so only the command itself becomes a string (the same string `clean` would give of the
   * line read as latin1); comment-only and blank lines allocate nothing.
   */
  next(): SourceLine | undefined {
    const buf = this.buffer;
    const len = buf.length;
    while (this.pos < len) {
      // The command: from its first to its last non-blank byte before the newline or a `;`.
      let first = -1;
      let last = -1;
      let i = this.pos;
      let c = 0;
      for (; i < len; i++) {
        c = buf[i]!;
        if (c === 10 || c === 59 /* ; */) break;
        if (!isBlank(c)) {
          if (first < 0) first = i;
          last = i;
        }
      }
      // The end of the line: here, or past the comment.
      let nl = c === 10 ? i : buf.indexOf(10, i);
      if (nl < 0) {
        if (this.loadedTo < this.size) return undefined; // the line continues in the next chunk
        nl = len; // last line without a newline
      }
      this.pos = nl + 1;
      const line = this.lineNo++;
      if (first >= 0) return { command: buf.toString("latin1", first, last + 1), end: Math.min(this.bufferStart + nl + 1, this.size), line };
    }
    return undefined;
  }

  /**
   * The next command if its line ends at or before byte `end`; null when it ends past it (that
   * line is read again by the next call); undefined when the loaded bytes are used up (`next`).
   */
  nextWithin(end: number): SourceLine | null | undefined {
    const pos = this.pos;
    const lineNo = this.lineNo;
    const line = this.next();
    if (line === undefined || line.end <= end) return line;
    this.pos = pos;
    this.lineNo = lineNo;
    return null;
  }

  /** The byte offset of the next byte to read (the start of the next line). */
  get offset(): number {
    return this.bufferStart + this.pos;
  }

  /** Whether a fill should start now: less than half a chunk left and more on disk. */
  wantsFill(): boolean {
    return this.loading === undefined && this.loadedTo < this.size && this.buffer.length - this.pos < CHUNK / 2;
  }

  /** Loads the next chunk (keeping the unread tail); concurrent calls share one read. */
  fill(): Promise<void> {
    if (this.loading) return this.loading;
    if (this.loadedTo >= this.size) return Promise.resolve();
    this.loading = this.read().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async read(): Promise<void> {
    const from = this.loadedTo;
    const to = Math.min(from + CHUNK, this.size);
    let bytes: Buffer;
    try {
      bytes = Buffer.from(await Bun.file(this.path).slice(from, to).arrayBuffer());
    } catch (e) {
      this.readError = e as Error;
      this.loadedTo = this.size;
      return;
    }
    if (bytes.length === 0) {
      // The file shrank under us: end the stream rather than spin.
      this.readError = new Error(`${this.path} ended at byte ${from}, expected ${this.size}`);
      this.loadedTo = this.size;
      return;
    }
    const tail = this.buffer.subarray(this.pos);
    this.bufferStart += this.pos;
    this.buffer = tail.length ? Buffer.concat([tail, bytes]) : bytes;
    // A UTF-8 byte order mark (some editors write one) is not part of the first command.
    this.pos = from === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    this.loadedTo = from + bytes.length;
  }
}
