/**
 * Cameras that answer what no camera should, through a real host (webcam.md §6): the snapshot
 * fetcher must hand viewers only JPEG pictures (it is no general URL fetcher for whoever may watch),
 * and an answer that never ends must not grow the host's memory until the timeout.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestCamera, type TestCamera } from "../helpers/camera.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let camera: TestCamera;
let printer: string;
/** What the hostile "camera" answers, per path. */
let upstream: ReturnType<typeof Bun.serve>;

const put = (body: unknown) => host.api(`/api/v1/printers/${printer}/camera`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

beforeAll(async () => {
  [host, camera] = await Promise.all([startTestHost(), startTestCamera()]);
  printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
  const chunk = new Uint8Array(1024 * 1024).fill(0x41);
  const first = chunk.slice();
  first.set([0xff, 0xd8, 0xff, 0xe0]);
  upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/secret") return new Response("root:x:0:0:internal secret", { headers: { "content-type": "text/plain" } });
      if (path === "/svg") return new Response('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>', { headers: { "content-type": "image/svg+xml" } });
      if (path === "/garbage") return new Response(chunk.subarray(0, 5000), { headers: { "content-type": "image/jpeg" } });
      if (path === "/redirect") return Response.redirect(`http://127.0.0.1:${upstream.port}/secret`, 302);
      // A "JPEG" that never ends, as fast as the host reads it.
      let sent = 0;
      return new Response(
        new ReadableStream({
          pull(c) {
            c.enqueue(sent++ === 0 ? first : chunk);
          },
        }),
        { headers: { "content-type": "image/jpeg" } },
      );
    },
  });
}, 30_000);
afterAll(async () => {
  await host?.close();
  await camera?.stop();
  await upstream?.stop(true);
});

test("a snapshot URL that answers something other than a JPEG is refused, and what it said is not passed on", async () => {
  for (const path of ["/secret", "/svg", "/garbage", "/redirect"]) {
    expect((await put({ streamUrl: "", snapshotUrl: `http://127.0.0.1:${upstream.port}${path}` })).status).toBe(200);
    for (const route of [`/api/v1/printers/${printer}/camera/snapshot`, "/downloads/camera/current"]) {
      const res = await host.api(route);
      const text = await res.text();
      expect({ path, route, status: res.status }).toEqual({ path, route, status: 502 });
      // The native API names the code; OctoPrint's routes answer OctoPrint's {error: message}.
      const error = JSON.parse(text).error;
      expect(typeof error === "string" ? error : error.code).toMatch(/camera_bad_stream|not a JPEG/);
      expect(text).not.toContain("secret");
      expect(text).not.toContain("<script>");
    }
  }
  // A real camera's snapshot still works, as image/jpeg (once ffmpeg has made its first picture).
  while (!camera.latest) await Bun.sleep(50);
  await put({ snapshotUrl: camera.snapshotUrl });
  const ok = await host.api(`/api/v1/printers/${printer}/camera/snapshot`);
  expect(ok.status).toBe(200);
  expect(ok.headers.get("content-type")).toBe("image/jpeg");
  expect(new Uint8Array(await ok.arrayBuffer()).subarray(0, 2)).toEqual(Uint8Array.of(0xff, 0xd8));
}, 60_000);

test("a snapshot that never ends is cut at the size limit at once, not read until the timeout", async () => {
  await put({ streamUrl: "", snapshotUrl: `http://127.0.0.1:${upstream.port}/endless` });
  const started = Date.now();
  const res = await host.api(`/api/v1/printers/${printer}/camera/snapshot`);
  expect(res.status).toBe(502);
  expect((await res.json()).error.code).toBe("camera_bad_stream");
  // The timeout is 5 s; 16 MB on loopback take a fraction of that.
  expect(Date.now() - started).toBeLessThan(4000);
  await put({ snapshotUrl: "" });
}, 60_000);

test("a camera URL that points at the host's own camera address is refused at once, instead of the host fetching itself until the timeout", async () => {
  // A client sends back the webcam block it was given (the host's URLs, with its key).
  await put({ streamUrl: camera.streamUrl, snapshotUrl: "" });
  const given = (await (await host.api("/api/settings")).json()).webcam;
  expect((await host.post("/api/settings", { webcam: { streamUrl: given.streamUrl, snapshotUrl: given.snapshotUrl } })).status).toBe(200);
  try {
    for (const route of [`/api/v1/printers/${printer}/camera/snapshot`, `/api/v1/printers/${printer}/camera/stream`]) {
      const started = Date.now();
      const res = await host.api(route);
      const body = await res.json();
      expect({ route, status: res.status, code: body.error.code }).toEqual({ route, status: 502, code: "camera_loop" });
      expect(body.error.hint).toContain("streamer");
      expect(Date.now() - started).toBeLessThan(2000);
    }
  } finally {
    await put({ streamUrl: camera.streamUrl, snapshotUrl: "" });
  }
}, 60_000);

test("the host's own camera address without a token (the proxy URL the camera API shows) is camera_loop too, not a camera asking for a password", async () => {
  const { proxy } = await (await host.api(`/api/v1/printers/${printer}/camera`)).json();
  await put({ streamUrl: host.url + proxy.stream, snapshotUrl: host.url + proxy.snapshot });
  try {
    for (const route of [proxy.snapshot, proxy.stream]) {
      const res = await host.api(route);
      const body = await res.json();
      expect({ route, status: res.status, code: body.error.code }).toEqual({ route, status: 502, code: "camera_loop" });
    }
  } finally {
    await put({ streamUrl: camera.streamUrl, snapshotUrl: "" });
  }
}, 60_000);
