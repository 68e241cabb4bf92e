/**
 * The stored analysis of a file: its schema (valibot) is the only definition of its type, so a
 * result written by an older version is read back safely (or re-analysed when it no longer fits).
 */
import * as v from "valibot";
import { MachineLimitsPatchSchema } from "./limits.ts";

const Nullable = <S extends v.GenericSchema>(s: S) => v.nullable(s);
// Finite: JSON has no NaN or Infinity (they would come back as null and the result be unreadable).
const N = v.pipe(v.number(), v.finite());

export const BoxSchema = v.object({ minX: N, maxX: N, minY: N, maxY: N, minZ: N, maxZ: N });
export type Box = v.InferOutput<typeof BoxSchema>;

/**
 * The machine state where a layer starts, as the analyser follows the file: position and E in mm
 * (G92 applied), G90/G91, M82/M83 (E is relative with either M83 or G91), G20 and the tool. The
 * layer viewer reads one layer from its offset with it, without reading the file before it.
 */
export const LayerStartSchema = v.object({ x: N, y: N, z: N, e: N, absolute: v.boolean(), relativeE: v.boolean(), inches: v.boolean(), tool: N });
export type LayerStart = v.InferOutput<typeof LayerStartSchema>;

export const SlicerMetadataSchema = v.object({
  slicer: Nullable(v.string()),
  slicerVersion: Nullable(v.string()),
  /** Seconds, the slicer's own estimate (normal mode). */
  estimatedTime: Nullable(N),
  filamentUsedMm: Nullable(v.array(N)),
  filamentUsedCm3: Nullable(v.array(N)),
  filamentUsedG: Nullable(v.array(N)),
  filamentWeightTotalG: Nullable(N),
  layerHeight: Nullable(N),
  firstLayerHeight: Nullable(N),
  objectHeight: Nullable(N),
  nozzleDiameter: Nullable(N),
  layerCount: Nullable(N),
  toolChanges: Nullable(N),
  temperatures: v.object({
    firstLayerNozzle: Nullable(N),
    nozzle: Nullable(N),
    firstLayerBed: Nullable(N),
    bed: Nullable(N),
    chamber: Nullable(N),
  }),
  filamentType: v.array(v.string()),
  filamentColour: v.array(v.string()),
  filamentName: v.array(v.string()),
  filamentDiameter: v.array(N),
  filamentDensity: v.array(N),
  printerModel: Nullable(v.string()),
  /**
   * The firmware the slicer wrote the G-code for, lower-case as the slicer names it: PrusaSlicer's
   * (and its forks') `gcode_flavor` (marlin2, klipper, reprapfirmware, …), Cura's `;FLAVOR:`
   * (marlin, ultigcode, griffin, …); null when the file does not say.
   */
  gcodeFlavour: Nullable(v.string()),
});
export type SlicerMetadata = v.InferOutput<typeof SlicerMetadataSchema>;

export const AnalysisResultSchema = v.object({
  /** Bumped when the analyser's figures change; older results are redone. */
  analyserVersion: N,
  bytes: N,
  lines: N,
  moves: N,
  /** Our estimate in seconds (motion planner), without heat-up waits. */
  estimatedTime: N,
  heatUp: v.object({
    waits: v.array(v.object({ heater: v.picklist(["tool", "bed", "chamber"]), tool: N, target: N, offset: N })),
    /** A rough figure: heating from room temperature at typical rates (hotend 2.5 °C/s, bed 0.6 °C/s). */
    estimatedSeconds: N,
  }),
  /**
   * Per tool: `length` mm the file extrudes with it (what the spool gives), `volume` cm³ and
   * `weight` g of that (weight when the density is known), and `custom` mm of the length that is
   * custom start/end G-code (purge lines). Slicers report `length - custom` as "filament used".
   */
  filament: v.array(v.object({ tool: N, length: N, custom: N, volume: N, weight: Nullable(N) })),
  filamentByRole: v.record(v.string(), N),
  dimensions: Nullable(v.object({ width: N, depth: N, height: N })),
  printingArea: Nullable(BoxSchema),
  /**
   * The outline of what the file prints: the convex hull of the X/Y points its printing moves
   * reach, counter-clockwise (empty when it prints nothing). Its farthest corner from a point is
   * the farthest the print reaches from it: a round bed's fit for any bed centre.
   */
  printingHull: v.array(v.tuple([N, N])),
  travelArea: Nullable(BoxSchema),
  travelDimensions: Nullable(v.object({ width: N, depth: N, height: N })),
  layerCount: N,
  layerSource: v.picklist(["markers", "heights", "none"]),
  layerHeight: Nullable(N),
  firstLayerHeight: Nullable(N),
  layers: v.array(v.object({ z: N, height: N, offset: N, elapsed: N, start: LayerStartSchema })),
  objects: v.array(
    v.object({
      name: v.string(),
      source: v.picklist(["comment", "exclude_object", "m486", "cura", "ideamaker"]),
      box: Nullable(BoxSchema),
      ranges: v.array(v.tuple([N, N])),
      filament: N,
      index: v.optional(N),
      center: v.optional(v.tuple([N, N])),
      polygon: v.optional(v.array(v.tuple([N, N]))),
    }),
  ),
  /** [byte offset, elapsed seconds]: at every layer start and every 256 KiB, ending at the file size. */
  timeline: v.array(v.tuple([N, N])),
  /**
   * Up to each timeline row, [xy, z mm, e, waits, z]: seconds of moves in X/Y and of E alone had
   * each run at its cruise speed (no acceleration), millimetres of moves of Z alone, seconds of
   * waits (dwells, tool changes, homing; also part of the row's elapsed time), and seconds of the
   * moves of Z alone at cruise speed. The time-left estimate learns how a printer's pace relates
   * to each (src/jobs/time-left.ts).
   */
  timelineParts: v.array(v.tuple([N, N, N, N, N])),
  toolChanges: N,
  colorChanges: N,
  slicer: SlicerMetadataSchema,
  thumbnails: v.array(v.object({ width: N, height: N, format: v.picklist(["png", "jpg"]), source: v.picklist(["PNG", "JPG", "QOI"]), size: N })),
  warnings: v.array(v.string()),
  /**
   * The longest command line of each command word longer than 60 characters (comment stripped):
   * 1-based line number, length in characters, the start of its text. Absent in results stored
   * before it existed.
   */
  longLines: v.optional(v.array(v.object({ line: N, length: N, text: v.string() }))),
  /**
   * The macros the file calls: Klipper-style extended commands (`print_start EXTRUDER=250`,
   * `SET_VELOCITY_LIMIT …`) by name, first use first, up to 16; EXCLUDE_OBJECT_* and
   * RepRapFirmware's meta commands (`if`, `else` …) are not counted. Only some firmware runs them.
   */
  macros: v.array(v.string()),
  /** Milliseconds the analysis took, and its throughput. */
  durationMs: N,
  /**
   * The printer's own machine limits the estimate was planned with (a printer profile's; which
   * printer's, see src/jobs/service.ts), null when only the file's and the defaults were used.
   */
  printerLimits: v.nullable(MachineLimitsPatchSchema),
});
export type AnalysisResult = v.InferOutput<typeof AnalysisResultSchema>;
export type TimelineParts = AnalysisResult["timelineParts"][number];

/** What a file list shows of an analysis: small, stored beside the full result. */
export const AnalysisSummarySchema = v.object({
  estimatedTime: N,
  heatUpTime: N,
  filament: AnalysisResultSchema.entries.filament,
  dimensions: AnalysisResultSchema.entries.dimensions,
  layerCount: N,
  layerHeight: Nullable(N),
  objects: N,
  toolChanges: N,
  slicer: v.object({
    name: Nullable(v.string()),
    version: Nullable(v.string()),
    estimatedTime: Nullable(N),
    filamentUsedMm: Nullable(v.array(N)),
    filamentUsedG: Nullable(v.array(N)),
    layerHeight: Nullable(N),
    nozzleDiameter: Nullable(N),
    filamentType: v.array(v.string()),
  }),
  thumbnails: AnalysisResultSchema.entries.thumbnails,
  warnings: v.array(v.string()),
  printerLimits: AnalysisResultSchema.entries.printerLimits,
});
export type AnalysisSummary = v.InferOutput<typeof AnalysisSummarySchema>;

/** The summary of a result. */
export function summarise(result: AnalysisResult): AnalysisSummary {
  const s = result.slicer;
  return {
    estimatedTime: result.estimatedTime,
    heatUpTime: result.heatUp.estimatedSeconds,
    filament: result.filament,
    dimensions: result.dimensions,
    layerCount: result.layerCount,
    layerHeight: result.layerHeight,
    objects: result.objects.length,
    toolChanges: result.toolChanges,
    slicer: {
      name: s.slicer,
      version: s.slicerVersion,
      estimatedTime: s.estimatedTime,
      filamentUsedMm: s.filamentUsedMm,
      filamentUsedG: s.filamentUsedG,
      layerHeight: s.layerHeight,
      nozzleDiameter: s.nozzleDiameter,
      filamentType: s.filamentType,
    },
    thumbnails: result.thumbnails,
    warnings: result.warnings,
    printerLimits: result.printerLimits,
  };
}

/**
 * Seconds of printing the planner expects before the printer has read `offset` bytes: linear
 * between the timeline's rows (layer starts and every 256 KiB), 0 before the first.
 * Example: with rows [[0, 0], [1000, 60]], `elapsedAt(result, 500)` is 30.
 */
export function elapsedAt(result: Pick<AnalysisResult, "timeline">, offset: number): number {
  const rows = result.timeline;
  if (rows.length === 0 || offset <= rows[0]![0]) return 0;
  // Binary search for the last row at or before the offset.
  let lo = 0;
  let hi = rows.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (rows[mid]![0] <= offset) lo = mid;
    else hi = mid - 1;
  }
  const [o0, t0] = rows[lo]!;
  const next = rows[lo + 1];
  if (!next || next[0] === o0) return t0;
  return t0 + ((next[1] - t0) * (offset - o0)) / (next[0] - o0);
}
