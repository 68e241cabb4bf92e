/**
 * What of a data folder a backup holds, and what a restore replaces: the database, the stored
 * G-code (`files/`), installed plugins (`plugins/`), firmware-quirk overrides
 * (`firmware-quirks/`) and, when asked, timelapse videos (`timelapse/`). Never logs, caches,
 * temporary files, update downloads, the running/lock files, other backups or the folders an
 * earlier restore kept aside. Settings, users, API keys and printers live in the database.
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DATABASE_FILE } from "../db/database.ts";
import { VIDEO_EXTENSIONS } from "../timelapse/store.ts";
import type { Part } from "./manifest.ts";
import type { TarSource } from "./tar.ts";

/** Where each folder part lives in the data folder, and under which name in the archive (the same). */
export const FOLDER_PARTS: readonly Exclude<Part, "database">[] = ["files", "plugins", "firmware-quirks", "timelapse"];

/** The names a restore moves aside in the data folder for a part (the database has its WAL files too). */
export function partNames(part: Part): string[] {
  return part === "database" ? [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`] : [part];
}

/** True for an archive path that belongs to one of the parts (or is the manifest). */
export function partOf(path: string): Part | "manifest" | null {
  if (path === "manifest.json") return "manifest";
  if (path === DATABASE_FILE) return "database";
  const top = path.split("/")[0]!;
  return (FOLDER_PARTS as readonly string[]).includes(top) ? (top as Part) : null;
}

/**
 * Whether a path inside a part's folder is backed up: never an upload in progress (`.upload-*`),
 * a plugin's kept-aside old version (`plugins/.previous`, `.failed`), or timelapse frames and
 * anything there but finished videos and their thumbnails. Pure.
 */
export function isBackedUp(part: Exclude<Part, "database">, rel: string, isDir: boolean): boolean {
  const parts = rel.split("/");
  const name = parts[parts.length - 1]!;
  if (name.startsWith(".upload-")) return false;
  if (part === "plugins" && parts[0]!.startsWith(".")) return false;
  if (part === "timelapse") return !isDir && parts.length === 1 && [...VIDEO_EXTENSIONS, ".thumb.jpg"].some((x) => name.toLowerCase().endsWith(x));
  return true;
}

/**
 * The folder part's entries (the folder itself first), walking the disk without following links:
 * links and special files are left out. Returns them with their total size.
 */
export function collectPart(dataDir: string, part: Exclude<Part, "database">): { entries: TarSource[]; bytes: number; files: number } {
  const root = join(dataDir, part);
  const entries: TarSource[] = [];
  let bytes = 0;
  let files = 0;
  const top = lstatOrNull(root);
  if (!top?.isDirectory()) return { entries, bytes, files };
  entries.push({ path: part, type: "directory", mtimeMs: top.mtimeMs });
  const walk = (dir: string, rel: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      const abs = join(dir, d.name);
      if (d.isDirectory()) {
        if (!isBackedUp(part, childRel, true)) continue;
        const st = lstatOrNull(abs);
        if (!st) continue;
        entries.push({ path: `${part}/${childRel}`, type: "directory", mtimeMs: st.mtimeMs });
        walk(abs, childRel);
      } else if (d.isFile()) {
        if (!isBackedUp(part, childRel, false)) continue;
        const st = lstatOrNull(abs);
        if (!st) continue;
        entries.push({ path: `${part}/${childRel}`, type: "file", mtimeMs: st.mtimeMs, file: abs });
        bytes += st.size;
        files++;
      }
    }
  };
  walk(root, "");
  return { entries, bytes, files };
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
