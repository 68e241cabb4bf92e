/**
 * The files as the API and the UI show them: each stored file joined with its analysis state
 * (queued, running, done with a summary, or failed), its thumbnails' URLs and its duplicates;
 * with search by name and sorting. One rendering source for JSON and HTML alike.
 */
import type { AnalysisQueue } from "../analysis/queue.ts";
import type { AnalysisResult, AnalysisSummary } from "../analysis/result.ts";
import type { AnalysisProblem, AnalysisStore } from "../analysis/store.ts";
import type { FileStorage, StoredFile, StoredFolder } from "./storage.ts";

export interface ThumbnailRef {
  width: number;
  height: number;
  format: "png" | "jpg";
  url: string;
}

export type { AnalysisSummary };

export type AnalysisView =
  | { state: "none" }
  | { state: "queued" }
  | { state: "analysing" | "paused"; done: number; total: number }
  | { state: "done"; summary: AnalysisSummary }
  | { state: "error"; error: AnalysisProblem };

export interface FileEntry extends StoredFile {
  /** The containing folder ("" for the top level). */
  folder: string;
  /** Other files with the same content. */
  duplicates: string[];
  analysis: AnalysisView;
  thumbnails: ThumbnailRef[];
}

export const SORT_KEYS = ["name", "date", "size", "time"] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface ListQuery {
  /** Case-insensitive substring of the path. */
  q?: string;
  sort?: SortKey;
  order?: "asc" | "desc";
  /** Only files directly in this folder ("" = top level); all files when undefined. */
  folder?: string;
}

/** URL of a file's sub-resource: each path segment encoded. */
export function fileUrl(path: string, suffix = ""): string {
  return `/api/v1/files/${path.split("/").map(encodeURIComponent).join("/")}${suffix}`;
}

export class FileCatalog {
  constructor(
    private readonly files: FileStorage,
    private readonly store: AnalysisStore,
    private readonly queue: AnalysisQueue,
  ) {}

  /** Files matching the query, sorted. */
  list(query: ListQuery = {}): FileEntry[] {
    const all = this.files.list();
    const byHash = new Map<string, string[]>();
    for (const f of all) if (f.sha256) byHash.set(f.sha256, [...(byHash.get(f.sha256) ?? []), f.path]);
    const q = query.q?.trim().toLowerCase();
    const entries = all
      .filter((f) => !q || f.path.toLowerCase().includes(q))
      .filter((f) => query.folder === undefined || folderOf(f.path) === query.folder)
      .map((f) => this.entry(f, byHash));
    return sortEntries(entries, query.sort ?? "date", query.order);
  }

  folders(): StoredFolder[] {
    return this.files.folders();
  }

  /** One file's entry, or undefined. */
  get(path: string): FileEntry | undefined {
    const f = this.files.get(path);
    if (!f) return undefined;
    const byHash = new Map<string, string[]>();
    if (f.sha256) byHash.set(f.sha256, this.files.withHash(f.sha256));
    return this.entry(f, byHash);
  }

  /** The full analysis of a file, when done. */
  analysis(path: string): AnalysisResult | undefined {
    const f = this.files.get(path);
    return f?.sha256 ? this.store.result(f.sha256) : undefined;
  }

  private entry(f: StoredFile, byHash: Map<string, string[]>): FileEntry {
    const record = f.sha256 ? this.store.state(f.sha256) : undefined;
    const running = this.queue.stateOf(f.path);
    const failure = this.queue.failureOf(f.path);
    let analysis: AnalysisView;
    if (running) analysis = running.state === "queued" ? { state: "queued" } : running;
    else if (record?.status === "done") analysis = { state: "done", summary: record.summary };
    else if (record?.status === "error") analysis = { state: "error", error: record.error };
    else if (failure) analysis = { state: "error", error: failure };
    else analysis = { state: "none" };
    const version = f.sha256 ? `?v=${f.sha256.slice(0, 16)}` : "";
    const thumbnails: ThumbnailRef[] =
      record?.status === "done"
        ? record.summary.thumbnails.map((t) => ({ width: t.width, height: t.height, format: t.format, url: fileUrl(f.path, `/thumbnails/${t.width}x${t.height}.${t.format}${version}`) }))
        : [];
    return { ...f, folder: folderOf(f.path), duplicates: (f.sha256 ? (byHash.get(f.sha256) ?? []) : []).filter((p) => p !== f.path), analysis, thumbnails };
  }
}

export function folderOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

function sortEntries(entries: FileEntry[], key: SortKey, order?: "asc" | "desc"): FileEntry[] {
  const time = (e: FileEntry) => (e.analysis.state === "done" ? e.analysis.summary.estimatedTime : Infinity);
  const compare: Record<SortKey, (a: FileEntry, b: FileEntry) => number> = {
    name: (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: "base" }) || a.path.localeCompare(b.path),
    date: (a, b) => a.date - b.date,
    size: (a, b) => a.size - b.size,
    time: (a, b) => time(a) - time(b),
  };
  // Dates read newest first by default; names, sizes and times smallest first.
  const descending = order ? order === "desc" : key === "date";
  return entries.sort((a, b) => (descending ? -1 : 1) * compare[key](a, b) || a.path.localeCompare(b.path));
}
