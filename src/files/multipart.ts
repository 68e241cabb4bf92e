/**
 * A streaming `multipart/form-data` reader: the request body is parsed as it arrives and each
 * file part is handed to a sink chunk by chunk (awaiting it, so a slow disk slows the reader
 * instead of growing memory). `Request.formData()` would buffer the whole body; a 2 GB upload
 * must not. Text fields are collected (up to 1 MiB each).
 */

export interface PartHeaders {
  name: string;
  /** Present for file parts. */
  filename: string | null;
  contentType: string | null;
}

export interface PartSink {
  write(chunk: Uint8Array): Promise<void>;
}

export interface MultipartHandlers {
  /** Called when a part starts; return a sink to stream its body, or null to collect it as a text field. */
  part(headers: PartHeaders): Promise<PartSink | null> | PartSink | null;
  field?(name: string, value: string): void;
}

export class MultipartError extends Error {}
/** A part whose file name cannot be read: the request is whole, the name is wrong. */
export class MultipartNameError extends MultipartError {}

const MAX_HEADER_BYTES = 16 * 1024;
const MAX_FIELD_BYTES = 1024 * 1024;
const HEADER_END = Buffer.from("\r\n\r\n");

/** The chunks of a web stream as an async iterable (releasing the reader when abandoned). */
export async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** The boundary of a `multipart/form-data` content type, or null. */
export function boundaryOf(contentType: string | null): string | null {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return null;
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]!) : null;
}

/** An RFC 5987 `filename*` value, percent-decoded. */
function decodeStarName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new MultipartNameError(`the file name "${raw}" (filename*=) is not valid percent-encoded UTF-8`);
  }
}

/**
 * A quoted `filename`: browsers write `"`, CR and LF in it as %22, %0D and %0A (the HTML
 * standard's form encoding), other clients escape `"` and `\` with a backslash. Any other
 * backslash is a character of the name (a Windows path, "C:\parts\a.gcode", whose last part is kept).
 */
function unquoteName(quoted: string): string {
  return quoted.replace(/\\(["\\])/g, "$1").replace(/%(22|0D|0A)/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

function parseHeaders(block: string): PartHeaders {
  let name: string | null = null;
  let filename: string | null = null;
  let contentType: string | null = null;
  for (const line of block.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === "content-disposition") {
      name = /(?:^|;)\s*name="([^"]*)"/i.exec(value)?.[1] ?? /(?:^|;)\s*name=([^;]+)/i.exec(value)?.[1]?.trim() ?? null;
      const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(value)?.[1];
      const quoted = /filename="((?:[^"\\]|\\.)*)"/i.exec(value)?.[1];
      filename = star ? decodeStarName(star.trim()) : quoted !== undefined ? unquoteName(quoted) : (/filename=([^;]+)/i.exec(value)?.[1]?.trim() ?? null);
    } else if (key === "content-type") contentType = value;
  }
  if (name === null) throw new MultipartError("a part of the form has no name");
  return { name, filename, contentType };
}

/**
 * Reads a multipart body. Resolves when the closing boundary has been read; rejects with
 * `MultipartError` if the body ends early (an aborted upload) or is malformed.
 */
export async function readMultipart(body: AsyncIterable<Uint8Array>, boundary: string, handlers: MultipartHandlers): Promise<void> {
  const first = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let state: "preamble" | "after-boundary" | "headers" | "body" | "done" = "preamble";
  let buf: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  let sink: PartSink | null = null;
  let field: { name: string; chunks: Buffer[]; size: number } | null = null;

  const emit = async (data: Buffer) => {
    if (data.length === 0) return;
    if (sink) await sink.write(data);
    else if (field) {
      field.size += data.length;
      if (field.size > MAX_FIELD_BYTES) throw new MultipartError(`the form field "${field.name}" is larger than 1 MiB`);
      field.chunks.push(Buffer.from(data));
    }
  };

  for await (const chunk of body) {
    const next = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length === 0) buf = next;
    else if (state === "body" && next.length >= delimiter.length) {
      // Only the held-back tail (shorter than the delimiter) can start a delimiter that runs into
      // this chunk: look at the seam instead of copying the whole chunk after it.
      const seam = Buffer.concat([buf, next.subarray(0, delimiter.length)]);
      const at = seam.indexOf(delimiter);
      if (at >= 0 && at < buf.length) {
        await emit(buf.subarray(0, at));
        buf = Buffer.concat([seam.subarray(at), next.subarray(delimiter.length)].filter((b) => b.length > 0));
      } else {
        await emit(buf);
        buf = next;
      }
    } else buf = Buffer.concat([buf, next]);
    for (;;) {
      if (state === "preamble") {
        const at = buf.indexOf(first);
        if (at < 0) {
          if (buf.length > MAX_HEADER_BYTES) throw new MultipartError("the body does not start with the multipart boundary");
          break;
        }
        buf = buf.subarray(at + first.length);
        state = "after-boundary";
      }
      if (state === "after-boundary") {
        if (buf.length < 2) break;
        if (buf[0] === 45 && buf[1] === 45) {
          state = "done";
          break;
        }
        if (buf[0] !== 13 || buf[1] !== 10) throw new MultipartError("malformed multipart boundary");
        buf = buf.subarray(2);
        state = "headers";
      }
      if (state === "headers") {
        const end = buf.indexOf(HEADER_END);
        if (end < 0) {
          if (buf.length > MAX_HEADER_BYTES) throw new MultipartError("a part's headers are too long");
          break;
        }
        const headers = parseHeaders(buf.subarray(0, end).toString("utf8"));
        buf = buf.subarray(end + HEADER_END.length);
        sink = await handlers.part(headers);
        field = sink ? null : { name: headers.name, chunks: [], size: 0 };
        state = "body";
      }
      if (state === "body") {
        const at = buf.indexOf(delimiter);
        if (at < 0) {
          // Keep a tail that could be the start of the delimiter.
          const safe = buf.length - (delimiter.length - 1);
          if (safe > 0) {
            await emit(buf.subarray(0, safe));
            buf = Buffer.from(buf.subarray(safe));
          }
          break;
        }
        await emit(buf.subarray(0, at));
        if (field) handlers.field?.(field.name, Buffer.concat(field.chunks).toString("utf8"));
        sink = null;
        field = null;
        buf = buf.subarray(at + delimiter.length);
        state = "after-boundary";
        continue;
      }
      break;
    }
    if (state === "done") break;
  }
  if (state !== "done") throw new MultipartError("the upload ended before the end of the form (the connection was closed or the body is cut short)");
}
