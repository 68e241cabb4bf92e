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
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { ArchiveError, checkArchive, openArchive, type Archive, type ArchiveEntry, type ArchiveLimits } from "../archive/archive.ts";
import { extractChecked } from "../archive/extract.ts";
import { DATABASE_FILE } from "../db/database.ts";
import { readJson, writeJsonAtomic } from "../update/handover.ts";
import { asBackupError } from "./create.ts";
import { partNames, partOf } from "./contents.ts";
import { BackupManifestSchema, fileStamp, MANIFEST_ENTRY, PARTS, type BackupManifest } from "./manifest.ts";
import { BackupError } from "./problem.ts";

/**
 * How big a backup may be to restore: the reader holds the unpacked archive in memory, so this
 * bounds the memory a restore takes (and a gzip bomb's).
 */
export const BACKUP_LIMITS: ArchiveLimits = {
  maxTotalBytes: 2 * 1024 ** 3,
  maxFileBytes: 2 * 1024 ** 3,
  maxEntries: 200_000,
};

const SQLITE_HEADER = "SQLite format 3\0";

export const restoreDir = (dataDir: string) => join(dataDir, "restore");
const stagedDir = (dataDir: string) => join(restoreDir(dataDir), "staged");
const journalFile = (dataDir: string) => join(restoreDir(dataDir), "apply.json");

export interface CheckedBackup {
  manifest: BackupManifest;
  archive: Archive;
  entries: ArchiveEntry[];
}

/**
 * Everything about a backup's bytes that can be checked without writing: the archive is sound
 * and safe, it holds only a backup's parts, its manifest is valid, its schema is not newer than
 * `knownSchema`, and its database is an SQLite file. Throws a {@link BackupError}.
 */
export function checkBackup(bytes: Uint8Array, knownSchema: number, limits: ArchiveLimits = BACKUP_LIMITS): CheckedBackup {
  let archive: Archive;
  let entries: ArchiveEntry[];
  try {
    archive = openArchive(bytes, limits);
    entries = checkArchive(archive, limits);
  } catch (e) {
    if (!(e instanceof ArchiveError)) throw e;
    const hint = e.code === "too_large" ? `A backup to restore may unpack to at most ${limits.maxTotalBytes} bytes.` : "Use a .tar.gz made by Layerline's backup, downloaded completely.";
    throw new BackupError(e.code === "too_large" || e.code === "too_many_entries" ? "too_large" : "invalid_archive", `This is not a usable backup: ${e.message}`, hint);
  }
  if (archive.format !== "tar") throw new BackupError("invalid_archive", "This is a zip archive; a Layerline backup is a .tar.gz.", "Use a .tar.gz made by Layerline's backup.");
  for (const e of entries) {
    if (!partOf(e.path)) {
      throw new BackupError("unexpected_entry", `The archive holds "${e.path}", which is no part of a Layerline backup.`, "Use a .tar.gz made by Layerline's backup, unchanged.");
    }
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
  if (!db) throw new BackupError("invalid_database", `The backup holds no database (${DATABASE_FILE}).`, "Use a .tar.gz made by Layerline's backup.");
  const head = new TextDecoder().decode(archive.read(db.path).subarray(0, SQLITE_HEADER.length));
  if (head !== SQLITE_HEADER) throw new BackupError("invalid_database", `The backup's ${DATABASE_FILE} is not an SQLite database.`, "Use a .tar.gz made by Layerline's backup, unchanged.");
  return { manifest, archive, entries };
}

function readManifest(archive: Archive, entries: readonly ArchiveEntry[]): BackupManifest {
  if (!entries.some((e) => e.path === MANIFEST_ENTRY && e.type === "file")) {
    throw new BackupError("invalid_manifest", `The archive has no ${MANIFEST_ENTRY}: it is not a Layerline backup.`, "Use a .tar.gz made by Layerline's backup.");
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(archive.read(MANIFEST_ENTRY)));
  } catch (e) {
    throw new BackupError("invalid_manifest", `The backup's ${MANIFEST_ENTRY} is not valid JSON (${(e as Error).message}).`, "Use a .tar.gz made by Layerline's backup, unchanged.");
  }
  const parsed = v.safeParse(BackupManifestSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new BackupError("invalid_manifest", `The backup's ${MANIFEST_ENTRY} is invalid: ${v.getDotPath(issue) ?? "manifest"}: ${issue.message}.`, "Use a .tar.gz made by Layerline's backup, unchanged.");
  }
  return parsed.output;
}

/**
 * Checks a backup and unpacks it into `<data-dir>/restore/staged/` (replacing one staged before),
 * to be applied by {@link applyStagedRestore}. The data folder's own contents are not touched.
 */
export function stageRestore(dataDir: string, bytes: Uint8Array, knownSchema: number): BackupManifest {
  const { manifest, archive, entries } = checkBackup(bytes, knownSchema);
  if (existsSync(journalFile(dataDir))) {
    throw new BackupError("busy", "A restore is being applied to this data folder.", "Start Layerline once so it finishes, then try again.");
  }
  const incoming = join(restoreDir(dataDir), `incoming-${crypto.randomUUID().slice(0, 8)}`);
  try {
    mkdirSync(restoreDir(dataDir), { recursive: true });
    extractChecked(archive, entries, incoming);
    checkDatabase(join(incoming, DATABASE_FILE), manifest);
    rmSync(stagedDir(dataDir), { recursive: true, force: true });
    renameSync(incoming, stagedDir(dataDir));
  } catch (e) {
    rmSync(incoming, { recursive: true, force: true });
    throw asBackupError(e, "the backup was not unpacked, nothing was changed");
  }
  return manifest;
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
