/**
 * The firmware's machine-limits report (src/protocol/machine-limits.ts) and how the engine asks
 * for it: a real Marlin 1.1.9 settings dump (its boot banner, from the Anet A8 transcript in the
 * fixtures), Marlin 2.1's M503 wording, Prusa-Firmware's normal and silent sets, and the query
 * being data in the quirks files (Marlin asks with M503; Klipper has nothing to ask).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ProtocolEngine } from "../../src/protocol/engine.ts";
import { frame } from "../../src/protocol/framing.ts";
import { LimitsReportReader } from "../../src/protocol/machine-limits.ts";
import { builtInLibrary } from "../helpers/quirks.ts";
import { EngineHarness } from "./harness.ts";

const library = await builtInLibrary();

function read(lines: string[]) {
  const r = new LimitsReportReader();
  for (const l of lines) r.line(l);
  return r.take();
}

/** The received lines of an OctoPrint terminal transcript (`Recv: …`), up to the first `ok`. */
function bannerOf(file: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync(join(import.meta.dir, "../fixtures/serial-logs", file), "utf8").split("\n")) {
    if (!line.startsWith("Recv: ")) continue;
    const text = line.slice(6).trimEnd();
    if (text === "ok") break;
    out.push(text);
  }
  return out;
}

describe("the machine-limits report", () => {
  test("a real Marlin 1.1.9 settings dump (Anet A8 boot banner)", () => {
    const banner = bannerOf("marlin-1.1.9_anet-a8_octoprint-terminal_full.txt");
    expect(banner).toContain("echo:  M203 X400.00 Y400.00 Z8.00 E50.00");
    expect(read(banner)).toEqual({
      maxFeedrate: { x: 400, y: 400, z: 8, e: 50 },
      maxAcceleration: { x: 2000, y: 2000, z: 100, e: 10000 },
      printAcceleration: 650,
      retractAcceleration: 1000,
      travelAcceleration: 1000,
      maxJerk: { x: 20, y: 20, z: 0.4, e: 5 },
      minExtrudingRate: 0,
      minTravelRate: 0,
    });
  });

  test("Marlin 2.1's M503: `; heading` lines, junction deviation, a temperature report in between", () => {
    const lines = [
      "echo:; Steps per unit:",
      "echo:  M92 X80.00 Y80.00 Z400.00 E93.00",
      "echo:; Max feedrates (units/s):",
      "echo:  M203 X500.00 Y500.00 Z5.00 E25.00",
      " T:205.01 /205.00 B:60.00 /60.00 @:42 B@:13",
      "echo:; Max Acceleration (units/s2):",
      "echo:  M201 X500.00 Y500.00 Z100.00 E5000.00",
      "echo:; Acceleration (units/s2) (P<print-accel> R<retract-accel> T<travel-accel>):",
      "echo:  M204 P500.00 R1000.00 T500.00",
      "echo:; Advanced (B<min_segment_time_us> S<min_feedrate> T<min_travel_feedrate> J<junc_dev>):",
      "echo:  M205 B20000.00 S0.00 T0.00 J0.08",
      "echo:; Home offset:",
      "echo:  M206 X0.00 Y0.00 Z0.00",
    ];
    expect(read(lines)).toEqual({
      maxFeedrate: { x: 500, y: 500, z: 5, e: 25 },
      maxAcceleration: { x: 500, y: 500, z: 100, e: 5000 },
      printAcceleration: 500,
      retractAcceleration: 1000,
      travelAcceleration: 500,
      minExtrudingRate: 0,
      minTravelRate: 0,
      junctionDeviation: 0.08,
    });
  });

  test("Prusa-Firmware: the normal mode's set, not the silent one; the old `M204 S T` form", () => {
    const lines = [
      "echo:Maximum feedrates - normal (mm/s):",
      "echo:  M203 X200.00 Y200.00 Z12.00 E120.00",
      "echo:Maximum feedrates - stealth (mm/s):",
      "echo:  M203 X172.00 Y172.00 Z12.00 E120.00",
      "echo:Maximum acceleration - normal (mm/s2):",
      "echo:  M201 X1000 Y1000 Z200 E5000",
      "echo:Maximum acceleration - stealth (mm/s2):",
      "echo:  M201 X960 Y960 Z200 E5000",
      "echo:Acceleration: S=acceleration, T=retract acceleration",
      "echo:  M204 S1250.00 T1250.00",
      "echo:Advanced variables: S=Min feedrate (mm/s), T=Min travel feedrate (mm/s), B=minimum segment time (ms), X=maximum XY jerk (mm/s),  Z=maximum Z jerk (mm/s),  E=maximum E jerk (mm/s)",
      "echo:  M205 S0.00 T0.00 B20.00 X8.00 Y8.00 Z0.40 E4.50",
    ];
    expect(read(lines)).toEqual({
      maxFeedrate: { x: 200, y: 200, z: 12, e: 120 },
      maxAcceleration: { x: 1000, y: 1000, z: 200, e: 5000 },
      printAcceleration: 1250,
      travelAcceleration: 1250,
      retractAcceleration: 1250,
      maxJerk: { x: 8, y: 8, z: 0.4, e: 4.5 },
      minExtrudingRate: 0,
      minTravelRate: 0,
    });
  });

  test("another extruder's E is left out; other lines are not limits", () => {
    expect(read(["echo:  M203 X300 Y300 Z5 E25", "echo:  M203 T1 E40"])).toEqual({ maxFeedrate: { x: 300, y: 300, z: 5, e: 25 } });
    expect(read(["echo:Unknown command: \"M503\"", "X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0", "ok", "M203 Z"])).toBeNull();
  });
});

describe("the engine asks the firmware for its limits", () => {
  function identified(firmwareName: string): EngineHarness {
    const h = new EngineHarness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok", `FIRMWARE_NAME:${firmwareName}`, "Cap:AUTOREPORT_TEMP:1", "Cap:SDCARD:0", "ok");
    while (h.engine.outstanding() > 0) h.recv("ok");
    h.take();
    return h;
  }

  test("Marlin: M503, and the report is one event at its ok", () => {
    const h = identified("Marlin 2.1.2.1");
    expect(h.engine.queryLimits(h.now)).toBe(true);
    expect(h.advance(0).take()).toEqual([frame(3, "M503")]);
    h.recv("echo:; Max feedrates (units/s):", "echo:  M203 X300.00 Y300.00 Z5.00 E25.00", "echo:; Max Acceleration (units/s2):");
    expect(h.of("limits")).toEqual([]);
    h.recv("echo:  M201 X3000.00 Y3000.00 Z100.00 E10000.00", "ok");
    expect(h.of("limits")).toEqual([{ type: "limits", limits: { maxFeedrate: { x: 300, y: 300, z: 5, e: 25 }, maxAcceleration: { x: 3000, y: 3000, z: 100, e: 10000 } } }]);
    expect(h.engine.limits).toEqual(h.of("limits")[0]!.limits);
  });

  test("a settings dump in the boot banner counts too, and asking twice sends one M503", () => {
    const h = new EngineHarness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("start", "Marlin 1.1.9", "echo:Maximum feedrates (units/s):", "echo:  M203 X400.00 Y400.00 Z8.00 E50.00", "ok").advance(1000);
    h.recv("FIRMWARE_NAME:Marlin 1.1.9 (Github)", "ok");
    expect(h.engine.limits).toEqual({ maxFeedrate: { x: 400, y: 400, z: 8, e: 50 } });
    h.take();
    h.engine.queryLimits(h.now);
    h.engine.queryLimits(h.now);
    for (h.advance(0); h.engine.outstanding() > 0; ) h.recv("ok");
    expect(h.take().filter((l) => l.includes("M503"))).toHaveLength(1);
  });

  test("Klipper has no such report: nothing is sent", () => {
    const h = new EngineHarness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok", "ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0");
    h.advance(3000);
    h.take();
    expect(h.engine.profile.id).toBe("klipper");
    expect(h.engine.queryLimits(h.now)).toBe(false);
    expect(h.take()).toEqual([]);
  });
});
