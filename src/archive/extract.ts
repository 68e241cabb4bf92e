/**
 * Unpacking a checked archive into a folder: nothing is written unless every entry passed
 * `checkArchive`, and the target must be a new folder, so a failed unpack removes it whole.
 */
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { checkArchive, commonRoot, openArchive, type Archive, type ArchiveEntry, type ArchiveLimits, DEFAULT_LIMITS } from "./archive.ts";

/**
 * Extracts `bytes` into `target` (which must not exist). With `stripRoot`, a single top folder
 * shared by all entries (e.g. `repo-1.2.0/`) is removed. Returns the files written (relative paths).
 */
export function extractArchive(bytes: Uint8Array, target: string, options: { limits?: ArchiveLimits; stripRoot?: boolean } = {}): string[] {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const archive = openArchive(bytes, limits);
  const entries = checkArchive(archive, limits);
  return extractChecked(archive, entries, target, options.stripRoot ? commonRoot(entries) : "");
}

/**
 * Writes entries `checkArchive` returned for `archive` into `target` (which must not exist),
 * without `root/` in front — for a caller that looked inside the archive first (a backup's
 * manifest) and should not unpack it twice.
 */
export function extractChecked(archive: Archive, entries: readonly ArchiveEntry[], target: string, root = ""): string[] {
  if (existsSync(target)) throw new Error(`${target} already exists`);
  mkdirSync(target, { recursive: true });
  const written: string[] = [];
  try {
    for (const e of entries) {
      const rel = root ? e.path.slice(root.length + 1) : e.path;
      if (rel === "") continue;
      const abs = join(target, rel);
      if (e.type === "directory") mkdirSync(abs, { recursive: true });
      else {
        mkdirSync(dirname(abs), { recursive: true });
        // In pieces: a large file of an archive read from disk never sits in memory whole.
        const fd = openSync(abs, "w", 0o644);
        try {
          for (const chunk of archive.chunks(e.path)) for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done);
        } finally {
          closeSync(fd);
        }
        written.push(rel);
      }
    }
  } catch (e) {
    rmSync(target, { recursive: true, force: true });
    throw e;
  }
  return written;
}
