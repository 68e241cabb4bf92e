/**
 * One file's analysis from start to result: slicer metadata from the head and tail, the machine
 * limits that follow from it, the streaming pass (`GcodeAnalyser`), thumbnails, and the checks
 * that turn garbage, binary or cut-short files into a clear `AnalysisError`. Pure: bytes in,
 * result out (the caller passes the elapsed time for the record).
 */
import { GcodeAnalyser, type MotionAnalysis } from "./analyser.ts";
import { applyLimits, defaultLimits, isEmptyLimits, limitsFromSlicerConfig, type MachineLimits, type MachineLimitsPatch } from "./limits.ts";
import { extractMetadata, METADATA_WINDOW } from "./metadata.ts";
import * as v from "valibot";
import { AnalysisResultSchema, type AnalysisResult, type SlicerMetadata, type TimelineParts } from "./result.ts";
import { decodeThumbnails, type Thumbnail } from "./thumbnails.ts";

/** Bump when the figures change, so stored results are redone (9: each layer records its start state, for the layer viewer). */
export const ANALYSER_VERSION = 9;

export class AnalysisError extends Error {
  constructor(
    readonly code: "empty" | "binary" | "not_gcode" | "truncated" | "bgcode" | "unreadable",
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export interface AnalysisOptions {
  /**
   * The printer's own limits (its profile): they take precedence over the slicer's config block,
   * which only says what the slicer assumed; the file's own M-codes still change them as it runs.
   */
  limits?: MachineLimitsPatch;
}

export interface AnalysisOutput {
  result: AnalysisResult;
  thumbnails: Thumbnail[];
}

const AMBIENT_C = 25;
const HEAT_RATE_C_PER_S = { tool: 2.5, bed: 0.6, chamber: 0.1 } as const;
const DEFAULT_FILAMENT_DIAMETER = 1.75;

const decoder = new TextDecoder("utf-8", { fatal: false });

export class Analysis {
  private readonly analyser: GcodeAnalyser | null;
  readonly metadata: SlicerMetadata;
  readonly limits: MachineLimits;
  /** The printer's limits it was planned with, null for none (see `AnalysisResult.printerLimits`). */
  readonly printerLimits: MachineLimitsPatch | null;
  private readonly tailText: string;
  private readonly headText: string;
  private readonly bgcode: boolean;
  private readonly utf16: boolean;

  /** `head` and `tail` are the file's first and last METADATA_WINDOW bytes (they may overlap). */
  constructor(head: Uint8Array, tail: Uint8Array, options: AnalysisOptions = {}) {
    this.bgcode = head.length >= 4 && head[0] === 0x47 && head[1] === 0x43 && head[2] === 0x44 && head[3] === 0x45;
    // A UTF-16 byte order mark, either way round.
    this.utf16 = head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff));
    this.headText = decoder.decode(head.subarray(0, METADATA_WINDOW));
    this.tailText = decoder.decode(tail.subarray(Math.max(0, tail.length - METADATA_WINDOW)));
    const { metadata, config } = extractMetadata(this.headText, this.tailText);
    this.metadata = metadata;
    this.limits = applyLimits(applyLimits(defaultLimits(), limitsFromSlicerConfig(config)), options.limits);
    this.printerLimits = isEmptyLimits(options.limits) ? null : options.limits!;
    const list = (key: string) => (config[key] ?? "").split(/[,;]/).map(Number).filter(Number.isFinite);
    this.analyser = this.bgcode
      ? null
      : new GcodeAnalyser({
          limits: this.limits,
          feedratesPerMinute: config.gcode_flavor === "reprapfirmware",
          loadTimes: list("filament_load_time"),
          unloadTimes: list("filament_unload_time"),
        });
  }

  /** Feeds the next bytes of the file, in order. */
  push(chunk: Uint8Array): void {
    this.analyser?.push(chunk);
  }

  /** The result; throws `AnalysisError` for files that are not (complete) G-code. */
  finish(durationMs: number): AnalysisOutput {
    if (this.bgcode || !this.analyser) {
      throw new AnalysisError("bgcode", "This is binary G-code (.bgcode); Layerline analyses plain-text G-code.", "Export plain G-code from the slicer (turn off binary G-code in the printer settings).");
    }
    if (this.utf16) {
      throw new AnalysisError("not_gcode", "The file is UTF-16 text; printers read G-code as plain ASCII (UTF-8) text.", "Save the file again as UTF-8 (or ANSI) in your editor, or export it from the slicer again.");
    }
    // Lines ended by CR alone (classic Mac OS): to a printer, and to the sender, the file is one line.
    if (!this.headText.includes("\n") && this.headText.includes("\r")) {
      throw new AnalysisError("not_gcode", "The file's lines end with CR only (old Mac line ends), so it reads as a single line.", "Convert the line ends to LF or CRLF (most editors can; or: tr '\\r' '\\n' < in.gcode > out.gcode) and upload it again.");
    }
    const motion = this.analyser.finish();
    check(motion, this.metadata, this.tailText);
    const { thumbnails, warnings } = decodeThumbnails(motion.thumbnails);
    if (motion.endsMidLine) warnings.push("The file does not end with a line break; it may have been cut short.");
    if (motion.moves === 0) warnings.push("The file has no moves: it prints nothing.");
    if (motion.badLines > 0) warnings.push(`${motion.badLines} line(s) are neither G-code nor comments (the first at byte ${motion.firstBadOffset}).`);
    if (motion.outOfRangeLines > 0) {
      warnings.push(`${motion.outOfRangeLines} command(s) hold a number too large for any printer (the first at byte ${motion.firstOutOfRangeOffset}); they were left out of the estimate.`);
    }
    const result = { ...buildResult(motion, this.metadata, thumbnails, warnings, durationMs), printerLimits: this.printerLimits };
    // The last guard: a figure that is not a finite number cannot be stored or shown.
    const valid = v.safeParse(AnalysisResultSchema, result);
    if (!valid.success) {
      const issue = valid.issues[0];
      throw new AnalysisError("unreadable", `The file's figures cannot be computed (${v.getDotPath(issue) ?? "result"}: ${issue.message}).`, "Check the file in the slicer's preview and export it again.");
    }
    return { result, thumbnails };
  }
}

/** Refuses what is not G-code, or is G-code cut short. */
function check(m: MotionAnalysis, meta: SlicerMetadata, tail: string): void {
  if (m.bytes === 0) throw new AnalysisError("empty", "The file is empty.", "Upload the G-code file again.");
  if (m.binary) {
    throw new AnalysisError("binary", `The file contains binary data (first bad line at byte ${m.firstBadOffset}); it is not text G-code.`, "Check that you uploaded the .gcode file the slicer exported, not an archive or image.");
  }
  if (m.badLines > 0 && (m.badLines >= Math.max(5, m.lines * 0.1) || m.moves === 0)) {
    throw new AnalysisError("not_gcode", `This does not look like G-code: ${m.badLines} of ${m.lines} lines are neither commands nor comments (the first at byte ${m.firstBadOffset}).`, "Upload the .gcode file your slicer exported.");
  }
  const family = meta.slicer !== null && /Slicer|Slic3r|Bambu/i.test(meta.slicer);
  if (family && !/;\s*(filament used|total filament)/.test(tail) && !/prusaslicer_config = end|CONFIG_BLOCK_END/.test(tail)) {
    throw new AnalysisError("truncated", `The file was cut short: ${meta.slicer}'s summary at the end of the file is missing.`, "Upload or copy the file again; the original is complete.");
  }
  if (meta.slicer === "Cura" && !/;End of Gcode/.test(tail)) {
    throw new AnalysisError("truncated", "The file was cut short: Cura's end marker (';End of Gcode') is missing.", "Upload or copy the file again; the original is complete.");
  }
}

type BoxLike = { minX: number; maxX: number; minY: number; maxY: number; minZ: number; maxZ: number };
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

function dims(b: BoxLike | null) {
  return b ? { width: round(b.maxX - b.minX), depth: round(b.maxY - b.minY), height: round(b.maxZ - b.minZ) } : null;
}

function roundBox<B extends BoxLike | null>(b: B): B {
  return (b ? { minX: round(b.minX), maxX: round(b.maxX), minY: round(b.minY), maxY: round(b.maxY), minZ: round(b.minZ), maxZ: round(b.maxZ) } : null) as B;
}

function heatUpSeconds(waits: MotionAnalysis["heatWaits"]): number {
  const last = new Map<string, number>();
  let seconds = 0;
  for (const w of waits) {
    const key = `${w.heater}${w.tool}`;
    const from = last.get(key) ?? AMBIENT_C;
    if (w.target > from) seconds += (w.target - from) / HEAT_RATE_C_PER_S[w.heater];
    last.set(key, w.target);
  }
  return seconds;
}

function mostCommon(values: number[]): number | null {
  const counts = new Map<number, number>();
  for (const v of values) {
    const key = Math.round(v * 1000) / 1000;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let best: number | null = null;
  let bestCount = 0;
  for (const [v, c] of counts) if (c > bestCount) [best, bestCount] = [v, c];
  return best;
}

function buildResult(m: MotionAnalysis, meta: SlicerMetadata, thumbnails: Thumbnail[], warnings: string[], durationMs: number): Omit<AnalysisResult, "printerLimits"> {
  const layers = m.layers.map((l, i) => ({ z: round(l.z), height: round(i === 0 ? l.z : l.z - m.layers[i - 1]!.z), offset: l.offset, elapsed: round(l.elapsed, 1), start: l.start }));
  const filament = m.filament
    .map((length, tool) => {
      const d = meta.filamentDiameter[tool] ?? meta.filamentDiameter[0] ?? DEFAULT_FILAMENT_DIAMETER;
      const density = meta.filamentDensity[tool] ?? meta.filamentDensity[0] ?? 0;
      const volume = (length * Math.PI * (d / 2) ** 2) / 1000; // cm³
      return { tool, length: round(length, 2), custom: round(m.customFilament[tool] ?? 0, 2), volume: round(volume, 3), weight: density > 0 ? round(volume * density, 2) : null };
    })
    .filter((f) => f.length > 0 || m.toolsUsed.includes(f.tool));
  return {
    analyserVersion: ANALYSER_VERSION,
    bytes: m.bytes,
    lines: m.lines,
    moves: m.moves,
    // As precise as the timeline, whose last row it is.
    estimatedTime: round(m.estimatedTime, 3),
    heatUp: { waits: m.heatWaits, estimatedSeconds: Math.round(heatUpSeconds(m.heatWaits)) },
    filament,
    filamentByRole: Object.fromEntries(Object.entries(m.filamentByRole).map(([k, v]) => [k, round(v, 2)])),
    dimensions: dims(m.printingArea),
    printingArea: roundBox(m.printingArea),
    printingHull: m.printingHull.map(([x, y]) => [round(x), round(y)] as [number, number]),
    travelArea: roundBox(m.travelArea),
    travelDimensions: dims(m.travelArea),
    layerCount: layers.length,
    layerSource: m.layerSource,
    layerHeight: mostCommon(layers.slice(1).map((l) => l.height)),
    firstLayerHeight: layers[0]?.z ?? null,
    layers,
    // Labels around no extrusion (e.g. a label in the end G-code) are not objects one could cancel.
    objects: m.objects.filter((o) => o.box !== null || o.polygon !== undefined).map((o) => ({ ...o, box: roundBox(o.box), filament: round(o.filament, 2) })),
    // To the millisecond: the time-left fit reads small differences between rows (a layer's few
    // hundredths of a second of Z), which a coarser rounding would drown in its own noise.
    timeline: m.timeline.map(([offset, t]) => [offset, round(t, 3)] as [number, number]),
    timelineParts: m.timelineParts.map((parts) => parts.map((t) => round(t, 3)) as TimelineParts),
    toolChanges: m.toolChanges,
    colorChanges: m.colorChanges,
    slicer: meta,
    thumbnails: thumbnails.map((t) => ({ width: t.width, height: t.height, format: t.format, source: t.source, size: t.data.length })),
    warnings,
    longLines: m.longLines,
    macros: m.macros,
    durationMs: Math.round(durationMs),
  };
}

/** Analyses a whole file held in memory (tests, benchmarks). */
export function analyseBytes(bytes: Uint8Array, options: AnalysisOptions = {}, chunkSize = 1 << 20): AnalysisOutput {
  const started = performance.now();
  const analysis = new Analysis(bytes.subarray(0, METADATA_WINDOW), bytes.subarray(Math.max(0, bytes.length - METADATA_WINDOW)), options);
  for (let i = 0; i < bytes.length; i += chunkSize) analysis.push(bytes.subarray(i, i + chunkSize));
  return analysis.finish(performance.now() - started);
}
