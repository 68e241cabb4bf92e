/**
 * Files in OctoPrint's shapes (octoprint-compat.md §2.4): file and folder entries built from
 * FileStorage data. The G-code analysis is plugged in through `AnalysisLookup`; like OctoPrint,
 * an entry has `gcodeAnalysis` only once an analysis exists.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import type { StoredFile } from "../../../files/storage.ts";

const Area = v.object({ minX: v.number(), maxX: v.number(), minY: v.number(), maxY: v.number(), minZ: v.number(), maxZ: v.number() });
const Dimensions = v.object({ width: v.number(), depth: v.number(), height: v.number() });

/** The analysis fields OctoPrint clients read (estimated time, filament per tool, extents). */
export const GcodeAnalysisSchema = v.object({
  estimatedPrintTime: v.nullable(v.number()),
  filament: v.record(v.pipe(v.string(), v.regex(/^tool\d+$/)), v.object({ length: v.number(), volume: v.number() })),
  dimensions: v.optional(Dimensions),
  printingArea: v.optional(Area),
  travelArea: v.optional(Area),
  travelDimensions: v.optional(Dimensions),
});
export type GcodeAnalysis = v.InferOutput<typeof GcodeAnalysisSchema>;

/** Where analysis results come from (the analysis area plugs in here); undefined = not analysed yet. */
export type AnalysisLookup = (path: string) => GcodeAnalysis | undefined;

/** Absolute URL roots for `refs`: the API prefix of this printer, and the download root. */
export interface Refs {
  api: string;
  downloads: string;
}

const encodePath = (path: string) => path.split("/").map(encodeURIComponent).join("/");
export const resourceUrl = (refs: Refs, path: string) => `${refs.api}/api/files/local/${encodePath(path)}`;
export const downloadUrl = (refs: Refs, path: string) => `${refs.downloads}/downloads/files/local/${encodePath(path)}`;

export interface FileExtras {
  hash: string;
  user: string | undefined;
  analysis: GcodeAnalysis | undefined;
}

export function fileEntry(f: StoredFile, refs: Refs, extras: FileExtras) {
  return {
    name: f.name,
    display: f.name,
    path: f.path,
    type: "machinecode",
    typePath: ["machinecode", "gcode"],
    origin: "local",
    hash: extras.hash,
    size: f.size,
    date: Math.floor(f.date / 1000),
    ...(extras.user ? { user: extras.user } : {}),
    refs: { resource: resourceUrl(refs, f.path), download: downloadUrl(refs, f.path) },
    ...(extras.analysis ? { gcodeAnalysis: extras.analysis } : {}),
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

/**
 * The tree under `folder` ("" = root): entries of that level, with children of sub-folders on the
 * first level only unless `recursive` (as OctoPrint does).
 */
export function tree(files: StoredFile[], folders: string[], folder: string, refs: Refs, extras: (f: StoredFile) => FileExtras, recursive: boolean, depth = 0): Entry[] {
  const prefix = folder ? `${folder}/` : "";
  const out: Entry[] = [];
  for (const sub of folders) {
    if (!sub.startsWith(prefix) || sub === folder || sub.slice(prefix.length).includes("/")) continue;
    const inside = files.filter((f) => f.path.startsWith(`${sub}/`));
    const entry: FolderEntry = {
      name: sub.slice(prefix.length),
      display: sub.slice(prefix.length),
      path: sub,
      type: "folder",
      typePath: ["folder"],
      origin: "local",
      refs: { resource: resourceUrl(refs, sub) },
      size: inside.reduce((n, f) => n + f.size, 0),
    };
    if (recursive || depth === 0) entry.children = tree(files, folders, sub, refs, extras, recursive, depth + 1);
    out.push(entry);
  }
  for (const f of files) if (f.path.startsWith(prefix) && !f.path.slice(prefix.length).includes("/")) out.push(fileEntry(f, refs, extras(f)));
  return out;
}

/** Every folder under the files root (relative paths), including empty ones. */
export function listFolders(root: string, rel = ""): string[] {
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(join(root, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith(".")) continue;
    const path = rel ? `${rel}/${e.name}` : e.name;
    out.push(path, ...listFolders(root, path));
  }
  return out.sort();
}

/** SHA-1 of stored files, computed once per (path, size, date). */
export class HashCache {
  private readonly cache = new Map<string, string>();

  async of(f: StoredFile, absolute: string): Promise<string> {
    const key = `${f.path}\0${f.size}\0${f.date}`;
    const known = this.cache.get(key);
    if (known) return known;
    const hasher = new Bun.CryptoHasher("sha1");
    const reader = Bun.file(absolute).stream().getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) hasher.update(r.value);
    const hash = hasher.digest("hex");
    if (this.cache.size > 5000) this.cache.clear();
    this.cache.set(key, hash);
    return hash;
  }
}
