/**
 * Plugins and the printers' threads coming and going: a printer deleted while a plugin runs in
 * its thread leaves the plugin's list of printers; a print on the built-in virtual printer whose
 * thread was restarted because a plugin's hook never returned cannot go on (the virtual printer
 * lives in that thread): it is closed in the history as failed, naming the hook and why it could
 * not go on (also after the next start), and the next print has a row of its own. (Over a serial
 * link the print goes on: tests/e2e/hung-plugin-over-pty.test.ts.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobEnded, startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { writePlugin } from "./helpers.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-printer-threads-"));
let host: TestHost;
let printer: string;
const start = () => startTestHost({ dataDir, plugins: { bundledDirs: [] } });
const plugin = async (id: string) => (await (await host.api(`/api/v1/plugins/${id}`)).json()) as any;
const history = async () => ((await (await host.api(`/api/v1/history?printer=${printer}`)).json()) as any).items;

beforeAll(async () => {
  writePlugin(join(dataDir, "plugins"), { id: "counter", entry: `import { definePlugin } from "layerline";\nexport default definePlugin({ gcode: { send(line) {} } });` });
  host = await start();
  printer = ((await (await host.api("/api/v1/printers")).json()) as any).printers[0].id;
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");
  expect((await upload(host, "cube.gcode", layeredGcode({ layers: 20, objects: [{ name: "a", x: 10, y: 10 }], loops: 4 }))).status).toBe(201);
}, 30_000);

afterAll(async () => {
  await host?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test("a deleted printer leaves the printers a plugin runs on; a new one of its name is there once its thread runs the plugin", async () => {
  const add = async () => (await (await host.post("/api/v1/printers", { name: "Second", transport: "virtual", autoconnect: false })).json()) as any;
  const second = await add();
  await host.waitFor("/api/v1/plugins/counter", (p: any) => p.printersRunning.includes(second.id) && p.printersRunning.includes(printer));
  expect((await host.api(`/api/v1/printers/${second.id}`, { method: "DELETE" })).status).toBe(204);
  expect((await plugin("counter")).printersRunning).toEqual([printer]);
  const list = (await (await host.api("/api/v1/plugins")).json()) as any;
  expect(list.plugins.find((p: any) => p.id === "counter").printersRunning).toEqual([printer]);
  // The same name makes a new id (a removed printer's is never reused, see tests/printers/removal.test.ts).
  const again = await add();
  expect(again.id).not.toBe(second.id);
  await host.waitFor("/api/v1/plugins/counter", (p: any) => p.printersRunning.includes(again.id));
  expect((await host.api(`/api/v1/printers/${again.id}`, { method: "DELETE" })).status).toBe(204);
}, 20_000);

test("a hook that never returns: the print's history row is closed as failed, naming the hook; the next print has its own row", async () => {
  writePlugin(join(dataDir, "plugins"), {
    id: "hangs-once",
    entry: `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { send(line, ctx) { if (line.startsWith("G1 ") && (ctx.state.n = ((ctx.state.n as number) ?? 0) + 1) === 300) for (;;) {} } } });`,
  });
  await host.waitFor("/api/v1/plugins/hangs-once", (p: any) => p.printersRunning?.includes(printer), 15_000);
  expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "cube.gcode" })).status).toBe(200);
  // While a print streams the watchdog gives the thread 1.5 s, then starts it again without the plugin.
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.problem?.code === "printer_thread_restarted", 20_000);
  const reason =
    "The printer's thread stopped answering for 1.5 s — the plugin hangs-once (its send hook) never returned — and was restarted; the print was interrupted: " +
    "it could not go on because the built-in virtual printer runs on that thread, so its state (heaters, position, the lines it had) went with it.";
  const [hung] = await history();
  expect(hung).toMatchObject({ file: "cube.gcode", outcome: "failed", reason });
  expect(hung.endedAt).toBeGreaterThanOrEqual(hung.startedAt);

  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational", 20_000);
  expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "cube.gcode" })).status).toBe(200);
  expect((await host.waitFor(`/api/v1/printers/${printer}`, jobEnded, 30_000)).job.state).toBe("done");
  const rows = await history();
  expect(rows.map((r: any) => [r.outcome, r.reason])).toEqual([["done", null], ["failed", reason]]);
  expect(rows[0].jobId).not.toBe(rows[1].jobId);

  // The next start finds nothing left open to call interrupted.
  await host.close();
  host = await start();
  expect((await history()).map((r: any) => [r.outcome, r.reason])).toEqual([["done", null], ["failed", reason]]);
}, 60_000);
