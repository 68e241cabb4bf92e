/** A QOI encoder, to make QOI thumbnails for the analyser's tests (the host only decodes). */
import { QOI_OP_DIFF, QOI_OP_INDEX, QOI_OP_LUMA, QOI_OP_RGB, QOI_OP_RGBA, QOI_OP_RUN } from "../../src/analysis/qoi.ts";

/** Encodes RGBA pixels as QOI. */
export function encodeQoi(width: number, height: number, rgba: Uint8Array): Uint8Array {
  const out: number[] = [0x71, 0x6f, 0x69, 0x66];
  const u32 = (n: number) => out.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  u32(width);
  u32(height);
  out.push(4, 0);
  const index = new Uint8Array(64 * 4);
  let pr = 0;
  let pg = 0;
  let pb = 0;
  let pa = 255;
  let run = 0;
  const pixels = width * height;
  for (let px = 0; px < pixels; px++) {
    const o = px * 4;
    const r = rgba[o]!;
    const g = rgba[o + 1]!;
    const b = rgba[o + 2]!;
    const a = rgba[o + 3]!;
    if (r === pr && g === pg && b === pb && a === pa) {
      run++;
      if (run === 62 || px === pixels - 1) {
        out.push(QOI_OP_RUN | (run - 1));
        run = 0;
      }
      continue;
    }
    if (run > 0) {
      out.push(QOI_OP_RUN | (run - 1));
      run = 0;
    }
    const h = (r * 3 + g * 5 + b * 7 + a * 11) % 64;
    if (index[h * 4] === r && index[h * 4 + 1] === g && index[h * 4 + 2] === b && index[h * 4 + 3] === a) out.push(QOI_OP_INDEX | h);
    else {
      index.set([r, g, b, a], h * 4);
      const dr = ((r - pr + 128) & 255) - 128;
      const dg = ((g - pg + 128) & 255) - 128;
      const db = ((b - pb + 128) & 255) - 128;
      if (a !== pa) out.push(QOI_OP_RGBA, r, g, b, a);
      else if (dr >= -2 && dr <= 1 && dg >= -2 && dg <= 1 && db >= -2 && db <= 1) out.push(QOI_OP_DIFF | ((dr + 2) << 4) | ((dg + 2) << 2) | (db + 2));
      else if (dg >= -32 && dg <= 31 && dr - dg >= -8 && dr - dg <= 7 && db - dg >= -8 && db - dg <= 7) out.push(QOI_OP_LUMA | (dg + 32), ((dr - dg + 8) << 4) | (db - dg + 8));
      else out.push(QOI_OP_RGB, r, g, b);
    }
    pr = r;
    pg = g;
    pb = b;
    pa = a;
  }
  out.push(0, 0, 0, 0, 0, 0, 0, 1);
  return new Uint8Array(out);
}
