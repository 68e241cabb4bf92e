/**
 * Cameras through a real host: config per printer, the host's MJPEG stream fanned out from one
 * camera connection, snapshots, clear errors when the camera is down, permissions, and the
 * OctoPrint settings block and snapshot download. The camera is ffmpeg's testsrc (helpers/camera.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFrames, startTestCamera, type TestCamera } from "../helpers/camera.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let camera: TestCamera;
let printer: string;

const put = (body: unknown, path = `/api/v1/printers/${printer}/camera`) => host.api(path, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const isJpeg = (f: Uint8Array) => f[0] === 0xff && f[1] === 0xd8 && f[f.length - 2] === 0xff && f[f.length - 1] === 0xd9;

beforeAll(async () => {
  [host, camera] = await Promise.all([startTestHost(), startTestCamera()]);
  printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
}, 30_000);
afterAll(async () => {
  await host?.close();
  await camera?.stop();
});

describe("camera config", () => {
  test("a printer has no camera until one is set; the config is stored per printer", async () => {
    const none = await (await host.api(`/api/v1/printers/${printer}/camera`)).json();
    expect(none).toMatchObject({ streamUrl: "", snapshotUrl: "", configured: false, flipH: false, rotate: 0, ratio: "16:9" });
    const snap = await host.api(`/api/v1/printers/${printer}/camera/snapshot`);
    expect(snap.status).toBe(404);
    expect((await snap.json()).error.code).toBe("no_camera");

    const res = await put({ streamUrl: camera.streamUrl, flipH: true, rotate: 90, ratio: "4:3" });
    expect(res.status).toBe(200);
    const saved = await res.json();
    expect(saved).toMatchObject({ streamUrl: camera.streamUrl, flipH: true, rotate: 90, ratio: "4:3", configured: true, warnings: [] });
    expect(saved.proxy.stream).toBe(`/api/v1/printers/${printer}/camera/stream`);
    // A partial change keeps the rest.
    expect(await (await put({ flipH: false })).json()).toMatchObject({ streamUrl: camera.streamUrl, flipH: false, rotate: 90 });
    expect(host.webcam.camera(printer).ratio).toBe("4:3");
  });

  test("bad values are refused with the field named; unknown printers are 404", async () => {
    const bad = await put({ streamUrl: "file:///etc/passwd" });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain("http://");
    expect((await put({ rotate: 45 })).status).toBe(400);
    expect((await put({ streamUrl: camera.streamUrl }, "/api/v1/printers/nope/camera")).status).toBe(404);
    expect(host.webcam.camera(printer).streamUrl).toBe(camera.streamUrl);
  });

  test("a public camera address is warned about; credentials in URLs are hidden from viewers without settings", async () => {
    const warned = await (await put({ snapshotUrl: "http://user:secret@203.0.113.9:8080/?action=snapshot" })).json();
    expect(warned.warnings[0]).toContain("203.0.113.9");
    const admin = host.accounts.users.byName("admin")!;
    const viewer = host.accounts.createKey(admin, { name: "viewer", scope: "read-only" }).key;
    const seen = await (await host.api(`/api/v1/printers/${printer}/camera`, { headers: { "x-api-key": viewer } })).json();
    expect(seen.snapshotUrl).toBe("http://203.0.113.9:8080/?action=snapshot");
    expect((await put({ snapshotUrl: "" })).status).toBe(200);
  });

  test("credentials in a camera URL's query (Reolink, Foscam, a streamer's key) are hidden from viewers without settings too", async () => {
    const url = "http://192.168.1.50/cgi-bin/api.cgi?cmd=Snap&channel=0&user=admin&password=hunter2&rs=x";
    await put({ snapshotUrl: url, streamUrl: "http://192.168.1.51/cgi-bin/CGIProxy.fcgi?cmd=GetMJStream&usr=admin&pwd=hunter3" });
    const admin = host.accounts.users.byName("admin")!;
    const viewer = host.accounts.createKey(admin, { name: "query viewer", scope: "read-only" }).key;
    const seen = await (await host.api(`/api/v1/printers/${printer}/camera`, { headers: { "x-api-key": viewer } })).json();
    expect(JSON.stringify(seen)).not.toContain("hunter");
    expect(JSON.stringify(seen)).not.toContain("admin");
    expect(seen.snapshotUrl).toBe("http://192.168.1.50/cgi-bin/api.cgi?cmd=Snap&channel=0&rs=x");
    expect(seen.streamUrl).toBe("http://192.168.1.51/cgi-bin/CGIProxy.fcgi?cmd=GetMJStream");
    // Who may change the camera sees the URL as entered.
    expect((await (await host.api(`/api/v1/printers/${printer}/camera`)).json()).snapshotUrl).toBe(url);
    expect((await put({ snapshotUrl: "", streamUrl: camera.streamUrl })).status).toBe(200);
  });
});

describe("the picture through the host", () => {
  test("many viewers, one camera connection; every part a whole JPEG", async () => {
    const before = camera.connections;
    const viewers = await Promise.all([1, 2, 3].map(() => host.api(`/api/v1/printers/${printer}/camera/stream`)));
    for (const v of viewers) {
      expect(v.status).toBe(200);
      expect(v.headers.get("content-type")).toStartWith("multipart/x-mixed-replace;boundary=");
      expect(v.headers.get("cache-control")).toContain("no-store");
    }
    const frames = await Promise.all(viewers.map((v) => readFrames(v, 5)));
    for (const f of frames) {
      expect(f.length).toBe(5);
      expect(f.every(isJpeg)).toBe(true);
    }
    expect(camera.connections - before).toBe(1);
  }, 30_000);

  test("a snapshot while the stream is open is its newest frame (no new camera request)", async () => {
    const viewer = await host.api(`/api/v1/printers/${printer}/camera/stream`);
    const connections = camera.connections;
    const shot = await host.api(`/api/v1/printers/${printer}/camera/snapshot?bypassCache=${Date.now()}`);
    expect(shot.status).toBe(200);
    expect(shot.headers.get("content-type")).toBe("image/jpeg");
    expect(isJpeg(new Uint8Array(await shot.arrayBuffer()))).toBe(true);
    expect(camera.connections).toBe(connections);
    await viewer.body?.cancel();
  }, 30_000);

  test("with a snapshot URL and no stream, the snapshot comes from it", async () => {
    await put({ streamUrl: "", snapshotUrl: camera.snapshotUrl });
    const shot = await host.api(`/api/v1/printers/${printer}/camera/snapshot`);
    expect(shot.status).toBe(200);
    expect(isJpeg(new Uint8Array(await shot.arrayBuffer()))).toBe(true);
    const stream = await host.api(`/api/v1/printers/${printer}/camera/stream`);
    expect(stream.status).toBe(404);
    expect((await stream.json()).error.code).toBe("no_camera");
    await put({ streamUrl: camera.streamUrl, snapshotUrl: "" });
  }, 30_000);

  test("snapshots asked for at the same time share one camera request; a later one asks again", async () => {
    const shoot = (n: number) => Promise.all(Array.from({ length: n }, () => host.api(`/api/v1/printers/${printer}/camera/snapshot`)));
    const jpegs = async (responses: Response[]) => {
      for (const r of responses) expect({ status: r.status, jpeg: isJpeg(new Uint8Array(await r.arrayBuffer())) }).toEqual({ status: 200, jpeg: true });
    };
    try {
      // From the snapshot URL, slow enough that all requests overlap.
      await put({ streamUrl: "", snapshotUrl: camera.snapshotUrl });
      camera.snapshotDelayMs = 400;
      const before = camera.snapshots;
      await jpegs(await shoot(8));
      expect(camera.snapshots - before).toBe(1);
      await jpegs(await shoot(1));
      expect(camera.snapshots - before).toBe(2);
      camera.snapshotDelayMs = 0;
      // With only a stream and none open yet: one connection serves them all.
      await put({ streamUrl: camera.streamUrl, snapshotUrl: "" });
      const connections = camera.connections;
      await jpegs(await shoot(8));
      expect(camera.connections - connections).toBe(1);
    } finally {
      camera.snapshotDelayMs = 0;
      await put({ streamUrl: camera.streamUrl, snapshotUrl: "" });
    }
  }, 30_000);

  test("a camera that is down or answers wrongly is a clear error, never a 500", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("nope") });
    const port = closed.port;
    await closed.stop(true);
    await put({ streamUrl: `http://127.0.0.1:${port}/?action=stream` });
    const down = await host.api(`/api/v1/printers/${printer}/camera/stream`);
    expect(down.status).toBe(502);
    const body = await down.json();
    expect(body.error.code).toBe("camera_unreachable");
    expect(body.error.message).toContain(`127.0.0.1:${port}`);
    expect(body.error.hint).not.toBe("");

    // The snapshot URL given as the stream URL: one picture, not a stream.
    await put({ streamUrl: camera.snapshotUrl });
    const single = await host.api(`/api/v1/printers/${printer}/camera/stream`);
    expect(single.status).toBe(502);
    expect((await single.json()).error.hint).toContain("Snapshot URL");

    await put({ streamUrl: `${camera.base}/missing` });
    const missing = await host.api(`/api/v1/printers/${printer}/camera/snapshot`);
    expect(missing.status).toBe(502);
    expect((await missing.json()).error.message).toContain("404");
    await put({ streamUrl: camera.streamUrl });
  }, 30_000);

  test("a camera that never answers times out with 504", async () => {
    const silent = Bun.serve({ port: 0, hostname: "127.0.0.1", idleTimeout: 0, fetch: () => new Promise<Response>(() => {}) });
    try {
      await put({ streamUrl: `http://127.0.0.1:${silent.port}/stream` });
      const started = Date.now();
      const res = await host.api(`/api/v1/printers/${printer}/camera/stream`);
      expect(res.status).toBe(504);
      expect((await res.json()).error.code).toBe("camera_timeout");
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await put({ streamUrl: camera.streamUrl });
      await silent.stop(true);
    }
  }, 30_000);
});

describe("who may watch", () => {
  test("the stream needs the webcam permission: anonymous 401, a status-only key 403, read-only keys watch", async () => {
    const admin = host.accounts.users.byName("admin")!;
    const statusOnly = host.accounts.createKey(admin, { name: "status only", scope: "status" }).key;
    const readOnly = host.accounts.createKey(admin, { name: "dashboard", scope: "read-only" }).key;
    expect((await host.anonymous(`/api/v1/printers/${printer}/camera/snapshot`)).status).toBe(401);
    expect((await host.api(`/api/v1/printers/${printer}/camera/snapshot`, { headers: { "x-api-key": statusOnly } })).status).toBe(403);
    expect((await host.api(`/api/v1/printers/${printer}/camera/snapshot`, { headers: { "x-api-key": readOnly } })).status).toBe(200);
    expect((await put({ flipV: true }).then(() => host.api(`/api/v1/printers/${printer}/camera`, { method: "PUT", headers: { "x-api-key": readOnly, "content-type": "application/json" }, body: "{}" }))).status).toBe(403);
  }, 30_000);
});

describe("OctoPrint clients", () => {
  test("/api/settings names the host's stream URL (with a camera token for the client's key, as Cura opens it without headers), and it plays", async () => {
    const settings = await (await host.api("/api/settings")).json();
    expect(settings.webcam.webcamEnabled).toBe(true);
    // Layerline records timelapses (GET /api/timelapse says enabled): clients show their timelapse views by this flag.
    expect(settings.webcam.timelapseEnabled).toBe(true);
    expect(settings.webcam.streamUrl).toMatch(new RegExp(`^${host.url}/api/v1/printers/${printer}/camera/stream\\?camera_token=[\\w-]{43}$`));
    expect(settings.webcam.webcams[0]).toMatchObject({ name: "classic", canSnapshot: true, flipV: true });
    const stream = await fetch(settings.webcam.streamUrl);
    expect(stream.status).toBe(200);
    expect((await readFrames(stream, 2)).length).toBe(2);
    const perPrinter = await (await host.api(`/printers/${printer}/api/settings`)).json();
    expect(perPrinter.webcam.snapshotUrl).toContain(`/api/v1/printers/${printer}/camera/snapshot`);
  }, 30_000);

  test("/api/settings has no webcam block for a caller without the webcam permission, as OctoPrint", async () => {
    const admin = host.accounts.users.byName("admin")!;
    const statusOnly = host.accounts.createKey(admin, { name: "settings, no camera", scope: "status" }).key;
    const res = await host.api("/api/settings", { headers: { "x-api-key": statusOnly } });
    expect(res.status).toBe(200);
    const settings = await res.json();
    expect(settings.webcam).toBeUndefined();
    expect(settings.feature).toBeDefined();
  });

  test("POST /api/settings webcam changes the printer's camera; rotate90 is 90° counter-clockwise", async () => {
    const res = await host.api("/api/settings", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ webcam: { rotate90: true, flipH: true, streamRatio: "16:9" } }) });
    expect(res.status).toBe(200);
    expect((await res.json()).webcam).toMatchObject({ rotate90: true, flipH: true, streamRatio: "16:9" });
    expect(host.webcam.camera(printer)).toMatchObject({ rotate: 270, flipH: true, streamUrl: camera.streamUrl });
    const bad = await host.api("/api/settings", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ webcam: { streamUrl: "javascript:alert(1)" } }) });
    expect(bad.status).toBe(400);
  });

  test("/downloads/camera/current is a snapshot, for the default printer and under the printer's prefix", async () => {
    for (const path of ["/downloads/camera/current", `/printers/${printer}/downloads/camera/current`]) {
      const res = await host.api(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/jpeg");
      expect(isJpeg(new Uint8Array(await res.arrayBuffer()))).toBe(true);
    }
  }, 30_000);
});
