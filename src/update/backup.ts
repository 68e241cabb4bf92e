/**
 * Database safety for updates: migrations only go forward, so before a new version may migrate
 * the old one takes a consistent copy (`VACUUM INTO`, a snapshot even while in WAL mode), and a
 * rollback puts that copy back.
 */
import type { Database } from "bun:sqlite";
import { copyFileSync, fsyncSync, closeSync, openSync, renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { syncFolder } from "./install.ts";

/** Writes a consistent copy of `db` to `file` (replacing an older copy). */
export function backupDatabase(db: Database, file: string): void {
  rmSync(file, { force: true });
  db.query("VACUUM INTO ?").run(file);
  syncFile(file);
}

/**
 * Replaces the database file with `backup`. The newer version's WAL and shared-memory files are
 * removed first: replayed onto the restored file they would corrupt it.
 */
export function restoreDatabase(backup: string, databaseFile: string): void {
  rmSync(`${databaseFile}-wal`, { force: true });
  rmSync(`${databaseFile}-shm`, { force: true });
  const temp = `${databaseFile}.restoring`;
  copyFileSync(backup, temp);
  syncFile(temp);
  renameSync(temp, databaseFile);
  syncFolder(dirname(databaseFile));
}

function syncFile(file: string): void {
  const fd = openSync(file, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
