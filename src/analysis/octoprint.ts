/**
 * An analysis in OctoPrint's `gcodeAnalysis` shape (the file entry of `GET /api/files`), so the
 * OctoPrint-compatible API renders our figures without knowing our result type.
 * Shape: shared/docs/octoprint-compat.md §2.4.
 */
import type { AnalysisResult } from "./result.ts";

export interface OctoPrintAnalysis {
  estimatedPrintTime: number;
  filament: Record<string, { length: number; volume: number }>;
  dimensions?: { width: number; depth: number; height: number };
  printingArea?: { minX: number; maxX: number; minY: number; maxY: number; minZ: number; maxZ: number };
  travelArea?: { minX: number; maxX: number; minY: number; maxY: number; minZ: number; maxZ: number };
  travelDimensions?: { width: number; depth: number; height: number };
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
