/**
 * Undoing an update: the database backup goes back first, then the previous binary (so a crash in
 * between leaves the new binary with an old database, which it simply migrates again), then the
 * handover records why. Used by the watchdog and, when no watchdog is alive, by the new version.
 */
import { existsSync } from "node:fs";
import { restoreDatabase } from "./backup.ts";
import { readHandover, writeHandover, type Handover } from "./handover.ts";
import { restorePrevious } from "./install.ts";

/** Rolls back the update described by the handover in `dataDir`; returns the final record. Idempotent. */
export function rollBack(dataDir: string, reason: string): Handover | null {
  const handover = readHandover(dataDir);
  if (!handover || handover.phase === "rolled-back" || handover.phase === "confirmed") return handover;
  const notes: string[] = [];
  if (handover.backup && existsSync(handover.backup)) restoreDatabase(handover.backup, handover.databaseFile);
  else if (handover.backup) notes.push(`the database backup ${handover.backup} is missing, so the database was left as the new version wrote it`);
  if (!restorePrevious(handover.execPath)) notes.push(`${handover.execPath}.previous is missing, so the binary could not be put back — reinstall Layerline ${handover.from}`);
  const next: Handover = {
    ...handover,
    phase: "rolled-back",
    reason: notes.length ? `${reason}; ${notes.join("; ")}` : reason,
  };
  writeHandover(dataDir, next);
  return next;
}
