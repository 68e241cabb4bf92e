/**
 * The OctoPrint API on the printer's SD card (#3's card support): ready state, listing in
 * OctoPrint's SD entry shape, refresh and release, print a card file (select + print), the job
 * while it prints from the card, delete; what is not possible on a card is refused with a reason.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readyHost, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let printer: string;
const DEMO = "LAYERL~1.GCO"; // the virtual printer's card holds layerline-demo.gcode under this 8.3 name

beforeAll(async () => {
  ({ host, printer } = await readyHost());
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.sd.files.some((f: any) => f.name === DEMO));
}, 30_000);
afterAll(() => host.close());

const json = async (path: string) => (await host.api(path)).json() as Promise<any>;

test("ready state and listing in OctoPrint's shapes", async () => {
  expect(await json("/api/printer/sd")).toEqual({ ready: true });
  const state = await json("/api/printer");
  expect(state.sd).toEqual({ ready: true });
  expect(state.state.flags.sdReady).toBe(true);
  const card = await json("/api/files/sdcard");
  expect(Object.keys(card)).toEqual(["files"]);
  const demo = card.files.find((f: any) => f.name === DEMO);
  expect(demo).toMatchObject({ type: "machinecode", typePath: ["machinecode", "gcode"], display: "layerline-demo.gcode", path: DEMO, origin: "sdcard" });
  expect(demo.refs).toEqual({ resource: `${host.url}/api/files/sdcard/${encodeURIComponent(DEMO)}` });
  expect(demo.size).toBeGreaterThan(0);
  expect(await json(`/api/files/sdcard/${encodeURIComponent(DEMO)}`)).toEqual(demo);
  // The long name finds it too; an unknown one is a 404 in OctoPrint's words.
  expect((await json("/api/files/sdcard/layerline-demo.gcode")).name).toBe(DEMO);
  const missing = await host.api("/api/files/sdcard/NOPE.GCO");
  expect(missing.status).toBe(404);
  expect(await missing.json()).toEqual({ error: "File not found on 'sdcard': NOPE.GCO" });
  // All origins together.
  expect((await json("/api/files")).files.filter((f: any) => f.origin === "sdcard").map((f: any) => f.name)).toContain(DEMO);
  expect((await host.post("/api/printer/sd", { command: "refresh" })).status).toBe(204);
  expect((await host.post("/api/printer/sd", { command: "format" })).status).toBe(400);
}, 30_000);

test("a card file is printed with select + print; the job shows it from the card", async () => {
  const path = `/api/files/sdcard/${encodeURIComponent(DEMO)}`;
  const onlySelect = await host.post(path, { command: "select" });
  expect(onlySelect.status).toBe(409);
  expect((await onlySelect.json()).error).toContain('"print": true');
  expect((await host.post(path, { command: "move", destination: "x" })).status).toBe(400);
  expect((await host.post(path, { command: "select", print: true })).status).toBe(204);
  const printing = await host.waitFor("/api/job", (j: any) => j.job.file.origin === "sdcard");
  expect(printing.job.file).toMatchObject({ name: DEMO, path: DEMO, display: "layerline-demo.gcode", origin: "sdcard" });
  const done = await host.waitFor("/api/job", (j: any) => j.state === "Operational" && j.progress.completion === 100);
  expect(done.job.file.origin).toBe("sdcard");
  // Still selected, as in OctoPrint: "start" prints it again from the card (a new job).
  const first = (await json(`/api/v1/printers/${printer}`)).job;
  expect((await host.post("/api/job", { command: "start" })).status).toBe(204);
  const again = await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.job.id !== first.id && p.job.state === "done");
  expect(again.job).toMatchObject({ source: "sd", file: DEMO });
}, 30_000);

test("without a link there is no card: not ready, nothing listed; it comes back with the connection", async () => {
  expect((await host.post("/api/connection", { command: "disconnect" })).status).toBe(204);
  await host.waitFor("/api/connection", (c: any) => c.current.state === "Closed");
  expect(await json("/api/printer/sd")).toEqual({ ready: false });
  expect(await json("/api/files/sdcard")).toEqual({ files: [] });
  expect((await json("/api/files")).files.filter((f: any) => f.origin === "sdcard")).toEqual([]);
  expect((await host.post("/api/connection", { command: "connect" })).status).toBe(204);
  await host.waitFor("/api/printer/sd", (b: any) => b.ready === true);
  await host.waitFor("/api/files/sdcard", (b: any) => b.files.some((f: any) => f.name === DEMO));
}, 30_000);

test("an upload to the card is stored locally and copied to the card (not printed without print=true); delete and release work", async () => {
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.sd.writable);
  const form = new FormData();
  form.append("file", new Blob(["G28\n"]), "x.gcode");
  const upload = await host.api("/api/files/sdcard", { method: "POST", body: form });
  expect(upload.status).toBe(201);
  expect(await upload.json()).toMatchObject({ done: false, effectivePrint: false, files: { local: { path: "x.gcode" }, sdcard: { origin: "sdcard" } } });
  await host.waitFor("/api/files/sdcard", (b: any) => b.files.some((f: any) => f.display === "x.gcode"));
  expect((await json("/api/job")).state).toBe("Operational");

  expect((await host.api(`/api/files/sdcard/${encodeURIComponent(DEMO)}`, { method: "DELETE" })).status).toBe(204);
  await host.waitFor("/api/files/sdcard", (b: any) => !b.files.some((f: any) => f.name === DEMO));

  expect((await host.post("/api/printer/sd", { command: "release" })).status).toBe(204);
  await host.waitFor("/api/printer/sd", (b: any) => b.ready === false);
  expect(await json("/api/files/sdcard")).toEqual({ files: [] });
  expect((await host.api("/api/files/sdcard/ANY.GCO")).status).toBe(409);
  expect((await host.post("/api/printer/sd", { command: "init" })).status).toBe(204);
  await host.waitFor("/api/printer/sd", (b: any) => b.ready === true);
}, 30_000);
