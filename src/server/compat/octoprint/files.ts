/**
 * Files in OctoPrint's shapes (octoprint-compat.md §2.4): file and folder entries rendered from
 * FileStorage data (its sha256 is the entry's `hash`). The G-code analysis is plugged in through
 * `AnalysisLookup`; like OctoPrint, an entry has `gcodeAnalysis` only once an analysis exists.
 */
import type { OctoPrintAnalysis, OctoPrintFileAnalysis } from "../../../analysis/octoprint.ts";
import type { StoredFile } from "../../../files/storage.ts";
import type { FileStats } from "../../../jobs/history.ts";
import type { SdFile } from "../../../printers/status.ts";
import { PROFILE_ID } from "./state.ts";

/** Where analyses come from (the analysis area plugs in here); undefined = not analysed yet. */
export type AnalysisLookup = (file: StoredFile) => OctoPrintFileAnalysis | undefined;

/** Absolute URL roots for `refs`: the API prefix of this printer, and the download root. */
export interface Refs {
  api: string;
  downloads: string;
}

const encodePath = (path: string) => path.split("/").map(encodeURIComponent).join("/");
export const resourceUrl = (refs: Refs, path: string) => `${refs.api}/api/files/local/${encodePath(path)}`;
export const downloadUrl = (refs: Refs, path: string) => `${refs.downloads}/downloads/files/local/${encodePath(path)}`;

export const sdResourceUrl = (refs: Refs, name: string) => `${refs.api}/api/files/sdcard/${encodeURIComponent(name)}`;

/** A file on the printer's SD card (§2.4 "SD entry"): its listed name is the path M23 takes. */
export function sdEntry(f: SdFile, refs: Refs) {
  return {
    type: "machinecode",
    typePath: ["machinecode", "gcode"],
    name: f.name,
    display: f.longName ?? f.name,
    path: f.name,
    origin: "sdcard",
    refs: { resource: sdResourceUrl(refs, f.name) },
    ...(f.size !== undefined ? { size: f.size } : {}),
    ...(f.modified !== undefined ? { date: Math.floor(f.modified / 1000) } : {}),
  };
}

export interface FileExtras {
  user: string | undefined;
  analysis: OctoPrintAnalysis | undefined;
  /** The file's print history; `prints` and `statistics` appear once it was printed (as in OctoPrint). */
  history?: FileStats;
}

/** OctoPrint's print history of a file (`prints`, `statistics` keyed by printer profile), or nothing. */
export function printHistory(stats: FileStats | undefined, profile: string) {
  if (!stats || stats.prints === 0) return {};
  const last = stats.last!;
  return {
    prints: {
      success: stats.successes,
      failure: stats.failures,
      last: { success: last.outcome === "done", date: last.endedAt === null ? null : last.endedAt / 1000, printTime: last.printTime },
    },
    statistics: {
      averagePrintTime: stats.averagePrintTime === null ? {} : { [profile]: stats.averagePrintTime },
      lastPrintTime: stats.lastPrintTime === null ? {} : { [profile]: stats.lastPrintTime },
    },
  };
}

export function fileEntry(f: StoredFile, refs: Refs, extras: FileExtras) {
  return {
    name: f.name,
    display: f.name,
    path: f.path,
    type: "machinecode",
    typePath: ["machinecode", "gcode"],
    origin: "local",
    // OctoPrint sends a SHA-1; clients only compare it. A file copied in by hand has its hash
    // once the analyser has read it.
    hash: f.sha256 ?? "",
    size: f.size,
    date: Math.floor(f.date / 1000),
    ...(extras.user ? { user: extras.user } : {}),
    refs: { resource: resourceUrl(refs, f.path), download: downloadUrl(refs, f.path) },
    ...(extras.analysis ? { gcodeAnalysis: extras.analysis } : {}),
    ...printHistory(extras.history, PROFILE_ID),
  };
}

type Entry = ReturnType<typeof fileEntry> | FolderEntry;
interface FolderEntry {
  name: string;
  display: string;
  path: string;
  type: "folder";
  typePath: ["folder"];
  origin: "local";
  refs: { resource: string };
  size: number;
  children?: Entry[];
}

/** A folder's entry: its size is the sum of the files anywhere inside it. */
export function folderEntry(path: string, files: StoredFile[], refs: Refs): FolderEntry {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const size = files.reduce((n, f) => (f.path.startsWith(`${path}/`) ? n + f.size : n), 0);
  return { name, display: name, path, type: "folder", typePath: ["folder"], origin: "local", refs: { resource: resourceUrl(refs, path) }, size };
}

/**
 * The tree under `folder` ("" = root): entries of that level, with children of sub-folders on the
 * first level only unless `recursive` (as OctoPrint does).
 */
export function tree(files: StoredFile[], folders: string[], folder: string, refs: Refs, extras: (f: StoredFile) => FileExtras, recursive: boolean, depth = 0): Entry[] {
  const prefix = folder ? `${folder}/` : "";
  const out: Entry[] = [];
  for (const sub of folders) {
    if (!sub.startsWith(prefix) || sub === folder || sub.slice(prefix.length).includes("/")) continue;
    const entry = folderEntry(sub, files, refs);
    if (recursive || depth === 0) entry.children = tree(files, folders, sub, refs, extras, recursive, depth + 1);
    out.push(entry);
  }
  for (const f of files) if (f.path.startsWith(prefix) && !f.path.slice(prefix.length).includes("/")) out.push(fileEntry(f, refs, extras(f)));
  return out;
}
