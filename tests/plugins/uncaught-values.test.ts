/**
 * Whatever a plugin's own timers and promises leave uncaught — values that are no Error
 * (`throw undefined`, `Promise.reject(42)`), a process.exit() in tail position of its timer, a
 * call into the host API it does not await — never ends Layerline nor a printer's thread: it is
 * that plugin's fault where anything names the plugin, else an "unattributed" notice that names
 * the plugins whose code runs there. Meanwhile a print over the real serial path goes on to its
 * end with every line executed. Run as `layerline serve` (only the CLI takes the process's
 * uncaught errors; the test runner reports a Worker's itself).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clean } from "../../src/protocol/framing.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, startHostProcess, waitUntil, type HostProcess } from "../helpers/host.ts";
import { createPtyPair, type PtyPair } from "../helpers/pty.ts";
import { writePlugin } from "./helpers.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const plugin = (code: string) => `import { definePlugin } from "layerline";\n${code}`;
const refused = (call: string, plugin: string) => `${call} was refused: the plugin ${plugin} may not end Layerline's process (that would stop every print). Throw an error or log instead.`;

const dir = mkdtempSync(join(tmpdir(), "layerline-uncaught-"));
const dataDir = join(dir, "data");
const executedLog = join(dir, "executed.log");
let pty: PtyPair;
let firmware: ReturnType<typeof Bun.spawn>;
let host: HostProcess;
let printer: string;
const get = async (path: string) => (await host.api(path)).json() as Promise<any>;
const faultsOf = async (id: string, count: number) => (await waitUntil(() => get(`/api/v1/plugins/${id}`), (p) => p.faults?.length >= count, 15_000)).faults.map((f: any) => [f.where, f.message]);

beforeAll(async () => {
  const plugins = join(dataDir, "plugins");
  writePlugin(plugins, {
    id: "main-values",
    layerline: { permissions: ["printer.commands"] },
    entry: plugin(`export default definePlugin({ setup(ctx) {
  setTimeout(async () => { await null; throw undefined; }, 50);
  setTimeout(() => Promise.reject(42), 100);
} });`),
  });
  writePlugin(plugins, {
    id: "main-exit",
    layerline: { permissions: ["printer.commands"] },
    entry: plugin(`export default definePlugin({ setup(ctx) {
  // In tail position from its own timer: no frame of the plugin is left, its scope names it.
  setTimeout(() => process.exit(7), 150);
  // Not awaited: the host's answer (no such printer) rejects with no frame of the plugin on its stack.
  setTimeout(() => { void ctx.printers.send("no-such-printer", ["G28"]).then(() => {}); }, 200);
} });`),
  });
  writePlugin(plugins, {
    id: "main-module-exit",
    // Scheduled by the module's own top-level code, which runs in no scope: named by the stack.
    entry: plugin(`setTimeout(() => process.exit(5), 300);\nexport default definePlugin({});`),
  });
  writePlugin(plugins, {
    id: "main-unnamed",
    // A rejection nobody awaits, with a value that carries no stack: nothing can name its plugin.
    entry: plugin(`export default definePlugin({ setup() { setTimeout(() => { Promise.reject("boom"); }, 400); } });`),
  });
  writePlugin(plugins, {
    id: "printer-values",
    entry: plugin(`export default definePlugin({ gcode: { send(line, ctx) {
  if (ctx.state.armed || !line.startsWith("G1 ")) return;
  ctx.state.armed = true;
  setTimeout(async () => { throw 42; }, 0);
  setTimeout(() => process.exit(4), 0);
  Promise.reject("in printer");
} } });`),
  });
  pty = await createPtyPair();
  firmware = Bun.spawn(["bun", MAIN, "virtual-printer", "--tty", pty.device, "--log", executedLog, "--time-scale", "0"], { stdout: "ignore", stderr: "inherit" });
  host = await startHostProcess(["--serial", pty.host, "--baud", "250000"], dataDir);
  printer = (await get("/api/v1/printers")).printers[0].id;
  await waitUntil(() => get(`/api/v1/printers/${printer}`), (p) => p.state === "operational" && p.firmware !== null, 30_000);
}, 60_000);

afterAll(async () => {
  await host?.close();
  firmware?.kill();
  await firmware?.exited;
  await pty?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("on the main thread: each is the fault of the plugin whose timer it came from; a rejection that names no plugin is a notice naming the plugins", async () => {
  expect(await faultsOf("main-values", 2)).toEqual([
    ["own timer or callback", "threw: undefined"],
    ["own timer or callback", "threw: 42"],
  ]);
  expect(await faultsOf("main-exit", 2)).toEqual([
    ["own timer or callback", `threw: ${refused("process.exit(7)", "main-exit")}`],
    ["own timer or callback", 'threw: There is no printer "no-such-printer".'],
  ]);
  expect(await faultsOf("main-module-exit", 1)).toEqual([["own timer or callback", `threw: ${refused("process.exit(5)", "main-module-exit")}`]]);
  const { notices } = await waitUntil(() => get("/api/v1/plugins/notices"), (n) => n.notices.some((x: any) => x.message.includes('"boom"')), 15_000);
  const notice = notices.find((x: any) => x.message.includes('"boom"'));
  expect(notice).toMatchObject({ plugin: null, level: "error" });
  expect(notice.message).toStartWith(
    'On the main thread, a promise rejection was left uncaught with the string "boom", which is no Error and so carries no trace of whose code it came from. Layerline went on. Plugins whose code runs there: ',
  );
  for (const id of ["main-values", "main-exit", "main-module-exit", "main-unnamed", "printer-values"]) expect(notice.message).toContain(` ${id}`);
  expect(notice.message).toEndWith("; if this repeats, disable them one at a time to find the one at fault.");
  // Faults below the limit: the plugin goes on.
  for (const id of ["main-values", "main-exit"]) expect((await get(`/api/v1/plugins/${id}`)).state).toBe("enabled");
}, 30_000);

test("in a printer's thread, during a print: the print ends done with every line executed; the plugin's faults and the unattributed rejection are reported", async () => {
  const gcode = layeredGcode({ layers: 4, objects: [{ name: "a", x: 10, y: 10 }] });
  const form = new FormData();
  form.append("file", new Blob([gcode]), "cube.gcode");
  expect((await host.api("/api/v1/files", { method: "POST", body: form })).status).toBe(201);
  await waitUntil(() => get("/api/v1/plugins/printer-values"), (p) => p.printersRunning?.includes(printer), 15_000);
  const before = (await Bun.file(executedLog).text()).split("\n").filter(Boolean).length;
  const start = await host.api(`/api/v1/printers/${printer}/job`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ file: "cube.gcode" }) });
  expect(start.status).toBe(200);
  expect((await waitUntil(() => get(`/api/v1/printers/${printer}`), jobEnded, 60_000)).job.state).toBe("done");
  const executed = (await Bun.file(executedLog).text()).split("\n").filter(Boolean).slice(before);
  expect(executed).toEqual(gcode.split("\n").map(clean).filter(Boolean));

  expect(await faultsOf("printer-values", 2)).toEqual([
    [`own timer or callback (printer ${printer})`, "threw: 42"],
    [`own timer or callback (printer ${printer})`, `threw: ${refused("process.exit(4)", "printer-values")}`],
  ]);
  const { notices } = await waitUntil(() => get("/api/v1/plugins/notices"), (n) => n.notices.some((x: any) => x.message.includes('"in printer"')), 15_000);
  // The bundled plugin with serial hooks runs there too.
  expect(notices.find((x: any) => x.message.includes('"in printer"')).message).toBe(
    `On printer ${printer}'s thread, a promise rejection was left uncaught with the string "in printer", which is no Error and so carries no trace of whose code it came from. Layerline went on. ` +
      "Plugins whose code runs there: filament-change, printer-values; if this repeats, disable them one at a time to find the one at fault.",
  );
}, 90_000);
