/**
 * Making a backup of a data folder: a consistent snapshot of the database (`VACUUM INTO`, safe
 * while a host runs on the folder: SQLite's own locking gives it one moment's state), the folder
 * parts (see contents.ts) streamed from disk, and the manifest first — gzipped into
 * `<output>.partial`, renamed to `<output>` only when complete. A failure (a full disk, say)
 * removes the partial file and the snapshot.
 */
import { Database } from "bun:sqlite";
import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { DATABASE_FILE, schemaVersion } from "../db/database.ts";
import { diskError, FileError } from "../files/storage.ts";
import { backupDatabase } from "../update/backup.ts";
import { collectPart, FOLDER_PARTS } from "./contents.ts";
import { BackupManifestSchema, MANIFEST_ENTRY, type BackupManifest, type Part } from "./manifest.ts";
import { BackupError } from "./problem.ts";
import { writeTarGz, type TarSource } from "./tar.ts";

export interface CreateBackupOptions {
  dataDir: string;
  /** The .tar.gz to write (replaced if it exists). */
  output: string;
  withTimelapses: boolean;
  /** This Layerline's version, for the manifest. */
  version: string;
  now: number;
  /** The running host's own connection; without one the database file is opened here. */
  db?: Database;
}

export interface CreatedBackup {
  file: string;
  bytes: number;
  manifest: BackupManifest;
}

export async function createBackup(options: CreateBackupOptions): Promise<CreatedBackup> {
  const { dataDir, output } = options;
  const snapshot = `${output}.database.partial`;
  const partial = `${output}.partial`;
  try {
    snapshotDatabase(options, snapshot);
    const schema = readSchema(snapshot);
    const includes: Part[] = ["database"];
    const sizes: Partial<Record<Part, number>> = { database: statSync(snapshot).size };
    const body: TarSource[] = [{ path: DATABASE_FILE, type: "file", mtimeMs: options.now, file: snapshot }];
    let files = 1;
    for (const part of FOLDER_PARTS) {
      if (part === "timelapse" && !options.withTimelapses) continue;
      const found = collectPart(dataDir, part);
      if (found.entries.length === 0) continue;
      includes.push(part);
      sizes[part] = found.bytes;
      files += found.files;
      body.push(...found.entries);
    }
    const manifest = v.parse(BackupManifestSchema, {
      format: 1,
      layerline: options.version,
      schema,
      createdAt: new Date(options.now).toISOString(),
      includes,
      sizes,
      entries: files,
    });
    const manifestBytes = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
    const bytes = await writeTarGz(partial, [{ path: MANIFEST_ENTRY, type: "file", mtimeMs: options.now, bytes: manifestBytes }, ...body]);
    renameSync(partial, output);
    return { file: output, bytes, manifest };
  } catch (e) {
    rmSync(partial, { force: true });
    throw asBackupError(e, "the backup was not written (its unfinished file was removed)");
  } finally {
    rmSync(snapshot, { force: true });
  }
}

function snapshotDatabase(options: CreateBackupOptions, file: string): void {
  if (options.db) return backupDatabase(options.db, file);
  const path = join(options.dataDir, DATABASE_FILE);
  if (!existsSync(path)) {
    throw new BackupError("no_database", `There is no Layerline database (${DATABASE_FILE}) in ${options.dataDir}.`, "Give the data folder Layerline uses with --data-dir.");
  }
  // A connection of our own: a host running on the folder keeps writing, the snapshot is one moment's.
  const db = new Database(path, { readwrite: true, create: false });
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    backupDatabase(db, file);
  } finally {
    db.close();
  }
}

function readSchema(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return schemaVersion(db);
  } finally {
    db.close();
  }
}

/** A full or read-only disk in words (as the files area says it); other errors unchanged. */
export function asBackupError(e: unknown, what: string): unknown {
  if (e instanceof BackupError) return e;
  // SQLite says so in its own words (VACUUM INTO onto a full disk).
  if ((e as { code?: unknown } | null)?.code === "SQLITE_FULL") return new BackupError("no_space", `The disk is full: ${what}.`, "Free some space (old G-code files, timelapses, other backups) and try again.");
  const mapped = diskError(e, what);
  if (mapped instanceof FileError && (mapped.code === "no_space" || mapped.code === "read_only")) return new BackupError(mapped.code, mapped.message, mapped.hint);
  return e;
}
