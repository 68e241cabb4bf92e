/**
 * Thumbnails embedded by slicers as base64 comment blocks (`; thumbnail[_JPG|_QOI] begin W H LEN`).
 * Each block is checked (declared length, magic bytes, size) and decoded; QOI images are
 * converted to PNG so every browser can show them. All sizes are kept. Pure.
 */
import type { RawThumbnail } from "./analyser.ts";
import { encodePng, pngSize } from "./png.ts";
import { decodeQoi, isQoi } from "./qoi.ts";

export interface Thumbnail {
  width: number;
  height: number;
  /** What is served: PNG (also for QOI sources) or JPEG. */
  format: "png" | "jpg";
  /** What the slicer embedded. */
  source: RawThumbnail["format"];
  data: Uint8Array;
}

const isJpeg = (d: Uint8Array) => d.length > 3 && d[0] === 0xff && d[1] === 0xd8 && d[2] === 0xff;

/** Decodes the raw blocks; a broken one becomes a warning, never an exception. */
export function decodeThumbnails(raw: RawThumbnail[]): { thumbnails: Thumbnail[]; warnings: string[] } {
  const thumbnails: Thumbnail[] = [];
  const warnings: string[] = [];
  for (const t of raw) {
    const label = `thumbnail ${t.width}x${t.height} (${t.format})`;
    if (t.base64.length !== t.declaredLength) {
      warnings.push(`${label}: ${t.base64.length} base64 characters where ${t.declaredLength} were declared; skipped`);
      continue;
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t.base64)) {
      warnings.push(`${label}: not valid base64; skipped`);
      continue;
    }
    const data = new Uint8Array(Buffer.from(t.base64, "base64"));
    try {
      if (isQoi(data)) {
        const image = decodeQoi(data);
        thumbnails.push({ width: image.width, height: image.height, format: "png", source: t.format, data: encodePng(image.width, image.height, image.rgba) });
      } else if (pngSize(data)) {
        const size = pngSize(data)!;
        thumbnails.push({ width: size.width, height: size.height, format: "png", source: t.format, data });
      } else if (isJpeg(data)) {
        thumbnails.push({ width: t.width, height: t.height, format: "jpg", source: t.format, data });
      } else warnings.push(`${label}: not a PNG, JPEG or QOI image; skipped`);
    } catch (e) {
      warnings.push(`${label}: ${(e as Error).message}; skipped`);
    }
  }
  // Largest first: the UI shows the first one.
  thumbnails.sort((a, b) => b.width * b.height - a.width * a.height);
  return { thumbnails, warnings };
}
