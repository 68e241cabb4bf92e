/**
 * A QOI ("Quite OK Image") decoder, for the QOI thumbnails PrusaSlicer can write (Prusa MINI,
 * XL). Pure: bytes in, RGBA pixels out; a malformed image throws with what is wrong.
 * Format: https://qoiformat.org/qoi-specification.pdf
 */

export const QOI_OP_INDEX = 0x00;
export const QOI_OP_DIFF = 0x40;
export const QOI_OP_LUMA = 0x80;
export const QOI_OP_RUN = 0xc0;
export const QOI_OP_RGB = 0xfe;
export const QOI_OP_RGBA = 0xff;
const MASK = 0xc0;
/** Larger thumbnails than this are refused (a bad header must not allocate gigabytes). */
const MAX_PIXELS = 4096 * 4096;

export interface DecodedImage {
  width: number;
  height: number;
  rgba: Uint8Array;
}

export function isQoi(data: Uint8Array): boolean {
  return data.length >= 14 && data[0] === 0x71 && data[1] === 0x6f && data[2] === 0x69 && data[3] === 0x66; // "qoif"
}

export function decodeQoi(data: Uint8Array): DecodedImage {
  if (!isQoi(data)) throw new Error("not a QOI image (no 'qoif' magic)");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const width = view.getUint32(4);
  const height = view.getUint32(8);
  if (width === 0 || height === 0 || width * height > MAX_PIXELS) throw new Error(`QOI size ${width}x${height} is not plausible`);
  const pixels = width * height;
  const rgba = new Uint8Array(pixels * 4);
  const index = new Uint8Array(64 * 4);
  let r = 0;
  let g = 0;
  let b = 0;
  let a = 255;
  let p = 14;
  let run = 0;
  const end = data.length - 8; // the 8-byte end marker
  for (let px = 0; px < pixels; px++) {
    if (run > 0) run--;
    else {
      if (p >= end) throw new Error("QOI data ends before the last pixel");
      const b1 = data[p++]!;
      if (b1 === QOI_OP_RGB) {
        r = data[p++]!;
        g = data[p++]!;
        b = data[p++]!;
      } else if (b1 === QOI_OP_RGBA) {
        r = data[p++]!;
        g = data[p++]!;
        b = data[p++]!;
        a = data[p++]!;
      } else if ((b1 & MASK) === QOI_OP_INDEX) {
        const i = b1 * 4;
        r = index[i]!;
        g = index[i + 1]!;
        b = index[i + 2]!;
        a = index[i + 3]!;
      } else if ((b1 & MASK) === QOI_OP_DIFF) {
        r = (r + ((b1 >> 4) & 3) - 2) & 0xff;
        g = (g + ((b1 >> 2) & 3) - 2) & 0xff;
        b = (b + (b1 & 3) - 2) & 0xff;
      } else if ((b1 & MASK) === QOI_OP_LUMA) {
        const b2 = data[p++]!;
        const vg = (b1 & 0x3f) - 32;
        r = (r + vg - 8 + ((b2 >> 4) & 0x0f)) & 0xff;
        g = (g + vg) & 0xff;
        b = (b + vg - 8 + (b2 & 0x0f)) & 0xff;
      } else if ((b1 & MASK) === QOI_OP_RUN) {
        run = b1 & 0x3f;
      }
      const h = ((r * 3 + g * 5 + b * 7 + a * 11) % 64) * 4;
      index[h] = r;
      index[h + 1] = g;
      index[h + 2] = b;
      index[h + 3] = a;
    }
    const o = px * 4;
    rgba[o] = r;
    rgba[o + 1] = g;
    rgba[o + 2] = b;
    rgba[o + 3] = a;
  }
  return { width, height, rgba };
}
