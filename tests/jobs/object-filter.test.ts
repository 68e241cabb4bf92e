/**
 * Cancelling one object mid-print (pure: the file's lines through the object filter, a second
 * machine tracker playing the printer): from then on the cancelled object gets no extrusion in
 * the plane, the other objects' moves arrive where the file meant them, and wherever the file
 * extrudes with absolute E the printer's E matches the file's (the MMU file uses relative E, the
 * generated one absolute). On the real two-object MMU file and on a generated
 * file with three labelled objects.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { analyseBytes } from "../../src/analysis/analysis.ts";
import { MachineTracker } from "../../src/jobs/machine-state.ts";
import { ObjectFilter } from "../../src/jobs/object-filter.ts";
import { clean } from "../../src/protocol/framing.ts";
import { layeredGcode } from "../helpers/gcode.ts";

const MMU = new URL("../fixtures/ps25_mk3s_mmu2s_2obj_T0T1_0.20quality_pla_thumb.gcode.gz", import.meta.url).pathname;

interface Outcome {
  /** File lines checked outside cancelled sections after the cancel, and mismatches among them. */
  checked: number;
  mismatches: string[];
  /** Extruding moves in the plane the printer got inside the cancelled sections after the cancel. */
  extrudedInside: number;
  fileExtruded: number;
  printerExtruded: number;
}

/** Runs `bytes` through the filter, cancelling `name` once `at` (a fraction of the file) is read. */
function run(bytes: Uint8Array, name: string, at: number): Outcome {
  const { result } = analyseBytes(bytes);
  const objects = result.objects.map((o) => ({ name: o.name, ranges: o.ranges }));
  const cancelled = objects.find((o) => o.name === name)!;
  expect(cancelled).toBeDefined();
  const file = new MachineTracker();
  const printer = new MachineTracker();
  const filter = new ObjectFilter(objects);
  const text = Buffer.from(bytes).toString("latin1");
  const from = Math.floor(bytes.length * at);
  let cancelledYet = false;
  const out: Outcome = { checked: 0, mismatches: [], extrudedInside: 0, fileExtruded: 0, printerExtruded: 0 };
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf("\n", start);
    if (nl < 0) nl = text.length;
    const end = Math.min(nl + 1, bytes.length);
    const command = clean(text.slice(start, nl));
    start = nl + 1;
    if (!command) continue;
    if (!cancelledYet && end >= from) {
      expect(filter.cancel(name, end)).toBe(true);
      cancelledYet = true;
    }
    file.apply(command);
    const instead = filter.active ? filter.filter(command, end, file) : null;
    const inside = cancelledYet && cancelled.ranges.some(([a, b]) => a < end && end <= b);
    for (const line of instead ?? [command]) {
      printer.apply(line);
      if (inside && printer.planar && printer.de > 0) out.extrudedInside++;
    }
    // Moves in the plane must end where the file meant; with absolute E, E must match where used.
    if (!cancelledYet || inside || !file.planar) continue;
    out.checked++;
    const near = (a: number | null, b: number | null) => a === b || (a !== null && b !== null && Math.abs(a - b) < 1e-4);
    if (!near(printer.x, file.x) || !near(printer.y, file.y) || !near(printer.z, file.z) || (file.hasE && !file.relativeE && !near(printer.e, file.e))) {
      if (out.mismatches.length < 5) out.mismatches.push(`${command}: printer at ${printer.x},${printer.y},${printer.z} E${printer.e}, file at ${file.x},${file.y},${file.z} E${file.e}`);
    }
  }
  out.fileExtruded = file.extruded;
  out.printerExtruded = printer.extruded;
  return out;
}

describe("cancel object", () => {
  test("the two-object MMU file: one object stops, the other and the wipe tower go on exactly", () => {
    const bytes = new Uint8Array(gunzipSync(readFileSync(MMU)));
    const { result } = analyseBytes(bytes);
    expect(result.objects.length).toBe(2);
    const name = result.objects[1]!.name;
    const o = run(bytes, name, 0.3);
    expect(o.checked).toBeGreaterThan(10_000);
    expect(o.mismatches).toEqual([]);
    expect(o.extrudedInside).toBe(0);
    // What the cancelled object would still have used is left out.
    expect(o.printerExtruded).toBeLessThan(o.fileExtruded * 0.9);
  });

  test("a generated file with three labelled objects: the middle one is cancelled at layer 4 of 10", () => {
    const gcode = layeredGcode({ layers: 10, objects: [{ name: "left", x: 20, y: 20 }, { name: "middle", x: 60, y: 20 }, { name: "right", x: 100, y: 20 }] });
    const bytes = new TextEncoder().encode(gcode);
    const { result } = analyseBytes(bytes);
    expect(result.objects.map((o) => o.name)).toEqual(["left", "middle", "right"]);
    const o = run(bytes, "middle", 0.35);
    expect(o.mismatches).toEqual([]);
    expect(o.extrudedInside).toBe(0);
    // Six or seven of ten layers of one object of three: about a fifth less filament.
    expect(o.printerExtruded / o.fileExtruded).toBeGreaterThan(0.7);
    expect(o.printerExtruded / o.fileExtruded).toBeLessThan(0.85);
  });

  test("an unknown object is refused, and cancelling twice is harmless", () => {
    const filter = new ObjectFilter([{ name: "a", ranges: [[10, 20]] }]);
    expect(filter.cancel("nope", 0)).toBe(false);
    expect(filter.active).toBe(false);
    expect(filter.cancel("a", 0)).toBe(true);
    expect(filter.cancel("a", 0)).toBe(true);
    expect(filter.cancelled).toEqual(["a"]);
  });
});
