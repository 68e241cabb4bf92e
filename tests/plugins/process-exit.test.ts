/**
 * A plugin that calls process.exit(), process.abort(), process.reallyExit() or process.kill() of
 * its own process — at load, in setup, in a route, in a serial hook in a printer's thread, or
 * later from its own timer — does
 * not end Layerline nor the printer's thread: the call is refused with an error that names the
 * plugin, recorded as that plugin's fault (or, when nothing names it, a notice), and the print
 * goes on. Nor does an error the plugin's own timer or promise throws and nothing catches.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobEnded, startHostProcess, startTestHost, upload, waitUntil, type TestHost } from "../helpers/host.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { writePlugin } from "./helpers.ts";

const refused = (call: string, plugin: string) => `${call} was refused: the plugin ${plugin} may not end Layerline's process (that would stop every print). Throw an error or log instead.`;
const plugin = (code: string) => `import { definePlugin } from "layerline";\n${code}`;

const dataDir = mkdtempSync(join(tmpdir(), "layerline-process-exit-"));
const pluginsDir = join(dataDir, "plugins");
let host: TestHost;
let printer: string;
const view = async (id: string) => (await (await host.api(`/api/v1/plugins/${id}`)).json()) as any;

beforeAll(async () => {
  writePlugin(pluginsDir, { id: "exits-in-setup", entry: plugin(`export default definePlugin({ setup() { process.exit(13); } });`) });
  writePlugin(pluginsDir, { id: "aborts-at-load", entry: plugin(`process.abort();\nexport default definePlugin({});`) });
  writePlugin(pluginsDir, {
    id: "exits-in-route",
    // A call in tail position leaves no frame of the plugin on the stack: named as the plugin whose route runs.
    entry: plugin(`export default definePlugin({ setup(ctx) { ctx.route("GET", "/bye", () => process.reallyExit(0)); } });`),
  });
  writePlugin(pluginsDir, {
    id: "kills-itself",
    entry: plugin(`export default definePlugin({ setup(ctx) {
  ctx.route("GET", "/kill", () => { process.kill(process.pid, "SIGKILL"); });
  // Probing with signal 0, or signalling another process, is not ending Layerline: left alone.
  ctx.route("GET", "/probe", () => ({ alive: process.kill(process.pid, 0) }));
} });`),
  });
  host = await startTestHost({ dataDir, plugins: { bundledDirs: [] } });
  printer = ((await (await host.api("/api/v1/printers")).json()) as any).printers[0].id;
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");
  const gcode = layeredGcode({ layers: 3, objects: [{ name: "a", x: 10, y: 10 }] });
  expect((await upload(host, "cube.gcode", gcode)).status).toBe(201);
}, 30_000);

afterAll(async () => {
  await host?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("on the main thread", () => {
  test("in setup and at load: the plugin fails with the refusal as its reason; the host goes on", async () => {
    expect(await view("exits-in-setup")).toMatchObject({ state: "failed", reason: `setup threw: ${refused("process.exit(13)", "exits-in-setup")}` });
    expect(await view("aborts-at-load")).toMatchObject({ state: "failed", reason: `loading failed: ${refused("process.abort()", "aborts-at-load")}` });
  });

  test("in a route: a 502 naming the plugin, and a fault on it", async () => {
    const res = await host.api("/api/v1/plugins/exits-in-route/bye");
    expect(res.status).toBe(502);
    expect(((await res.json()) as any).error.message).toBe(`The plugin exits-in-route could not answer: it threw: ${refused("process.reallyExit(0)", "exits-in-route")}`);
    const kill = await host.api("/api/v1/plugins/kills-itself/kill");
    expect(kill.status).toBe(502);
    expect(((await kill.json()) as any).error.message).toBe(`The plugin kills-itself could not answer: it threw: ${refused(`process.kill(${process.pid}, "SIGKILL")`, "kills-itself")}`);
    expect(await (await host.api("/api/v1/plugins/kills-itself/probe")).json()).toEqual({ alive: true });
    expect((await view("exits-in-route")).faults).toMatchObject([{ where: "route GET /bye", message: `threw: ${refused("process.reallyExit(0)", "exits-in-route").slice(0, -1)}` }]);
  });
});

test("in a send hook in a printer's thread: each call refused as a fault of the hook; the plugin is disabled, the print finishes", async () => {
  // In tail position: named as the plugin whose hook runs.
  writePlugin(pluginsDir, { id: "exits-in-hook", entry: plugin(`export default definePlugin({ gcode: { send: (line) => (line.startsWith("G1 ") ? process.exit(1) : undefined) } });`) });
  await host.waitFor("/api/v1/plugins/exits-in-hook", (p: any) => p.printersRunning?.includes(printer), 15_000);
  expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "cube.gcode" })).status).toBe(200);
  expect((await host.waitFor(`/api/v1/printers/${printer}`, jobEnded, 30_000)).job.state).toBe("done");
  const p = await view("exits-in-hook");
  expect(p.state).toBe("disabled");
  expect(p.reason).toBe(`disabled after 3 faults; the last: send hook (printer ${printer}) threw: ${refused("process.exit(1)", "exits-in-hook")}`);
}, 30_000);

// Outside the test runner: it reports a Worker's uncaught errors itself, before the Worker's own handlers see them.
test("layerline serve: a plugin's own timer calling process.exit() — on the main thread or in a printer's, in tail position too — is refused, as its fault", async () => {
  const dir = mkdtempSync(join(tmpdir(), "layerline-process-exit-cli-"));
  writePlugin(join(dir, "plugins"), {
    id: "exits-later",
    entry: plugin(`export default definePlugin({ setup(ctx) {
  setTimeout(() => { process.exit(9); }, 100);
  setTimeout(async () => { await null; process.exit(8); }, 200);
  ctx.route("GET", "/alive", () => ({ alive: true }));
} });`),
  });
  writePlugin(join(dir, "plugins"), {
    id: "exits-later-in-tail",
    // In tail position from a timer: no frame of the plugin is left; the timer's scope names it.
    entry: plugin(`export default definePlugin({ setup() { setTimeout(() => process.exit(7), 300); } });`),
  });
  writePlugin(join(dir, "plugins"), {
    id: "exits-later-in-printer",
    entry: plugin(`export default definePlugin({ gcode: { send(line, ctx) {
  if (ctx.state.armed) return;
  ctx.state.armed = true;
  setTimeout(() => { process.exit(2); }, 0);
  setTimeout(async () => { await null; process.exit(3); }, 0);
} } });`),
  });
  // Any other error its own timer or promise leaves uncaught would end the process just the same.
  writePlugin(join(dir, "plugins"), {
    id: "throws-later",
    entry: plugin(`export default definePlugin({ setup() {
  setTimeout(() => { throw new Error("boom in a timer"); }, 100);
  setTimeout(async () => { await null; throw new TypeError("boom in a promise"); }, 200);
} });`),
  });
  writePlugin(join(dir, "plugins"), {
    id: "throws-later-in-printer",
    entry: plugin(`export default definePlugin({ gcode: { send(line, ctx) {
  if (ctx.state.armed) return;
  ctx.state.armed = true;
  setTimeout(() => { throw new Error("boom in a printer's timer"); }, 0);
} } });`),
  });
  const proc = await startHostProcess([], dir);
  const get = async (path: string) => (await proc.api(path)).json() as Promise<any>;
  try {
    const main = await waitUntil(() => get("/api/v1/plugins/exits-later"), (p) => p.faults?.length >= 2, 10_000);
    expect(main.faults.map((f: any) => [f.where, f.message])).toEqual([
      ["own timer or callback", `threw: ${refused("process.exit(9)", "exits-later")}`],
      ["own timer or callback", `threw: ${refused("process.exit(8)", "exits-later")}`],
    ]);
    const tail = await waitUntil(() => get("/api/v1/plugins/exits-later-in-tail"), (p) => p.faults?.length >= 1, 10_000);
    expect(tail.faults.map((f: any) => [f.where, f.message])).toEqual([["own timer or callback", `threw: ${refused("process.exit(7)", "exits-later-in-tail")}`]]);
    expect(await get("/api/v1/plugins/exits-later/alive")).toEqual({ alive: true });
    const thrower = await waitUntil(() => get("/api/v1/plugins/throws-later"), (p) => p.faults?.length >= 2, 10_000);
    expect(thrower.state).toBe("enabled");
    expect(thrower.faults.map((f: any) => [f.where, f.message])).toEqual([
      ["own timer or callback", "threw: boom in a timer"],
      ["own timer or callback", "threw: boom in a promise"],
    ]);

    const printer = (await get("/api/v1/printers")).printers[0].id;
    for (const id of ["exits-later-in-printer", "throws-later-in-printer"]) await waitUntil(() => get(`/api/v1/plugins/${id}`), (p) => p.printersRunning?.includes(printer), 15_000);
    const form = new FormData();
    form.append("file", new Blob([layeredGcode({ layers: 3, objects: [{ name: "a", x: 10, y: 10 }] })]), "cube.gcode");
    expect((await proc.api("/api/v1/files", { method: "POST", body: form })).status).toBe(201);
    for (let i = 0; i < 2; i++) {
      const start = await proc.api(`/api/v1/printers/${printer}/job`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ file: "cube.gcode" }) });
      expect(start.status).toBe(200);
      expect((await waitUntil(() => get(`/api/v1/printers/${printer}`), jobEnded, 30_000)).job.state).toBe("done");
    }
    const throwerInPrinter = await waitUntil(() => get("/api/v1/plugins/throws-later-in-printer"), (p) => p.faults?.length >= 1, 10_000);
    expect(throwerInPrinter.faults.map((f: any) => [f.where, f.message])).toEqual([[`own timer or callback (printer ${printer})`, "threw: boom in a printer's timer"]]);
    const inPrinter = await waitUntil(() => get("/api/v1/plugins/exits-later-in-printer"), (p) => p.faults?.length >= 2, 10_000);
    expect(inPrinter.state).toBe("enabled");
    expect(inPrinter.faults.map((f: any) => [f.where, f.message])).toEqual([
      [`own timer or callback (printer ${printer})`, `threw: ${refused("process.exit(2)", "exits-later-in-printer")}`],
      [`own timer or callback (printer ${printer})`, `threw: ${refused("process.exit(3)", "exits-later-in-printer")}`],
    ]);
  } finally {
    await proc.close();
  }
}, 90_000);
