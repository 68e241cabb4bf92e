import { describe, expect, test } from "bun:test";
import { adler32, encodePng, pngSize } from "../../src/analysis/png.ts";
import { decodeQoi } from "../../src/analysis/qoi.ts";
import { encodeQoi } from "../helpers/qoi.ts";
import { analyseText } from "./helpers.ts";

/** A thumbnail comment block as PrusaSlicer writes it (base64 in 78-character lines). */
function block(kind: "" | "_JPG" | "_QOI", w: number, h: number, data: Uint8Array, declared?: number): string {
  const b64 = Buffer.from(data).toString("base64");
  const lines = b64.match(/.{1,78}/g) ?? [];
  return [`; thumbnail${kind} begin ${w}x${h} ${declared ?? b64.length}`, ...lines.map((l) => `; ${l}`), `; thumbnail${kind} end`, ";", ""].join("\n");
}

/** Decodes our PNG output back to RGBA (filter 0 only) and checks its chunks' CRCs. */
function readPng(png: Uint8Array): { width: number; height: number; rgba: Uint8Array } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  let idat = new Uint8Array(0);
  while (at < png.length) {
    const len = view.getUint32(at);
    const type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    expect(view.getUint32(at + 8 + len)).toBe(Bun.hash.crc32(png.subarray(at + 4, at + 8 + len)));
    if (type === "IDAT") idat = png.slice(at + 8, at + 8 + len);
    at += 12 + len;
  }
  const { width, height } = pngSize(png)!;
  const raw = Bun.inflateSync(idat.subarray(2, idat.length - 4));
  expect(new DataView(idat.buffer).getUint32(idat.length - 4)).toBe(adler32(raw));
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 4 + 1)]).toBe(0);
    rgba.set(raw.subarray(y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1)), y * width * 4);
  }
  return { width, height, rgba };
}

/** A test image with runs, gradients, alpha and repeats, so every QOI operation occurs. */
function image(w: number, h: number): Uint8Array {
  const px = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      const band = Math.floor(x / 8) % 3;
      px[o] = band === 0 ? 255 : x * 3;
      px[o + 1] = band === 1 ? 200 : y * 5;
      px[o + 2] = (x * y) % 256;
      px[o + 3] = y < 2 ? 128 : 255;
    }
  return px;
}

describe("thumbnails", () => {
  test("QOI decodes exactly and is served as a valid PNG", () => {
    const pixels = image(40, 30);
    const qoi = encodeQoi(40, 30, pixels);
    expect(decodeQoi(qoi).rgba).toEqual(pixels);
    const { result, thumbnails } = analyseText(block("_QOI", 40, 30, qoi) + "G1 X10 Y10 F600\n");
    expect(result.thumbnails).toEqual([{ width: 40, height: 30, format: "png", source: "QOI", size: thumbnails[0]!.data.length }]);
    const png = readPng(thumbnails[0]!.data);
    expect([png.width, png.height]).toEqual([40, 30]);
    expect(png.rgba).toEqual(pixels);
  });

  test("PNG and JPG pass through; all sizes are kept, largest first", () => {
    const small = encodePng(2, 2, new Uint8Array(16).fill(200));
    const large = encodePng(8, 6, image(8, 6));
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0, 1, 0xff, 0xd9]);
    const gcode = block("", 2, 2, small) + block("", 8, 6, large) + block("_JPG", 3, 3, jpeg) + "G1 X1\n";
    const { result, thumbnails } = analyseText(gcode);
    expect(result.thumbnails.map((t) => `${t.width}x${t.height} ${t.format} ${t.source}`)).toEqual(["8x6 png PNG", "3x3 jpg JPG", "2x2 png PNG"]);
    expect(thumbnails[0]!.data).toEqual(large);
    expect(thumbnails[1]!.data).toEqual(jpeg);
  });

  test("broken blocks become warnings, never errors", () => {
    const png = encodePng(2, 2, new Uint8Array(16));
    const gcode =
      block("", 2, 2, png, 999) + // wrong declared length
      block("", 4, 4, new TextEncoder().encode("not an image at all")) +
      block("_QOI", 9, 9, new Uint8Array([0x71, 0x6f, 0x69, 0x66, 0, 0, 0, 9, 0, 0, 0, 9, 4, 0, 0xfe])) + // cut short
      "G1 X1\n";
    const { result } = analyseText(gcode);
    expect(result.thumbnails).toEqual([]);
    expect(result.warnings.join("\n")).toMatch(/declared/);
    expect(result.warnings.join("\n")).toMatch(/not a PNG, JPEG or QOI/);
    expect(result.warnings.join("\n")).toMatch(/QOI data ends/);
  });

  test("a file of endless thumbnail blocks: collection stops at 16 MiB of base64, not at the memory's end", () => {
    // 24 blocks of 1 MiB each, honestly declared: each alone is acceptable, together too much.
    const junk = new Uint8Array(768 * 1024).fill(65);
    const { result } = analyseText(block("", 8, 8, junk).repeat(24) + "G1 X1\n");
    const collected = result.warnings.filter((w) => /not a PNG, JPEG or QOI/.test(w)).length;
    expect(collected).toBeGreaterThan(10);
    expect(collected).toBeLessThanOrEqual(17);
  });
});
