/**
 * A camera without a camera (webcam.md §7): ffmpeg's `testsrc` encoded as JPEGs on stdout, served
 * by a small HTTP server the way mjpg-streamer/µStreamer answer — `/?action=stream` (multipart,
 * boundary `boundarydonotcross`, Content-Length per part) and `/?action=snapshot` (the newest JPEG).
 * It counts stream connections and snapshot requests, so tests can see that the host opens one
 * for many viewers; snapshots can be made slow, so requests overlap.
 */

export interface TestCamera {
  base: string;
  streamUrl: string;
  snapshotUrl: string;
  /** Stream connections opened so far, and open now. */
  connections: number;
  open: number;
  /** Snapshot requests answered so far. */
  snapshots: number;
  /** How long a snapshot takes to answer (changeable while the camera runs). */
  snapshotDelayMs: number;
  /** JPEGs ffmpeg has produced. */
  frames: number;
  latest: Uint8Array | null;
  stop(): Promise<void>;
}

export interface TestCameraOptions {
  fps?: number;
  size?: string;
  /** Leave Content-Length out of the parts (µStreamer's `advance_headers`). */
  noContentLength?: boolean;
}

/** Splits concatenated JPEGs (SOI … EOI): the test's own, independent of the host's parser. */
function splitJpegs(buf: Uint8Array, out: Uint8Array[]): Uint8Array {
  let start = -1;
  let i = 0;
  for (; i + 1 < buf.length; i++) {
    if (buf[i] !== 0xff) continue;
    if (start < 0 && buf[i + 1] === 0xd8) start = i;
    else if (start >= 0 && buf[i + 1] === 0xd9) {
      out.push(buf.slice(start, i + 2));
      buf = buf.subarray(i + 2);
      i = -1;
      start = -1;
    }
  }
  return start >= 0 ? buf.subarray(start) : buf.subarray(Math.max(0, buf.length - 1));
}

export async function startTestCamera(options: TestCameraOptions = {}): Promise<TestCamera> {
  const fps = options.fps ?? 10;
  const ffmpeg = Bun.spawn(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", `testsrc=size=${options.size ?? "320x240"}:rate=${fps}`, "-c:v", "mjpeg", "-q:v", "5", "-f", "mjpeg", "pipe:1"], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
  const listeners = new Set<(jpeg: Uint8Array) => void>();
  const camera = { connections: 0, open: 0, snapshots: 0, snapshotDelayMs: 0, frames: 0, latest: null as Uint8Array | null };
  void (async () => {
    let rest: Uint8Array = new Uint8Array(0);
    const reader = ffmpeg.stdout.getReader();
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      const joined = new Uint8Array(rest.length + chunk.length);
      joined.set(rest);
      joined.set(chunk, rest.length);
      const got: Uint8Array[] = [];
      rest = splitJpegs(joined, got);
      for (const jpeg of got) {
        camera.frames++;
        camera.latest = jpeg;
        for (const l of listeners) l(jpeg);
      }
    }
  })();
  const enc = new TextEncoder();
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const action = new URL(req.url).searchParams.get("action");
      if (action === "snapshot") {
        camera.snapshots++;
        if (camera.snapshotDelayMs > 0) await Bun.sleep(camera.snapshotDelayMs);
        return camera.latest ? new Response(camera.latest as Uint8Array<ArrayBuffer>, { headers: { "content-type": "image/jpeg" } }) : new Response("no frame yet", { status: 503 });
      }
      if (action !== "stream") return new Response("not found", { status: 404 });
      camera.connections++;
      camera.open++;
      let send: ((jpeg: Uint8Array) => void) | undefined;
      const close = () => {
        if (send && listeners.delete(send)) camera.open--;
      };
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          send = (jpeg) => {
            try {
              const head = `--boundarydonotcross\r\nContent-Type: image/jpeg\r\n${options.noContentLength ? "" : `Content-Length: ${jpeg.length}\r\n`}X-Timestamp: ${Date.now() / 1000}\r\n\r\n`;
              controller.enqueue(enc.encode(head));
              controller.enqueue(jpeg);
              controller.enqueue(enc.encode("\r\n"));
            } catch {
              close();
            }
          };
          listeners.add(send);
        },
        cancel: close,
      });
      return new Response(body, { headers: { "content-type": "multipart/x-mixed-replace;boundary=boundarydonotcross", "cache-control": "no-store" } });
    },
  });
  const base = `http://127.0.0.1:${server.port}`;
  return Object.assign(camera, {
    base,
    streamUrl: `${base}/?action=stream`,
    snapshotUrl: `${base}/?action=snapshot`,
    async stop() {
      ffmpeg.kill();
      await server.stop(true);
      await ffmpeg.exited;
    },
  });
}

/** Reads whole parts from a multipart MJPEG response until `count` JPEGs came (or `ms` passed); returns them. */
export async function readFrames(response: Response, count: number, ms = 10_000): Promise<Uint8Array[]> {
  const reader = response.body!.getReader();
  const frames: Uint8Array[] = [];
  let rest: Uint8Array = new Uint8Array(0);
  const deadline = Date.now() + ms;
  try {
    while (frames.length < count && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      const joined = new Uint8Array(rest.length + value.length);
      joined.set(rest);
      joined.set(value, rest.length);
      rest = splitJpegs(joined, frames);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return frames;
}
