/**
 * An analysis in OctoPrint's `gcodeAnalysis` shape (the file entry of `GET /api/files`), so the
 * OctoPrint-compatible API renders our figures without knowing our result type; and the
 * planner's timeline for a job's time left. Shape: shared/docs/octoprint-compat.md §2.4.
 */
import type { Bus } from "../events.ts";
import { elapsedAt, type AnalysisResult } from "./result.ts";
import type { AnalysisStore } from "./store.ts";

export interface OctoPrintAnalysis {
  estimatedPrintTime: number;
  filament: Record<string, { length: number; volume: number }>;
  dimensions?: { width: number; depth: number; height: number };
  printingArea?: { minX: number; maxX: number; minY: number; maxY: number; minZ: number; maxZ: number };
  travelArea?: { minX: number; maxX: number; minY: number; maxY: number; minZ: number; maxZ: number };
  travelDimensions?: { width: number; depth: number; height: number };
}

/** What the OctoPrint-compatible API shows of a file's analysis. */
export interface OctoPrintFileAnalysis {
  gcodeAnalysis: OctoPrintAnalysis;
  /** Seconds of printing the planner expects before byte `offset` of the file. */
  elapsedAt(offset: number): number;
}

/** Our result as OctoPrint's `gcodeAnalysis` (filament volume in cm³, as OctoPrint reports it). */
export function gcodeAnalysis(result: AnalysisResult): OctoPrintAnalysis {
  const out: OctoPrintAnalysis = {
    estimatedPrintTime: result.estimatedTime,
    filament: Object.fromEntries(result.filament.map((f) => [`tool${f.tool}`, { length: f.length, volume: f.volume }])),
  };
  if (result.dimensions) out.dimensions = result.dimensions;
  if (result.printingArea) out.printingArea = result.printingArea;
  if (result.travelArea) out.travelArea = result.travelArea;
  if (result.travelDimensions) out.travelDimensions = result.travelDimensions;
  return out;
}

const CACHED = 500;

/**
 * The OctoPrint view of stored analyses, by the file's content hash (undefined before analysis).
 * OctoPrint clients poll the job and the file list every second or two, and a full result
 * (layers, objects, timeline) is large to read and validate, so views are kept until an
 * analysis finishes (a file analysed again may change its figures).
 */
export function octoprintAnalyses(store: AnalysisStore, bus: Bus): (file: { sha256: string | null }) => OctoPrintFileAnalysis | undefined {
  const cache = new Map<string, OctoPrintFileAnalysis>();
  bus.on("analysis.finished", () => cache.clear());
  return ({ sha256 }) => {
    if (!sha256) return undefined;
    const known = cache.get(sha256);
    if (known) return known;
    const result = store.result(sha256);
    if (!result) return undefined;
    const timeline = { timeline: result.timeline };
    const view: OctoPrintFileAnalysis = { gcodeAnalysis: gcodeAnalysis(result), elapsedAt: (offset) => elapsedAt(timeline, offset) };
    if (cache.size >= CACHED) cache.clear();
    cache.set(sha256, view);
    return view;
  };
}
