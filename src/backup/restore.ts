/**
 * Restoring a backup, in two steps so that nothing changes until everything was checked:
 *
 * 1. `stageRestore` reads the archive through the untrusting reader (src/archive/: no path
 *    escapes, no links, bounded sizes), checks the manifest, that the database schema is one this
 *    Layerline knows and that the database snapshot is sound, and unpacks it into
 *    `<data-dir>/restore/staged/` (renamed there only when complete).
 * 2. `applyStagedRestore`, at the next start before the database is opened (or straight away by
 *    `layerline restore` when no host runs), moves what the backup replaces into
 *    `<data-dir>/before-restore-<time>/` and the staged parts into place. A journal
 *    (`restore/apply.json`) lets a start interrupted half-way finish the same move.
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { ArchiveError, checkArchive, type Archive, type ArchiveEntry, type ArchiveLimits } from "../archive/archive.ts";
import { extractChecked } from "../archive/extract.ts";
import { openArchiveFile, type FileArchive } from "../archive/file.ts";
import { DATABASE_FILE } from "../db/database.ts";
import { readJson, writeJsonAtomic } from "../update/handover.ts";
import { asBackupError } from "./create.ts";
import { partNames, partOf } from "./contents.ts";
import { BackupManifestSchema, fileStamp, MANIFEST_ENTRY, PARTS, type BackupManifest } from "./manifest.ts";
import { BackupError } from "./problem.ts";

/**
 * How big a backup may be to restore. The archive is read from disk (never whole in memory), so
 * the bound is there against gzip bombs; free disk space is checked before anything is unpacked.
 */
export const BACKUP_LIMITS: ArchiveLimits = {
  maxTotalBytes: 256 * 1024 ** 3,
  maxFileBytes: 64 * 1024 ** 3,
  maxEntries: 500_000,
};

const SQLITE_HEADER = "SQLite format 3\0";
const MAX_MANIFEST_BYTES = 1024 * 1024;

export const restoreDir = (dataDir: string) => join(dataDir, "restore");
const stagedDir = (dataDir: string) => join(restoreDir(dataDir), "staged");
const journalFile = (dataDir: string) => join(restoreDir(dataDir), "apply.json");

export interface CheckedBackup {
  manifest: BackupManifest;
  entries: ArchiveEntry[];
  /** Bytes the files take once unpacked. */
  bytes: number;
}

const USE_ORIGINAL = "Use a .tar.gz made by Layerline's backup, unchanged and downloaded completely.";

/**
 * Opens the backup in `file` through the untrusting reader (unpacking gzip into `scratchDir`)
 * and checks it. Throws a {@link BackupError}; close the archive once done.
 */
export async function openBackup(file: string, knownSchema: number, scratchDir: string, limits: ArchiveLimits = BACKUP_LIMITS): Promise<CheckedBackup & { archive: FileArchive }> {
  let archive: FileArchive;
  try {
    archive = await openArchiveFile(file, limits, scratchDir);
  } catch (e) {
    throw archiveProblem(e, limits);
  }
  try {
    return { ...checkBackup(archive, knownSchema, limits), archive };
  } catch (e) {
    archive.close();
    throw e;
  }
}

function archiveProblem(e: unknown, limits: ArchiveLimits): unknown {
  if (!(e instanceof ArchiveError)) return asBackupError(e, "the backup was not read, nothing was changed");
  const large = e.code === "too_large" || e.code === "too_many_entries";
  const hint = large ? `A backup to restore may unpack to at most ${limits.maxTotalBytes} bytes and hold at most ${limits.maxEntries} entries.` : USE_ORIGINAL;
  return new BackupError(large ? "too_large" : "invalid_archive", `This is not a usable backup: ${e.message}`, hint);
}

/**
 * Everything about an opened backup that can be checked without writing: the archive is sound
 * and safe, it holds only a backup's parts, its manifest is valid, its schema is not newer than
 * `knownSchema`, and its database is an SQLite file. Throws a {@link BackupError}.
 */
export function checkBackup(archive: Archive, knownSchema: number, limits: ArchiveLimits = BACKUP_LIMITS): CheckedBackup {
  let entries: ArchiveEntry[];
  try {
    entries = checkArchive(archive, limits);
  } catch (e) {
    throw archiveProblem(e, limits);
  }
  if (archive.format !== "tar") throw new BackupError("invalid_archive", "This is a zip archive; a Layerline backup is a .tar.gz.", USE_ORIGINAL);
  for (const e of entries) {
    if (!partOf(e.path)) throw new BackupError("unexpected_entry", `The archive holds "${e.path}", which is no part of a Layerline backup.`, USE_ORIGINAL);
  }
  const manifest = readManifest(archive, entries);
  if (manifest.schema > knownSchema) {
    throw new BackupError(
      "newer_schema",
      `This backup was made by Layerline ${manifest.layerline}, whose database (schema ${manifest.schema}) is newer than this Layerline knows (schema ${knownSchema}).`,
      `Update Layerline to ${manifest.layerline} or later first, then restore the backup.`,
    );
  }
  const db = entries.find((e) => e.path === DATABASE_FILE && e.type === "file");
  if (!db) throw new BackupError("invalid_database", `The backup holds no database (${DATABASE_FILE}).`, USE_ORIGINAL);
  const first = archive.chunks(db.path, SQLITE_HEADER.length)[Symbol.iterator]().next();
  const head = first.done ? "" : new TextDecoder().decode(first.value);
  if (head !== SQLITE_HEADER) throw new BackupError("invalid_database", `The backup's ${DATABASE_FILE} is not an SQLite database.`, USE_ORIGINAL);
  return { manifest, entries, bytes: entries.reduce((sum, e) => sum + e.size, 0) };
}

function readManifest(archive: Archive, entries: readonly ArchiveEntry[]): BackupManifest {
  const entry = entries.find((e) => e.path === MANIFEST_ENTRY && e.type === "file");
  if (!entry) throw new BackupError("invalid_manifest", `The archive has no ${MANIFEST_ENTRY}: it is not a Layerline backup.`, USE_ORIGINAL);
  if (entry.size > MAX_MANIFEST_BYTES) throw new BackupError("invalid_manifest", `The backup's ${MANIFEST_ENTRY} is ${entry.size} bytes; a manifest is small.`, USE_ORIGINAL);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(archive.read(MANIFEST_ENTRY)));
  } catch (e) {
    throw new BackupError("invalid_manifest", `The backup's ${MANIFEST_ENTRY} is not valid JSON (${(e as Error).message}).`, USE_ORIGINAL);
  }
  const parsed = v.safeParse(BackupManifestSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new BackupError("invalid_manifest", `The backup's ${MANIFEST_ENTRY} is invalid: ${v.getDotPath(issue) ?? "manifest"}: ${issue.message}.`, USE_ORIGINAL);
  }
  return parsed.output;
}

/**
 * Checks the backup in `file` and unpacks it into `<data-dir>/restore/staged/` (replacing one
 * staged before), to be applied by {@link applyStagedRestore}. The data folder's own contents
 * are not touched; a refused backup leaves nothing behind.
 */
export async function stageRestore(dataDir: string, file: string, knownSchema: number): Promise<BackupManifest> {
  if (existsSync(journalFile(dataDir))) {
    throw new BackupError("busy", "A restore is being applied to this data folder.", "Start Layerline once so it finishes, then try again.");
  }
  mkdirSync(restoreDir(dataDir), { recursive: true });
  const { manifest, entries, archive, bytes } = await openBackup(file, knownSchema, restoreDir(dataDir));
  const incoming = join(restoreDir(dataDir), `incoming-${crypto.randomUUID().slice(0, 8)}`);
  try {
    const free = freeBytes(restoreDir(dataDir));
    if (bytes > free) {
      throw new BackupError("no_space", `The backup unpacks to ${bytes} bytes, but only ${free} are free on the data folder's disk; nothing was changed.`, "Free some space (old G-code files, timelapses, other backups) and try again.");
    }
    extractChecked(archive, entries, incoming);
    checkDatabase(join(incoming, DATABASE_FILE), manifest);
    rmSync(stagedDir(dataDir), { recursive: true, force: true });
    renameSync(incoming, stagedDir(dataDir));
  } catch (e) {
    rmSync(incoming, { recursive: true, force: true });
    throw asBackupError(e, "the backup was not unpacked, nothing was changed");
  } finally {
    archive.close();
  }
  return manifest;
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** The unpacked database opens, passes SQLite's quick check and has the manifest's schema. */
function checkDatabase(file: string, manifest: BackupManifest): void {
  let problem: string | null = null;
  try {
    const db = new Database(file, { readonly: true });
    try {
      const check = db.query("PRAGMA quick_check").all() as { quick_check: string }[];
      const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
      if (check[0]?.quick_check !== "ok") problem = `it is damaged (${check.map((c) => c.quick_check).join("; ").slice(0, 300)})`;
      else if (version !== manifest.schema) problem = `its schema is ${version}, the manifest says ${manifest.schema}`;
    } finally {
      db.close();
    }
  } catch (e) {
    problem = (e as Error).message;
  }
  if (problem) throw new BackupError("invalid_database", `The backup's database cannot be used: ${problem}.`, "Use another backup; this one was damaged or changed.");
}

/** Whether a checked restore waits for the next start. */
export function restorePending(dataDir: string): boolean {
  return existsSync(stagedDir(dataDir));
}

const JournalSchema = v.object({ aside: v.string(), phase: v.picklist(["aside", "in"]) });

/**
 * Applies a staged restore, if there is one: whatever the backup replaces goes into
 * `<data-dir>/before-restore-<time>/` (nothing is deleted), then the staged parts into place.
 * Call it before the database is opened. Returns the manifest and the folder kept aside, or null.
 */
export function applyStagedRestore(dataDir: string, now: number): { manifest: BackupManifest; aside: string } | null {
  const staged = stagedDir(dataDir);
  if (!existsSync(staged)) return null;
  const manifest = v.parse(BackupManifestSchema, JSON.parse(readFileSync(join(staged, MANIFEST_ENTRY), "utf8")));
  let journal = readJson(journalFile(dataDir), JournalSchema);
  if (!journal) {
    journal = { aside: asideFolder(dataDir, now), phase: "aside" };
    writeJsonAtomic(journalFile(dataDir), journal);
  }
  if (journal.phase === "aside") {
    mkdirSync(journal.aside, { recursive: true });
    // Parts the backup does not hold (timelapses left out) stay as they are.
    for (const part of PARTS.filter((p) => p !== "timelapse" || manifest.includes.includes(p))) {
      for (const name of partNames(part)) {
        if (existsSync(join(dataDir, name))) renameSync(join(dataDir, name), join(journal.aside, name));
      }
    }
    journal = { ...journal, phase: "in" };
    writeJsonAtomic(journalFile(dataDir), journal);
  }
  for (const name of readdirSync(staged)) {
    if (name === MANIFEST_ENTRY) continue;
    renameSync(join(staged, name), join(dataDir, name));
  }
  rmSync(staged, { recursive: true, force: true });
  rmSync(journalFile(dataDir), { force: true });
  return { manifest, aside: journal.aside };
}

/** `<data-dir>/before-restore-<YYYYmmdd-HHMMSS>` (with a number when taken). */
function asideFolder(dataDir: string, now: number): string {
  const stamp = fileStamp(now);
  let path = join(dataDir, `before-restore-${stamp}`);
  for (let i = 2; existsSync(path); i++) path = join(dataDir, `before-restore-${stamp}-${i}`);
  return path;
}
