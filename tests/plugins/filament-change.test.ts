/**
 * The bundled filament-change plugin on the real serial path (pty + virtual printer logging what
 * it executes): M600 becomes a host pause that parks the head; resume puts it back, E included;
 * a pause at a chosen height, started from the file's actions. Also its hooks alone, reading the
 * machine state the host gives them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { registerLayerlineModule } from "../../src/plugins/virtual-module.ts";
import { upload, type TestHost } from "../helpers/host.ts";
import { startPtyPrinter, type PtyPrinter } from "../helpers/pty-printer.ts";

const PLUGIN = new URL("../../plugins/filament-change", import.meta.url).pathname;

const FILE = ["G28", "G90", "M82", "G92 E0", "G1 Z0.2 F600", "G1 X10 Y10 E1 F1200", "G1 X20 Y10 E2", "M600", "G1 X20 Y20 E3", "G1 Z0.4", "G1 X10 Y20 E4", "G1 Z0.6", "G1 X10 Y10 E5", "M84"];

let rig: PtyPrinter;
let host: TestHost;
const executed = () => rig.executed();

beforeAll(async () => {
  rig = await startPtyPrinter({ plugins: { bundledDirs: [PLUGIN] } });
  host = rig.host;
  await host.waitFor("/api/v1/plugins/filament-change", (p: any) => p.printersRunning.length === 1);
  expect((await upload(host, "change.gcode", `${FILE.join("\n")}\n`)).status).toBe(201);
  expect((await upload(host, "plain.gcode", `${FILE.filter((l) => l !== "M600").join("\n")}\n`)).status).toBe(201);
}, 30_000);

afterAll(() => rig?.close());

const printerId = async () => rig.printer;
// The host's default pause script parks first; the plugin's lines follow (src/jobs/scripts.ts).
const HOST_PARK = ["M83", "G1 E-2 F2700", "G91", "G1 Z10 F600", "G90", "G1 X0 Y200 F6000"];
const PARK = [...HOST_PARK, "M83", "G1 E-5 F2400", "G91", "G1 Z10 F600", "G90", "G1 X10 Y10 F6000", "M117 Change filament, then resume"];
/** On resume the plugin puts back its part first, then the host's default resume script its own. */
const hostUnpark = (x: number, y: number, z: number, e: number, f: number) => ["G90", `G1 X${x} Y${y} F6000`, `G1 Z${z} F600`, "M83", "G1 E2 F2700", "M82", `G92 E${e}`, `G1 F${f}`, "M106 S0"];

describe("filament change", () => {
  test("M600 pauses and parks; resume puts the head back and the print ends", async () => {
    const id = await printerId();
    const before = (await executed()).length;
    expect((await host.post(`/api/v1/printers/${id}/job`, { file: "change.gcode" })).status).toBe(200);
    await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "paused");
    await Bun.sleep(300); // the park lines reach the firmware
    const atPause = (await executed()).slice(before);
    expect(atPause).toEqual([...FILE.slice(0, 7), ...PARK]);
    expect((await host.post(`/api/v1/printers/${id}/job/resume`)).status).toBe(200);
    await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "done");
    await Bun.sleep(200);
    expect((await executed()).slice(before)).toEqual([
      ...FILE.slice(0, 7),
      ...PARK,
      // back to X20 Y10 Z0.2, prime, absolute E restored at 2
      "G90", "G1 X20 Y10 F6000", "G1 Z0.2 F600", "M83", "G1 E5 F2400", "M82", "G92 E2", "M117",
      ...hostUnpark(20, 10, 0.2, 2, 1200),
      ...FILE.slice(8),
    ]);
  }, 30_000);

  test("a pause at a chosen height, started from the file's actions, for that print only", async () => {
    const id = await printerId();
    const form = await (await host.api(`/ui/plugins/slot/file.actions?path=plain.gcode&printer=${id}`)).text();
    expect(form).toContain('hx-post="/api/v1/plugins/filament-change/print"');
    const before = (await executed()).length;
    const res = await host.api("/api/v1/plugins/filament-change/print", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ path: "plain.gcode", printer: id, height: "0.4" }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("it pauses at 0.4 mm");
    await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "paused");
    await Bun.sleep(300);
    const plain = FILE.filter((l) => l !== "M600");
    // Paused right after the move up to 0.4 mm, at X20 Y20 E3.
    expect((await executed()).slice(before)).toEqual([...plain.slice(0, 9), ...PARK]);
    // One-shot: the setting was cleared when the print started.
    expect(((await (await host.api("/api/v1/plugins/filament-change/settings")).json()) as any).values.nextPrintHeights).toEqual([]);
    expect((await host.post(`/api/v1/printers/${id}/job/resume`)).status).toBe(200);
    await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "done");
    await Bun.sleep(200);
    expect((await executed()).slice(before)).toEqual([...plain.slice(0, 9), ...PARK, "G90", "G1 X20 Y20 F6000", "G1 Z0.4 F600", "M83", "G1 E5 F2400", "M82", "G92 E3", "M117", ...hostUnpark(20, 20, 0.4, 3, 1200), ...plain.slice(9)]);
    // The next print of the same file does not pause.
    const again = (await executed()).length;
    expect((await host.post(`/api/v1/printers/${id}/job`, { file: "plain.gcode" })).status).toBe(200);
    await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "done");
    await Bun.sleep(200);
    expect((await executed()).slice(again)).toEqual(plain);
  }, 30_000);
});

test("parking reads the host's machine state: relative modes are put back; an unknown position is not parked", async () => {
  registerLayerlineModule();
  const { default: plugin } = await import("../../plugins/filament-change/index.ts");
  const settings = { mode: "host", pauseHeights: [2], nextPrintHeights: [], parkX: 10, parkY: 10, lift: 10, retract: 5, travelSpeed: 6000, zSpeed: 600, parkOnEveryPause: false };
  const logs: string[] = [];
  let machine: Record<string, unknown> | null = { x: 20, y: 8, z: 1, e: 0, absolute: true, absoluteE: false, feedrate: 1200, tool: 0 };
  const ctx = { plugin: "filament-change", printer: { id: "p", name: "p" }, settings, source: "job", script: null, job: null, state: {}, log: (m: string) => logs.push(m) } as any;
  Object.defineProperty(ctx, "machine", { get: () => machine });
  const scripts = plugin.scripts!;
  const queue = plugin.gcode!.queue!;
  scripts.beforePrintStarted!(ctx);
  // Only moves are checked against the heights, at the Z the host says the move goes to.
  expect(queue("G1 X5 E1", ctx)).toBeUndefined();
  machine = { ...machine, z: 2.2 };
  expect(queue("M106 S255", ctx)).toBeUndefined();
  expect(queue("G1 Z2.2", ctx)).toEqual(["G1 Z2.2", "@pause"]);
  expect(queue("G1 Z2.4", ctx)).toBeUndefined(); // each height pauses once
  const park = scripts.afterPrintPaused!(ctx) as string[];
  expect(park).toContain("G1 X10 Y10 F6000");
  // The print goes on while parked, as far as the state is concerned: the copy taken at the pause counts.
  machine = { ...machine, x: 99, absolute: false };
  expect(scripts.beforePrintResumed!(ctx)).toEqual(["G90", "G1 X20 Y8 F6000", "G1 Z2.2 F600", "M83", "G1 E5 F2400", "M117"]);
  // Relative moves (G91) are put back too; absolute E gets its coordinate back.
  machine = { x: 1, y: 2, z: 3, e: 7.5, absolute: false, absoluteE: true, feedrate: null, tool: 0 };
  expect(queue("M600", ctx)).toBe("@pause");
  scripts.afterPrintPaused!(ctx);
  expect(scripts.beforePrintResumed!(ctx)).toEqual(["G90", "G1 X1 Y2 F6000", "G1 Z3 F600", "M83", "G1 E5 F2400", "M82", "G92 E7.5", "G91", "M117"]);
  // Not known yet (no job streamed from the host, or before the first move): not parked.
  machine = { ...machine, x: null };
  expect(queue("M600", ctx)).toBe("@pause");
  expect(scripts.afterPrintPaused!(ctx)).toEqual(["M117 Paused"]);
  machine = null;
  expect(scripts.afterPrintPaused!(ctx)).toEqual(["M117 Paused"]);
  expect(scripts.beforePrintResumed!(ctx)).toBeUndefined();
  expect(logs).toContain("the head's position is not known yet, so it was not parked");
});
