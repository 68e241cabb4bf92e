/**
 * The heaters the host shows are the ones the firmware reports: a two-tool file printed on the
 * one-extruder virtual printer (Marlin answers `T1` with `echo:T1 Invalid extruder` and keeps T0)
 * leaves no `tool1` in the printer's status nor in OctoPrint's `/api/printer` (real host, loopback HTTP).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { jobEnded, readyHost, upload, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let at: string;
// Tool changes and a target for T1 as a two-tool slicer writes them; the dwell and M105 let reports arrive while T1 is "selected".
const TWO_TOOLS = ["G28", "T1", "M104 T1 S200", "M105", "G4 P300", "G1 X10 Y10 F3000", "M105", "T0", "G1 X20 Y20", ""].join("\n");

beforeAll(async () => {
  const ready = await readyHost({ virtual: { timeScale: 0 } });
  host = ready.host;
  at = `/api/v1/printers/${ready.printer}`;
  expect((await upload(host, "two-tools.gcode", TWO_TOOLS)).status).toBe(201);
}, 30_000);
afterAll(() => host?.close());

test("printing a file with T1 on a one-extruder printer shows only the heaters the firmware reports", async () => {
  expect((await host.post(`${at}/job`, { file: "two-tools.gcode" })).status).toBe(200);
  const ended = await host.waitFor(at, (p: any) => jobEnded(p) && p.job?.state === "done");
  // A few more reports after the end, as they come on an idle printer.
  await host.post(`${at}/command`, { commands: ["M105"] });
  await Bun.sleep(300);
  const status = (await (await host.api(at)).json()) as any;
  expect(Object.keys(ended.temperatures).sort()).toEqual(["bed", "tool0"]);
  expect(Object.keys(status.temperatures).sort()).toEqual(["bed", "tool0"]);
  const printer = (await (await host.api("/api/printer")).json()) as any;
  expect(Object.keys(printer.temperature).filter((k) => k !== "history").sort()).toEqual(["bed", "tool0"]);
}, 60_000);
