/**
 * The layer viewer's reading of G-code (src/toolpath/toolpath.ts) on the real slicer files of
 * tests/fixtures and on hand-written and hostile input: each layer read from the state the
 * analysis recorded at its start ends where the next one starts, draws what the analyser measured
 * (bounding boxes), follows every positioning mode, flattens arcs onto their circle, never throws,
 * and stays within its point budget.
 */
import { describe, expect, test } from "bun:test";
import { analyseBytes } from "../../src/analysis/analysis.ts";
import { GcodeAnalyser } from "../../src/analysis/analyser.ts";
import { ARC_SEGMENT_ANGLE, ARC_SEGMENT_MM } from "../../src/analysis/arcs.ts";
import { defaultLimits } from "../../src/analysis/limits.ts";
import type { AnalysisResult } from "../../src/analysis/result.ts";
import { EXTRUSION_POINTS, layerRanges, layerSpan, TRAVEL_POINTS } from "../../src/toolpath/layers.ts";
import { CLAMP_MM, decimate, INITIAL_STATE, parseToolpath, pointCount, type Box2, type Toolpath, type Window } from "../../src/toolpath/toolpath.ts";
import { fixture } from "../analysis/helpers.ts";

const encode = (text: string) => new TextEncoder().encode(text);
/** The whole of `text` as one window from the start of a file. */
const parse = (text: string, start = INITIAL_STATE) => parseToolpath([{ bytes: encode(text), offset: 0, resync: false, final: true }], start);
/** The points of a toolpath's extrusions, [x, y] each. */
const points = (lines: Toolpath["extrusions"]) => lines.flatMap((p) => Array.from({ length: p.xy.length / 2 }, (_, i) => [p.xy[2 * i]!, p.xy[2 * i + 1]!] as [number, number]));

function layerOf(bytes: Uint8Array, r: AnalysisResult, index: number): Toolpath {
  const [start, end] = layerSpan(r.layers, index, r.bytes);
  return parseToolpath([{ bytes: bytes.subarray(start, end), offset: start, resync: false, final: true }], r.layers[index]!.start);
}

function union(boxes: (Box2 | null)[]): Box2 | null {
  let u: Box2 | null = null;
  for (const b of boxes) {
    if (!b) continue;
    u = u ? { minX: Math.min(u.minX, b.minX), maxX: Math.max(u.maxX, b.maxX), minY: Math.min(u.minY, b.minY), maxY: Math.max(u.maxY, b.maxY) } : { ...b };
  }
  return u;
}

/** The analyser's printing area of the file's first `end` bytes (everything extruded before that offset). */
function printedBefore(bytes: Uint8Array, end: number): Box2 | null {
  const a = new GcodeAnalyser({ limits: defaultLimits() });
  a.push(bytes.subarray(0, end));
  return a.finish().printingArea;
}

const expectBox = (ours: Box2 | null, theirs: Box2 | null) => {
  expect(ours === null).toBe(theirs === null);
  if (!ours || !theirs) return;
  // The analysis rounds to the micrometre.
  for (const k of ["minX", "maxX", "minY", "maxY"] as const) expect(Math.abs(ours[k] - theirs[k])).toBeLessThan(0.002);
};

const FILES = [
  "ps25_ender3_torus_0.20normal_pla.gcode",
  "ps25_flsun_qqspro_delta_screw_0.20quality_pla_g3arcs_thumb.gcode",
  "ps25_mk3s_mmu2s_2obj_T0T1_0.20quality_pla_thumb.gcode.gz",
  "slic3r13_reprap_bunny60_0.20_pla_m82.gcode.gz",
  "ps25_snapmaker_a350_sphere_0.20normal_pla_m82_thumb.gcode.gz",
];

describe("real slicer files, layer by layer from the analysis", () => {
  for (const name of FILES) {
    test(name, async () => {
      const bytes = await fixture(name);
      const r = analyseBytes(bytes).result;
      expect(r.layers.length).toBe(r.layerCount);
      expect(r.layers.length).toBeGreaterThan(20);
      const layers = r.layers.map((_, i) => layerOf(bytes, r, i));
      // Each layer, read alone from its recorded start, ends in the state the next one starts in:
      // the recorded states are right, and the reading agrees with the analyser's.
      for (let i = 0; i + 1 < layers.length; i++) {
        const end = layers[i]!.end;
        const next = r.layers[i + 1]!.start;
        expect({ ...end, x: Math.round(end.x * 1e6), y: Math.round(end.y * 1e6), z: Math.round(end.z * 1e6), e: Math.round(end.e * 1e5) }).toEqual({
          ...next,
          x: Math.round(next.x * 1e6),
          y: Math.round(next.y * 1e6),
          z: Math.round(next.z * 1e6),
          e: Math.round(next.e * 1e5),
        });
      }
      // What the layers draw is what the analyser measured: the printing area of everything up to
      // the end of each layer, drawn before the first layer (purge lines) and in the layers so far.
      const before = parseToolpath([{ bytes: bytes.subarray(0, r.layers[0]!.offset), offset: 0, resync: false, final: true }], INITIAL_STATE);
      const checked = [0, 1, 2, Math.floor(layers.length / 3), Math.floor(layers.length / 2), layers.length - 2];
      for (const i of checked) {
        const [, end] = layerSpan(r.layers, i, r.bytes);
        expectBox(union([before.box, ...layers.slice(0, i + 1).map((l) => l.box)]), printedBefore(bytes, end));
      }
      expectBox(union([before.box, ...layers.map((l) => l.box)]), r.printingArea);
      // Every layer that the slicer marked prints something, within the file's area.
      const printing = layers.filter((l) => l.box !== null);
      expect(printing.length).toBeGreaterThanOrEqual(layers.length - 1);
      // Offsets along each polyline ascend and stay inside the layer.
      layers.forEach((l, i) => {
        const [start, end] = layerSpan(r.layers, i, r.bytes);
        for (const p of [...l.extrusions, ...l.travels]) {
          expect(p.ends.length).toBe(p.xy.length / 2 - 1);
          for (let k = 0; k < p.ends.length; k++) {
            expect(p.ends[k]!).toBeGreaterThan(start);
            expect(p.ends[k]!).toBeLessThanOrEqual(end);
            if (k > 0) expect(p.ends[k]!).toBeGreaterThanOrEqual(p.ends[k - 1]!);
          }
        }
      });
    });
  }

  test("the two-tool MMU file draws each tool's extrusions apart", async () => {
    const bytes = await fixture("ps25_mk3s_mmu2s_2obj_T0T1_0.20quality_pla_thumb.gcode.gz");
    const r = analyseBytes(bytes).result;
    const layer = layerOf(bytes, r, 20);
    expect(layer.tools).toEqual([0, 1]);
    // The two objects are on the two tools: T1's object lies right of T0's (and the wipe tower beyond both).
    const object = (tool: number) => union(layer.extrusions.filter((p) => p.tool === tool && Math.max(...p.xy.filter((_, k) => k % 2 === 0)) < 150).map((p) => ({ minX: Math.min(...p.xy.filter((_, k) => k % 2 === 0)), maxX: Math.max(...p.xy.filter((_, k) => k % 2 === 0)), minY: 0, maxY: 0 })));
    expect(object(1)!.minX).toBeGreaterThan(object(0)!.maxX);
  });
});

describe("arcs", () => {
  test("G3 with I/J follows its circle in chords as the analyser plans them", () => {
    // A half circle of radius 10 from (0,0) to (20,0) around (10,0), counter-clockwise: below the X axis.
    const t = parse("G90\nM83\nG1 X0 Y0 F600\nG3 X20 Y0 I10 J0 E5\n");
    const pts = points(t.extrusions);
    const chords = Math.min(Math.ceil((Math.PI * 10) / ARC_SEGMENT_MM), Math.ceil(Math.PI / ARC_SEGMENT_ANGLE));
    expect(pts.length).toBe(chords + 1);
    for (const [x, y] of pts) {
      expect(Math.hypot(x - 10, y)).toBeCloseTo(10, 9);
      expect(y).toBeLessThanOrEqual(1e-9);
    }
    expect(pts[0]).toEqual([0, 0]);
    expect(pts.at(-1)).toEqual([20, 0]);
    expect(t.box!.minY).toBeCloseTo(-10, 2);
  });

  test("G2 clockwise, and the R form (a negative R takes the long way round)", () => {
    const cw = parse("G90\nM83\nG1 X0 Y0\nG2 X20 Y0 I10 J0 E5\n");
    expect(cw.box!.maxY).toBeCloseTo(10, 2);
    expect(cw.box!.minY).toBe(0);
    const r = parse("G90\nM83\nG1 X0 Y0\nG2 X20 Y0 R10 E5\n");
    expect(r.box!.maxY).toBeCloseTo(10, 2);
    // A quarter circle by R: the short way (90°) with R>0, the long way (270°) with R<0.
    const short = parse("G90\nM83\nG1 X0 Y0\nG3 X10 Y10 R10 E1\n");
    const long = parse("G90\nM83\nG1 X0 Y0\nG3 X10 Y10 R-10 E1\n");
    const size = (b: Box2) => (b.maxX - b.minX) * (b.maxY - b.minY);
    expect(size(long.box!)).toBeGreaterThan(size(short.box!) * 3);
    // A radius too short to reach the end, or no centre at all, is a straight move.
    expect(points(parse("G90\nM83\nG1 X0 Y0\nG2 X20 Y0 R5 E1\n").extrusions)).toEqual([[0, 0], [20, 0]]);
    expect(points(parse("G90\nM83\nG1 X0 Y0\nG2 X20 Y0 E1\n").extrusions)).toEqual([[0, 0], [20, 0]]);
  });

  test("the FLSun file's purge arcs in its start G-code lie on the circles their I/J name", async () => {
    const bytes = await fixture("ps25_flsun_qqspro_delta_screw_0.20quality_pla_g3arcs_thumb.gcode");
    const r = analyseBytes(bytes).result;
    const text = new TextDecoder().decode(bytes.subarray(0, r.layers[0]!.offset));
    // From (-54.672, -95.203): two arcs around the bed's middle, each centre given from its start.
    expect(text).toContain("G1 X-54.672 Y-95.203 Z0.3 F4000");
    expect(text).toContain("G3 X38.904 Y-102.668 I54.672 J95.105 E20.999\nG3 X54.671 Y-95.203 I-38.815 J102.373 E5.45800\n");
    const start = parseToolpath([{ bytes: bytes.subarray(0, r.layers[0]!.offset), offset: 0, resync: false, final: true }], INITIAL_STATE);
    const purge = points(start.extrusions);
    const first = purge.findIndex(([x, y]) => x === -54.672 && y === -95.203);
    const middle = purge.findIndex(([x, y]) => x === 38.904 && y === -102.668);
    const last = purge.findIndex(([x, y]) => x === 54.671 && y === -95.203);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(middle).toBeGreaterThan(first + 30);
    expect(last).toBeGreaterThan(middle + 5);
    // The chords' ends on the circle; the arc's own ends (the slicer's rounded numbers) within a micrometre or so.
    const onCircle = (from: number, to: number, cx: number, cy: number, radius: number) => {
      purge.slice(from, to + 1).forEach(([x, y], k, all) => expect(Math.hypot(x - cx, y - cy)).toBeCloseTo(radius, k === 0 || k === all.length - 1 ? 2 : 9));
    };
    onCircle(first, middle, -54.672 + 54.672, -95.203 + 95.105, Math.hypot(54.672, 95.105));
    onCircle(middle, last, 38.904 - 38.815, -102.668 + 102.373, Math.hypot(38.815, 102.373));
  });
});

describe("positioning modes", () => {
  test("G91 relative moves, M83 relative E, G92 E0 and absolute E, inches", () => {
    const t = parse(
      [
        "G21", "G90", "M82",
        "G1 X10 Y10 F600 ; travel",
        "G1 X20 E5 ; print",
        "G92 E0",
        "G1 X30 E2 ; absolute E after the reset: prints",
        "G1 X35 E1.5 ; E backwards: not printing",
        "M83",
        "G1 X40 E1.5",
        "G91",
        "G1 X5 Y5 E1 ; relative XY: to (45, 15)",
        "G90",
        "G20",
        "G1 X2 Y1 E0.1 ; inches: to (50.8, 25.4)",
        "G21",
      ].join("\n"),
    );
    expect(t.travels.map((p) => p.xy)).toEqual([[0, 0, 10, 10], [30, 10, 35, 10]]);
    expect(t.extrusions.map((p) => p.xy)).toEqual([[10, 10, 20, 10, 30, 10], [35, 10, 40, 10, 45, 15, 50.8, 25.4]]);
    expect(t.end).toMatchObject({ x: 50.8, y: 25.4, absolute: true, relativeE: true, inches: false });
  });

  test("G91 makes E relative even under M82, as the analyser reads it", () => {
    const t = parse("M82\nG1 X10 Y0 E10\nG91\nG1 X10 E1\nG1 X10 E-1\n");
    expect(t.extrusions.map((p) => p.xy)).toEqual([[0, 0, 10, 0, 20, 0]]);
    expect(t.travels.map((p) => p.xy)).toEqual([[20, 0, 30, 0]]);
  });

  test("a layer read from a recorded start: absolute E continues from it, relative XY from its position", () => {
    const t = parse("G1 X60 E101\nG1 X70 E100.5\n", { ...INITIAL_STATE, x: 50, y: 5, e: 100 });
    expect(t.extrusions.map((p) => p.xy)).toEqual([[50, 5, 60, 5]]);
    expect(t.travels.map((p) => p.xy)).toEqual([[60, 5, 70, 5]]);
    const rel = parse("G1 X1 Y1 E1\n", { ...INITIAL_STATE, x: 50, y: 5, absolute: false, relativeE: true });
    expect(rel.extrusions.map((p) => p.xy)).toEqual([[50, 5, 51, 6]]);
    const inches = parse("G1 X1 Y1 E1\n", { ...INITIAL_STATE, inches: true, relativeE: true });
    expect(inches.extrusions.map((p) => p.xy)).toEqual([[0, 0, 25.4, 25.4]]);
  });

  test("G28 homes to 0, G10/G11 retract without moving, T changes the tool, comments and line numbers are read", () => {
    const t = parse("G1 X10 Y10\nG28 X\nG10\nG1 Y20\nG11\nM83\nT1\nN12 G1 X5 E1*71 ; checksum\n  g1 x6 e1 ; lower case\nG1 X7 E1 (rs274 comment)\n");
    expect(t.travels.map((p) => p.xy)).toEqual([[0, 0, 10, 10, 0, 10, 0, 20]]);
    expect(t.extrusions).toEqual([{ tool: 1, xy: [0, 20, 5, 20, 6, 20, 7, 20], ends: expect.any(Array) }]);
    expect(t.tools).toEqual([1]);
  });

  test("each point knows the offset just past the line that reached it", () => {
    const text = "G1 X1 E1\nG1 X2 E2\nG1 X3 E3\n";
    const t = parseToolpath([{ bytes: encode(text), offset: 1000, resync: false, final: true }], INITIAL_STATE);
    expect(t.extrusions[0]!.ends).toEqual([1009, 1018, 1027]);
    // A last line without a newline counts only where the file ends.
    expect(parseToolpath([{ bytes: encode("G1 X1 E1\nG1 X2 E2"), offset: 0, resync: false, final: true }], INITIAL_STATE).extrusions[0]!.ends).toEqual([9, 17]);
    expect(parseToolpath([{ bytes: encode("G1 X1 E1\nG1 X2 E2"), offset: 0, resync: false, final: false }], INITIAL_STATE).extrusions[0]!.ends).toEqual([9]);
  });
});

describe("hostile and broken input", () => {
  test("garbage, binary, absurd numbers and broken lines are skipped; nothing throws", () => {
    const junk = new Uint8Array(4096);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) % 256;
    expect(() => parseToolpath([{ bytes: junk, offset: 0, resync: false, final: true }], INITIAL_STATE)).not.toThrow();
    const t = parse(["Lorem ipsum", "G1 X1e999 Y5 E1", "G1 X" + "9".repeat(5000) + " E1", "G1 X-- Y E", "M117 X1e999", "G2 X10 Y10 I0 J0 E1", "G1 X10 Y10 E1", "\u0000\u0001", "G1"].join("\n"));
    // The out-of-range lines are left out whole; the rest draws.
    expect(t.extrusions.flatMap((p) => p.xy).every(Number.isFinite)).toBe(true);
    expect(t.end.x).toBe(10);
    expect(parse("").extrusions).toEqual([]);
  });

  test("huge coordinates are clamped", () => {
    const t = parse("M83\nG1 X100000000 Y-5 E1\nG1 X5 Y5 E1\n");
    expect(t.box).toEqual({ minX: 0, maxX: CLAMP_MM, minY: -5, maxY: 5 });
    // Relative moves still add up from the real position.
    expect(t.end.x).toBe(5);
  });

  test("a layer of thousands of huge circles stays bounded in points and time", () => {
    const lines = ["G90\nM83", "G1 X0 Y0"];
    for (let i = 0; i < 20_000; i++) lines.push(`G2 X0 Y0 I${500 + (i % 7)} J0 E1`, `G0 X${i % 2} Y0`);
    const started = performance.now();
    const t = parse(lines.join("\n") + "\n");
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(t.decimated).toBe(true);
    expect(pointCount(t.extrusions) + pointCount(t.travels)).toBeLessThanOrEqual(400_000);
    const light = decimate(t, EXTRUSION_POINTS, TRAVEL_POINTS);
    expect(pointCount(light.extrusions)).toBeLessThanOrEqual(EXTRUSION_POINTS);
    expect(pointCount(light.travels)).toBeLessThanOrEqual(TRAVEL_POINTS);
  });
});

describe("decimation", () => {
  test("a long spiral (vase mode) keeps its shape within the budget", () => {
    const lines = ["G90\nM83", "G1 X100 Y50"];
    for (let i = 1; i <= 60_000; i++) {
      const a = i / 50;
      lines.push(`G1 X${(50 + 50 * Math.cos(a)).toFixed(3)} Y${(50 + 50 * Math.sin(a)).toFixed(3)} Z${(i / 1000).toFixed(3)} E0.01`);
    }
    const t = parse(lines.join("\n") + "\n");
    expect(pointCount(t.extrusions)).toBe(60_001);
    const light = decimate(t, EXTRUSION_POINTS, TRAVEL_POINTS);
    expect(light.decimated).toBe(true);
    expect(pointCount(light.extrusions)).toBeLessThanOrEqual(EXTRUSION_POINTS);
    expect(pointCount(light.extrusions)).toBeGreaterThan(EXTRUSION_POINTS / 2);
    // Still the same circle, ending where it ended, with the offsets of the points kept.
    for (const [x, y] of points(light.extrusions)) expect(Math.hypot(x - 50, y - 50)).toBeCloseTo(50, 1);
    expect(light.extrusions.at(-1)!.ends.at(-1)).toBe(t.extrusions.at(-1)!.ends.at(-1));
  });

  test("many separate short lines: the longest that fit are kept", () => {
    const lines = ["G90\nM83"];
    for (let i = 0; i < 30_000; i++) lines.push(`G0 X${i % 100} Y${Math.floor(i / 100)}`, `G1 X${(i % 100) + (i % 3 === 0 ? 5 : 0.5)} E0.1`);
    const t = parse(lines.join("\n") + "\n");
    const light = decimate(t, EXTRUSION_POINTS, TRAVEL_POINTS);
    expect(pointCount(light.extrusions)).toBeLessThanOrEqual(EXTRUSION_POINTS);
    expect(light.extrusions.every((p) => p.xy[2]! - p.xy[0]! === 5)).toBe(true);
  });
});

describe("sampled layers", () => {
  test("a layer larger than the read budget is read in windows spread over it, the first at its start", () => {
    expect(layerRanges(100, 200, 1000)).toEqual([{ from: 100, to: 200, resync: false, final: true }]);
    const ranges = layerRanges(0, 10_000, 800, 8);
    expect(ranges.length).toBe(8);
    expect(ranges[0]).toEqual({ from: 0, to: 100, resync: false, final: false });
    expect(ranges.at(-1)).toEqual({ from: 9900, to: 10_000, resync: true, final: true });
    expect(ranges.reduce((n, r) => n + r.to - r.from, 0)).toBe(800);
  });

  test("windows after a gap find their position again before drawing", () => {
    // A circle printed with absolute E; windows start mid-line.
    const lines = ["G90", "M82", "G1 X100 Y50"];
    for (let i = 1; i <= 5000; i++) lines.push(`G1 X${(50 + 50 * Math.cos(i / 50)).toFixed(3)} Y${(50 + 50 * Math.sin(i / 50)).toFixed(3)} E${(i * 0.05).toFixed(3)}`);
    const bytes = encode(lines.join("\n") + "\n");
    const windows: Window[] = layerRanges(0, bytes.length, 40_000, 8).map((r) => ({ bytes: bytes.subarray(r.from, r.to), offset: r.from, resync: r.resync, final: r.final }));
    const t = parseToolpath(windows, INITIAL_STATE);
    expect(t.extrusions.length).toBeGreaterThanOrEqual(8);
    // No line jumps across a gap: every point is on the circle, every segment short.
    for (const p of t.extrusions) {
      for (let k = 0; k < p.xy.length; k += 2) expect(Math.hypot(p.xy[k]! - 50, p.xy[k + 1]! - 50)).toBeCloseTo(50, 1);
      for (let k = 2; k < p.xy.length; k += 2) expect(Math.hypot(p.xy[k]! - p.xy[k - 2]!, p.xy[k + 1]! - p.xy[k - 1]!)).toBeLessThan(2);
    }
  });
});
