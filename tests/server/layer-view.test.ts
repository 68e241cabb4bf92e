/**
 * The layer viewer's routes on a real host: the page and its fragments, clear 4xx answers to bad
 * parameters (never a 500), files without layers said plainly, the permissions of the files pages
 * (a key restricted to a printer follows only that printer), and a print followed live — the
 * viewer's stream at most once a second, the fragment on the layer printing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
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
    expect((await get("/ui/files/viewer/events?path=..%2Fx")).status).toBe(400);
    expect((await get("/ui/files/viewer/events?path=nope.gcode")).status).toBe(404);
    expect((await get("/ui/printers/nosuch/job/viewer")).status).toBe(404);
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

/** The events of `name` a stream sends within `ms`. */
async function eventsWithin(path: string, name: string, ms: number): Promise<string[]> {
  const res = await get(path);
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      if (!chunk || chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    await reader.cancel();
  }
  return text.split("\n\n").filter((b) => b.startsWith(`event: ${name}\n`)).map((b) => b.split("\n")[1]!.slice(6));
}

describe("a print followed live", () => {
  test("the stream says when the print moves on, at most once a second; the fragment follows the layer printing", async () => {
    expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "torus.gcode" })).status).toBeLessThan(300);
    // Past the heat-up, into the layers.
    const status = await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => (p.job?.layer?.current ?? 0) >= 1, 60_000);
    expect(status.job.state).toBe("printing");
    try {
      const [page, dashboard] = await Promise.all([eventsWithin("/ui/files/viewer/events?path=torus.gcode", "layer-progress", 3500), eventsWithin(`/ui/events?printer=${printer}`, "layer-progress", 3500)]);
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
    } finally {
      await host.post(`/api/v1/printers/${printer}/job/cancel`);
      await host.api("/api/v1/analysis/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: '{"onlyWhenIdle":false}' });
    }
  }, 90_000);
});
