import { describe, expect, test } from "bun:test";
import { defaultLimits, type MachineLimits } from "../../src/analysis/limits.ts";
import { motion } from "./helpers.ts";

describe("G-code interpreter", () => {
  test("absolute and relative positioning and extrusion, G92, inches", () => {
    const m = motion(
      [
        "G21 G90 M82",
        "G1 X10 Y10 F600", // travel
        "G1 X20 E5", // print 5 mm
        "G92 E0",
        "G1 X30 E2", // absolute E after reset: 2 mm
        "M83",
        "G1 X40 E1.5", // relative: 1.5
        "G91",
        "G1 X5 E1", // relative XY too: X45
        "G90",
        "G20", // inches
        "G1 X2 E0.1", // X 50.8, E relative 2.54 mm
        "G21",
      ].join("\n"),
    );
    expect(m.filament[0]).toBeCloseTo(5 + 2 + 1.5 + 1 + 2.54, 9);
    expect(m.printingArea).toEqual({ minX: 10, maxX: 50.8, minY: 10, maxY: 10, minZ: 0, maxZ: 0 });
    expect(m.travelArea!.minX).toBe(0);
  });

  test("retractions, wipes and E-only moves do not count as filament", () => {
    const m = motion("M83\nG1 X10 E2 F1200\nG1 E-0.8 F2100\nG1 X20 F9000\nG1 E0.8 F2100\nG1 X30 E1\n;WIPE_START\nG1 X25 E-0.4\n;WIPE_END\n");
    expect(m.filament[0]).toBeCloseTo(3, 9);
  });

  test("G2/G3 arcs follow the circle (I/J and R forms)", () => {
    // A half circle of radius 10 from (0,0) to (20,0) around (10,0), extruding 5 mm.
    const ij = motion("G1 F600\nM83\nG3 X20 Y0 I10 J0 E5\n");
    expect(ij.filament[0]).toBeCloseTo(5, 9);
    expect(ij.printingArea!.minY).toBeCloseTo(-10, 1); // counter-clockwise from (0,0) to (20,0) dips below
    expect(ij.estimatedTime).toBeCloseTo((Math.PI * 10) / 10, 1); // 31.4 mm at 10 mm/s
    const cw = motion("G1 F600\nM83\nG2 X20 Y0 I10 J0 E5\n");
    expect(cw.printingArea!.maxY).toBeCloseTo(10, 1);
    const r = motion("G1 F600\nM83\nG2 X20 Y0 R10 E5\n");
    expect(r.printingArea!.maxY).toBeCloseTo(10, 1);
    // The R form's sign picks the way round, as in Marlin: R > 0 the short arc (a quarter circle
    // here, inside the 10 × 10 square of its ends), R < 0 the long one (three quarters).
    for (const g of ["G2", "G3"]) {
      const [from, to] = g === "G3" ? ["X0 Y0", "X10 Y10"] : ["X10 Y10", "X0 Y0"];
      const short = motion(`G1 ${from} F600\nM83\n${g} ${to} R10 E1\n`).printingArea!;
      expect([short.minX, short.maxX, short.minY, short.maxY].map((n) => Math.round(n * 1000) / 1000)).toEqual([0, 10, 0, 10]);
      const long = motion(`G1 ${from} F600\nM83\n${g} ${to} R-10 E1\n`).printingArea!;
      expect(long.maxX - long.minX).toBeCloseTo(20, 1);
      expect(long.maxY - long.minY).toBeCloseTo(20, 1);
    }
    // Arc length ≈ π·r: about 1.57× the chord's time at the same speed.
    const chord = motion("G1 F600\nM83\nG1 X20 Y0 E5\n");
    expect(ij.estimatedTime / chord.estimatedTime).toBeGreaterThan(1.4);
  });

  test("the outline of what prints: arcs by their points, travel and retraction left out", () => {
    // A full circle of radius 50 about (100, 100), printed as two G2 halves, then a travel far off.
    const m = motion("G1 X50 Y100 F6000\nM83\nG2 X150 Y100 I50 J0 E10\nG2 X50 Y100 I-50 J0 E10\nG1 E-1\nG1 X300 Y300\nG1 E1\n");
    const far = Math.max(...m.printingHull.map(([x, y]) => Math.hypot(x - 100, y - 100)));
    expect(far).toBeCloseTo(50, 6);
    // Its box's corners are 70.7 mm from the centre; every outline point lies on the circle.
    expect(m.printingHull.length).toBeGreaterThan(100);
    for (const [x, y] of m.printingHull) expect(Math.hypot(x - 100, y - 100)).toBeGreaterThan(49.9);
    expect(motion("G1 X10 Y10\nG1 X20 Y20\n").printingHull).toEqual([]);
  });

  test("firmware retraction (G10/G11, M207/M208) takes time but no filament", () => {
    const plain = motion("M83\nG1 X10 E1 F600\nG1 X20 E1\n");
    const fw = motion("M83\nM207 S5 F1800\nM208 S0 F1200\nG1 X10 E1 F600\nG10\nG11\nG1 X20 E1\n");
    expect(fw.filament[0]).toBeCloseTo(2, 9);
    expect(fw.estimatedTime - plain.estimatedTime).toBeGreaterThan(5 / 30 + 5 / 20 - 0.01);
  });

  test("tool changes split filament per tool and add MMU load/unload times", () => {
    const gcode = "M83\nT0\nG1 X10 E3 F600\nT1\nG1 X20 E4\nT0\nG1 X30 E1\nM702 C\n";
    const m = motion(gcode);
    expect(m.filament).toEqual([4, 4]);
    expect(m.toolChanges).toBe(2);
    expect(m.toolsUsed).toEqual([0, 1]);
    // With MMU times: the first load has nothing to unload; M702 C unloads at the end.
    const mmu = motion(gcode, {}, 1 << 20, { loadTimes: [15, 15], unloadTimes: [12, 12] });
    expect(mmu.estimatedTime - m.estimatedTime).toBeCloseTo(15 + (12 + 15) + 12, 6);
  });

  test("a wipe tower tool change counts ramming and wiping, not cooling or loading (as PrusaSlicer)", () => {
    // The sequence PrusaSlicer 2.5 writes for an MMU2S tool change (shortened from the real file).
    const toolChange = [
      ";TYPE:Wipe tower",
      "; CP TOOLCHANGE START",
      "M220 B",
      "; CP TOOLCHANGE UNLOAD",
      "G1 X229.25 Y138.42",
      "G1 X223.671 E0.2816 F1339", // ramming: counts for the old tool
      "G1 X217.626 E0.3051 F1451",
      "G1 E-15 F6000", // retraction into the cooling tube
      "G1 E-24.5 F1200",
      "G1 Y136.86",
      "G1 X170.75 E20 F454", // cooling moves: the same filament back and forth
      "G1 X221.18 E-20 F303",
      "G1 E-35 F2000",
      "G4 S0",
      "T1",
      "G1 X221.18 Y137",
      "; CP TOOLCHANGE LOAD",
      "G1 E12 F1140", // loading the new filament: no consumption
      "G1 X170.625 E42 F1011",
      "G1 X221.18 E6 F708",
      "; CP TOOLCHANGE WIPE",
      "G1 X229 E0.3507 F396", // wiping: counts for the new tool
      "M220 R",
      "G92 E0",
      "; CP TOOLCHANGE END",
    ];
    const m = motion(["M83", ";TYPE:Custom", "T0", "G1 X55 Y-3 E29 F1073", ";TYPE:Perimeter", "G1 X60 Y10 E1 F1200", ...toolChange, ";TYPE:Perimeter", "G1 X200 Y100 E2 F1200", ""].join("\n"));
    expect(m.filament[0]).toBeCloseTo(29 + 1 + 0.2816 + 0.3051, 9);
    expect(m.filament[1]).toBeCloseTo(0.3507 + 2, 9);
    expect(m.customFilament).toEqual([29, 0]);
    expect(m.filamentByRole["Wipe tower"]).toBeCloseTo(0.2816 + 0.3051 + 0.3507, 9);
    // The moves still take their time (and the tower's area) even though they are not filament used.
    const none = motion(["M83", "T0", "G1 X55 Y-3 E29 F1073", "G1 X60 Y10 E1 F1200", ...toolChange.filter((l) => !l.startsWith("; CP")), "G1 X200 Y100 E2 F1200", ""].join("\n"));
    expect(m.estimatedTime).toBeCloseTo(none.estimatedTime, 6);
    expect(none.filament[0]! + none.filament[1]!).toBeCloseTo(m.filament[0]! + m.filament[1]! + 20 + 42 + 6, 9);
  });

  test("dwells count, heat-up waits are reported separately", () => {
    const base = motion("G1 X10 F600\nG1 X20\n");
    const m = motion("M190 S60\nM109 S215 T0\nG1 X10 F600\nG4 S10\nG4 P500\nG1 X20\n");
    expect(m.estimatedTime - base.estimatedTime).toBeCloseTo(10.5, 1);
    expect(m.heatWaits.map((w) => [w.heater, w.target])).toEqual([
      ["bed", 60],
      ["tool", 215],
    ]);
  });

  test("M220 speed factor and M204 accelerations change the estimate", () => {
    const normal = motion("G1 X100 F3000\n");
    const half = motion("M220 S50\nG1 X100 F3000\n");
    expect(half.estimatedTime).toBeGreaterThan(normal.estimatedTime * 1.8);
    const slowAccel = motion("M204 T100\nG1 X100 F3000\n");
    expect(slowAccel.estimatedTime).toBeGreaterThan(normal.estimatedTime);
    const limited = motion("M203 X10\nG1 X100 F3000\n");
    expect(limited.estimatedTime).toBeCloseTo(10, 6); // 100 mm at the 10 mm/s cap
  });

  test("every machine-limit command of the file reaches the planner as if the profile had set it", () => {
    // Corners, a Z move, prints, a retraction, a travel and the unretraction: every kind of block.
    const path = "M83\nG1 Z0.3 F600\nG1 X50 Y0 E2 F3000\nG1 X50 Y50 E2\nG1 E-1 F2400\nG1 X0 Y0 F9000\nG1 E1 F2400\nG1 X20 Y5 E1 F1800\nG1 X25 Y40 E1\n";
    const d = defaultLimits();
    const base = motion(path).estimatedTime;
    const same = (gcode: string, limits: Partial<MachineLimits>, options: Parameters<typeof motion>[3] = {}) => {
      const fromFile = motion(gcode + path, {}, 1 << 20, options).estimatedTime;
      expect(fromFile).toBeCloseTo(motion(path, limits).estimatedTime, 9);
      expect(Math.abs(fromFile - base)).toBeGreaterThan(0.001); // and it made a difference
    };
    same("M201 X400 Y500 Z50 E900\n", { maxAcceleration: { x: 400, y: 500, z: 50, e: 900 } });
    same("M203 X100 Y120 Z2 E20\n", { maxFeedrate: { x: 100, y: 120, z: 2, e: 20 } });
    // RepRapFirmware gives M203 (and M566) in mm/min.
    same("M203 X6000 Y7200 Z120 E1200\n", { maxFeedrate: { x: 100, y: 120, z: 2, e: 20 } }, { feedratesPerMinute: true });
    same("M204 P800 R600 T1000\n", { printAcceleration: 800, retractAcceleration: 600, travelAcceleration: 1000 });
    same("M204 S700\n", { printAcceleration: 700, travelAcceleration: 700 }); // legacy form
    same("M205 X4 Y6 Z0.2 E2 S20 T30\n", { maxJerk: { x: 4, y: 6, z: 0.2, e: 2 }, minExtrudingRate: 20, minTravelRate: 30 });
    same("M205 X5\n", { maxJerk: { ...d.maxJerk, x: 5, y: 5 } }); // X alone sets Y too (as Prusa firmware and PrusaSlicer)
    same("M205 J0.02\n", { junctionDeviation: 0.02 });
    same("M566 X240 Y360 Z12 E120\n", { maxJerk: { x: 4, y: 6, z: 0.2, e: 2 } }); // mm/min
    // M221 scales E, so the extruder's speed limit binds at half the feed rate.
    same("M221 S200\nM203 E1\n", { maxFeedrate: { ...d.maxFeedrate, e: 0.5 }, maxJerk: { ...d.maxJerk, e: 1000 } });
    // M220 B saves the speed factor, R restores it.
    expect(motion("M220 B\nM220 S50\nM220 R\n" + path).estimatedTime).toBeCloseTo(base, 9);
  });

  test("layers from heights: one per extrusion Z, with the Z move's byte offset", () => {
    const lines = ["M83", "G1 Z0.3 F600", "G1 X10 E1", "G1 Z0.5", "G1 X0 F9000", "G1 X10 E1", "G1 Z0.9 F600", "G1 X0 F9000", "G1 Z0.7", "G1 X10 E1", "G1 Z5"];
    const gcode = lines.join("\n") + "\n";
    const m = motion(gcode);
    expect(m.layerSource).toBe("heights");
    expect(m.layers.map((l) => l.z)).toEqual([0.3, 0.5, 0.7]); // the Z hop to 0.9 prints nothing
    expect(m.layers.map((l) => gcode.slice(l.offset).split("\n")[0])).toEqual(["G1 Z0.3 F600", "G1 Z0.5", "G1 Z0.7"]);
    for (let i = 1; i < m.layers.length; i++) expect(m.layers[i]!.elapsed).toBeGreaterThan(m.layers[i - 1]!.elapsed);
  });

  test("layers from slicer markers; purge lines before the first marker are no layer", () => {
    const gcode = "M83\nG1 Z0.2 F600\nG1 X50 E5 ; purge\n;LAYER_CHANGE\n;Z:0.2\nG1 X10 E1\n;LAYER_CHANGE\n;Z:0.4\nG1 Z0.4\nG1 X20 E1\n;LAYER:2\nG1 Z0.6\nG1 X30 E1\n";
    const m = motion(gcode);
    expect(m.layerSource).toBe("markers");
    expect(m.layers.map((l) => l.z)).toEqual([0.2, 0.4, 0.6]);
    expect(gcode.slice(m.layers[1]!.offset).startsWith(";LAYER_CHANGE")).toBe(true);
  });

  test("object labels of every style, with boxes and byte ranges", () => {
    const gcode = [
      "M83",
      "EXCLUDE_OBJECT_DEFINE NAME=cube CENTER=15,15 POLYGON=[[10,10],[20,10],[20,20],[10,20]]",
      "; printing object part_a id:0 copy 0",
      "G1 X10 Y10 F3000",
      "G1 X20 Y10 E1",
      "; stop printing object part_a id:0 copy 0",
      "EXCLUDE_OBJECT_START NAME=cube",
      "G1 X15 Y20 E1",
      "EXCLUDE_OBJECT_END NAME=cube",
      "M486 S3 A\"bracket\"",
      "G1 X40 Y40 E1",
      "M486 S-1",
      ";MESH:gear.stl",
      "G1 X50 Y45 E1",
      ";MESH:NONMESH",
      "G1 X0 Y0",
      "",
    ].join("\n");
    const m = motion(gcode);
    const byName = Object.fromEntries(m.objects.map((o) => [o.name, o]));
    expect(Object.keys(byName).sort()).toEqual(["bracket", "cube", "gear.stl", "part_a id:0 copy 0"]);
    expect(byName["part_a id:0 copy 0"]!.box).toEqual({ minX: 10, maxX: 20, minY: 10, maxY: 10, minZ: 0, maxZ: 0 });
    expect(byName.cube!.polygon).toHaveLength(4);
    expect(byName.cube!.center).toEqual([15, 15]);
    expect(byName.bracket!.source).toBe("m486");
    expect(byName["gear.stl"]!.source).toBe("cura");
    // Each range covers the label lines and what lies between them.
    const [start, end] = byName.cube!.ranges[0]!;
    expect(gcode.slice(start, end)).toBe("EXCLUDE_OBJECT_START NAME=cube\nG1 X15 Y20 E1\nEXCLUDE_OBJECT_END NAME=cube\n");
    const [s2, e2] = byName.bracket!.ranges[0]!;
    expect(gcode.slice(s2, e2)).toBe('M486 S3 A"bracket"\nG1 X40 Y40 E1\nM486 S-1\n');
    expect(byName.bracket!.filament).toBe(1);
  });

  test("the longest command line of each command word, comments and blanks not counted", () => {
    const define = (n: string) => `EXCLUDE_OBJECT_DEFINE NAME=${n} CENTER=105.000,105.000 POLYGON=[[99.800,99.800],[110.200,99.800],[110.200,110.200],[99.800,110.200]]`;
    const message = `M117 ${"é".repeat(70)}`; // 75 characters, 145 bytes
    const gcode = [
      "; a comment line that is much longer than sixty characters, which does not count at all",
      "G1 X10 Y10 ; a move with a trailing comment that makes the raw line longer than sixty characters",
      define("a"),
      define("bb"),
      `   ${message}   `,
      `M117 ${"x".repeat(55)}`, // 60: not recorded
      "G1 X20",
    ].join("\n");
    const m = motion(gcode);
    expect(m.longLines).toEqual([
      { line: 4, length: define("bb").length, text: define("bb") },
      { line: 5, length: 75, text: message },
    ]);
    // Chunking does not matter, and the text kept is bounded.
    expect(motion(gcode, {}, 7).longLines).toEqual(m.longLines);
    const huge = motion(`M118 ${"y".repeat(5000)}`).longLines;
    expect(huge[0]!.length).toBe(5005);
    expect(huge[0]!.text.length).toBe(256);
  });

  test("the result does not depend on how the bytes are chunked", () => {
    const gcode = "; thumbnail begin 2x2 8\n; AAAAAAAA\n; thumbnail end\nM83\nG1 Z0.2 F600\n;LAYER_CHANGE\nG1 X10 Y5 E1\nG3 X20 Y5 I5 J0 E1\n; printing object a\nG1 X0 E1\n; stop printing object a\nT1\nG1 X5 E2\nG1 X6"; // no final newline
    const whole = motion(gcode);
    for (const chunk of [1, 2, 3, 7, 64]) expect(motion(gcode, {}, chunk)).toEqual(whole);
    expect(whole.endsMidLine).toBe(true);
    expect(whole.thumbnails).toHaveLength(1);
  });

  test("the timeline has a row per layer start and every 256 KiB, ascending, ending at the total", () => {
    const lines = ["M83", "G1 F1800"];
    for (let layer = 1; layer <= 40; layer++) {
      lines.push(";LAYER_CHANGE", `G1 Z${(layer * 0.2).toFixed(1)}`);
      for (let i = 0; i < 400; i++) lines.push(`G1 X${i % 2 ? 10 : 60}.123 Y${(i * 0.1).toFixed(3)} E0.123456 ; with some comment text`);
    }
    const gcode = lines.join("\n") + "\n";
    const m = motion(gcode);
    expect(m.layers).toHaveLength(40);
    const rows = m.timeline;
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i]![0]).toBeGreaterThan(rows[i - 1]![0]);
      expect(rows[i]![1]).toBeGreaterThanOrEqual(rows[i - 1]![1]);
    }
    expect(rows.at(-1)).toEqual([gcode.length, m.estimatedTime]);
    const offsets = new Set(rows.map((r) => r[0]));
    for (const l of m.layers) expect(offsets.has(l.offset)).toBe(true);
    const gaps = rows.slice(1).map((r, i) => r[0] - rows[i]![0]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(256 * 1024);
  });
});
