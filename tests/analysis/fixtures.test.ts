/**
 * The analyser against real slicer output, pinned to the slicer's own figures
 * (../shared/data/gcode/MANIFEST.md): time within ±3 % of PrusaSlicer's normal-mode estimate,
 * filament within ±0.5 %, layer counts exact, every thumbnail decoded.
 *
 * PrusaSlicer counts filament only in the print's own features, not in the custom start/end
 * G-code (the purge line), so ours is compared per tool without it (`length - custom`).
 * Its 2.5 estimator also ignores G2/G3 and G4 dwells issued while its queue is empty; ours
 * counts them, which is why the FLSun and Ender-3 files come out ~1.5 % above it.
 */
import { describe, expect, test } from "bun:test";
import { analyseBytes } from "../../src/analysis/analysis.ts";
import { fixture } from "./helpers.ts";

const analyse = async (name: string) => analyseBytes(await fixture(name)).result;
const withinPct = (ours: number, theirs: number, pct: number) => expect(Math.abs(ours / theirs - 1) * 100).toBeLessThanOrEqual(pct);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
/** Our filament as PrusaSlicer counts it: without the custom start/end G-code. */
const slicerComparable = (r: Awaited<ReturnType<typeof analyse>>) => sum(r.filament.map((f) => f.length - f.custom));

describe("real PrusaSlicer files", () => {
  test("Ender-3 torus: time, filament, layers, metadata", async () => {
    const r = await analyse("ps25_ender3_torus_0.20normal_pla.gcode");
    expect(r.slicer).toMatchObject({ slicer: "PrusaSlicer", slicerVersion: "2.5.0", estimatedTime: 829, filamentUsedMm: [590.69], filamentUsedG: [1.76], layerHeight: 0.2, firstLayerHeight: 0.2, objectHeight: 5.6, nozzleDiameter: 0.4 });
    expect(r.slicer.temperatures).toMatchObject({ firstLayerNozzle: 210, firstLayerBed: 60 });
    expect(r.slicer.filamentType).toEqual(["PLA"]);
    expect(r.slicer.filamentColour).toEqual(["#DDDDDD"]);
    expect(r.slicer.filamentName).toEqual(["Generic PLA @CREALITY"]);
    withinPct(r.estimatedTime, 829, 3);
    withinPct(slicerComparable(r), 590.69, 0.5);
    expect(r.layerCount).toBe(28);
    expect(r.layerSource).toBe("markers");
    expect(r.layers.at(-1)!.z).toBe(5.6);
    expect(r.firstLayerHeight).toBe(0.2);
    expect(r.layerHeight).toBe(0.2);
    expect(r.thumbnails).toEqual([]);
    // The 10 s "G4 S10" in the start G-code is a real wait: counted by us.
    expect(r.heatUp.waits.map((w) => w.heater)).toEqual(["bed", "tool"]);
    expect(r.filament[0]!.weight).toBeCloseTo(1.76 * (610.69 / 590.69), 1);
  });

  test("FLSun delta: arcs, negative coordinates, two thumbnails", async () => {
    const r = await analyse("ps25_flsun_qqspro_delta_screw_0.20quality_pla_g3arcs_thumb.gcode");
    withinPct(r.estimatedTime, 720, 3);
    withinPct(slicerComparable(r), 327.6, 0.5);
    // The two G3 moves of the purge arc extrude 20.999 + 5.458 mm (start G-code, "Custom").
    expect(r.filamentByRole.Custom).toBeCloseTo(26.457, 2);
    expect(r.layerCount).toBe(130);
    expect(r.travelArea!.minX).toBeLessThan(-50);
    expect(r.thumbnails.map((t) => `${t.width}x${t.height}:${t.size}`)).toEqual(["260x260:11863", "16x16:395"]);
  });

  test("MMU2S, two objects on two tools: tool changes, per-tool filament, objects", async () => {
    const r = await analyse("ps25_mk3s_mmu2s_2obj_T0T1_0.20quality_pla_thumb.gcode.gz");
    // 74 tool changes × (15 s load + 12 s unload) are part of PrusaSlicer's estimate and ours.
    withinPct(r.estimatedTime, 7530, 3);
    expect(r.toolChanges).toBe(74);
    expect(r.layerCount).toBe(75);
    expect(r.filament.map((f) => f.tool)).toEqual([0, 1]);
    expect(r.slicer.filamentUsedMm).toEqual([3029.52, 2754.26]);
    // Per tool as PrusaSlicer counts it: the wipe tower's ramming and wiping but not its cooling
    // and loading moves, and not the start G-code's load and purge (120 mm of T0, "custom").
    expect(r.filament.map((f) => f.custom)).toEqual([120, 0]);
    [3029.52, 2754.26].forEach((theirs, tool) => {
      const ours = r.filament[tool]!.length - r.filament[tool]!.custom;
      withinPct(ours, theirs, 0.5);
      expect(Math.abs(ours - theirs)).toBeLessThan(0.2);
    });
    expect(r.filamentByRole["Wipe tower"]).toBeCloseTo(4862.97, 1);
    expect(r.filament.map((f) => f.weight)).toEqual([9.39, 8.21]); // Prusament PLA, 1.24 g/cm³, custom G-code included
    const names = r.objects.map((o) => o.name).sort();
    expect(names).toEqual(["cone_T1 id:1 copy 0", "cylinder_T0 id:0 copy 0"]);
    const cone = r.objects.find((o) => o.name.startsWith("cone"))!;
    // The cone (×0.6) stands at (140,105), the cylinder at (110,105); both 15 mm tall.
    expect((cone.box!.minX + cone.box!.maxX) / 2).toBeCloseTo(140, 0);
    expect(cone.box!.maxZ).toBeCloseTo(14.8, 1);
    expect(cone.ranges.length).toBe(75 * 2 - 1);
    expect(r.thumbnails.map((t) => `${t.width}x${t.height}`)).toEqual(["160x120"]);
  });

  test("Snapmaker A350, absolute E with G92 resets", async () => {
    const r = await analyse("ps25_snapmaker_a350_sphere_0.20normal_pla_m82_thumb.gcode.gz");
    withinPct(r.estimatedTime, 2214, 3);
    withinPct(slicerComparable(r), 2204.62, 0.5);
    expect(r.layerCount).toBe(155);
    expect(r.slicer.filamentDensity).toEqual([0]);
    expect(r.filament[0]!.weight).toBeNull(); // no density: no weight
    expect(r.thumbnails.map((t) => `${t.width}x${t.height}:${t.size}`)).toEqual(["220x124:9471", "16x16:553"]);
  });
});

describe("real Slic3r 1.3 file", () => {
  test("layers from heights (no layer comments), absolute E, no time of its own", async () => {
    const r = await analyse("slic3r13_reprap_bunny60_0.20_pla_m82.gcode.gz");
    expect(r.slicer).toMatchObject({ slicer: "Slic3r", slicerVersion: "1.3.0", estimatedTime: null, filamentUsedMm: [8239.3], firstLayerHeight: 0.3, layerHeight: 0.2 });
    withinPct(r.filament[0]!.length, 8239.3, 0.5);
    expect(r.layerSource).toBe("heights");
    expect(r.layerCount).toBe(299);
    expect(r.layers[0]!.z).toBe(0.3);
    expect(r.layers.at(-1)!.z).toBe(59.9);
    expect(r.estimatedTime).toBeGreaterThan(3600);
  });
});

describe("OctoPrint's gcodeAnalysis shape", () => {
  test("the MMU file renders per-tool filament, dimensions and areas", async () => {
    const { gcodeAnalysis } = await import("../../src/analysis/octoprint.ts");
    const r = await analyse("ps25_mk3s_mmu2s_2obj_T0T1_0.20quality_pla_thumb.gcode.gz");
    const g = gcodeAnalysis(r);
    expect(Object.keys(g).sort()).toEqual(["dimensions", "estimatedPrintTime", "filament", "printingArea", "travelArea", "travelDimensions"]);
    expect(Object.keys(g.filament)).toEqual(["tool0", "tool1"]);
    expect(g.filament.tool0).toEqual({ length: r.filament[0]!.length, volume: r.filament[0]!.volume });
    expect(g.estimatedPrintTime).toBe(r.estimatedTime);
    expect(g.dimensions!.height).toBeCloseTo(14.8, 3);
    expect(g.travelArea!.maxZ).toBe(64);
  });
});
