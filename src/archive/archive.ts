/**
 * Reading archives (.tar.gz, .tgz, .tar, .zip) without trusting them: entries are listed from
 * the bytes, checked before anything is written (no path that leaves the target folder, no
 * links, bounded sizes and counts), and read or extracted only after the check. Pure apart from
 * `extractArchive`, which writes what the check allowed. Used by plugin installs, by the registry
 * build, which reads a plugin's manifest without running it, and (through file.ts, the bytes
 * read from disk on demand) by restoring backups.
 */
import { gunzipSync, inflateRawSync } from "node:zlib";

export type EntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

export interface ArchiveEntry {
  /** The path as stored (before any check). */
  path: string;
  type: EntryType;
  /** Uncompressed size in bytes as declared by the archive. */
  size: number;
  /** Target of a link entry. */
  linkTarget?: string;
}

export interface ArchiveLimits {
  /** Largest total of uncompressed sizes. */
  maxTotalBytes: number;
  /** Largest single file. */
  maxFileBytes: number;
  maxEntries: number;
}

export const DEFAULT_LIMITS: ArchiveLimits = {
  maxTotalBytes: 64 * 1024 * 1024,
  maxFileBytes: 16 * 1024 * 1024,
  maxEntries: 5000,
};

/** A problem that makes the archive unusable, in words. */
export class ArchiveError extends Error {
  constructor(
    readonly code: "not_an_archive" | "corrupt" | "unsafe_path" | "link" | "too_large" | "too_many_entries" | "not_found",
    message: string,
  ) {
    super(message);
    this.name = "ArchiveError";
  }
}

export interface Archive {
  readonly format: "tar" | "zip";
  readonly entries: readonly ArchiveEntry[];
  /** The bytes of one file entry (by its stored path, or its normalised one). */
  read(path: string): Uint8Array;
  /** The same bytes in pieces of at most `size` (a large file need not be in memory at once). */
  chunks(path: string, size?: number): Iterable<Uint8Array>;
}

/** Random access to an archive's (uncompressed) bytes: in memory, or a file read on demand. */
export interface ByteSource {
  readonly length: number;
  slice(start: number, end: number): Uint8Array;
}

const CHUNK = 1024 * 1024;

/** Opens an archive from its bytes, detecting the format; throws an {@link ArchiveError}. */
export function openArchive(bytes: Uint8Array, limits: ArchiveLimits = DEFAULT_LIMITS): Archive {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5)) return openZip(bytes, limits);
  let tar = bytes;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      // Bound the output so a gzip bomb cannot exhaust memory.
      tar = gunzipSync(bytes, { maxOutputLength: limits.maxTotalBytes + 1024 * 1024 });
    } catch (e) {
      throw new ArchiveError(/maxOutputLength|buffer/i.test((e as Error).message) ? "too_large" : "corrupt", `The gzip data could not be read: ${(e as Error).message}`);
    }
  }
  if (tar.length >= 512 && isTarHeader(tar.subarray(0, 512))) return openTar({ length: tar.length, slice: (a, b) => tar.subarray(a, b) }, limits);
  throw new ArchiveError("not_an_archive", "This is not a .tar.gz, .tgz, .tar or .zip archive.");
}

/**
 * Normalises an entry path to a safe relative one, or explains why it is unsafe.
 * Example: `safeEntryPath("pkg/./a.ts") === "pkg/a.ts"`; `safeEntryPath("../x")` throws.
 */
export function safeEntryPath(path: string): string {
  if (path.includes("\0")) throw new ArchiveError("unsafe_path", `An entry name contains a NUL byte.`);
  const p = path.replace(/\\/g, "/");
  if (p.startsWith("/") || /^[a-zA-Z]:/.test(p)) throw new ArchiveError("unsafe_path", `"${path}" is an absolute path.`);
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.includes("..")) throw new ArchiveError("unsafe_path", `"${path}" points outside the archive's folder.`);
  return parts.join("/");
}

/**
 * Checks every entry before anything is written: safe paths, no links, sizes and count within
 * limits. Returns the file and folder entries with normalised paths.
 */
export function checkArchive(archive: Archive, limits: ArchiveLimits = DEFAULT_LIMITS): ArchiveEntry[] {
  if (archive.entries.length > limits.maxEntries) {
    throw new ArchiveError("too_many_entries", `The archive has ${archive.entries.length} entries; at most ${limits.maxEntries} are allowed.`);
  }
  let total = 0;
  const out: ArchiveEntry[] = [];
  for (const e of archive.entries) {
    const path = safeEntryPath(e.path);
    if (e.type === "symlink" || e.type === "hardlink") {
      throw new ArchiveError("link", `"${e.path}" is a link (to "${e.linkTarget ?? "?"}"); archives may not contain links.`);
    }
    if (e.type === "other") throw new ArchiveError("unsafe_path", `"${e.path}" is a device or other special file.`);
    if (e.size > limits.maxFileBytes) throw new ArchiveError("too_large", `"${e.path}" is ${e.size} bytes; the limit per file is ${limits.maxFileBytes}.`);
    total += e.size;
    if (total > limits.maxTotalBytes) throw new ArchiveError("too_large", `The archive unpacks to more than ${limits.maxTotalBytes} bytes.`);
    if (path !== "") out.push({ ...e, path });
  }
  return out;
}

/**
 * The folder all entries share (e.g. GitHub's `repo-1.2.0/`), or "" when there is none.
 * Plugin archives are usually one folder; the plugin is what is inside it.
 */
export function commonRoot(entries: readonly ArchiveEntry[]): string {
  const files = entries.filter((e) => e.type === "file");
  if (files.length === 0) return "";
  const first = files[0]!.path.split("/")[0]!;
  return files.every((e) => e.path.startsWith(`${first}/`)) ? first : "";
}

// ---- tar (ustar, GNU long names, pax headers) ------------------------------------------------

/** Opens an uncompressed tar from a byte source (see file.ts for one on disk); throws an {@link ArchiveError}. */
export function openTarSource(source: ByteSource, limits: ArchiveLimits = DEFAULT_LIMITS): Archive {
  if (source.length < 512 || !isTarHeader(source.slice(0, 512))) throw new ArchiveError("not_an_archive", "This is not a .tar.gz or .tar archive.");
  return openTar(source, limits);
}

function isTarHeader(block: Uint8Array): boolean {
  const magic = ascii(block, 257, 5);
  if (magic === "ustar") return true;
  // Old v7 tar has no magic; accept it only if the header checksum is right.
  return checksumOk(block);
}

function checksumOk(block: Uint8Array): boolean {
  const stored = parseOctal(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return stored === sum;
}

function openTar(tar: ByteSource, limits: ArchiveLimits): Archive {
  const entries: ArchiveEntry[] = [];
  const data = new Map<string, { offset: number; size: number }>();
  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  while (pos + 512 <= tar.length) {
    const h = tar.slice(pos, pos + 512);
    if (h.every((b) => b === 0)) break; // end of archive
    if (!checksumOk(h)) throw new ArchiveError("corrupt", `The tar header at byte ${pos} is damaged.`);
    const size = parseOctal(h, 124, 12);
    const typeflag = String.fromCharCode(h[156]!);
    const bodyStart = pos + 512;
    const bodyEnd = bodyStart + size;
    if (size < 0 || bodyEnd > tar.length) throw new ArchiveError("corrupt", `The tar archive is truncated at byte ${pos}.`);
    pos = bodyStart + Math.ceil(size / 512) * 512;
    // Only the small metadata records' bodies are read here; files are read when asked for.
    const meta = () => {
      if (size > 1024 * 1024) throw new ArchiveError("corrupt", `The tar metadata record at byte ${bodyStart - 512} is ${size} bytes long.`);
      return tar.slice(bodyStart, bodyEnd);
    };
    if (typeflag === "L") {
      longName = cString(meta());
      continue;
    }
    if (typeflag === "K") {
      longLink = cString(meta());
      continue;
    }
    if (typeflag === "x") {
      pax = parsePax(meta());
      continue;
    }
    if (typeflag === "g") continue; // global pax header: nothing we use
    const prefix = ascii(h, 345, 155);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${ascii(h, 0, 100)}` : ascii(h, 0, 100));
    const linkTarget = pax.linkpath ?? longLink ?? ascii(h, 157, 100);
    const realSize = pax.size !== undefined ? Number(pax.size) : size;
    longName = longLink = undefined;
    pax = {};
    const type: EntryType =
      typeflag === "0" || typeflag === "\0" || typeflag === "7" ? "file" : typeflag === "5" ? "directory" : typeflag === "2" ? "symlink" : typeflag === "1" ? "hardlink" : "other";
    entries.push(type === "symlink" || type === "hardlink" ? { path: name, type, size: 0, linkTarget } : { path: name, type, size: type === "file" ? realSize : 0 });
    if (entries.length > limits.maxEntries) throw new ArchiveError("too_many_entries", `The archive has more than ${limits.maxEntries} entries.`);
    if (type === "file") data.set(name, { offset: bodyStart, size });
  }
  const locate = (path: string) => {
    const at = data.get(path) ?? findNormalised(data, path);
    if (!at) throw new ArchiveError("not_found", `The archive has no file "${path}".`);
    return at;
  };
  return {
    format: "tar",
    entries,
    read(path) {
      const at = locate(path);
      return tar.slice(at.offset, at.offset + at.size);
    },
    *chunks(path, chunk = CHUNK) {
      const at = locate(path);
      for (let done = 0; done < at.size; done += chunk) yield tar.slice(at.offset + done, at.offset + Math.min(at.size, done + chunk));
    },
  };
}

function parsePax(body: Uint8Array): Record<string, string> {
  // Record lengths count bytes (names are UTF-8), so the records are cut from the bytes.
  const out: Record<string, string> = {};
  const decoder = new TextDecoder();
  let i = 0;
  while (i < body.length) {
    const space = body.indexOf(0x20, i);
    if (space < 0) break;
    const len = Number(decoder.decode(body.subarray(i, space)));
    if (!Number.isInteger(len) || len <= 0 || i + len > body.length) break;
    const record = decoder.decode(body.subarray(space + 1, i + len - 1));
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

// ---- zip ---------------------------------------------------------------------------------------

function openZip(zip: Uint8Array, limits: ArchiveLimits): Archive {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ArchiveError("corrupt", "The zip archive has no central directory (truncated?).");
  const count = view.getUint16(eocd + 10, true);
  let pos = view.getUint32(eocd + 16, true);
  if (count > limits.maxEntries) throw new ArchiveError("too_many_entries", `The archive has ${count} entries; at most ${limits.maxEntries} are allowed.`);
  const entries: ArchiveEntry[] = [];
  const data = new Map<string, { local: number; method: number; compressed: number; size: number }>();
  for (let n = 0; n < count; n++) {
    if (pos + 46 > zip.length || view.getUint32(pos, true) !== 0x02014b50) throw new ArchiveError("corrupt", "The zip central directory is damaged.");
    const method = view.getUint16(pos + 10, true);
    const compressed = view.getUint32(pos + 20, true);
    const size = view.getUint32(pos + 24, true);
    const nameLen = view.getUint16(pos + 28, true);
    const extraLen = view.getUint16(pos + 30, true);
    const commentLen = view.getUint16(pos + 32, true);
    const madeBy = view.getUint16(pos + 4, true) >> 8;
    const external = view.getUint32(pos + 38, true);
    const local = view.getUint32(pos + 42, true);
    const name = new TextDecoder().decode(zip.subarray(pos + 46, pos + 46 + nameLen));
    pos += 46 + nameLen + extraLen + commentLen;
    const unixMode = madeBy === 3 ? external >>> 16 : 0;
    const fileType = unixMode & 0o170000;
    const type: EntryType = name.endsWith("/") || fileType === 0o040000 ? "directory" : fileType === 0o120000 ? "symlink" : fileType !== 0 && fileType !== 0o100000 ? "other" : "file";
    if (type === "symlink") {
      entries.push({ path: name, type, size: 0, linkTarget: "(zip symlink)" });
      continue;
    }
    entries.push({ path: name, type, size: type === "file" ? size : 0 });
    if (type === "file") data.set(name, { local, method, compressed, size });
  }
  return {
    format: "zip",
    entries,
    read(path) {
      const e = data.get(path) ?? findNormalised(data, path);
      if (!e) throw new ArchiveError("not_found", `The archive has no file "${path}".`);
      if (e.local + 30 > zip.length || view.getUint32(e.local, true) !== 0x04034b50) throw new ArchiveError("corrupt", `The zip entry "${path}" is damaged.`);
      const start = e.local + 30 + view.getUint16(e.local + 26, true) + view.getUint16(e.local + 28, true);
      const raw = zip.subarray(start, start + e.compressed);
      if (e.method === 0) return raw;
      if (e.method !== 8) throw new ArchiveError("corrupt", `"${path}" uses a compression method (${e.method}) this reader does not support.`);
      try {
        // Never trust the declared size: cap the output at it, so a zip bomb fails instead of filling memory.
        const out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
        if (out.length !== e.size) throw new Error(`unpacked to ${out.length} bytes, declared ${e.size}`);
        return out;
      } catch (err) {
        throw new ArchiveError("corrupt", `"${path}" could not be unpacked: ${(err as Error).message}`);
      }
    },
    *chunks(path) {
      yield this.read(path);
    },
  };
}

// ---- helpers ---------------------------------------------------------------------------------------

function findNormalised<T>(map: Map<string, T>, path: string): T | undefined {
  const wanted = safeEntryPath(path);
  for (const [k, v] of map) if (safeEntryPathOrNull(k) === wanted) return v;
  return undefined;
}

function safeEntryPathOrNull(path: string): string | null {
  try {
    return safeEntryPath(path);
  } catch {
    return null;
  }
}

function ascii(b: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return new TextDecoder().decode(b.subarray(start, end));
}

function cString(b: Uint8Array): string {
  return ascii(b, 0, b.length);
}

function parseOctal(b: Uint8Array, start: number, len: number): number {
  // Base-256 encoding (GNU) for large sizes: high bit of the first byte set.
  if (b[start]! & 0x80) {
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i]!;
    return v;
  }
  const text = ascii(b, start, len).trim();
  return text ? parseInt(text, 8) : 0;
}
