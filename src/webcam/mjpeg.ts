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
 * Incremental MJPEG parser: `push()` each chunk, get the frames it completed. It holds at most one
 * frame's bytes (bounded by MAX_FRAME_BYTES; more throws StreamFormatError).
 */
export class MjpegParser {
  private buf: Buffer = Buffer.alloc(0);
  private state: "boundary" | "line" | "headers" | "body" = "boundary";
  private length: number | null = null;
  private readonly delimiter: Buffer | null;

  constructor(boundary: string | null, private readonly maxFrameBytes = MAX_FRAME_BYTES) {
    this.delimiter = boundary ? Buffer.from(boundary) : null;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const frames: Uint8Array[] = [];
    for (;;) {
      const frame = this.delimiter ? this.nextPart(this.delimiter) : this.nextJpeg();
      if (frame === undefined) break;
      if (frame && frame.length > 4 && frame[0] === 0xff && frame[1] === 0xd8) frames.push(frame);
    }
    if (this.buf.length > this.maxFrameBytes + MAX_HEADER_BYTES) {
      throw new StreamFormatError(`A picture of the stream exceeded ${Math.round(this.maxFrameBytes / 1024 / 1024)} MB without ending`);
    }
    return frames;
  }

  /** The next part's body (null for a step that made no frame), or undefined when more bytes are needed. */
  private nextPart(delimiter: Buffer): Uint8Array | null | undefined {
    switch (this.state) {
      case "boundary": {
        const at = this.buf.indexOf(delimiter);
        if (at < 0) {
          // Keep only what could be the start of a boundary.
          this.buf = this.buf.subarray(Math.max(0, this.buf.length - delimiter.length));
          return undefined;
        }
        this.buf = this.buf.subarray(at + delimiter.length);
        this.state = "line";
        return null;
      }
      case "line": {
        const nl = this.buf.indexOf(0x0a);
        if (nl < 0) return this.tooLongHeaders();
        this.buf = this.buf.subarray(nl + 1);
        this.state = "headers";
        return null;
      }
      case "headers": {
        // No headers at all: the body follows the boundary line's line end at once.
        if (this.buf.length >= 2 && this.buf[0] === 0xff && this.buf[1] === 0xd8) {
          this.length = null;
          this.state = "body";
          return null;
        }
        const crlf = this.buf.indexOf(CRLF2);
        const lf = this.buf.indexOf(LF2);
        const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
        if (end < 0) return this.tooLongHeaders();
        const text = this.buf.subarray(0, end).toString("latin1");
        const m = /(?:^|\n)\s*content-length\s*:\s*(\d+)/i.exec(text);
        this.length = m ? Number(m[1]) : null;
        if (this.length !== null && this.length > this.maxFrameBytes) {
          throw new StreamFormatError(`The stream announced a ${this.length}-byte picture, more than the ${this.maxFrameBytes} accepted`);
        }
        this.buf = this.buf.subarray(end);
        this.state = "body";
        return null;
      }
      case "body": {
        if (this.length !== null) {
          if (this.buf.length < this.length) return undefined;
          const frame = Uint8Array.prototype.slice.call(this.buf, 0, this.length);
          this.buf = this.buf.subarray(this.length);
          this.state = "boundary";
          return frame;
        }
        const at = this.buf.indexOf(delimiter);
        if (at < 0) return undefined;
        let end = at;
        while (end > 0 && (this.buf[end - 1] === 0x2d || this.buf[end - 1] === 0x0a || this.buf[end - 1] === 0x0d)) end--;
        const frame = Uint8Array.prototype.slice.call(this.buf, 0, end);
        this.buf = this.buf.subarray(at);
        this.state = "boundary";
        return frame;
      }
    }
  }

  /** Headers that never end: drop them and look for the next boundary. */
  private tooLongHeaders(): null | undefined {
    if (this.buf.length <= MAX_HEADER_BYTES) return undefined;
    this.state = "boundary";
    return null;
  }

  /** The next JPEG of bytes with no multipart framing (SOI … EOI). */
  private nextJpeg(): Uint8Array | undefined {
    const start = this.buf.indexOf(SOI);
    if (start < 0) {
      this.buf = this.buf.subarray(Math.max(0, this.buf.length - 1));
      return undefined;
    }
    const end = this.buf.indexOf(EOI, start + 2);
    if (end < 0) {
      this.buf = this.buf.subarray(start);
      return undefined;
    }
    const frame = Uint8Array.prototype.slice.call(this.buf, start, end + 2);
    this.buf = this.buf.subarray(end + 2);
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
