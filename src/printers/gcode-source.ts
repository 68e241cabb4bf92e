/**
 * Reads a G-code file for streaming: incrementally, a chunk at a time (a 2 GB file costs no
 * RAM), yielding cleaned commands with the byte offset where each line ends (progress by bytes,
 * and the point to resume from). The next chunk is prefetched while the current one drains, so
 * the serial path never waits on the disk.
 */
import { clean } from "../protocol/framing.ts";

export interface SourceLine {
  /** The command without comment or surrounding whitespace; never empty. */
  command: string;
  /** Byte offset just past this line's newline. */
  end: number;
  /** Its line number in the file (1-based, comment and blank lines counted). */
  line: number;
}

const CHUNK = 256 * 1024;

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
   * unless `done`). Comment-only and blank lines are skipped without allocating.
   */
  next(): SourceLine | undefined {
    const buf = this.buffer;
    const len = buf.length;
    const atEof = this.loadedTo >= this.size;
    while (this.pos < len) {
      let nl = buf.indexOf(10, this.pos);
      if (nl < 0) {
        if (!atEof) return undefined; // the line continues in the next chunk
        nl = len; // last line without a newline
      }
      const start = this.pos;
      this.pos = nl + 1;
      const line = this.lineNo++;
      let s = start;
      while (s < nl && (buf[s] === 32 || buf[s] === 9 || buf[s] === 13)) s++;
      if (s === nl || buf[s] === 59 /* ; */) continue;
      const command = clean(buf.toString("latin1", s, nl));
      if (command) return { command, end: Math.min(this.bufferStart + nl + 1, this.size), line };
    }
    return undefined;
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
    this.pos = 0;
    this.loadedTo = from + bytes.length;
  }
}
