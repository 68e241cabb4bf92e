/**
 * Analyses and thumbnails in sqlite, keyed by the file's sha256: a copied, moved or renamed file
 * keeps its analysis, and duplicates are analysed once. Results are read back through their
 * schema; one from an older analyser (or one that no longer fits) counts as missing.
 */
import type { Database } from "bun:sqlite";
import * as v from "valibot";
import { ANALYSER_VERSION } from "./analysis.ts";
import { AnalysisResultSchema, AnalysisSummarySchema, summarise, type AnalysisResult, type AnalysisSummary } from "./result.ts";
import type { Thumbnail } from "./thumbnails.ts";

export interface AnalysisProblem {
  code: string;
  message: string;
  hint: string;
}

/** Where a file's analysis stands: done (with its summary) or failed. */
export type AnalysisState = { status: "done"; summary: AnalysisSummary; analysedAt: number } | { status: "error"; error: AnalysisProblem; analysedAt: number };

interface Row {
  status: "done" | "error";
  analyser_version: number;
  summary: string | null;
  error_code: string | null;
  error_message: string | null;
  error_hint: string | null;
  analysed_at: number;
}

function parseJson<S extends v.GenericSchema>(schema: S, text: string | null): v.InferOutput<S> | undefined {
  try {
    const parsed = v.safeParse(schema, JSON.parse(text ?? "null"));
    return parsed.success ? parsed.output : undefined;
  } catch {
    return undefined;
  }
}

/** Parsed results kept: a result is a pure function of the content, read on every page or stream that shows a print's objects, and parsing a large one takes milliseconds. */
const RESULTS_KEPT = 4;

export class AnalysisStore {
  /** The latest results read, most recent last; shared by the callers, who only read them. */
  private readonly parsed = new Map<string, AnalysisResult>();

  constructor(private readonly db: Database) {}

  /** The state of the analysis of this content (cheap: reads the summary only). */
  state(sha256: string): AnalysisState | undefined {
    const row = this.db
      .query("SELECT status, analyser_version, summary, error_code, error_message, error_hint, analysed_at FROM file_analyses WHERE sha256 = ?")
      .get(sha256) as Row | null;
    if (!row || row.analyser_version !== ANALYSER_VERSION) return undefined;
    if (row.status === "error") {
      return { status: "error", error: { code: row.error_code ?? "error", message: row.error_message ?? "", hint: row.error_hint ?? "" }, analysedAt: row.analysed_at };
    }
    const summary = parseJson(AnalysisSummarySchema, row.summary);
    return summary ? { status: "done", summary, analysedAt: row.analysed_at } : undefined;
  }

  /** The full result (layers, objects, timeline), when the analysis succeeded. */
  result(sha256: string): AnalysisResult | undefined {
    const kept = this.parsed.get(sha256);
    if (kept) {
      this.parsed.delete(sha256);
      this.parsed.set(sha256, kept);
      return kept;
    }
    const row = this.db.query("SELECT result FROM file_analyses WHERE sha256 = ? AND status = 'done' AND analyser_version = ?").get(sha256, ANALYSER_VERSION) as { result: string | null } | null;
    const result = row ? parseJson(AnalysisResultSchema, row.result) : undefined;
    if (result) {
      this.parsed.set(sha256, result);
      if (this.parsed.size > RESULTS_KEPT) this.parsed.delete(this.parsed.keys().next().value!);
    }
    return result;
  }

  saveResult(sha256: string, result: AnalysisResult, thumbnails: Thumbnail[], now: number): void {
    this.parsed.delete(sha256);
    this.db.transaction(() => {
      this.db
        .query("INSERT OR REPLACE INTO file_analyses (sha256, status, analyser_version, result, summary, error_code, error_message, error_hint, analysed_at) VALUES (?, 'done', ?, ?, ?, NULL, NULL, NULL, ?)")
        .run(sha256, ANALYSER_VERSION, JSON.stringify(result), JSON.stringify(summarise(result)), now);
      this.db.query("DELETE FROM file_thumbnails WHERE sha256 = ?").run(sha256);
      for (const t of thumbnails) {
        this.db.query("INSERT OR REPLACE INTO file_thumbnails (sha256, width, height, format, data) VALUES (?, ?, ?, ?, ?)").run(sha256, t.width, t.height, t.format, t.data);
      }
    })();
  }

  saveError(sha256: string, error: AnalysisProblem, now: number): void {
    this.parsed.delete(sha256);
    this.db.query("DELETE FROM file_thumbnails WHERE sha256 = ?").run(sha256);
    this.db
      .query("INSERT OR REPLACE INTO file_analyses (sha256, status, analyser_version, result, summary, error_code, error_message, error_hint, analysed_at) VALUES (?, 'error', ?, NULL, NULL, ?, ?, ?, ?)")
      .run(sha256, ANALYSER_VERSION, error.code, error.message, error.hint, now);
  }

  /** One thumbnail's image. */
  thumbnail(sha256: string, width: number, height: number): { format: "png" | "jpg"; data: Uint8Array } | undefined {
    const row = this.db.query("SELECT format, data FROM file_thumbnails WHERE sha256 = ? AND width = ? AND height = ?").get(sha256, width, height) as
      | { format: "png" | "jpg"; data: Uint8Array }
      | null;
    return row ?? undefined;
  }

  /** Drops analyses and thumbnails no file refers to any more. */
  prune(): void {
    this.parsed.clear();
    this.db.query("DELETE FROM file_analyses WHERE sha256 NOT IN (SELECT sha256 FROM files WHERE sha256 IS NOT NULL)").run();
    this.db.query("DELETE FROM file_thumbnails WHERE sha256 NOT IN (SELECT sha256 FROM files WHERE sha256 IS NOT NULL)").run();
  }
}
