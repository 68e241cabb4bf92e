/**
 * Writing tar archives (ustar, with a pax header for names too long for it): pure functions that
 * turn one entry into its header bytes, plus a thin streaming adapter that gzips entries read from
 * disk straight into a file, so a multi-gigabyte files folder never sits in memory. Reading goes
 * through the untrusting reader in src/archive/archive.ts.
 */
import { createGzip } from "node:zlib";
import { createWriteStream, openSync, closeSync, readSync, fstatSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export const BLOCK = 512;

export interface TarEntryHeader {
  /** Relative path with "/" separators; folders without a trailing slash. */
  path: string;
  type: "file" | "directory";
  /** Bytes of a file's content (0 for folders). */
  size: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
}

/** The zero blocks that end an archive. */
export const TAR_END = new Uint8Array(BLOCK * 2);

/** Zero bytes that pad a file's content of `size` bytes to whole blocks. */
export function tarPadding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/**
 * The header block(s) for one entry: a pax extended header first when the name does not fit ustar's
 * 100-byte name field. Example: `tarHeader({ path: "a.gcode", type: "file", size: 3, mtimeMs: 0 }).length === 512`.
 */
export function tarHeader(entry: TarEntryHeader): Uint8Array {
  const name = entry.type === "directory" ? `${entry.path}/` : entry.path;
  const encoded = new TextEncoder().encode(name);
  const mtime = Math.floor(entry.mtimeMs / 1000);
  if (encoded.length <= 100) return ustarBlock(encoded, entry, mtime);
  // The pax header holds the real name; the ustar block's own name is a shortened stand-in.
  const record = paxRecord("path", name);
  const paxHeader = ustarBlock(new TextEncoder().encode("PaxHeader"), { type: "pax", size: record.length }, mtime);
  const out = new Uint8Array(BLOCK + record.length + tarPadding(record.length).length + BLOCK);
  out.set(paxHeader, 0);
  out.set(record, BLOCK);
  out.set(ustarBlock(encoded.subarray(0, 100), entry, mtime), out.length - BLOCK);
  return out;
}

/** One pax record, `"<length> <key>=<value>\n"`, where length counts the whole record itself. */
function paxRecord(key: string, value: string): Uint8Array {
  const body = new TextEncoder().encode(` ${key}=${value}\n`).length;
  let length = body + 1;
  while (String(length).length + body > length) length++;
  return new TextEncoder().encode(`${length} ${key}=${value}\n`);
}

function ustarBlock(name: Uint8Array, entry: { type: TarEntryHeader["type"] | "pax"; size: number }, mtime: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  h.set(name.subarray(0, 100), 0);
  writeOctal(h, 100, 8, entry.type === "directory" ? 0o755 : 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeSize(h, entry.type === "file" || entry.type === "pax" ? entry.size : 0);
  writeOctal(h, 136, 12, Math.max(0, mtime));
  h[156] = (entry.type === "directory" ? "5" : entry.type === "pax" ? "x" : "0").charCodeAt(0);
  h.set(new TextEncoder().encode("ustar\u000000"), 257);
  // The checksum is computed with its own field as spaces.
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  writeOctal(h, 148, 7, sum);
  h[155] = 32;
  return h;
}

/** Sizes up to 8 GiB in octal, larger ones in GNU base-256 (the reader understands both). */
function writeSize(h: Uint8Array, size: number): void {
  if (size < 8 ** 11) return writeOctal(h, 124, 12, size);
  h[124] = 0x80;
  let v = size;
  for (let i = 135; i > 124; i--) {
    h[i] = v % 256;
    v = Math.floor(v / 256);
  }
}

function writeOctal(h: Uint8Array, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, "0");
  h.set(new TextEncoder().encode(text), offset);
  h[offset + length - 1] = 0;
}

// ---- the streaming adapter --------------------------------------------------------------------

/** An entry to write: a folder, bytes in memory, or a file on disk (read while writing). */
export type TarSource =
  | { path: string; type: "directory"; mtimeMs: number }
  | { path: string; type: "file"; mtimeMs: number; bytes: Uint8Array }
  | { path: string; type: "file"; mtimeMs: number; file: string };

const CHUNK = 1024 * 1024;

/** The archive's bytes, entry by entry; a file on disk is read in chunks through one descriptor. */
export async function* tarStream(entries: Iterable<TarSource>): AsyncGenerator<Uint8Array> {
  for (const e of entries) {
    if (e.type === "directory") {
      yield tarHeader({ path: e.path, type: "directory", size: 0, mtimeMs: e.mtimeMs });
    } else if ("bytes" in e) {
      yield tarHeader({ path: e.path, type: "file", size: e.bytes.length, mtimeMs: e.mtimeMs });
      yield e.bytes;
      yield tarPadding(e.bytes.length);
    } else {
      // The size is the open file's: a file replaced meanwhile (uploads are renamed into place)
      // is read whole as it was, never half old and half new.
      const fd = openSync(e.file, "r");
      try {
        const size = fstatSync(fd).size;
        yield tarHeader({ path: e.path, type: "file", size, mtimeMs: e.mtimeMs });
        let done = 0;
        while (done < size) {
          const chunk = new Uint8Array(Math.min(CHUNK, size - done));
          const n = readSync(fd, chunk, 0, chunk.length, done);
          if (n === 0) throw new Error(`${e.file} became shorter while it was being backed up`);
          done += n;
          yield n === chunk.length ? chunk : chunk.subarray(0, n);
        }
        yield tarPadding(size);
      } finally {
        closeSync(fd);
      }
    }
  }
  yield TAR_END;
}

/** Writes `entries` as a .tar.gz to `file` (created or replaced); returns its size in bytes. */
export async function writeTarGz(file: string, entries: Iterable<TarSource>): Promise<number> {
  const out = createWriteStream(file, { mode: 0o600 });
  await pipeline(Readable.from(tarStream(entries)), createGzip({ level: 6 }), out);
  return out.bytesWritten;
}
