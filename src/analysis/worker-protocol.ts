/**
 * Messages between the analysis queue (main thread) and its Worker.
 */
import type { MachineLimitsPatch } from "./limits.ts";
import type { AnalysisResult } from "./result.ts";
import type { AnalysisProblem } from "./store.ts";
import type { Thumbnail } from "./thumbnails.ts";

export type ToAnalyser =
  | { type: "analyse"; id: number; path: string; hash: boolean; limits?: MachineLimitsPatch }
  | { type: "pause" }
  | { type: "resume" }
  | { type: "cancel"; id: number };

export type FromAnalyser =
  | { type: "progress"; id: number; done: number; total: number }
  | { type: "result"; id: number; sha256: string | null; size: number; mtime: number; result: AnalysisResult; thumbnails: Thumbnail[] }
  | { type: "error"; id: number; sha256: string | null; size: number; mtime: number; error: AnalysisProblem };
