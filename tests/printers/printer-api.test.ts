/**
 * Issue #3 through the HTTP API of a real host with the built-in virtual printer (Marlin with
 * ADVANCED_OK): the SD card (list, copy a file to it with progress, print from it, pause,
 * resume, delete), a host prompt answered with M876, the send window setting, link statistics,
 * and the flight recorder's downloads.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let id: string;
const CUBE = ["G90", "M83", "G28", "G1 Z0.3 F600", ...Array.from({ length: 60 }, (_, i) => `G1 X${20 + (i % 10) * 4} Y${20 + Math.floor(i / 10) * 4} E0.2 F1200`), "M84"].join("\n") + "\n";

beforeAll(async () => {
  host = await startTestHost({ virtual: { timeScale: 20, advancedOk: true } });
  const { printers } = await (await host.api("/api/v1/printers")).json();
  id = printers[0].id;
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && p.firmware !== null && p.sd.files.length > 0);
}, 30_000);
afterAll(() => host.close());

const printer = () => host.api(`/api/v1/printers/${id}`).then((r) => r.json() as Promise<any>);

describe("SD card", () => {
  test("the card is listed at connect, with long names and sizes", async () => {
    const sd = await (await host.api(`/api/v1/printers/${id}/sd`)).json();
    expect(sd).toMatchObject({ available: true, writable: true, upload: null });
    expect(sd.files).toEqual([{ name: "LAYERL~1.GCO", longName: "layerline-demo.gcode", size: 288, modified: expect.any(Number) }]);
  });

  test("copy a stored file to the card, print it from there with progress, pause and resume, delete it", async () => {
    expect((await upload(host, "cube.gcode", CUBE)).status).toBe(201);
    const res = await host.post(`/api/v1/printers/${id}/sd/upload`, { file: "cube.gcode" });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ name: "cube.gcode", upload: { file: "cube.gcode", name: "cube.gcode", total: CUBE.length } });
    const listed = await host.waitFor(`/api/v1/printers/${id}/sd`, (sd: any) => sd.upload === null && sd.files.length === 2);
    expect(listed.files[1]).toMatchObject({ longName: "cube.gcode", size: CUBE.length });
    const name = listed.files[1].name;

    expect((await host.post(`/api/v1/printers/${id}/sd/print`, { name })).status).toBe(200);
    const running = await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.source === "sd" && p.progress?.bytesSent > 0);
    expect(running.state).toBe("printing");
    expect((await host.post(`/api/v1/printers/${id}/job/pause`)).status).toBe(200);
    const paused = await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "paused");
    await Bun.sleep(1500);
    expect((await printer()).progress.bytesSent).toBe(((await printer()) as any).progress.bytesSent); // stands still
    expect(paused.job.state).toBe("paused");
    expect((await host.post(`/api/v1/printers/${id}/job/resume`)).status).toBe(200);
    const done = await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "done", 60_000);
    expect(done.progress.completion).toBe(100);

    expect((await host.api(`/api/v1/printers/${id}/sd/${encodeURIComponent(name)}`, { method: "DELETE" })).status).toBe(202);
    await host.waitFor(`/api/v1/printers/${id}/sd`, (sd: any) => sd.files.length === 1);
  }, 90_000);

  test("mistakes are explained", async () => {
    const missing = await host.post(`/api/v1/printers/${id}/sd/print`, { name: "NOPE.GCO" });
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe("file_not_found");
    const bad = await host.post(`/api/v1/printers/${id}/sd/upload`, { file: "" });
    expect(bad.status).toBe(400);
    for (const name of ["../../x.gco", "dir/x.gco", ".hidden.gco"]) {
      const res = await host.post(`/api/v1/printers/${id}/sd/upload`, { file: "cube.gcode", name });
      expect([name, res.status]).toEqual([name, 400]);
      expect((await res.json()).error.hint).toContain("without folders");
    }
    const sd = await (await host.api(`/api/v1/printers/${id}/sd`)).json();
    expect(sd.upload).toBeNull();
  });
});

test("a printer's dialog (M0 with host prompt support) is shown and answered with M876", async () => {
  expect((await host.post(`/api/v1/printers/${id}/commands`, { commands: ["M0 Insert the magnets"] })).status).toBe(200);
  const asking = await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.prompt !== null && p.busy !== null);
  expect(asking.prompt).toEqual({ text: "Insert the magnets", buttons: ["Continue"] });
  expect(asking.busy).toBe("paused for user");
  expect((await host.post(`/api/v1/printers/${id}/prompt`, { choice: 5 })).status).toBe(400);
  expect((await host.post(`/api/v1/printers/${id}/prompt`, { choice: 0 })).status).toBe(200);
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.prompt === null && p.busy === null);
  await host.waitFor(`/api/v1/printers/${id}/terminal`, (t: any) => t.lines.some((l: any) => l.dir === "send" && / M876 S0\*/.test(l.text)));
  expect((await host.post(`/api/v1/printers/${id}/prompt`, { choice: 0 })).status).toBe(409); // nothing asked now
});

test("the send window is a printer setting; with ADVANCED_OK it opens to the firmware's buffer", async () => {
  let p = await printer();
  expect(p.window).toBe(4);
  expect(p.link).toMatchObject({ maxWindow: 4, window: 4 });
  const res = await host.api(`/api/v1/printers/${id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ window: 1 }) });
  expect(res.status).toBe(200);
  p = await host.waitFor(`/api/v1/printers/${id}`, (x: any) => x.link.maxWindow === 1);
  expect(p.window).toBe(1);
  const bad = await host.api(`/api/v1/printers/${id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ window: 99 }) });
  expect(bad.status).toBe(400);
  expect((await bad.json()).error.message).toContain("window");
  await host.api(`/api/v1/printers/${id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ window: 4 }) });
});

test("link statistics and the flight recorder", async () => {
  const link = await (await host.api(`/api/v1/printers/${id}/link`)).json();
  expect(link.acks).toBeGreaterThan(50);
  expect(link.ackLatencyP50Ms).toBeGreaterThanOrEqual(0);
  expect(link.ackLatencyP99Ms).toBeGreaterThanOrEqual(link.ackLatencyP50Ms);
  expect(link.resendRatio).toBe(0);

  const ring = await host.api(`/api/v1/printers/${id}/trace`);
  expect(ring.headers.get("content-disposition")).toMatch(/attachment; filename="layerline-.*\.jsonl"/);
  const entries = (await ring.text()).trim().split("\n").map((l) => JSON.parse(l));
  expect(entries[0]).toEqual({ t: expect.any(Number), dir: expect.stringMatching(/send|recv|info/), line: expect.any(String) });
  expect(entries.some((e) => e.dir === "send" && e.line === "N0 M110 N0*125")).toBe(true);
  expect(entries.some((e) => e.dir === "recv" && e.line.startsWith("FIRMWARE_NAME:Marlin"))).toBe(true);
  expect(entries.every((e, i) => i === 0 || e.t >= entries[i - 1].t)).toBe(true);

  // The rotating log on disk has the same lines (written in batches).
  await Bun.sleep(400);
  expect(existsSync(join(host.dataDir, "logs", `serial-${id}.jsonl`))).toBe(true);
  const log = await (await host.api(`/api/v1/printers/${id}/trace?source=log`)).text();
  expect(log.split("\n").length).toBeGreaterThan(100);
  expect(log).toContain('"line":"N0 M110 N0*125"');
});

test("the emergency stop: M112 at once (bare and numbered), the link ends with the reason, and connecting again works", async () => {
  const res = await host.post(`/api/v1/printers/${id}/emergency-stop`);
  expect(res.status).toBe(200);
  const stopped = await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "error");
  expect(stopped.problem).toMatchObject({ code: "emergency_stop", message: expect.stringContaining("M112") });
  const sent = ((await (await host.api(`/api/v1/printers/${id}/terminal`)).json()) as any).lines.filter((l: any) => l.dir === "send").map((l: any) => l.text);
  const bare = sent.lastIndexOf("M112");
  expect(bare).toBeGreaterThan(0);
  expect(sent[bare + 1]).toMatch(/^N\d+ M112\*\d+$/);
  expect((await host.post(`/api/v1/printers/${id}/connect`)).status).toBe(200);
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && p.firmware !== null);
}, 30_000);
