/**
 * The timelapse's parts on their own: ffmpeg's filters and progress, the renderer without ffmpeg
 * and while a printer prints, and the recorder when the camera fails (counted, never fatal).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/database.ts";
import { SettingsStore } from "../../src/db/settings.ts";
import { createBus } from "../../src/events.ts";
import { rendersAfter, writeTimelapseConfig } from "../../src/timelapse/config.ts";
import { TimelapseRecorder } from "../../src/timelapse/recorder.ts";
import { FFMPEG_MISSING, framesDone, Renderer, renderFilters } from "../../src/timelapse/render.ts";
import { TimelapseStore } from "../../src/timelapse/store.ts";
import { KEEP_UNRENDERED_MS, TimelapseService } from "../../src/timelapse/service.ts";
import { WebcamService } from "../../src/webcam/service.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "layerline-timelapse-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A set of `n` real JPEG frames from ffmpeg's testsrc. */
function setWithFrames(store: TimelapseStore, n: number): string {
  const set = store.createSet({ printer: "p1", file: "folder/My part.gcode", startedAt: Date.UTC(2025, 0, 1, 12), fps: 10, postRoll: 0, flipH: false, flipV: false, rotate: 0 });
  const r = Bun.spawnSync(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=161x121:rate=10", "-frames:v", String(n), "-q:v", "5", "-start_number", "1", join(store.setDir(set), "frame%06d.jpg")]);
  expect(r.exitCode).toBe(0);
  store.updateMeta(set, () => ({ result: "done", frames: n }));
  return set;
}

/** A process's command line ("" once it is gone). */
const cmdline = (pid: string) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
};

const until = async (ok: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(25);
  }
};

describe("pure parts", () => {
  test("filters: even sizes, flips, clockwise turns, post-roll, yuv420p", () => {
    expect(renderFilters({ flipH: false, flipV: false, rotate: 0, postRoll: 0 })).toBe("scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p");
    expect(renderFilters({ flipH: true, flipV: true, rotate: 90, postRoll: 2 })).toBe("scale=trunc(iw/2)*2:trunc(ih/2)*2,hflip,vflip,transpose=1,tpad=stop_mode=clone:stop_duration=2,format=yuv420p");
    expect(renderFilters({ flipH: false, flipV: false, rotate: 270, postRoll: 0 })).toContain("transpose=2");
  });

  test("progress: the last frame= of ffmpeg's -progress output", () => {
    expect(framesDone("frame=3\nfps=0.0\nprogress=continue\nframe=12\nout_time_us=1\nprogress=end\n")).toBe(12);
    expect(framesDone("bitrate=N/A\n")).toBeNull();
  });

  test("render after print", () => {
    expect([rendersAfter("always", "failed"), rendersAfter("success", "done"), rendersAfter("success", "cancelled"), rendersAfter("failure", "cancelled"), rendersAfter("never", "done")]).toEqual([true, true, false, true, false]);
  });

  test("set names come from the file, confined names only", () => {
    const store = new TimelapseStore(tempDir());
    const set = store.createSet({ printer: "p1", file: "folder/My part.gcode", startedAt: Date.UTC(2025, 0, 1, 12), fps: 10, postRoll: 0, flipH: false, flipV: false, rotate: 0 });
    expect(set).toBe("p1_My_part_20250101120000");
    expect(store.createSet({ printer: "p1", file: "folder/My part.gcode", startedAt: Date.UTC(2025, 0, 1, 12), fps: 10, postRoll: 0, flipH: false, flipV: false, rotate: 0 })).toBe(`${set}-2`);
    for (const bad of ["../x.mp4", ".hidden.mp4", "a/b.mp4", "x.sqlite", ""]) expect(store.video(bad)).toBeNull();
    expect(store.meta("../../etc")).toBeNull();
  });
});

describe("renderer", () => {
  test("without ffmpeg the frames stay and the set says how to install it", async () => {
    const store = new TimelapseStore(tempDir());
    const set = setWithFrames(store, 3);
    let result: unknown;
    const renderer = new Renderer({ store, ffmpeg: null, postponed: () => false, finished: (_, r) => (result = r) });
    expect(renderer.available).toBe(false);
    renderer.enqueue(set);
    await until(() => result !== undefined);
    expect(result).toEqual({ error: FFMPEG_MISSING });
    expect(FFMPEG_MISSING).toContain("apt-get install ffmpeg");
    expect(store.frameCount(set)).toBe(3);
    expect(store.meta(set)!.renderError).toBe(FFMPEG_MISSING);
  });

  test("waits while a printer prints, then renders one set at a time; odd frame sizes are fine", async () => {
    const store = new TimelapseStore(tempDir());
    const a = setWithFrames(store, 4);
    const b = setWithFrames(store, 4);
    let printing = true;
    const finished: string[] = [];
    let bWaitedForA = false;
    const renderer = new Renderer({ store, postponed: () => printing, recheckMs: 50, finished: (set) => finished.push(set) });
    renderer.enqueue(a);
    renderer.enqueue(b);
    await Bun.sleep(300);
    expect(renderer.status()).toMatchObject({ current: null, queued: [a, b], waiting: expect.stringContaining("printing") });
    expect(readdirSync(store.root).some((f) => f.endsWith(".mp4"))).toBe(false);
    printing = false;
    const watch = setInterval(() => {
      const st = renderer.status();
      if (st.current?.set === a && st.queued.includes(b)) bWaitedForA = true;
    }, 5);
    await until(() => finished.length === 2, 60_000);
    clearInterval(watch);
    expect(finished).toEqual([a, b]);
    expect(bWaitedForA).toBe(true);
    expect(existsSync(store.videoPath(`${a}.mp4`))).toBe(true);
    expect(existsSync(store.videoPath(`${a}.mp4.thumb.jpg`))).toBe(true);
    expect(store.sets()).toEqual([]);
  }, 60_000);
});

/** A recorder's surroundings without a host: a database for settings, a bus, a store, the cameras. */
function recorderParts() {
  const dir = tempDir();
  const db = openDatabase(dir);
  const settings = new SettingsStore(db);
  return { db, settings, bus: createBus(), store: new TimelapseStore(dir), webcam: new WebcamService(settings, { snapshotTimeoutMs: 500, connectTimeoutMs: 500 }) };
}

describe("recorder", () => {
  test("a camera that is down: each capture fails, is counted with its reason, and the print's end still closes the set", async () => {
    const { db, settings, bus, store, webcam } = recorderParts();
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const port = closed.port;
    await closed.stop(true);
    webcam.configure("p1", { snapshotUrl: `http://127.0.0.1:${port}/snapshot` });
    writeTimelapseConfig(settings, "p1", { mode: "layer", renderAfterPrint: "never" });
    const renderer = new Renderer({ store, postponed: () => false });
    const recorder = new TimelapseRecorder({ bus, settings, store, webcam, renderer });
    recorder.start();
    const job = { file: "a.gcode" } as never;
    bus.emit("printer.event", { id: "p1", event: { type: "job", state: "started", file: "a.gcode", job, progress: null } });
    const set = recorder.recording("p1")!;
    expect(set).toStartWith("p1_a_");
    for (let i = 1; i <= 3; i++) bus.emit("printer.event", { id: "p1", event: { type: "layer", file: "a.gcode", current: i, count: 3, z: i * 0.2 } });
    bus.emit("printer.event", { id: "p1", event: { type: "job", state: "done", file: "a.gcode", job, progress: null } });
    await until(() => store.meta(set)?.result === "done");
    const meta = store.meta(set)!;
    expect(meta).toMatchObject({ frames: 0, failed: 4 });
    expect(meta.lastError).toContain("could not be reached");
    expect(recorder.recording("p1")).toBeNull();
    recorder.stop();
    db.close();
  }, 30_000);
});

test("at start, frame sets left unrendered for a week and half-rendered files are cleaned away; newer sets stay", () => {
  const dir = tempDir();
  const db = openDatabase(dir);
  const settings = new SettingsStore(db);
  const service = new TimelapseService({ dataDir: dir, bus: createBus(), settings, webcam: new WebcamService(settings), printers: { list: () => [] }, ffmpeg: null });
  const old = service.store.createSet({ printer: "p1", file: "old.gcode", startedAt: Date.now() - KEEP_UNRENDERED_MS - 60_000, fps: 25, postRoll: 0, flipH: false, flipV: false, rotate: 0 });
  const fresh = service.store.createSet({ printer: "p1", file: "new.gcode", startedAt: Date.now() - 60_000, fps: 25, postRoll: 0, flipH: false, flipV: false, rotate: 0 });
  writeFileSync(join(service.store.root, `.${old}.mp4.part`), "half a video");
  service.start();
  service.stop();
  expect(service.store.sets().map((s) => s.name)).toEqual([fresh]);
  expect(readdirSync(service.store.root).filter((f) => f.startsWith("."))).toEqual([]);
  db.close();
});

test("no frame is written when the disk is (nearly) full: counted, with the reason", async () => {
  const { db, settings, bus, store, webcam } = recorderParts();
  webcam.configure("p1", { snapshotUrl: "http://127.0.0.1:9/never-fetched" });
  writeTimelapseConfig(settings, "p1", { mode: "timed", interval: 3600, renderAfterPrint: "never" });
  const recorder = new TimelapseRecorder({ bus, settings, store, webcam, renderer: new Renderer({ store, postponed: () => false }), minFreeBytes: Number.MAX_SAFE_INTEGER });
  recorder.start();
  const job = { file: "a.gcode" } as never;
  bus.emit("printer.event", { id: "p1", event: { type: "job", state: "started", file: "a.gcode", job, progress: null } });
  const set = recorder.recording("p1")!;
  await recorder.settled("p1");
  expect(store.meta(set)).toMatchObject({ frames: 0, failed: 1 });
  expect(store.meta(set)!.lastError).toContain("free");
  recorder.stop();
  db.close();
});

test("a render cut short by the host stopping kills ffmpeg and is no failure; sets waiting to render are rendered after the restart", async () => {
  const dir = tempDir();
  const db = openDatabase(dir);
  const settings = new SettingsStore(db);
  let printing = true;
  const printers = { list: () => [{ id: "p1", status: { job: printing ? { state: "printing" as const } : null } }] };
  const first = new TimelapseService({ dataDir: dir, bus: createBus(), settings, webcam: new WebcamService(settings), printers });
  // A long render (big frames), and a set that waits behind it.
  const long = first.store.createSet({ printer: "p1", file: "long.gcode", startedAt: Date.now() - 60_000, fps: 25, postRoll: 0, flipH: false, flipV: false, rotate: 0 });
  const r = Bun.spawnSync(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25", "-frames:v", "300", "-q:v", "5", "-start_number", "1", join(first.store.setDir(long), "frame%06d.jpg")]);
  expect(r.exitCode).toBe(0);
  first.store.updateMeta(long, () => ({ result: "done", frames: 300 }));
  const waiting = setWithFrames(first.store, 4);
  first.store.updateMeta(waiting, () => ({ endedAt: Date.now() }));
  first.start();
  printing = false;
  first.render(long);
  first.render(waiting);
  await until(() => first.renderer.status().current?.set === long && first.renderer.status().current!.progress > 0, 30_000);
  const part = `.${long}.mp4.part`;
  const ffmpegRunning = () => readdirSync("/proc").some((pid) => /^\d+$/.test(pid) && cmdline(pid).includes(part));
  expect(ffmpegRunning()).toBe(true);
  first.stop();
  await until(() => !ffmpegRunning(), 5000);
  await Bun.sleep(300);
  expect(first.store.meta(long)!.renderError).toBeNull();
  expect(first.store.sets().map((s) => s.name).sort()).toEqual([long, waiting].sort());

  // The next start renders both (the printer's settings render after every print, the default).
  const finished: string[] = [];
  const bus = createBus();
  bus.on("timelapse.event", (e) => e.kind === "rendered" && finished.push(e.set));
  const second = new TimelapseService({ dataDir: dir, bus, settings, webcam: new WebcamService(settings), printers });
  second.start();
  await until(() => finished.length === 2, 90_000);
  second.stop();
  expect(readdirSync(second.store.root).filter((f) => f.endsWith(".mp4")).sort()).toEqual([`${long}.mp4`, `${waiting}.mp4`].sort());
  db.close();
}, 120_000);

test("a set still recording when the last run stopped (a crash) ends as failed at the next start, and is rendered", async () => {
  const dir = tempDir();
  const db = openDatabase(dir);
  const settings = new SettingsStore(db);
  const bus = createBus();
  const service = new TimelapseService({ dataDir: dir, bus, settings, webcam: new WebcamService(settings), printers: { list: () => [] } });
  const cut = setWithFrames(service.store, 3);
  service.store.updateMeta(cut, () => ({ result: "recording", startedAt: Date.now() - 60_000 }));
  const rendered: string[] = [];
  bus.on("timelapse.event", (e) => e.kind === "rendered" && rendered.push(e.set));
  service.start();
  expect(service.store.meta(cut)).toMatchObject({ result: "failed", lastError: "Layerline stopped while this print was being recorded." });
  await until(() => rendered.length === 1, 60_000);
  service.stop();
  expect(readdirSync(service.store.root).filter((f) => f.endsWith(".mp4"))).toEqual([`${cut}-fail.mp4`]);
  db.close();
}, 90_000);
