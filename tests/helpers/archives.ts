/**
 * Builds .tar(.gz) and .zip archives in memory for tests, including hostile ones (paths that
 * escape, links, lying sizes), which no well-behaved tool would produce.
 */
import { deflateRawSync, gzipSync } from "node:zlib";

export interface TestEntry {
  path: string;
  content?: string | Uint8Array;
  type?: "file" | "directory" | "symlink" | "hardlink";
  linkTarget?: string;
}

const enc = new TextEncoder();
const bytesOf = (c: string | Uint8Array | undefined) => (typeof c === "string" ? enc.encode(c) : (c ?? new Uint8Array()));

function octal(value: number, len: number): string {
  return value.toString(8).padStart(len - 1, "0") + "\0";
}

/** A ustar archive; gzip it with `gzip: true`. Long names use GNU `L` records. */
export function makeTar(entries: TestEntry[], options: { gzip?: boolean } = {}): Uint8Array {
  const blocks: Uint8Array[] = [];
  const header = (name: string, size: number, flag: string, link = "") => {
    const h = new Uint8Array(512);
    const put = (s: string, at: number) => h.set(enc.encode(s), at);
    put(name.slice(0, 100), 0);
    put(octal(0o644, 8), 100);
    put(octal(0, 8), 108);
    put(octal(0, 8), 116);
    put(octal(size, 12), 124);
    put(octal(0, 12), 136);
    put("        ", 148);
    put(flag, 156);
    put(link.slice(0, 100), 157);
    put("ustar\0", 257);
    put("00", 263);
    let sum = 0;
    for (const b of h) sum += b;
    put(octal(sum, 7) + " ", 148);
    return h;
  };
  const pad = (b: Uint8Array) => {
    const out = new Uint8Array(Math.ceil(b.length / 512) * 512);
    out.set(b);
    return out;
  };
  for (const e of entries) {
    const type = e.type ?? "file";
    const body = type === "file" ? bytesOf(e.content) : new Uint8Array();
    if (e.path.length > 100) {
      const name = enc.encode(`${e.path}\0`);
      blocks.push(header("././@LongLink", name.length, "L"), pad(name));
    }
    const flag = type === "file" ? "0" : type === "directory" ? "5" : type === "symlink" ? "2" : "1";
    blocks.push(header(e.path, body.length, flag, e.linkTarget ?? ""), pad(body));
  }
  blocks.push(new Uint8Array(1024));
  const tar = Buffer.concat(blocks);
  return options.gzip ? gzipSync(tar) : tar;
}

/** A zip archive (deflated entries). `declaredSize` lets a test lie about an entry's size. */
export function makeZip(entries: (TestEntry & { declaredSize?: number })[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.path);
    const type = e.type ?? "file";
    const data = bytesOf(type === "symlink" ? e.linkTarget : e.content);
    const packed = deflateRawSync(data);
    const size = e.declaredSize ?? data.length;
    const local = new Uint8Array(30 + name.length + packed.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, 8, true);
    lv.setUint32(18, packed.length, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(packed, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, (3 << 8) | 20, true); // made by Unix, so the mode bits count
    cv.setUint16(6, 20, true);
    cv.setUint16(10, 8, true);
    cv.setUint32(20, packed.length, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, name.length, true);
    const mode = type === "symlink" ? 0o120777 : type === "directory" ? 0o040755 : 0o100644;
    cv.setUint32(38, (mode << 16) >>> 0, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const cdSize = centrals.reduce((n, c) => n + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return Buffer.concat([...locals, ...centrals, eocd]);
}
