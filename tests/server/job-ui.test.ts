/**
 * The job's UI routes over real HTTP: the live job panel's figures and buttons per state, the
 * cancel-object map and its action, restart, the interrupted-print banner (resume, discard, the
 * reason when it cannot be resumed) after a host restart, and the scripts page.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PERMISSIONS } from "../../src/accounts/permissions.ts";
import type { Checkpoint } from "../../src/jobs/plan.ts";
import { DEFAULT_PROFILE } from "../../src/printers/profile.ts";
import { accessOf } from "../../src/server/auth/access.ts";
import type { Job } from "../../src/printers/status.ts";
import { objectMap, timeLeftWords } from "../../views/job.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { layeredGcode } from "../helpers/gcode.ts";

const PARTS = [
  { name: "left", x: 20, y: 20, size: 30 },
  { name: "middle", x: 80, y: 90, size: 30 },
  { name: "right", x: 140, y: 150, size: 30 },
];
// PrusaSlicer-style labels: Klipper's EXCLUDE_OBJECT_DEFINE lines are longer than Marlin's 96-character command buffer.
const GCODE = layeredGcode({ objects: PARTS, layers: 60, loops: 3, thumbnail: { width: 96, height: 72 } });

/** A viewer who may use every control. */
const everything = accessOf({ user: null, permissions: new Set(PERMISSIONS), printerId: null });
const form = (host: TestHost, path: string, fields: Record<string, string> = {}) => host.api(path, { method: "POST", body: new URLSearchParams(fields) });
const text = async (res: Response) => {
  expect(res.status).toBe(200);
  return res.text();
};
/** The data of the first `event` on an SSE stream (within 5 s). */
async function firstEvent(host: TestHost, path: string, event: string): Promise<string> {
  const reader = (await host.api(path)).body!.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + 5000;
  let text = "";
  try {
    while (Date.now() < deadline) {
      const block = text.split("\n\n").find((b) => b.startsWith(`event: ${event}\n`));
      if (block) return block.split("\n").slice(1).map((l) => l.slice(6)).join("\n");
      const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      if (!chunk || chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    throw new Error(`no "${event}" event on ${path} within 5 s`);
  } finally {
    await reader.cancel();
  }
}
const analysed = (host: TestHost, file: string) => host.waitFor(`/api/v1/files/${file}`, (f: any) => f.analysis?.state === "done", 20_000);

describe("the job panel and the cancel-object map", () => {
  let host: TestHost;
  let id: string;
  let at: string;

  beforeAll(async () => {
    // A printer that takes time to move, so the print is still running while the test acts.
    host = await startTestHost({ virtual: { timeScale: 20 } });
    id = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
    at = `/api/v1/printers/${id}`;
    await host.waitFor(at, (p: any) => p.state === "operational" && p.firmware !== null);
    expect((await upload(host, "three.gcode", GCODE)).status).toBe(201);
    await analysed(host, "three.gcode");
  }, 30_000);
  afterAll(() => host?.close());

  test("a running job: thumbnail, state in words, figures, and the buttons it allows", async () => {
    const started = await text(await form(host, `/ui/printers/${id}/job`, { file: "three.gcode" }));
    expect(started).toMatch(/class="job" data-job-state="(starting|printing)"/);
    expect(started).toContain('class="job-thumb" src="/api/v1/files/three.gcode/thumbnails/96x72.png?v=');
    expect(started).toContain(">Pause</button>");
    expect(started).toContain(">Cancel</button>");
    expect(started).toContain("Cancel an object…");
    expect(started).not.toContain(">Resume</button>");
    expect(started).not.toContain(">Restart</button>");
    // The thumbnail URL answers with the image.
    const src = /class="job-thumb" src="([^"]+)"/.exec(started)![1]!.replaceAll("&amp;", "&");
    expect((await host.api(src)).headers.get("content-type")).toBe("image/png");

    await host.waitFor(at, (p: any) => p.job.state === "printing" && p.job.layer?.current >= 2 && p.progress.timeLeft !== null);
    const page = await text(await host.api(`/?printer=${id}`));
    expect(page).toContain('<span class="badge job-state state-printing">Printing</span>');
    expect(page).toMatch(/<span class="completion">\d+\.\d %<\/span> · [\d.]+ KB of [\d.]+ KB · <span class="job-line">line [\d,]+ of [\d,]+<\/span>/);
    expect(page).toMatch(/Layer \d+ of 60 at Z \d+\.\d\d mm/);
    expect(page).toMatch(/Printing for \d+/);
    expect(page).toMatch(/(about \d+ (h|min)|less than a minute) left[^<]*<span class="muted">— from /);
    expect(page).toMatch(/Filament used: \d+ mm/);
    expect(page).toContain('<div id="job-objects" sse-swap="objects"');
    expect(page).toContain(`href="/settings/printers/${id}/scripts"`);
  }, 30_000);

  test("the map draws the bed and each object; clicking one cancels it, and it shows as cancelled", async () => {
    const map = await text(await host.api(`/ui/printers/${id}/job/objects`));
    expect(map).toContain('<svg viewBox="0 0 200 200"');
    expect(map).toContain('<rect class="bed" x="0" y="0" width="200" height="200">');
    // Each object's box, Y flipped (the bed's back is at the top of the map).
    expect(map).toContain('<rect x="20" y="150" width="30" height="30">');
    for (const p of PARTS) {
      expect(map).toContain(`data-object="${p.name}" role="button" tabindex="0" hx-post="/ui/printers/${id}/job/cancel-object"`);
      expect(map).toContain(`>Cancel ${p.name}</button>`);
    }

    const after = await text(await form(host, `/ui/printers/${id}/job/cancel-object`, { name: "middle" }));
    expect(after).toContain('<g class="object cancelled" data-object="middle" >');
    expect(after).toContain("<s>middle</s>");
    expect(after).toContain(`data-object="left" role="button"`);
    const status = await (await host.api(at)).json();
    expect(status.job.objects).toEqual([
      { name: "left", cancelled: false },
      { name: "middle", cancelled: true },
      { name: "right", cancelled: false },
    ]);
    expect(await text(await host.api(`/?printer=${id}`))).toContain("Objects cancelled: middle");
    // A dashboard that (re)connects is sent the map as it is now, for a map it kept open offline.
    const pushed = await firstEvent(host, `/ui/events?printer=${id}`, "objects");
    expect(pushed).toContain('<g class="object cancelled" data-object="middle" >');
    expect(pushed).toContain(`data-object="left" role="button"`);

    const unknown = await form(host, `/ui/printers/${id}/job/cancel-object`, { name: "nosuch" });
    expect(unknown.headers.get("hx-retarget")).toBe("#toasts");
    expect(await unknown.text()).toContain("There is no object &quot;nosuch&quot; in this file.");
    expect((await form(host, `/ui/printers/${id}/job/cancel-object`)).headers.get("hx-retarget")).toBe("#toasts");
  }, 30_000);

  test("pause shows Resume and Restart; restart starts over; an ended job offers Restart only", async () => {
    const before = await (await host.api(at)).json();
    await form(host, `/ui/printers/${id}/job/pause`);
    await host.waitFor(at, (p: any) => p.job.state === "paused");
    const paused = await text(await host.api(`/?printer=${id}`));
    expect(paused).toContain('data-job-state="paused"');
    expect(paused).toContain(">Resume</button>");
    expect(paused).toContain(">Restart</button>");
    expect(paused).not.toContain(">Pause</button>");

    const restarted = await text(await form(host, `/ui/printers/${id}/job/restart`));
    expect(restarted).toMatch(/data-job-state="(starting|printing)"/);
    const fresh = await host.waitFor(at, (p: any) => p.job.state === "printing");
    expect(fresh.job.objects.every((o: any) => !o.cancelled)).toBe(true);
    expect(fresh.job.id).not.toBe(before.job.id); // a new job

    await form(host, `/ui/printers/${id}/job/cancel`);
    await host.waitFor(at, (p: any) => p.job.state === "cancelled" && p.state === "operational");
    const ended = await text(await host.api(`/?printer=${id}`));
    expect(ended).toContain('<span class="badge job-state state-ended">Cancelled</span>');
    expect(ended).toContain("Printed for");
    expect(ended).toContain(">Restart</button>");
    expect(ended).not.toContain(">Cancel</button>");
    expect(ended).not.toContain("Cancel an object…");
    // The map of an ended job says so.
    expect(await text(await host.api(`/ui/printers/${id}/job/objects`))).toContain("The print has ended.");
  }, 60_000);
});

describe("the interrupted print after a restart of the host", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "layerline-interrupted-"));
  let host: TestHost | undefined;
  afterAll(async () => {
    await host?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A checkpoint at the start of layer `index` (0-based) of three.gcode, as a running job stores it. */
  const checkpoint = async (first: TestHost, file: string, index: number): Promise<Checkpoint> => {
    const entry = await (await first.api(`/api/v1/files/${file}`)).json();
    const analysis = await (await first.api(`/api/v1/files/${file}/analysis`)).json();
    const layer = analysis.layers?.[index] ?? null;
    const state = { x: 20, y: 20, z: layer?.z ?? 0.2, e: 0, relative: false, extruderMode: "relative" as const, feedrate: 1800, fan: 0, tool: 0, targets: {}, extruded: 10 };
    return {
      jobId: "job-before-the-crash",
      file,
      sha256: entry.sha256,
      source: "host",
      size: entry.size,
      startedAt: Date.now() - 60_000,
      printTime: 55,
      offset: layer ? layer.offset + 200 : 100,
      line: 400,
      layer: layer ? { index, count: analysis.layers.length, offset: layer.offset, z: layer.z, state } : null,
      state,
      temperatures: {},
      cancelled: ["right"],
      paused: false,
      at: Date.now() - 5_000,
    };
  };
  const restart = async (cp: Checkpoint) => {
    const before = host ?? (await startTestHost({ dataDir }));
    const id = before.printers.default()!.id;
    before.jobs.checkpoint(id, cp);
    await before.close();
    host = await startTestHost({ dataDir });
    await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && p.interrupted !== null);
    return id;
  };

  test("a resumable one: the banner offers to resume from its layer; resuming starts the job there", async () => {
    const first = await startTestHost({ dataDir });
    expect((await upload(first, "three.gcode", GCODE)).status).toBe(201);
    await analysed(first, "three.gcode");
    const cp = await checkpoint(first, "three.gcode", 2);
    host = first;
    const id = await restart(cp);
    const page = await text(await host!.api(`/?printer=${id}`));
    expect(page).toContain('<div class="interrupted" role="alert" data-resumable="true">');
    expect(page).toContain("<strong>A print was interrupted:</strong> three.gcode, stopped ");
    expect(page).toMatch(/at layer 3 of 60 \(Z 0\.60 mm\), \d+\.\d % done/);
    expect(page).toContain(">Resume from layer 3</button>");
    expect(page).toContain(">Discard</button>");

    const resumed = await text(await form(host!, `/ui/printers/${id}/job/interrupted/resume`));
    expect(resumed).not.toContain('class="interrupted"');
    expect(resumed).toMatch(/data-job-state="(starting|printing|finishing|done)"/);
    const status = await host!.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "done", 30_000);
    expect(status.job.resumedFrom.layer).toBe(2);
    expect(status.job.objects.find((o: any) => o.name === "right").cancelled).toBe(true);
    expect(await text(await host!.api(`/?printer=${id}`))).toContain("Resumed after an interruption from layer 3");
  }, 60_000);

  test("one whose file is gone: the reason in words, no resume; discard removes it", async () => {
    const cp = { ...(await checkpoint(host!, "three.gcode", 1)), file: "gone.gcode" };
    const id = await restart(cp);
    const page = await text(await host!.api(`/?printer=${id}`));
    expect(page).toContain('data-resumable="false"');
    expect(page).toContain('<p class="reason">The file &quot;gone.gcode&quot; is no longer there.</p>');
    expect(page).not.toContain("Resume from layer");
    const discarded = await text(await form(host!, `/ui/printers/${id}/job/interrupted/discard`));
    expect(discarded).not.toContain('class="interrupted"');
    expect((await host!.api(`/api/v1/printers/${id}/job/interrupted`)).status).toBe(404);
    // Discarding again explains there is nothing to discard.
    expect(await (await form(host!, `/ui/printers/${id}/job/interrupted/discard`)).text()).toContain("There is no interrupted print");
  }, 60_000);
});

describe("the scripts page", () => {
  let host: TestHost;
  let id: string;
  beforeAll(async () => {
    host = await startTestHost();
    id = host.printers.default()!.id;
  }, 30_000);
  afterAll(() => host?.close());

  test("lists every event with its text, default marker and the variables", async () => {
    const page = await text(await host.api(`/settings/printers/${id}/scripts`));
    for (const event of ["afterConnected", "beforePrintStarted", "afterPrintDone", "afterPrintPaused", "beforePrintResumed", "afterPrintCancelled", "afterPrintFailed"]) {
      expect(page).toContain(`data-event="${event}"`);
    }
    expect(page).toContain("On pause");
    expect(page).toContain("when the host pauses a print, after the lines in flight");
    expect(page).toContain("G1 X0 Y{{ profile.depth }} F6000");
    expect(page.match(/class="badge script-default">default</g)).toHaveLength(7);
    expect(page).toContain("<code>pause.x, pause.y, pause.z, pause.e</code>");
    expect((await host.api("/settings/printers/nosuch/scripts")).status).toBe(404);
  });

  test("save, an error inline for a bad template, reset to default", async () => {
    const saved = await text(await form(host, `/ui/printers/${id}/scripts`, { event: "afterPrintDone", text: "M104 S0\r\nG1 Z{{ profile.height - 10 }}" }));
    expect(saved).toContain('<span class="saved">Saved.</span>');
    expect(saved).not.toContain("script-default");
    const api = await (await host.api(`/api/v1/printers/${id}/scripts`)).json();
    expect(api.scripts.afterPrintDone).toMatchObject({ text: "M104 S0\nG1 Z{{ profile.height - 10 }}", isDefault: false });

    const bad = await text(await form(host, `/ui/printers/${id}/scripts`, { event: "afterPrintDone", text: "G1 Z{{ nosuch.var }}" }));
    expect(bad).toContain('<p class="error script-error" role="alert">Not saved — After a print: there is no variable &quot;nosuch.var&quot;');
    expect(bad).toContain("G1 Z{{ nosuch.var }}</textarea>"); // what was typed stays, to be fixed
    expect((await (await host.api(`/api/v1/printers/${id}/scripts`)).json()).scripts.afterPrintDone.text).toBe("M104 S0\nG1 Z{{ profile.height - 10 }}");
    const unclosed = await text(await form(host, `/ui/printers/${id}/scripts`, { event: "afterPrintDone", text: "{% if job %}M117 x" }));
    expect(unclosed).toContain("Not saved — After a print, line 1:");

    const reset = await text(await form(host, `/ui/printers/${id}/scripts/reset`, { event: "afterPrintDone" }));
    expect(reset).toContain("Back to the default.");
    expect(reset).toContain('class="badge script-default">default<');
    expect((await (await host.api(`/api/v1/printers/${id}/scripts`)).json()).scripts.afterPrintDone.isDefault).toBe(true);

    expect((await form(host, `/ui/printers/${id}/scripts`, { event: "nosuch", text: "" })).headers.get("hx-retarget")).toBe("#toasts");
  });
});

describe("the map's geometry", () => {
  const job: Job = {
    id: "j",
    file: "a.gcode",
    source: "host",
    size: 1,
    state: "printing",
    startedAt: 0,
    endedAt: null,
    reason: null,
    sha256: null,
    layer: null,
    objects: [{ name: "a", cancelled: false }, { name: "b", cancelled: true }],
    pause: null,
    resumedFrom: null,
  };
  const box = (minX: number, minY: number, maxX: number, maxY: number) => ({ minX, minY, maxX, maxY, minZ: 0, maxZ: 1 });
  const object = (name: string, b: ReturnType<typeof box> | null) => ({ name, source: "comment" as const, box: b, ranges: [], filament: 0 });

  test("a bed with its origin in the centre is shifted; Y is flipped; objects without a box are listed only", () => {
    const profile = { ...DEFAULT_PROFILE, volume: { ...DEFAULT_PROFILE.volume, width: 100, depth: 80, origin: "center" as const } };
    const out = objectMap("p", job, [object("a", box(-40, -30, -20, -10)), object("b", box(0, 0, 10, 10)), object("c", null)], profile, everything).value;
    expect(out).toContain('<svg viewBox="0 0 100 80"');
    // a: x -40..-20 → 10..30; y -30..-10 → 10..30 from the front, i.e. 50..70 from the top.
    expect(out).toContain('<rect x="10" y="50" width="20" height="20">');
    expect(out).toContain('<g class="object cancelled" data-object="b" >');
    expect(out).not.toContain('data-object="c" role="button"');
    expect(out).toContain('<li data-object="c" class=""><button class="danger"');
  });

  test("a declared polygon (Klipper's EXCLUDE_OBJECT_DEFINE) is drawn instead of the box", () => {
    const withPolygon = { ...object("a", box(0, 0, 20, 20)), polygon: [[0, 0], [20, 0], [10, 20]] as [number, number][], center: [10, 8] as [number, number] };
    const out = objectMap("p", job, [withPolygon], DEFAULT_PROFILE, everything).value;
    expect(out).toContain('<polygon points="0,200 20,200 10,180">');
    expect(out).toContain('<text x="10" y="192"');
  });

  test("time left in words", () => {
    expect(timeLeftWords(20)).toBe("less than a minute left");
    expect(timeLeftWords(12 * 60 + 10)).toBe("about 12 min left");
    expect(timeLeftWords(85 * 60)).toBe("about 1 h 25 min left");
    expect(timeLeftWords(120 * 60)).toBe("about 2 h left");
  });
});

describe("the dashboard of a second printer", () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startTestHost();
    expect((await host.post("/api/v1/printers", { name: "Bench", transport: "virtual", autoconnect: false })).status).toBe(201);
  }, 30_000);
  afterAll(() => host.close());

  test("uploads and deletes there answer with that printer's Print buttons, not the default one's", async () => {
    const page = await text(await host.api("/?printer=bench"));
    expect(page).toContain('hx-post="/ui/files?printer=bench"');
    await upload(host, "one.gcode", "G28\n");
    await upload(host, "two.gcode", "G28\n");
    const list = await text(await form(host, "/ui/files/delete?printer=bench", { path: "two.gcode" }));
    expect(list).toContain('hx-post="/ui/printers/bench/job"');
    expect(list).toContain('hx-post="/ui/files/delete?printer=bench"');
    expect(list).not.toContain("two.gcode");
  });
});
