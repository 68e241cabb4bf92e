/**
 * An emergency stop while a file is being copied to the SD card (M28 … M29), through the HTTP API
 * of a host with the built-in virtual Marlin on a slow (115200 baud) wire: the stop acts at once
 * (M29 ahead of it so the firmware does not store it in the file, then M112), the upload ends as
 * stopped, and the part on the card is marked incomplete — never printed, until it is deleted or
 * copied again.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let id: string;
const gcode = layeredGcode({ layers: 150, loops: 6, objects: [{ name: "a", x: 20, y: 20, size: 30 }] });

beforeAll(async () => {
  host = await startTestHost({ virtual: { timeScale: 0, baudRate: 115200 } });
  id = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && p.firmware !== null && p.sd.files.length > 0);
}, 30_000);
afterAll(() => host.close());

const sd = () => host.api(`/api/v1/printers/${id}/sd`).then((r) => r.json() as Promise<any>);

test("M112 during an upload to the SD card stops it at once; the partial copy is marked incomplete and not printed", async () => {
  expect(gcode.length).toBeGreaterThan(100_000); // several seconds at 115200 baud
  expect((await upload(host, "big.gcode", gcode)).status).toBe(201);
  expect((await host.post(`/api/v1/printers/${id}/sd/upload`, { file: "big.gcode" })).status).toBe(202);
  await host.waitFor(`/api/v1/printers/${id}/sd`, (s: any) => s.upload?.bytes > 2000);
  // Typed in the terminal: other commands are refused during an upload, M112 never is.
  expect((await host.post(`/api/v1/printers/${id}/commands`, { commands: ["G28"] })).status).toBe(409);
  expect((await host.post(`/api/v1/printers/${id}/commands`, { commands: ["M112"] })).status).toBe(200);

  const stopped = await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "error");
  expect(stopped.problem.code).toBe("emergency_stop");
  expect(stopped.sd.upload).toBeNull();
  // On the wire: M29 ends the write first, then M112 (bare and numbered) — nothing of the file after.
  const trace = (await (await host.api(`/api/v1/printers/${id}/trace`)).text()).trim().split("\n").map((l) => JSON.parse(l));
  const sent = trace.filter((e) => e.dir === "send").map((e) => e.line as string);
  const at = sent.indexOf("M29");
  expect(at).toBeGreaterThan(0);
  expect(sent[at + 1]).toBe("M112");
  expect(sent[at + 2]).toMatch(/^N\d+ M112\*\d+$/);
  expect(sent.slice(at + 3).every((l) => /M104|M140/.test(l))).toBe(true);
  const terminal = (await (await host.api(`/api/v1/printers/${id}/terminal`)).json()).lines.map((l: any) => l.text).join("\n");
  expect(terminal).toContain("Upload of big.gcode stopped: Emergency stop. big.gcode on the card holds only part of it");
  expect(terminal).not.toContain("Copied big.gcode");

  // The printer is reset and connected again: the part on the card is listed, marked, and refused.
  expect((await host.post(`/api/v1/printers/${id}/connect`)).status).toBeLessThan(300);
  const listed = await host.waitFor(`/api/v1/printers/${id}/sd`, (s: any) => s.files.some((f: any) => f.longName === "big.gcode"));
  const partial = listed.files.find((f: any) => f.longName === "big.gcode");
  expect(partial.incomplete).toBe(true);
  expect(partial.size).toBeLessThan(gcode.length);
  const print = await host.post(`/api/v1/printers/${id}/sd/print`, { name: partial.name });
  expect(print.status).toBe(409);
  expect((await print.json()).error).toMatchObject({ code: "incomplete", hint: expect.stringContaining("Copy the file to the card again") });
  // The dashboard's card list says so too, and offers no Print for it.
  const page = await (await host.api(`/?printer=${id}`)).text();
  const row = page.slice(page.indexOf(`data-sd-file="${partial.name}"`));
  expect(row.slice(0, row.indexOf("</tr>"))).toMatch(/badge incomplete[\s\S]*<button class="primary" disabled/);

  // Deleted: the mark goes with it.
  expect((await host.api(`/api/v1/printers/${id}/sd/${encodeURIComponent(partial.name)}`, { method: "DELETE" })).status).toBe(202);
  const after = await host.waitFor(`/api/v1/printers/${id}/sd`, (s: any) => !s.files.some((f: any) => f.longName === "big.gcode"));
  expect(after.files.every((f: any) => f.incomplete === undefined)).toBe(true);
  expect((await sd()).upload).toBeNull();
}, 120_000);
