/** The relay's fan-out against ffmpeg's test camera: slow viewers skip frames, idle cameras are let go. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { MjpegParser, OUR_BOUNDARY } from "../../src/webcam/mjpeg.ts";
import { CameraRelay } from "../../src/webcam/relay.ts";
import { startTestCamera, type TestCamera } from "../helpers/camera.ts";

let camera: TestCamera;
beforeAll(async () => {
  camera = await startTestCamera({ fps: 20 });
}, 30_000);
afterAll(() => camera?.stop());

const seqOf = (part: Uint8Array) => Number(/X-Timestamp: ([\d.]+)/.exec(new TextDecoder().decode(part.subarray(0, 200)))![1]);

test("a viewer that does not read holds one frame, and then gets the newest, not a backlog", async () => {
  const relay = new CameraRelay(camera.streamUrl);
  const viewer = relay.viewer().getReader();
  const first = (await viewer.read()).value!;
  await Bun.sleep(1500); // ~30 frames pass while this viewer reads nothing
  const second = (await viewer.read()).value!;
  const third = (await viewer.read()).value!;
  // The second was taken while the viewer slept (one waiting frame at most); the third is live again.
  expect(relay.latest!.seq).toBeGreaterThan(20);
  expect(seqOf(third) - seqOf(first)).toBeGreaterThan(1.2);
  expect(new MjpegParser(OUR_BOUNDARY).push(Buffer.concat([first, second, third])).length).toBe(3);
  await viewer.cancel();
  relay.stop();
}, 30_000);

test("the camera connection closes a grace period after the last viewer, and opens again on demand", async () => {
  const relay = new CameraRelay(camera.streamUrl, { graceMs: 300 });
  const connectionsBefore = camera.connections;
  const a = relay.viewer().getReader();
  const b = relay.viewer().getReader();
  await Promise.all([a.read(), b.read()]);
  expect(camera.connections).toBe(connectionsBefore + 1);
  expect(relay.viewers).toBe(2);
  await a.cancel();
  await Bun.sleep(500);
  expect(relay.open).toBe(true);
  await b.cancel();
  await Bun.sleep(800);
  expect(relay.open).toBe(false);
  expect(relay.latest).toBeNull();
  const frame = await relay.next(0, 5000);
  expect(frame.jpeg[0]).toBe(0xff);
  relay.stop();
}, 30_000);

test("a camera that stops sending ends its viewers with a problem instead of hanging them", async () => {
  // A stream that sends headers and one frame, then nothing.
  const one = camera.latest!;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    fetch: () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode(`--x\r\nContent-Type: image/jpeg\r\nContent-Length: ${one.length}\r\n\r\n`));
            c.enqueue(one);
            c.enqueue(new TextEncoder().encode("\r\n"));
          },
        }),
        { headers: { "content-type": "multipart/x-mixed-replace;boundary=x" } },
      ),
  });
  const relay = new CameraRelay(`http://127.0.0.1:${server.port}/`, { stallMs: 400 });
  const viewer = relay.viewer().getReader();
  expect((await viewer.read()).done).toBe(false);
  const end = await viewer.read();
  expect(end.done).toBe(true);
  expect(relay.open).toBe(false);
  relay.stop();
  await server.stop(true);
}, 30_000);
