import { describe, expect, test } from "bun:test";
import { boundaryOf, framePart, MjpegParser, OUR_BOUNDARY, StreamFormatError } from "../../src/webcam/mjpeg.ts";

/** Five real JPEG frames from ffmpeg as its mpjpeg muxer writes them (boundary "ffmpeg", lower-case part headers). */
function ffmpegMpjpeg(frames: number): Uint8Array {
  const r = Bun.spawnSync(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-frames:v", String(frames), "-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg", "pipe:1"]);
  expect(r.exitCode).toBe(0);
  return r.stdout;
}

function rawJpegs(frames: number): Uint8Array {
  const r = Bun.spawnSync(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-frames:v", String(frames), "-c:v", "mjpeg", "-f", "mjpeg", "pipe:1"]);
  return r.stdout;
}

/** Feeds bytes in chunks of pseudo-random sizes (1…chunk), as a network delivers them. */
function feed(parser: MjpegParser, bytes: Uint8Array, chunk: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let seed = 7;
  for (let i = 0; i < bytes.length; ) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const n = 1 + (seed % chunk);
    frames.push(...parser.push(bytes.subarray(i, i + n)));
    i += n;
  }
  return frames;
}

const isJpeg = (f: Uint8Array) => f[0] === 0xff && f[1] === 0xd8 && f[f.length - 2] === 0xff && f[f.length - 1] === 0xd9;

describe("MJPEG parser", () => {
  test("boundary from the Content-Type header, quoted or not, with or without leading dashes", () => {
    expect(boundaryOf("multipart/x-mixed-replace;boundary=boundarydonotcross")).toBe("boundarydonotcross");
    expect(boundaryOf('multipart/x-mixed-replace; boundary="123456789000000000000987654321"')).toBe("123456789000000000000987654321");
    expect(boundaryOf("multipart/x-mixed-replace;boundary=--ffmpeg")).toBe("ffmpeg");
    expect(boundaryOf("image/jpeg")).toBeNull();
    expect(boundaryOf(null)).toBeNull();
  });

  test("ffmpeg's mpjpeg (lower-case Content-length) in chunks of any size gives every frame whole", () => {
    const bytes = ffmpegMpjpeg(5);
    for (const chunk of [1, 7, 500, 100_000]) {
      const frames = feed(new MjpegParser("ffmpeg"), bytes, chunk);
      expect(frames.length).toBe(5);
      expect(frames.every(isJpeg)).toBe(true);
    }
  });

  test("parts without Content-Length (µStreamer advance_headers) end at the next boundary", () => {
    const jpegs: Uint8Array[] = [];
    const raw = rawJpegs(3);
    const p = new MjpegParser(null);
    jpegs.push(...p.push(raw));
    expect(jpegs.length).toBe(3);
    const enc = new TextEncoder();
    const parts = jpegs.flatMap((j) => [enc.encode("--boundarydonotcross\r\nContent-Type: image/jpeg\r\n\r\n"), j, enc.encode("\r\n")]);
    const stream = Buffer.concat([...parts, enc.encode("--boundarydonotcross\r\n")]);
    const frames = feed(new MjpegParser("boundarydonotcross"), stream, 300);
    expect(frames.map((f) => f.length)).toEqual(jpegs.map((j) => j.length));
    expect(frames.every(isJpeg)).toBe(true);
  });

  test("JPEGs back to back with no multipart framing (ffmpeg -f mjpeg)", () => {
    const frames = feed(new MjpegParser(null), rawJpegs(4), 333);
    expect(frames.length).toBe(4);
    expect(frames.every(isJpeg)).toBe(true);
  });

  test("garbage between parts and non-JPEG parts are skipped", () => {
    const [jpeg] = new MjpegParser(null).push(rawJpegs(1));
    const enc = new TextEncoder();
    const bytes = Buffer.concat([enc.encode("noise noise\r\n--b\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello\r\n--b\r\nContent-Length: " + jpeg!.length + "\r\n\r\n"), jpeg!, enc.encode("\r\n")]);
    const frames = new MjpegParser("b").push(bytes);
    expect(frames.length).toBe(1);
    expect(frames[0]!.length).toBe(jpeg!.length);
  });

  test("a frame that never ends is refused instead of growing memory", () => {
    const p = new MjpegParser("b", 1000);
    p.push(new TextEncoder().encode("--b\r\nContent-Type: image/jpeg\r\n\r\n"));
    expect(() => {
      for (let i = 0; i < 100; i++) p.push(new Uint8Array(1000).fill(0x11));
    }).toThrow(StreamFormatError);
    expect(() => new MjpegParser("b", 1000).push(new TextEncoder().encode("--b\r\nContent-Length: 5000\r\n\r\n"))).toThrow(StreamFormatError);
  });

  test("the host's own parts carry Content-Length and parse back", () => {
    const [jpeg] = new MjpegParser(null).push(rawJpegs(1));
    const part = framePart(jpeg!, 1_700_000_000_000);
    expect(new TextDecoder().decode(part.subarray(0, 80))).toContain(`Content-Length: ${jpeg!.length}`);
    const frames = new MjpegParser(OUR_BOUNDARY).push(Buffer.concat([part, framePart(jpeg!, 1)]));
    expect(frames.length).toBe(2);
  });
});

/** A deterministic pseudo-random source (the same streams and splits on every run). */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

/** A fake JPEG: SOI, `n` bytes of `body()`, EOI — the parser looks at nothing more. */
function fakeJpeg(next: () => number, n: number, byte: (r: number) => number): Uint8Array {
  const out = new Uint8Array(n + 4);
  out.set([0xff, 0xd8]);
  for (let i = 0; i < n; i++) out[i + 2] = byte(next());
  out.set([0xff, 0xd9], n + 2);
  return out;
}

/** Strings as latin1, so "\xff" is the byte 0xFF. */
const concat = (parts: (Uint8Array | string)[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : p)));
const anyByte = (r: number) => Math.floor(r * 256);
/** Random bytes without 0xFF, so an EOI appears only at a frame's end (real JPEGs stuff 0xFF as FF 00). */
const noMarker = (r: number) => Math.floor(r * 255);

interface Case {
  name: string;
  boundary: string | null;
  bytes: Uint8Array;
  frames: Uint8Array[];
}

/** Streams of every shape the parser handles, with the JPEGs each must give; the frames hold what trips a naive parser. */
function cases(seed: number): Case[] {
  const next = random(seed);
  const size = () => 1 + Math.floor(next() * 3000);
  const jpegs = (count: number, byte: (r: number) => number) => Array.from({ length: count }, () => fakeJpeg(next, size(), byte));
  const out: Case[] = [];
  const b = "boundarydonotcross";
  {
    // Content-Length parts whose bytes contain the whole boundary line: only the length says where they end.
    const frames = jpegs(6, anyByte).map((f) => concat([f.subarray(0, f.length - 2), `\r\n--${b}\r\nContent-Length: 1\r\n\r\n`, f.subarray(f.length - 2)]));
    out.push({ name: "Content-Length, boundary inside the picture", boundary: b, bytes: concat(["HTTP noise before the first part\r\n", ...frames.flatMap((f) => [`--${b}\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.length}\r\nX-Timestamp: 1.5\r\n\r\n`, f, "\r\n"])]), frames });
  }
  {
    // No Content-Length (µStreamer advance_headers): the next boundary ends a part; near-boundaries inside do not.
    const frames = jpegs(6, noMarker).map((f) => concat([f.subarray(0, 9), `\r\n--${b.slice(0, -1)}\r\n\r\n--`, f.subarray(9)]));
    out.push({ name: "no Content-Length, near-boundaries inside", boundary: b, bytes: concat([...frames.flatMap((f) => [`--${b}\r\nContent-Type: image/jpeg\r\n\r\n`, f, "\r\n"]), `--${b}--\r\n`]), frames });
  }
  {
    // ffmpeg's mpjpeg: lower-case headers; here with bare LF line ends, and a non-JPEG part between.
    const frames = jpegs(5, anyByte);
    const parts = frames.flatMap((f, i) => [...(i === 2 ? ["--ffmpeg\nContent-type: text/plain\nContent-length: 5\n\nhello\n"] : []), `--ffmpeg\nContent-type: image/jpeg\nContent-length: ${f.length}\n\n`, f, "\n"]);
    out.push({ name: "ffmpeg style, LF line ends, a text part", boundary: "ffmpeg", bytes: concat(parts), frames });
  }
  {
    // Parts with no headers at all: the picture follows the boundary line.
    const frames = jpegs(5, noMarker);
    out.push({ name: "no part headers", boundary: "123456789000000000000987654321", bytes: concat([...frames.flatMap((f) => ["--123456789000000000000987654321\r\n", f, "\r\n"]), "--123456789000000000000987654321\r\n"]), frames });
  }
  {
    // JPEGs back to back with garbage between (and a lone 0xFF before an SOI).
    const frames = jpegs(6, noMarker);
    out.push({ name: "raw JPEGs", boundary: null, bytes: concat(frames.flatMap((f, i) => [i % 2 ? "junk \xff" : new Uint8Array([0xff]), f])), frames });
  }
  return out;
}

/** Pushes `bytes` cut at `cuts` (sorted offsets), returning the frames. */
function pushCut(parser: MjpegParser, bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    frames.push(...parser.push(bytes.subarray(at, cut)));
    at = cut;
  }
  return frames;
}

describe("MJPEG parser: the same frames however the bytes are cut", () => {
  const hex = (frames: Uint8Array[]) => frames.map((f) => Buffer.from(f).toString("hex"));

  test("whole, at random cuts (many small and some large pieces), and byte by byte", () => {
    for (let seed = 1; seed <= 8; seed++) {
      const next = random(seed * 7919);
      for (const c of cases(seed)) {
        const want = hex(c.frames);
        expect({ name: c.name, frames: hex(new MjpegParser(c.boundary).push(c.bytes)) }).toEqual({ name: c.name, frames: want });
        for (let round = 0; round < 10; round++) {
          const pieces = 1 + Math.floor(next() * (round < 5 ? 40 : 400));
          const cuts = [...new Set(Array.from({ length: pieces }, () => Math.floor(next() * c.bytes.length)))].sort((a, b) => a - b);
          expect({ name: c.name, seed, cuts: cuts.length, frames: hex(pushCut(new MjpegParser(c.boundary), c.bytes, cuts)) }).toEqual({ name: c.name, seed, cuts: cuts.length, frames: want });
        }
        const bytewise = pushCut(new MjpegParser(c.boundary), c.bytes, Array.from({ length: c.bytes.length - 1 }, (_, i) => i + 1));
        expect({ name: c.name, frames: hex(bytewise) }).toEqual({ name: c.name, frames: want });
      }
    }
  });

  test("cut in two at every offset of a small stream (a boundary, a header or a marker split anywhere)", () => {
    const next = random(99);
    const [a, b] = [fakeJpeg(next, 20, noMarker), fakeJpeg(next, 30, noMarker)];
    const streams: [string | null, Uint8Array][] = [
      ["bd", concat(["--bd\r\nContent-Type: image/jpeg\r\nContent-Length: 24\r\n\r\n", a, "\r\n--bd\r\nContent-Type: image/jpeg\r\n\r\n", b, "\r\n--bd\r\n"])],
      ["bd", concat(["--bd\n\n", a, "\n--bd\ncontent-length: 34\n\n", b, "\n"])],
      [null, concat(["x\xff", a, "\xff\xff", b])],
    ];
    for (const [boundary, bytes] of streams) {
      for (let cut = 1; cut < bytes.length; cut++) {
        expect({ cut, frames: hex(pushCut(new MjpegParser(boundary), bytes, [cut])) }).toEqual({ cut, frames: hex([a, b]) });
      }
    }
  });
});

describe("MJPEG parser: a hostile camera costs work in proportion to its bytes", () => {
  /** Feeds `total` bytes after `head` in `chunk`-byte pieces until the parser refuses; returns what it did. */
  function endless(boundary: string | null, head: string, fill: number, total: number, chunk: number, max: number) {
    const parser = new MjpegParser(boundary, max);
    const piece = new Uint8Array(chunk).fill(fill);
    let fed = 0;
    let refused = false;
    try {
      parser.push(concat([head, new Uint8Array([0xff, 0xd8])]));
      while (fed < total) {
        parser.push(piece);
        fed += chunk;
      }
    } catch (e) {
      expect(e).toBeInstanceOf(StreamFormatError);
      refused = true;
    }
    return { fed, refused, copied: parser.work.copied, scanned: parser.work.scanned };
  }

  test("a 16 MB picture that never ends, in 64 KB pieces: each byte copied and looked at a few times, not once per piece", () => {
    const shapes: [string, string | null, string][] = [
      ["no Content-Length", "b", "--b\r\nContent-Type: image/jpeg\r\n\r\n"],
      ["a Content-Length of 16 MB", "b", `--b\r\nContent-Length: ${16 * 1024 * 1024}\r\n\r\n`],
      ["raw JPEG", null, ""],
    ];
    for (const [name, boundary, head] of shapes) {
      const r = endless(boundary, head, 0x41, 17 * 1024 * 1024, 64 * 1024, 16 * 1024 * 1024);
      // A concatenation per piece copies ~128 × 16 MB = 2 GB here.
      expect({ name, copiedPerByte: Math.round(r.copied / r.fed), scannedPerByte: Math.round(r.scanned / r.fed) }).toEqual({ name, copiedPerByte: expect.any(Number), scannedPerByte: expect.any(Number) });
      expect({ name, copyBounded: r.copied < 5 * r.fed, scanBounded: r.scanned < 3 * r.fed }).toEqual({ name, copyBounded: true, scanBounded: true });
      // The caps hold: no Content-Length and raw are refused past 16 MB; the announced 16 MB part is read.
      expect({ name, refused: r.refused }).toEqual({ name, refused: name !== "a Content-Length of 16 MB" });
    }
  });

  test("in 1 KB pieces too (a slow camera): still linear", () => {
    for (const [boundary, head] of [["b", "--b\r\n\r\n"], [null, ""]] as const) {
      const r = endless(boundary, head, 0x00, 2 * 1024 * 1024, 1024, 1024 * 1024);
      expect(r.copied).toBeLessThan(5 * r.fed);
      expect(r.scanned).toBeLessThan(3 * r.fed);
      expect(r.refused).toBe(true);
    }
  });

  test("a normal stream costs the same: each frame copied out once, few copies inside", () => {
    const bytes = ffmpegMpjpeg(5);
    const parser = new MjpegParser("ffmpeg");
    expect(feed(parser, bytes, 4096).length).toBe(5);
    expect(parser.work.copied).toBeLessThan(4 * bytes.length);
    expect(parser.work.scanned).toBeLessThan(3 * bytes.length);
  });
});
