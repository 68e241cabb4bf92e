/**
 * MJPEG over HTTP, both ways, without I/O: a parser that takes the bytes of a camera's
 * `multipart/x-mixed-replace` body as they come and returns whole JPEG frames, and the part
 * framing the host writes to its own viewers. Covers the streamers of webcam.md §5.1: the boundary
 * from the response header (mjpg-streamer/µStreamer `boundarydonotcross`, camera-streamer's
 * digits, ffmpeg's `ffmpeg`), part headers in any case, with or without Content-Length; and, with
 * no boundary at all, JPEGs simply back to back (ffmpeg `-f mjpeg`).
 */

const CRLF2 = Buffer.from("\r\n\r\n");
const LF2 = Buffer.from("\n\n");
const LF = Buffer.from("\n");
const SOI = Buffer.from([0xff, 0xd8]);
const EOI = Buffer.from([0xff, 0xd9]);
/** Part headers longer than this are not part headers: look for the next boundary instead. */
const MAX_HEADER_BYTES = 16 * 1024;
/** A frame bigger than this (a 4K JPEG is ~2 MB) means the stream is not what it says. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** The multipart boundary named by a Content-Type header, or null. Example: `multipart/x-mixed-replace;boundary="ab"` → `ab`. */
export function boundaryOf(contentType: string | null): string | null {
  const m = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  const b = m?.[1] ?? m?.[2];
  // Some streamers name the boundary with the dashes the parts carry; the parts always contain the rest.
  return b ? b.replace(/^--/, "") : null;
}

export class StreamFormatError extends Error {}

/**
 * The bytes received and not parsed yet, in one buffer with room to grow: a chunk is copied in
 * once, and the buffer is moved or grown (to twice what it holds) only when it is full, so every
 * byte is copied a bounded number of times. (A concatenation per chunk was quadratic: a camera
 * sending a never-ending 16 MB picture in 64 KB pieces cost ~2 GB of copying on the main thread.)
 */
class Pending {
  private buf = Buffer.alloc(0);
  private start = 0;
  private end = 0;

  constructor(private readonly work: MjpegWork) {}

  get length(): number {
    return this.end - this.start;
  }

  /** The pending bytes (valid until the next `add`). */
  view(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  add(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) this.makeRoom(chunk.length);
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
    this.work.copied += chunk.length;
  }

  /** Drops the first `n` pending bytes. */
  drop(n: number): void {
    this.start += n;
    if (this.start === this.end) this.start = this.end = 0;
  }

  /** A copy of the first `n` pending bytes (a frame leaves the buffer, which is reused). */
  take(n: number): Uint8Array {
    this.work.copied += n;
    const out = Uint8Array.prototype.slice.call(this.buf, this.start, this.start + n);
    this.drop(n);
    return out;
  }

  private makeRoom(n: number): void {
    const live = this.length;
    const needed = live + n;
    // At least half the buffer was parsed and dropped since it last moved: moving what is left
    // costs no more than that. A big buffer (after a big frame) is let go of instead.
    if (needed * 2 <= this.buf.length && this.buf.length <= KEEP_BUFFER_BYTES) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      const bigger = Buffer.allocUnsafe(Math.max(MIN_BUFFER_BYTES, needed * 2));
      bigger.set(this.buf.subarray(this.start, this.end));
      this.buf = bigger;
    }
    this.work.copied += live;
    this.start = 0;
    this.end = live;
  }
}

const MIN_BUFFER_BYTES = 64 * 1024;
const KEEP_BUFFER_BYTES = 4 * 1024 * 1024;

/** What parsing has cost so far: bytes copied and bytes searched (tests check both stay linear). */
export interface MjpegWork {
  copied: number;
  scanned: number;
}

/**
 * Incremental MJPEG parser: `push()` each chunk, get the frames it completed. It holds at most one
 * frame's bytes (bounded by MAX_FRAME_BYTES; more throws StreamFormatError), copies each byte a
 * few times at most and searches each byte about once, however the stream is cut into chunks.
 */
export class MjpegParser {
  readonly work: MjpegWork = { copied: 0, scanned: 0 };
  private readonly pending = new Pending(this.work);
  private state: "boundary" | "line" | "headers" | "body" = "boundary";
  /** Without multipart framing: whether the pending bytes start with a picture's SOI. */
  private inJpeg = false;
  private length: number | null = null;
  /** How many pending bytes the current state has searched already without finding what it looks for. */
  private searched = 0;
  private readonly delimiter: Buffer | null;
  /** A picture (and what comes with it) not ended within this many bytes is refused. */
  private readonly limit: number;

  constructor(boundary: string | null, private readonly maxFrameBytes = MAX_FRAME_BYTES) {
    this.delimiter = boundary ? Buffer.from(boundary) : null;
    this.limit = maxFrameBytes + MAX_HEADER_BYTES;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    this.pending.add(chunk);
    const frames: Uint8Array[] = [];
    for (;;) {
      const frame = this.delimiter ? this.nextPart(this.delimiter) : this.nextJpeg();
      if (frame === undefined) break;
      if (frame && frame.length > 4 && frame[0] === 0xff && frame[1] === 0xd8) frames.push(frame);
    }
    return frames;
  }

  private to(state: MjpegParser["state"]): null {
    this.inJpeg = false;
    this.state = state;
    this.searched = 0;
    return null;
  }

  private drop(n: number): void {
    this.pending.drop(n);
    this.searched = Math.max(0, this.searched - n);
  }

  /**
   * Where the first of `patterns` (from `at` on, within the first `within` pending bytes) begins,
   * with its length; or null. Only what the last search did not cover is searched (back by a
   * pattern's length less one, for a pattern cut between chunks).
   */
  private find(patterns: readonly Uint8Array[], within = Infinity, at = 0): { at: number; length: number } | null {
    const view = this.pending.view().subarray(0, within);
    let found: { at: number; length: number } | null = null;
    for (const pattern of patterns) {
      const from = Math.max(at, this.searched - pattern.length + 1);
      this.work.scanned += Math.max(0, view.length - from);
      const i = view.indexOf(pattern, from);
      if (i >= 0 && (!found || i < found.at)) found = { at: i, length: pattern.length };
    }
    if (!found) this.searched = view.length;
    return found;
  }

  /** The next part's body (null for a step that made no frame), or undefined when more bytes are needed. */
  private nextPart(delimiter: Buffer): Uint8Array | null | undefined {
    const pending = this.pending;
    switch (this.state) {
      case "boundary": {
        const found = this.find([delimiter]);
        if (!found) {
          // Keep only what could be the start of a boundary.
          this.drop(Math.max(0, pending.length - delimiter.length));
          return undefined;
        }
        this.drop(found.at + delimiter.length);
        return this.to("line");
      }
      case "line": {
        const nl = this.find([LF], MAX_HEADER_BYTES);
        if (!nl) return this.tooLongHeaders();
        this.drop(nl.at + 1);
        return this.to("headers");
      }
      case "headers": {
        if (pending.length < 2) return undefined;
        const view = pending.view();
        this.length = null;
        // No headers at all: the body follows the boundary line's line end at once.
        if (view[0] === 0xff && view[1] === 0xd8) return this.to("body");
        // An empty header block: the blank line follows the boundary line.
        if (view[0] === 0x0a || (view[0] === 0x0d && view[1] === 0x0a)) {
          this.drop(view[0] === 0x0a ? 1 : 2);
          return this.to("body");
        }
        const blank = this.find([CRLF2, LF2], MAX_HEADER_BYTES);
        if (!blank) return this.tooLongHeaders();
        const end = blank.at + blank.length;
        const text = pending.view().subarray(0, end).toString("latin1");
        const m = /(?:^|\n)\s*content-length\s*:\s*(\d+)/i.exec(text);
        this.length = m ? Number(m[1]) : null;
        if (this.length !== null && this.length > this.maxFrameBytes) {
          throw new StreamFormatError(`The stream announced a ${this.length}-byte picture, more than the ${this.maxFrameBytes} accepted`);
        }
        this.drop(end);
        return this.to("body");
      }
      case "body": {
        if (this.length !== null) {
          if (pending.length < this.length) return undefined;
          const frame = pending.take(this.length);
          this.to("boundary");
          return frame;
        }
        const found = this.find([delimiter], this.limit);
        if (!found) return this.tooBig();
        const view = pending.view();
        const at = found.at;
        let end = at;
        while (end > 0 && (view[end - 1] === 0x2d || view[end - 1] === 0x0a || view[end - 1] === 0x0d)) end--;
        const frame = pending.take(end);
        this.drop(at - end);
        this.to("boundary");
        return frame;
      }
    }
  }

  /** Headers that never end: drop them and look for the next boundary. */
  private tooLongHeaders(): null | undefined {
    if (this.pending.length < MAX_HEADER_BYTES) return undefined;
    return this.to("boundary");
  }

  /** Nothing more until the end of a picture; refused once that is more than a picture can be. */
  private tooBig(): undefined {
    if (this.pending.length >= this.limit) {
      throw new StreamFormatError(`A picture of the stream exceeded ${Math.round(this.maxFrameBytes / 1024 / 1024)} MB without ending`);
    }
    return undefined;
  }

  /** The next JPEG of bytes with no multipart framing (SOI … EOI). */
  private nextJpeg(): Uint8Array | null | undefined {
    if (!this.inJpeg) {
      const soi = this.find([SOI]);
      if (!soi) {
        // Keep a last 0xFF: it may be the first half of an SOI.
        this.drop(Math.max(0, this.pending.length - 1));
        return undefined;
      }
      this.drop(soi.at);
      this.to("boundary");
      this.inJpeg = true;
    }
    const eoi = this.find([EOI], this.limit, 2);
    if (!eoi) return this.tooBig();
    const frame = this.pending.take(eoi.at + 2);
    this.to("boundary");
    return frame;
  }
}

/** The boundary of the host's own streams. */
export const OUR_BOUNDARY = "layerline-frame";
export const STREAM_CONTENT_TYPE = `multipart/x-mixed-replace;boundary=${OUR_BOUNDARY}`;

/** One frame as a part of the host's stream, with the Content-Length MJPEG clients need (webcam.md §3.2). */
export function framePart(jpeg: Uint8Array, at: number): Uint8Array {
  const head = Buffer.from(`--${OUR_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\nX-Timestamp: ${(at / 1000).toFixed(6)}\r\n\r\n`);
  const out = new Uint8Array(head.length + jpeg.length + 2);
  out.set(head, 0);
  out.set(jpeg, head.length);
  out.set([0x0d, 0x0a], head.length + jpeg.length);
  return out;
}
