/**
 * Finding plugins on disk: each folder under a plugins folder is one plugin (hidden folders are
 * the installer's staging and previous copies). Reads manifests and files without running
 * anything, and fingerprints a folder so a change can be noticed.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, posix, relative } from "node:path";
import type { SourceFiles } from "./compat.ts";
import { readManifestText, type ManifestResult } from "./manifest.ts";

export type Origin = "bundled" | "installed";

export interface Found {
  dir: string;
  origin: Origin;
  manifest: ManifestResult;
}

/** The plugin folders directly under `root` (none when it does not exist). */
export function findPluginDirs(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith("."))
    .map((d) => join(root, d.name))
    .sort();
}

/** Reads one folder's manifest. */
export function readPlugin(dir: string, origin: Origin): Found {
  const text = readText(join(dir, "package.json"));
  return { dir, origin, manifest: text === null ? { ok: false, reason: "the folder has no package.json" } : readManifestText(text) };
}

/** A plugin folder's files for the static check; nothing outside the folder, no links followed. */
export function folderFiles(dir: string): SourceFiles {
  return {
    read(path) {
      const rel = posix.normalize(path);
      if (rel === ".." || rel.startsWith("../") || rel.startsWith("/")) return null;
      return readText(join(dir, rel));
    },
  };
}

function readText(path: string): string | null {
  try {
    if (!lstatSync(path).isFile()) return null;
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** A cheap summary of a folder's files (names, sizes, change times): it changes when any file does. */
export function fingerprint(dir: string): string {
  const parts: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 8) return;
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const abs = join(d, e.name);
      if (e.isDirectory()) walk(abs, depth + 1);
      else if (e.isFile()) {
        try {
          const st = lstatSync(abs);
          parts.push(`${relative(dir, abs)}:${st.size}:${st.mtimeMs}`);
        } catch {
          // vanished while walking: the next look sees it
        }
      }
    }
  };
  walk(dir, 0);
  return Bun.hash(parts.join("\n")).toString(36);
}
