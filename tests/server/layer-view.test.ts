/**
 * The layer viewer's routes on a real host: the page and its fragments, clear 4xx answers to bad
 * parameters (never a 500), files without layers said plainly, the permissions of the files pages
 * (a key restricted to a printer follows only that printer), and a print followed live — the
 * viewer's stream at most once a second, the fragment on the layer printing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { readyHost, upload, type TestHost } from "../helpers/host.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

let host: TestHost;
let printer: string;

/** Waits until the file's analysis is done (or failed). */
const analysed = (path: string) => host.waitFor(`/api/v1/files/${path}`, (f: any) => f.analysis?.state === "done" || f.analysis?.state === "error", 30_000);

beforeAll(async () => {
  // Slow enough that a print is still running while the live tests look at it.
  ({ host, printer } = await readyHost({ virtual: { timeScale: 4 } }));
  expect((await upload(host, "torus.gcode", Bun.file(TORUS))).status).toBe(201);
  expect((await upload(host, "no-layers.gcode", "G28\nM105\nG1 X10 Y10 F3000\n", "parts")).status).toBe(201);
  expect((await upload(host, "prose.gcode", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit,\nsed do eiusmod tempor\nincididunt ut labore\net dolore magna aliqua.\n")).status).toBe(201);
  for (const f of ["torus.gcode", "parts/no-layers.gcode", "prose.gcode"]) await analysed(f);
}, 60_000);
afterAll(async () => {
  await host?.close();
});

const get = (path: string, init?: RequestInit) => host.api(path, init);
const fragment = (query: string) => get(`/ui/files/viewer/layer?${query}`);

describe("the viewer of a file", () => {
  test("the page: the slider over the file's layers and its first layer drawn", async () => {
    const res = await get("/files/viewer?path=torus.gcode");
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('<form class="layer-viewer"');
    expect(page).toContain('<input type="range" name="layer" min="1" max="28" value="1"');
    expect(page).toContain('<svg class="layer-svg"');
    expect(page).toContain('data-layer="1"');
    expect(page).toContain("<strong>Layer 1 of 28</strong> · Z 0.2 mm");
    // Its stream, for a print of the file.
    expect(page).toContain('sse-connect="/ui/files/viewer/events?path=torus.gcode"');
    // A layer asked for in the address.
    expect(await (await get("/files/viewer?path=torus.gcode&layer=12")).text()).toContain('<input type="range" name="layer" min="1" max="28" value="12"');
  });

  test("a layer's fragment: its figures and picture; an unchanged picture is a 204", async () => {
    const res = await fragment("path=torus.gcode&layer=28");
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("<strong>Layer 28 of 28</strong> · Z 5.6 mm · 0.2 mm high");
    expect(text).toMatch(/<span class="layer-time">\d+s<\/span>/);
    expect(text).not.toContain('class="travel"');
    const key = /name="shown" value="([^"]+)"/.exec(text)![1]!;
    expect((await fragment(`path=torus.gcode&layer=28&shown=${encodeURIComponent(key)}`)).status).toBe(204);
    // Another choice is another picture.
    const travel = await fragment(`path=torus.gcode&layer=28&travel=1&shown=${encodeURIComponent(key)}`);
    expect(travel.status).toBe(200);
    expect(await travel.text()).toContain('<g class="travel"');
  });

  test("bad parameters are clear 4xx answers, never a 500", async () => {
    const cases: [string, number, string][] = [
      ["path=torus.gcode&layer=0", 400, "invalid_layer"],
      ["path=torus.gcode&layer=29", 400, "invalid_layer"],
      ["path=torus.gcode&layer=-1", 400, "invalid_layer"],
      ["path=torus.gcode&layer=1.5", 400, "invalid_layer"],
      ["path=torus.gcode&layer=abc", 400, "invalid_layer"],
      [`path=torus.gcode&layer=${"9".repeat(400)}`, 400, "invalid_layer"],
      ["layer=1", 400, "invalid_request"],
      ["path=&layer=1", 400, "invalid_request"],
      ["path=nope.gcode&layer=1", 404, "file_not_found"],
      ["path=../../etc/passwd&layer=1", 400, "invalid_path"],
      ["path=%2Fparts%2F..%2F..%2Fsecret&layer=1", 400, "invalid_path"],
      ["path=parts&layer=1", 404, "file_not_found"],
      [`path=${"a/".repeat(600)}x.gcode&layer=1`, 400, "invalid_path"],
      ["path=torus.gcode&layer=1&printer=nosuch", 404, "not_found"],
    ];
    for (const [query, status, code] of cases) {
      const res = await fragment(query);
      const body = await res.json();
      expect([query.slice(0, 60), res.status, body.error.code]).toEqual([query.slice(0, 60), status, code]);
      expect(body.error.message.length).toBeGreaterThan(10);
    }
    expect((await (await fragment("path=torus.gcode&layer=29")).json()).error).toMatchObject({ message: '"29" is not a layer of this file: it has 28 layers.', hint: "Ask for a layer from 1 to 28." });
    // The page says so as a page.
    for (const [query, status] of [["path=torus.gcode&layer=99", 400], ["path=nope.gcode", 404], ["path=..%2Fx", 400], ["", 400]] as const) {
      const res = await get(`/files/viewer?${query}`, { headers: { accept: "text/html" } });
      expect([query, res.status]).toEqual([query, status]);
      expect(res.headers.get("content-type")).toContain("text/html");
    }
    // An address kept by a viewer that did not follow (a reload): its layer, or the file's last if it has fewer now; its choices.
    const kept = await (await get("/files/viewer?path=torus.gcode&layer=99&follow=0&travel=1&zoom=1", { headers: { accept: "text/html" } })).text();
    expect(kept).toContain('data-layer="28"');
    expect(kept).toMatch(/name="follow" value="1">/);
    expect(kept).toMatch(/name="travel" value="1" checked>/);
    expect(kept).toMatch(/name="zoom" value="1" checked>/);
    expect((await (await get("/files/viewer?path=torus.gcode&layer=5", { headers: { accept: "text/html" } })).text())).toMatch(/name="follow" value="1" checked>/);
    expect((await get("/ui/files/viewer/events?path=..%2Fx")).status).toBe(400);
    expect((await get("/ui/files/viewer/events?path=nope.gcode")).status).toBe(404);
    expect((await get("/ui/files/viewer/events?path=torus.gcode&printer=nosuch")).status).toBe(404);
    expect((await get("/files/viewer?path=torus.gcode&printer=nosuch", { headers: { accept: "text/html" } })).status).toBe(404);
    // A count or place the viewer would not send: the whole viewer, as for a stale one.
    const odd = await fragment("path=torus.gcode&layer=2&count=abc&place=%3Cscript%3E");
    expect([odd.status, odd.headers.get("hx-retarget")]).toEqual([200, "this"]);
    expect((await get("/ui/printers/nosuch/job/viewer")).status).toBe(404);
  });

  test("the job panel's viewer of a printer without a print to show is a message that asks again as the printer's print moves on; unchanged, a 204", async () => {
    const added = await host.post("/api/v1/printers", { name: "Idle", transport: "virtual", autoconnect: false });
    expect(added.status).toBe(201);
    const idle = (await added.json()).id as string;
    const res = await get(`/ui/printers/${idle}/job/viewer`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("There is no print on this printer yet.");
    expect(text).toContain(`<form class="layer-viewer" autocomplete="off" hx-get="/ui/printers/${idle}/job/viewer" hx-target="this" hx-swap="outerHTML" hx-trigger="sse:layer-progress"`);
    expect(text).toContain("layer-viewer-close");
    const key = /name="shown" value="([^"]+)"/.exec(text)![1]!;
    // Asked again while it would say the same: nothing to swap.
    expect((await get(`/ui/printers/${idle}/job/viewer?shown=${encodeURIComponent(key)}`)).status).toBe(204);
    // A message it does not show (another printer's, or none): the message.
    expect((await get(`/ui/printers/${idle}/job/viewer?shown=m%7Cother%7Cx`)).status).toBe(200);
  });

  test("files without layers say so plainly", async () => {
    const none = await (await get("/files/viewer?path=parts/no-layers.gcode")).text();
    expect(none).toContain("has no layers to show");
    expect(none).not.toContain("<svg");
    expect(await (await fragment("path=parts/no-layers.gcode&layer=1")).text()).toContain("has no layers to show");
    const prose = await (await get("/files/viewer?path=prose.gcode")).text();
    expect(prose).toContain("could not be analysed, so its layers are not known");
  });

  test("reading files is what the viewer needs; a key restricted to a printer follows only that printer", async () => {
    // Nobody logged in: to the login page.
    const anonymous = await host.anonymous("/files/viewer?path=torus.gcode", { redirect: "manual" });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toStartWith("/login?next=");
    const key = async (body: object) => (await (await host.post("/api/v1/apikeys", body)).json()).key as string;
    const readOnly = { "x-api-key": await key({ name: "ro", scope: "read-only" }) };
    expect((await host.anonymous("/files/viewer?path=torus.gcode", { headers: readOnly })).status).toBe(200);
    const uploadOnly = { "x-api-key": await key({ name: "up", scope: "files.upload" }) };
    expect((await host.anonymous("/ui/files/viewer/layer?path=torus.gcode&layer=1", { headers: uploadOnly })).status).toBe(403);
    expect((await host.post("/api/v1/printers", { name: "Second", transport: "virtual", autoconnect: false })).status).toBe(201);
    try {
      const own = { "x-api-key": await key({ name: "own", scope: "read-only", printer }) };
      expect((await host.anonymous("/ui/files/viewer/layer?path=torus.gcode&layer=3", { headers: own })).status).toBe(200);
      expect((await host.anonymous(`/ui/files/viewer/layer?path=torus.gcode&layer=3&printer=${printer}`, { headers: own })).status).toBe(200);
      const other = await host.anonymous("/ui/files/viewer/layer?path=torus.gcode&layer=3&printer=second", { headers: own });
      expect(other.status).toBe(404);
      expect((await host.anonymous("/ui/printers/second/job/viewer", { headers: own })).status).toBe(403);
      expect((await host.anonymous(`/ui/printers/${printer}/job/viewer`, { headers: own })).status).toBe(200);
    } finally {
      await host.api("/api/v1/printers/second", { method: "DELETE" });
    }
  });
});

/** Collects the events of `name` a stream sends until `stop()`, which returns their data. */
async function collect(path: string, name: string, init?: RequestInit): Promise<{ stop(): Promise<string[]> }> {
  const res = await get(path, init);
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const reading = (async () => {
    for (;;) {
      const chunk = await reader.read().catch(() => null);
      if (!chunk || chunk.done) return;
      text += decoder.decode(chunk.value, { stream: true });
    }
  })();
  return {
    async stop() {
      await reader.cancel();
      await reading;
      return text.split("\n\n").filter((b) => b.startsWith(`event: ${name}\n`)).map((b) => b.split("\n")[1]!.slice(6));
    },
  };
}

/** The events of `name` a stream sends within `ms`. */
async function eventsWithin(path: string, name: string, ms: number): Promise<string[]> {
  const stream = await collect(path, name);
  await Bun.sleep(ms);
  return stream.stop();
}

describe("a print followed live", () => {
  test("the stream says when the print moves on, at most once a second; the fragment follows the layer printing", async () => {
    expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "torus.gcode" })).status).toBeLessThan(300);
    // Past the heat-up, into the layers.
    const status = await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => (p.job?.layer?.current ?? 0) >= 1, 60_000);
    expect(status.job.state).toBe("printing");
    try {
      const [opened, dashboard] = await Promise.all([eventsWithin("/ui/files/viewer/events?path=torus.gcode", "layer-progress", 3500), eventsWithin(`/ui/events?printer=${printer}`, "layer-progress", 3500)]);
      // The viewer's page's stream first asks its viewer to catch up (it may be new after a rebuild in place).
      expect(opened[0]).toBe("connected");
      const page = opened.slice(1);
      for (const events of [page, dashboard]) {
        expect(events.length).toBeGreaterThanOrEqual(2);
        expect(events.length).toBeLessThanOrEqual(5);
        expect(events[0]).toStartWith(`${printer} `);
      }
      // Following: the layer printing, its sent part solid and the rest faint, whatever layer was asked.
      const text = await (await fragment("path=torus.gcode&layer=20&follow=1")).text();
      const now = await (await get(`/api/v1/printers/${printer}`)).json();
      const shown = Number(/data-layer="(\d+)"/.exec(text)![1]);
      expect(Math.abs(shown - now.job.layer.current)).toBeLessThanOrEqual(1);
      expect(text).toContain(`data-live="${printer}"`);
      expect(text).toContain("Printing on <b>Virtual printer</b>");
      // Not following: the layer asked for, not printed yet, all faint.
      const later = await (await fragment("path=torus.gcode&layer=20")).text();
      expect(later).toContain('data-layer="20"');
      expect(later).toContain('data-done="0"');
      expect(later).not.toContain('<path class="done"');
      // The dashboard's viewer of the printer's job.
      const job = await (await get(`/ui/printers/${printer}/job/viewer`)).text();
      expect(job).toContain(`<input type="hidden" name="printer" value="${printer}">`);
      expect(job).toContain("layer-viewer-close");
      expect(job).toContain(`data-live="${printer}"`);

      // A file whose analysis waits (only while no printer prints): not known yet, and said so.
      expect((await host.api("/api/v1/analysis/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: '{"onlyWhenIdle":true}' })).status).toBe(200);
      expect((await upload(host, "waiting.gcode", "G1 X1 Y1\nG1 X2 E1\n")).status).toBe(201);
      expect(await (await get("/files/viewer?path=waiting.gcode")).text()).toContain("is being analysed; its layers can be shown once that is done");
      expect(await (await get("/files/viewer?path=waiting.gcode")).text()).toContain("Waiting its turn.");
    } finally {
      await host.post(`/api/v1/printers/${printer}/job/cancel`);
      await host.api("/api/v1/analysis/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: '{"onlyWhenIdle":false}' });
    }
  }, 90_000);
});

/** Starts a print of `file` on the printer and waits until it runs; its job id. */
async function startPrint(file: string): Promise<string> {
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational", 30_000);
  expect((await host.post(`/api/v1/printers/${printer}/job`, { file })).status).toBeLessThan(300);
  const status = await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.job?.file === file && ["starting", "printing"].includes(p.job.state) && p.progress !== null);
  return status.job.id as string;
}

/** Cancels the printer's print and waits until it has ended and the printer is free. */
async function endPrint(): Promise<void> {
  await host.post(`/api/v1/printers/${printer}/job/cancel`);
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational" && (!p.job || ["done", "cancelled", "failed"].includes(p.job.state)), 30_000);
}

describe("a viewer that follows a printer", () => {
  // A file of its own, 12 layers: another print than the torus.
  const CUBE = layeredGcode({ layers: 12, objects: [{ name: "cube", x: 60, y: 60 }], loops: 3, feedrate: 600 });

  test("becomes the file of the printer's next print, with its address and title on the page; one that never followed a print keeps its file", async () => {
    expect((await upload(host, "cube.gcode", CUBE)).status).toBe(201);
    await analysed("cube.gcode");
    const cubeCount = (await (await get("/api/v1/files/cube.gcode/analysis")).json()).layers.length as number;
    expect(cubeCount).toBe(12);
    // Restricted to another printer: it sees none of this printer's prints.
    const other = await host.post("/api/v1/printers", { name: "Elsewhere", transport: "virtual", autoconnect: false });
    expect(other.status).toBe(201);
    const otherId = (await other.json()).id as string;
    const key = await host.post("/api/v1/apikeys", { name: "elsewhere only", scope: "read-only", printer: otherId });
    expect(key.status).toBe(201);
    const elsewhere = { "x-api-key": (await key.json()).key as string };
    try {
      await startPrint("torus.gcode");
      // The job panel's viewer follows its printer; so does a files-page viewer following the print of its file.
      const job = await (await get(`/ui/printers/${printer}/job/viewer`)).text();
      expect(job).toContain('<input type="hidden" name="place" value="job">');
      expect(job).toContain('<input type="hidden" name="count" value="28">');
      expect(job).toContain(`<input type="hidden" name="printer" value="${printer}">`);
      const page = await (await get("/files/viewer?path=torus.gcode")).text();
      expect(page).toContain(`<input type="hidden" name="printer" value="${printer}">`);
      expect(page).toContain(`sse-connect="/ui/files/viewer/events?path=torus.gcode&amp;printer=${printer}"`);
      expect(await (await fragment("path=torus.gcode&layer=2&follow=1&count=28&place=page")).text()).toContain(`<input type="hidden" name="printer" value="${printer}">`);
      // Not following (the slider moved by hand), or a printer the key may not see: nothing followed.
      expect(await (await fragment("path=torus.gcode&layer=2&count=28&place=page")).text()).not.toContain('name="printer"');
      const hidden = await (await host.anonymous("/ui/files/viewer/layer?path=torus.gcode&layer=2&follow=1&count=28&place=page", { headers: elsewhere })).text();
      expect(hidden).not.toContain('name="printer"');
      expect(hidden).not.toContain("data-live");

      await endPrint();
      // The print ended: the viewers keep the file (no other print to show).
      const ended = await fragment(`path=torus.gcode&layer=5&follow=1&count=28&place=job&printer=${printer}`);
      expect(ended.status).toBe(200);
      expect(ended.headers.get("hx-retarget")).toBeNull();
      const endedText = await ended.text();
      expect(endedText).toContain("<strong>Layer 5 of 28</strong>");
      expect(endedText).not.toContain("data-live");

      // The page's stream (opened on the torus without a printer) hears of the next print starting; one for a key restricted elsewhere does not.
      const [stream, restricted] = await Promise.all([collect("/ui/files/viewer/events?path=torus.gcode", "layer-progress"), collect("/ui/files/viewer/events?path=torus.gcode", "layer-progress", { headers: elsewhere })]);
      const cubeJob = await startPrint("cube.gcode");
      await Bun.sleep(1500);
      expect(await stream.stop()).toContain(`${printer} ${cubeJob}`);
      expect((await restricted.stop()).filter((e) => e.startsWith(printer))).toEqual([]);

      // Following the printer: the whole viewer of the cube, in place of the form that asked (the job panel).
      const switched = await fragment(`path=torus.gcode&layer=5&follow=1&count=28&place=job&printer=${printer}`);
      expect(switched.status).toBe(200);
      expect([switched.headers.get("hx-retarget"), switched.headers.get("hx-reswap"), switched.headers.get("hx-replace-url")]).toEqual(["this", "outerHTML", null]);
      const switchedText = await switched.text();
      expect(switchedText).toStartWith('<form class="layer-viewer"');
      expect(switchedText).toContain('<input type="hidden" name="path" value="cube.gcode">');
      expect(switchedText).toContain(`<input type="range" name="layer" min="1" max="${cubeCount}"`);
      expect(switchedText).toContain(`data-live="${printer}"`);
      expect(switchedText).toContain("layer-viewer-close");
      // On the viewer's page: the page's content, with the cube's heading, title, stream and address.
      const onPage = await fragment(`path=torus.gcode&layer=5&follow=1&count=28&place=page&printer=${printer}`);
      expect([onPage.headers.get("hx-retarget"), onPage.headers.get("hx-reswap"), onPage.headers.get("hx-replace-url")]).toEqual(["closest .layer-page", "outerHTML", `/files/viewer?path=cube.gcode&printer=${printer}`]);
      const onPageText = await onPage.text();
      expect(onPageText).toStartWith("<title>Layers of cube.gcode · Layerline</title>");
      expect(onPageText).toContain("<h1>cube.gcode ");
      expect(onPageText).toContain(`sse-connect="/ui/files/viewer/events?path=cube.gcode&amp;printer=${printer}"`);
      expect(onPageText).toContain('<input type="hidden" name="place" value="page">');
      // "Follow the print" unticked: it stays, and says what the printer prints now.
      const staying = await fragment(`path=torus.gcode&layer=5&count=28&place=page&printer=${printer}`);
      expect(staying.headers.get("hx-retarget")).toBeNull();
      const stayingText = await staying.text();
      expect(stayingText).toContain("<strong>Layer 5 of 28</strong>");
      expect(stayingText).toContain(`data-printing="${printer}"`);
      expect(stayingText).toContain("<b>Virtual printer</b> is printing cube.gcode now");
      // A viewer that never followed a print (opened from the files page while the torus did not print): it keeps its file.
      const free = await fragment("path=torus.gcode&layer=5&follow=1&count=28&place=page");
      expect(free.headers.get("hx-retarget")).toBeNull();
      const freeText = await free.text();
      expect(freeText).toContain("<strong>Layer 5 of 28</strong>");
      expect(freeText).not.toContain("data-printing");
      // The page's address naming the printer leads to the file printed there.
      const address = await get(`/files/viewer?path=torus.gcode&printer=${printer}`, { redirect: "manual" });
      expect([address.status, address.headers.get("location")]).toEqual([303, `/files/viewer?path=cube.gcode&printer=${printer}`]);
      expect(await (await get(`/files/viewer?path=cube.gcode&printer=${printer}`)).text()).toContain(`data-live="${printer}"`);
      // A printer the key may not see cannot be followed.
      expect((await host.anonymous(`/files/viewer?path=torus.gcode&printer=${printer}`, { headers: elsewhere, redirect: "manual" })).status).toBe(404);

      await endPrint();
      // The cube's print ended: its viewer keeps showing it.
      const after = await fragment(`path=cube.gcode&layer=3&follow=1&count=${cubeCount}&place=page&printer=${printer}`);
      expect(after.headers.get("hx-retarget")).toBeNull();
      expect(await after.text()).toContain(`<strong>Layer 3 of ${cubeCount}</strong>`);
    } finally {
      await endPrint();
      await host.api(`/api/v1/printers/${otherId}`, { method: "DELETE" });
    }
  }, 120_000);
});

describe("a viewer opened before its file's analysis ended", () => {
  test("shows how far the analysis is and, when it ends, its layers by itself; an analysis error with its reason", async () => {
    const settings = (onlyWhenIdle: boolean) => host.api("/api/v1/analysis/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ onlyWhenIdle }) });
    // Analyses wait while the printer prints: the viewers open before they end.
    expect((await settings(true)).status).toBe(200);
    try {
      await startPrint("torus.gcode");
      expect((await upload(host, "later.gcode", layeredGcode({ layers: 5, objects: [{ name: "a", x: 20, y: 20 }] }))).status).toBe(201);
      expect((await upload(host, "later-bad.gcode", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit,\nsed do eiusmod tempor\nincididunt ut labore\net dolore magna aliqua.\n")).status).toBe(201);
      const page = await (await get("/files/viewer?path=later.gcode")).text();
      expect(page).toContain('<input type="hidden" name="count" value="0">');
      expect(page).toContain('hx-trigger="sse:layer-progress"');
      expect(page).toContain("data-waiting");
      expect(page).toContain("is being analysed; its layers can be shown once that is done");
      expect(page).toContain("Its layers show here by themselves when the analysis ends");
      const shown = /name="shown" value="([^"]+)"/.exec(page)![1]!;
      const waiting = (path: string, place: string, key = "") => fragment(`path=${path}&count=0&place=${place}&follow=1&shown=${encodeURIComponent(key)}`);
      // Nothing changed yet: nothing to send.
      expect((await waiting("later.gcode", "page", shown)).status).toBe(204);

      // The page's stream says when the analysis moves on and ends.
      const stream = await collect("/ui/files/viewer/events?path=later.gcode", "layer-progress");
      await endPrint();
      await analysed("later.gcode");
      await analysed("later-bad.gcode");
      await Bun.sleep(1200);
      expect(await stream.stop()).toContain("analysis later.gcode");

      // Its layers are known now: the whole viewer, with controls for them, in place of the waiting one.
      const done = await waiting("later.gcode", "page", shown);
      expect([done.status, done.headers.get("hx-retarget"), done.headers.get("hx-reswap"), done.headers.get("hx-replace-url")]).toEqual([200, "closest .layer-page", "outerHTML", null]);
      const doneText = await done.text();
      expect(doneText).toContain('<input type="hidden" name="count" value="5">');
      expect(doneText).toContain('<input type="range" name="layer" min="1" max="5" value="1"');
      expect(doneText).toContain('<svg class="layer-svg"');
      // In the job panel, the viewer alone.
      const inPanel = await waiting("later.gcode", "job");
      expect(inPanel.headers.get("hx-retarget")).toBe("this");
      expect(await inPanel.text()).toStartWith('<form class="layer-viewer"');
      // The analysis failed: the reason, in place of the wait.
      const reason = (await (await get("/api/v1/files/later-bad.gcode")).json()).analysis.error.message as string;
      const failed = await waiting("later-bad.gcode", "page");
      expect(failed.status).toBe(200);
      expect(failed.headers.get("hx-retarget")).toBeNull();
      const failedText = await failed.text();
      expect(failedText).toContain("later-bad.gcode could not be analysed, so its layers are not known");
      expect(failedText).toContain(reason.replaceAll('"', "&quot;").slice(0, 40));
      expect(failedText).not.toContain("data-waiting");
    } finally {
      await endPrint();
      await settings(false);
    }
  }, 90_000);
});
