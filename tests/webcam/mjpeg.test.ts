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
