/**
 * The layer viewer's SVG (views/layer-view.ts) from real layers: the paths drawn cover what the
 * analyser measured, the bed is the profile's (rectangle or circle, origin lower-left or in the
 * middle), each tool has its colour, travel moves only when asked, the layer below faintly, and
 * a print's progress splits the layer into sent and not sent.
 */
import { describe, expect, test } from "bun:test";
import { analyseBytes } from "../../src/analysis/analysis.ts";
import type { AnalysisResult } from "../../src/analysis/result.ts";
import { decimate, INITIAL_STATE, parseToolpath, type Box2, type Toolpath } from "../../src/toolpath/toolpath.ts";
import { EXTRUSION_POINTS, layerSpan, TRAVEL_POINTS } from "../../src/toolpath/layers.ts";
import { layerSvg, sentSegments, TOOL_COLOURS, viewArea, type Bed, type LayerDrawing } from "../../views/layer-view.ts";
import { fixture } from "../analysis/helpers.ts";

const BED: Bed = { width: 200, depth: 200, origin: "lowerleft", circular: false };

function layerOf(bytes: Uint8Array, r: AnalysisResult, index: number): Toolpath {
  const [start, end] = layerSpan(r.layers, index, r.bytes);
  return decimate(parseToolpath([{ bytes: bytes.subarray(start, end), offset: start, resync: false, final: true }], r.layers[index]!.start), EXTRUSION_POINTS, TRAVEL_POINTS);
}

const draw = (layer: Toolpath, more: Partial<LayerDrawing> = {}) =>
  layerSvg({ bed: BED, view: viewArea(BED, layer.box), layer, previous: null, travel: false, sent: null, nozzle: 0.4, number: 1, count: 1, ...more }).value;

/** The `d` of every path in `svg` matching `selector` (a class), as absolute points in file coordinates (y up). */
function drawnPoints(svg: string, cls: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of svg.matchAll(new RegExp(`<path class="${cls}"[^>]* d="([^"]*)"`, "g"))) {
    const tokens = m[1]!.match(/[Ml]|-?(?:\d+\.?\d*|\.\d+)/g)!;
    let x = 0;
    let y = 0;
    let mode = "";
    for (let i = 0; i < tokens.length; ) {
      const t = tokens[i]!;
      if (t === "M" || t === "l") {
        mode = t;
        i++;
        continue;
      }
      const a = Number(t);
      const b = Number(tokens[i + 1]);
      i += 2;
      if (mode === "M") [x, y] = [a, b];
      else [x, y] = [x + a, y + b];
      out.push([x, -y]);
    }
  }
  return out;
}

function boxOf(points: [number, number][]): Box2 {
  return {
    minX: Math.min(...points.map((p) => p[0])),
    maxX: Math.max(...points.map((p) => p[0])),
    minY: Math.min(...points.map((p) => p[1])),
    maxY: Math.max(...points.map((p) => p[1])),
  };
}

describe("the SVG of real layers", () => {
  test("the torus: every layer's drawn extrusions together span the analyser's printing area", async () => {
    const bytes = await fixture("ps25_ender3_torus_0.20normal_pla.gcode");
    const r = analyseBytes(bytes).result;
    const all: [number, number][] = [];
    // The purge line before the first layer, as a layer of its own.
    const before = parseToolpath([{ bytes: bytes.subarray(0, r.layers[0]!.offset), offset: 0, resync: false, final: true }], INITIAL_STATE);
    all.push(...drawnPoints(draw(before), "done"));
    for (let i = 0; i < r.layers.length; i++) {
      const layer = layerOf(bytes, r, i);
      const points = drawnPoints(draw(layer), "done");
      expect(points.length).toBeGreaterThan(10);
      // Each layer's picture is its extrusions' extent, to the drawing's 0.01 mm.
      const drawn = boxOf(points);
      for (const k of ["minX", "maxX", "minY", "maxY"] as const) expect(Math.abs(drawn[k] - layer.box![k])).toBeLessThanOrEqual(0.0051);
      all.push(...points);
    }
    const drawn = boxOf(all);
    for (const k of ["minX", "maxX", "minY", "maxY"] as const) expect(Math.abs(drawn[k] - r.printingArea![k])).toBeLessThanOrEqual(0.0051);
  });

  test("the MMU file: a colour per tool; travel moves and the layer below only as asked", async () => {
    const bytes = await fixture("ps25_mk3s_mmu2s_2obj_T0T1_0.20quality_pla_thumb.gcode.gz");
    const r = analyseBytes(bytes).result;
    const layer = layerOf(bytes, r, 20);
    const svg = draw(layer, { number: 21, count: 75 });
    expect(svg).toContain(`<path class="done" data-tool="0" stroke="${TOOL_COLOURS[0]}"`);
    expect(svg).toContain(`<path class="done" data-tool="1" stroke="${TOOL_COLOURS[1]}"`);
    expect(svg).not.toContain('class="travel"');
    expect(svg).not.toContain('class="previous"');
    const full = draw(layer, { travel: true, previous: layerOf(bytes, r, 19) });
    // The travel moves drawn are the layer's; the layer below is drawn whole.
    const group = (cls: string) => drawnPoints(full.replace(new RegExp(`(<g class="${cls}"[^>]*>)<path d=`), `$1<path class="${cls}" d=`), cls);
    expect(group("travel").length).toBe(layer.travels.reduce((n, p) => n + p.xy.length / 2, 0));
    expect(group("previous").length).toBe(layerOf(bytes, r, 19).extrusions.reduce((n, p) => n + p.xy.length / 2, 0));
  });

  test("a print's progress: the sent part solid, the rest faint, as the offset moves on", async () => {
    const bytes = await fixture("ps25_ender3_torus_0.20normal_pla.gcode");
    const r = analyseBytes(bytes).result;
    const layer = layerOf(bytes, r, 4);
    const [start, end] = layerSpan(r.layers, 4, r.bytes);
    const total = sentSegments(layer, null);
    const counts = (sent: number) => {
      const svg = draw(layer, { sent });
      return [Number(/data-done="(\d+)"/.exec(svg)![1]), Number(/data-pending="(\d+)"/.exec(svg)![1])];
    };
    expect(counts(start)).toEqual([0, total]);
    expect(counts(end)).toEqual([total, 0]);
    const [a] = counts(start + (end - start) / 3);
    const [b, rest] = counts(start + ((end - start) * 2) / 3);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a!);
    expect(b! + rest!).toBe(total);
    const half = draw(layer, { sent: start + (end - start) / 2 });
    expect(half).toContain('<path class="done"');
    expect(half).toContain('<path class="pending"');
  });
});

describe("the bed", () => {
  const layer = parseToolpath([{ bytes: new TextEncoder().encode("M83\nG1 X-20 Y-20\nG1 X20 Y20 E1\n"), offset: 0, resync: false, final: true }], INITIAL_STATE);

  test("a rectangle from the lower-left origin, the picture's Y up", () => {
    const svg = draw(layer);
    expect(svg).toContain('<rect x="0" y="-200" width="200" height="200"');
    // The view holds the bed and the print (down to -20) with a 3 % margin.
    const view = viewArea(BED, layer.box);
    expect(view.minX).toBeCloseTo(-20 - 220 * 0.03, 6);
    expect(view.maxY).toBeCloseTo(200 + 220 * 0.03, 6);
  });

  test("a round bed with its origin in the middle (a delta)", () => {
    const delta: Bed = { width: 240, depth: 240, origin: "center", circular: true };
    const svg = layerSvg({ bed: delta, view: viewArea(delta, layer.box), layer, previous: null, travel: false, sent: null, nozzle: 0.4, number: 1, count: 1 }).value;
    expect(svg).toContain('<ellipse cx="0" cy="0" rx="120" ry="120"');
    expect(svg).toContain('viewBox="-127.2 -127.2 254.4 254.4"');
  });

  test("zoomed to the print; a hostile far-away print does not shrink the bed to a dot", () => {
    expect(viewArea(BED, { minX: 90, maxX: 110, minY: 80, maxY: 100 }, true)).toEqual({ minX: 89.4, maxX: 110.6, minY: 79.4, maxY: 100.6 });
    const far = viewArea(BED, { minX: 0, maxX: 10_000, minY: -10_000, maxY: 10 });
    expect(far).toEqual({ minX: -12, maxX: 412, minY: -212, maxY: 212 });
  });
});

test("a layer with far too many moves is drawn light", () => {
  const lines = ["M83"];
  for (let i = 1; i <= 200_000; i++) lines.push(`G1 X${(100 + 80 * Math.cos(i / 300)).toFixed(3)} Y${(100 + 80 * Math.sin(i / 300)).toFixed(3)} E0.01`);
  const layer = decimate(parseToolpath([{ bytes: new TextEncoder().encode(lines.join("\n") + "\n"), offset: 0, resync: false, final: true }], INITIAL_STATE), EXTRUSION_POINTS, TRAVEL_POINTS);
  const svg = draw(layer, { previous: layer, travel: true });
  expect(svg.length).toBeLessThan(400_000);
  expect(drawnPoints(svg, "done").length).toBeLessThanOrEqual(EXTRUSION_POINTS);
});
