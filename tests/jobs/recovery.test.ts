/**
 * Resuming an interrupted print (pure): which checkpoints can be resumed, the summary the UI
 * shows, and the G-code that gets the printer ready — heat, lift, home X/Y only, restore Z, E,
 * modes, fan — before the file goes on from its layer's first byte.
 */
import { describe, expect, test } from "bun:test";
import type { Checkpoint } from "../../src/jobs/plan.ts";
import { interruptedSummary, notResumable, refusedUnhomed, resumeFrom, resumePrologue, unhomedReason } from "../../src/jobs/recovery.ts";
import { builtInQuirksLibrary } from "../../src/printers/quirks-sources.ts";

const prologue = (cp: Checkpoint) => {
  const p = resumePrologue(cp);
  return [...p.lift, ...p.restore];
};

const state = { x: 10, y: 20, z: 1.2, e: 340.5, relative: false, extruderMode: "absolute" as const, feedrate: 1800, fan: 255, tool: 0, targets: { tool0: 215, bed: 60 }, extruded: 340.5 };
const checkpoint: Checkpoint = {
  jobId: "j1",
  file: "parts/box.gcode",
  sha256: "a".repeat(64),
  source: "host",
  size: 100_000,
  startedAt: 1_000,
  printTime: 600,
  offset: 52_000,
  line: 2_100,
  layer: { index: 5, count: 40, offset: 50_000, z: 1.2, state },
  state: { ...state, z: 1.2, e: 351 },
  temperatures: { tool0: 215, bed: 60 },
  cancelled: ["part_2"],
  paused: false,
  at: 2_000,
};

describe("resuming after a crash", () => {
  test("only host prints of an unchanged file, past their first layer, can be resumed", () => {
    expect(notResumable(checkpoint, "a".repeat(64))).toBeNull();
    expect(notResumable(checkpoint, null)).toBeNull(); // hash not computed yet: the name decides
    expect(notResumable(checkpoint, undefined)).toContain("no longer there");
    expect(notResumable(checkpoint, "b".repeat(64))).toContain("changed");
    expect(notResumable({ ...checkpoint, source: "sd" }, "a".repeat(64))).toContain("SD card");
    expect(notResumable({ ...checkpoint, layer: null }, "a".repeat(64))).toContain("first layer");
  });

  test("the summary says which layer and how far, and why not when it cannot resume", () => {
    expect(interruptedSummary(checkpoint, null)).toMatchObject({ file: "parts/box.gcode", completion: 52, layer: { current: 6, count: 40, z: 1.2 }, resumable: true, reason: null });
    expect(interruptedSummary(checkpoint, "gone")).toMatchObject({ resumable: false, reason: "gone" });
  });

  test("the prologue heats, lifts, homes X and Y only, restores Z, E, the modes and the fan", () => {
    // The lift is the first move, and all of the first part: the rest waits until the printer has done it.
    expect(resumePrologue(checkpoint).lift.slice(-4)).toEqual(["G92 Z1.2", "G91", "G1 Z2 F600", "G90"]);
    expect(resumePrologue(checkpoint).restore[0]).toBe("G28 X Y");
    expect(prologue(checkpoint)).toEqual([
      "M140 S60",
      "M104 T0 S215",
      "M190 S60",
      "M109 T0 S215",
      "G92 Z1.2",
      "G91",
      "G1 Z2 F600",
      "G90",
      "G28 X Y",
      "G1 Z1.2 F600",
      "M83",
      "G1 E2 F300",
      "M82",
      "G92 E340.5",
      "M106 S255",
      "G1 F1800",
    ]);
    // Relative E, a second tool, no fan, relative moves: all restored as the file had them.
    const other = { ...state, extruderMode: "relative" as const, tool: 1, fan: 0, relative: true, targets: { tool0: 0, tool1: 240 } };
    const lines = prologue({ ...checkpoint, temperatures: {}, layer: { ...checkpoint.layer!, state: other } });
    expect(lines).not.toContain("M190 S60");
    expect(lines).toContain("M109 T1 S240");
    expect(lines).toContain("T1");
    expect(lines.slice(-5)).toEqual(["M83", "G92 E340.5", "M107", "G1 F1800", "G91"]);
  });

  test("it goes on from the layer's first byte and line, with cancelled objects kept cancelled", () => {
    const from = resumeFrom(checkpoint, 2_049);
    expect(from).toMatchObject({ offset: 50_000, line: 2_050, layer: 5, cancelled: ["part_2"], state });
  });

  test("a move refused for want of homing is recognised per firmware, and explained", () => {
    const library = builtInQuirksLibrary();
    const marlin = library.get("marlin2").unhomed;
    const klipper = library.get("klipper").unhomed;
    expect(refusedUnhomed(marlin, "echo:Home XYZ First")).toBe(true);
    expect(refusedUnhomed(marlin, "echo:Home Z First")).toBe(true);
    expect(refusedUnhomed(library.get("marlin1").unhomed, "echo:Home XYZ first")).toBe(true);
    expect(refusedUnhomed(klipper, "!! Must home axis first: 10.000 20.000 3.200 [0.000]")).toBe(true);
    expect(refusedUnhomed(marlin, "echo:busy: processing")).toBe(false);
    expect(refusedUnhomed(marlin, "ok")).toBe(false);
    const resuming = unhomedReason(marlin, "echo:Home XYZ First", true);
    expect(resuming).toContain('"echo:Home XYZ First"');
    expect(resuming).toContain("NO_MOTION_BEFORE_HOMING");
    expect(resuming).toContain("nothing moved");
    expect(resuming).toContain("still offered");
    expect(unhomedReason(klipper, "!! Must home axis first", false)).toContain("Home the printer (G28)");
  });
});
