/**
 * Timelapses end to end on a real host: the virtual printer prints a small layered file while
 * ffmpeg's testsrc is the camera; a frame per layer (plus the finished print) lands under the data
 * folder, ffmpeg renders an H.264 mp4 (checked with ffprobe) with a thumbnail, and the API lists,
 * downloads with Range requests and deletes it. Rendering without ffmpeg keeps the frames and says
 * how to install it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startTestCamera, type TestCamera } from "../helpers/camera.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, readyHost, upload, type TestHost } from "../helpers/host.ts";

const LAYERS = 6;
let host: TestHost, camera: TestCamera, printer: string, at: string;

beforeAll(async () => {
  [{ host, printer }, camera] = await Promise.all([readyHost({ virtual: { timeScale: 20 } }), startTestCamera()]);
  at = `/api/v1/printers/${printer}`;
  const gcode = layeredGcode({ layers: LAYERS, objects: [{ name: "cube", x: 50, y: 50 }], size: 20, loops: 2, feedrate: 1200 });
  expect((await upload(host, "cube.gcode", gcode)).status).toBe(201);
  await host.waitFor("/api/v1/files/cube.gcode", (f: any) => f.analysis?.state === "done");
}, 60_000);
afterAll(async () => {
  await host?.close();
  await camera?.stop();
});

const put = (path: string, body: unknown) => host.api(path, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

function ffprobe(path: string): { codec: string; pix: string; frames: number; fps: string } {
  const r = Bun.spawnSync(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries", "stream=codec_name,pix_fmt,nb_read_frames,r_frame_rate", "-of", "json", path]);
  const s = JSON.parse(r.stdout.toString()).streams[0];
  return { codec: s.codec_name, pix: s.pix_fmt, frames: Number(s.nb_read_frames), fps: s.r_frame_rate };
}

describe("timelapse", () => {
  test("settings per printer, validated", async () => {
    expect(await (await host.api(`${at}/timelapse`)).json()).toMatchObject({ mode: "off", fps: 25, renderAfterPrint: "always" });
    expect((await put(`${at}/timelapse`, { mode: "zchange" })).status).toBe(400);
    expect((await put(`${at}/timelapse`, { fps: 0 })).status).toBe(400);
    const saved = await (await put(`${at}/timelapse`, { mode: "layer", fps: 10 })).json();
    expect(saved).toMatchObject({ mode: "layer", fps: 10, postponeWhilePrinting: true });
    expect((await put(`${at}/camera`, { streamUrl: camera.streamUrl })).status).toBe(200);
  });

  test("a print with a layer timelapse: a frame per layer and the end, an mp4 rendered with ffmpeg, listed, downloadable, deletable", async () => {
    // OctoPrint's push socket hears the captures and the render.
    const ws = new WebSocket(`${host.url.replace("http", "ws")}/sockjs/websocket`);
    const pushed: any[] = [];
    ws.onmessage = (e) => pushed.push(JSON.parse(String(e.data)));
    await new Promise((resolve) => (ws.onopen = resolve));
    ws.send(JSON.stringify({ auth: `admin:${(await (await host.post("/api/login", { passive: true })).json()).session}` }));
    const kinds: string[] = [];
    const heard = (e: { kind: string }) => kinds.push(e.kind);
    host.bus.on("timelapse.event", heard);

    expect((await host.post(`${at}/job`, { file: "cube.gcode" })).status).toBe(200);
    await host.waitFor(at, (p: any) => p.job?.state === "printing");
    // While it prints: an unrendered set marked recording, which can be neither rendered nor deleted.
    const during = await host.waitFor("/api/v1/timelapse", (l: any) => l.unrendered.length === 1);
    const set = during.unrendered[0].name as string;
    expect(set).toStartWith(`${printer}_cube_`);
    expect(during.unrendered[0].recording).toBe(true);
    expect((await host.post(`/api/v1/timelapse/unrendered/${set}/render`)).status).toBe(409);
    expect((await host.api(`/api/v1/timelapse/unrendered/${set}`, { method: "DELETE" })).status).toBe(409);
    const frameDir = join(host.dataDir, "timelapse", "frames", set);
    expect(existsSync(frameDir)).toBe(true);

    const ended = await host.waitFor(at, jobEnded, 60_000);
    expect(ended.job.state).toBe("done");
    const listing = await host.waitFor("/api/v1/timelapse", (l: any) => l.files.length === 1 && l.unrendered.length === 0, 60_000);
    const video = listing.files[0];
    expect(video).toMatchObject({ name: `${set}.mp4`, printer, thumbnail: true });
    expect(existsSync(frameDir)).toBe(false);
    expect(readdirSync(join(host.dataDir, "timelapse")).filter((f) => f.startsWith("."))).toEqual([]);

    const probe = ffprobe(join(host.dataDir, "timelapse", video.name));
    expect(probe).toEqual({ codec: "h264", pix: "yuv420p", frames: LAYERS + 1, fps: "10/1" });
    expect(kinds.filter((k) => k === "captured").length).toBe(LAYERS + 1);
    expect(kinds.filter((k) => k !== "captured" && k !== "progress")).toEqual(["rendering", "rendered"]);
    const events = pushed.filter((m) => m.event).map((m) => m.event);
    expect(events.filter((e) => e.type === "CaptureDone").length).toBe(LAYERS + 1);
    expect(events.find((e) => e.type === "MovieDone")?.payload).toMatchObject({ gcode: "cube.gcode", movie_basename: video.name, movie_prefix: set });
    ws.close();
    host.bus.off("timelapse.event", heard);

    const whole = await host.api(`/api/v1/timelapse/files/${video.name}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("video/mp4");
    expect((await whole.arrayBuffer()).byteLength).toBe(video.bytes);
    const part = await host.api(`/api/v1/timelapse/files/${video.name}`, { headers: { range: "bytes=0-99" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 0-99/${video.bytes}`);
    expect((await part.arrayBuffer()).byteLength).toBe(100);
    const thumb = await host.api(`/api/v1/timelapse/files/${video.name}/thumbnail`);
    expect(thumb.headers.get("content-type")).toBe("image/jpeg");
    expect(new Uint8Array(await thumb.arrayBuffer())[0]).toBe(0xff);

    expect((await host.api("/api/v1/timelapse/files/..%2Flayerline.sqlite")).status).toBe(404);
    expect((await host.api("/api/v1/timelapse/files/.hidden.mp4")).status).toBe(404);
    expect((await host.api(`/api/v1/timelapse/files/${video.name}`, { method: "DELETE" })).status).toBe(204);
    expect((await (await host.api("/api/v1/timelapse")).json()).files).toEqual([]);
  }, 120_000);
});

describe("OctoPrint's /api/timelapse", () => {
  test("timed settings through POST /api/timelapse; a print records every interval, renders with the post-roll, lists, downloads and deletes the OctoPrint way", async () => {
    const set = await host.api("/api/timelapse", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "timed", interval: 1, fps: 5, postRoll: 1, renderAfterPrint: "always", save: true }) });
    expect(set.status).toBe(200);
    expect((await set.json()).config).toEqual({ type: "timed", postRoll: 1, fps: 5, interval: 1, renderAfterPrint: "always" });
    expect(host.timelapse.config(printer)).toMatchObject({ mode: "timed", interval: 1, fps: 5, postRoll: 1 });
    expect((await host.api("/api/timelapse", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "sometimes" }) })).status).toBe(400);

    const started = Date.now();
    expect((await host.post(`${at}/job`, { file: "cube.gcode" })).status).toBe(200);
    await host.waitFor(at, (p: any) => p.job?.state === "printing");
    const during = await (await host.api("/api/timelapse?unrendered=true")).json();
    expect(during.unrendered[0]).toMatchObject({ recording: true, rendering: false });
    await host.waitFor(at, jobEnded, 60_000);
    const seconds = (Date.now() - started) / 1000;
    const listing = await host.waitFor("/api/timelapse?unrendered=true", (l: any) => l.files.length === 1 && l.unrendered.length === 0, 60_000);
    const file = listing.files[0];
    expect(file.name).toMatch(new RegExp(`^${printer}_cube_\\d{14}\\.mp4$`));
    expect(file.size).toMatch(/B$/);
    expect(file.url).toBe(`${host.url}/downloads/timelapse/${file.name}`);
    expect(file.thumbnail).toBe(`${file.url}.thumb.jpg`);

    // A frame at the start and one a second after, one at the end; the last shown a second longer (5 frames at 5 fps).
    const probe = ffprobe(join(host.dataDir, "timelapse", file.name));
    expect(probe.fps).toBe("5/1");
    expect(probe.frames).toBeGreaterThanOrEqual(2 + 5);
    expect(probe.frames).toBeLessThanOrEqual(Math.ceil(seconds) + 2 + 5);

    const download = await host.api(new URL(file.url).pathname, { headers: { range: "bytes=10-" } });
    expect(download.status).toBe(206);
    expect((await download.arrayBuffer()).byteLength).toBe(file.bytes - 10);
    expect((await host.api(new URL(file.thumbnail).pathname)).headers.get("content-type")).toBe("image/jpeg");
    const redirect = await host.api(`/api/timelapse/${file.name}`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe(`/downloads/timelapse/${file.name}`);
    const afterDelete = await host.api(`/api/timelapse/${file.name}`, { method: "DELETE" });
    expect((await afterDelete.json()).files).toEqual([]);
    expect((await host.api(`/api/timelapse/${file.name}`, { method: "DELETE" })).status).toBe(404);
  }, 120_000);

  test("render after print 'never' keeps the frames; POST unrendered render renders them, DELETE removes a set", async () => {
    await host.api("/api/timelapse", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "zchange", fps: 10, postRoll: 0, renderAfterPrint: "off" }) });
    expect(host.timelapse.config(printer)).toMatchObject({ mode: "layer", renderAfterPrint: "never" });
    expect((await host.post(`${at}/job`, { file: "cube.gcode" })).status).toBe(200);
    await host.waitFor(at, (p: any) => p.job?.state === "printing");
    await host.waitFor(at, jobEnded, 60_000);
    const kept = await host.waitFor("/api/timelapse?unrendered=true", (l: any) => l.unrendered.length === 1 && !l.unrendered[0].recording);
    const set = kept.unrendered[0];
    expect(set.count).toBe(LAYERS + 1);
    const render = await host.api(`/api/timelapse/unrendered/${set.name}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ command: "render" }) });
    expect(render.status).toBe(204);
    const done = await host.waitFor("/api/timelapse?unrendered=true", (l: any) => l.files.length === 1 && l.unrendered.length === 0, 60_000);
    expect(ffprobe(join(host.dataDir, "timelapse", done.files[0].name)).frames).toBe(LAYERS + 1);

    // Another set, deleted unrendered.
    expect((await host.post(`${at}/job`, { file: "cube.gcode" })).status).toBe(200);
    await host.waitFor(at, (p: any) => p.job?.state === "printing");
    await host.waitFor(at, jobEnded, 60_000);
    const second = (await host.waitFor("/api/timelapse?unrendered=true", (l: any) => l.unrendered.length === 1 && !l.unrendered[0].recording)).unrendered[0];
    expect((await host.api(`/api/timelapse/unrendered/${second.name}`, { method: "DELETE" })).status).toBe(204);
    expect(existsSync(join(host.dataDir, "timelapse", "frames", second.name))).toBe(false);
    expect((await host.api(`/api/timelapse/unrendered/${second.name}`, { method: "DELETE" })).status).toBe(404);
  }, 120_000);
});
