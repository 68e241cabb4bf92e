/**
 * What an update left for this start, read before the database is opened (so a rollback can put
 * the old database back first): a trial to run (this is the new version), a finished rollback to
 * report (this is the previous version again), or a rollback to finish.
 */
import { existsSync } from "node:fs";
import { restoreDatabase } from "./backup.ts";
import { clearHandover, isRunning, readHandover, selfRef, writeHandover, type Handover } from "./handover.ts";
import { watchdogAlive } from "./watchdog.ts";

export type StartupUpdate =
  | { kind: "none" }
  /** This is the new version: run the self-test; `watched` when a watchdog stands by to roll back. */
  | { kind: "trial"; handover: Handover; watched: boolean }
  /** This is the previous version, back after a rollback: tell the user why. */
  | { kind: "rolled-back"; handover: Handover }
  /** This is a new version that already failed (the machine went down mid-rollback): roll back now. */
  | { kind: "must-roll-back"; handover: Handover };

/** Reads (and where needed settles) the handover for a host of `version` starting on `dataDir`. */
export function takeStartupUpdate(dataDir: string, version: string, now = Date.now()): StartupUpdate {
  const handover = readHandover(dataDir);
  if (!handover) return { kind: "none" };
  const someoneElse = handover.process !== null && handover.process.pid !== process.pid && isRunning(handover.process);

  switch (handover.phase) {
    case "rolled-back":
      clearHandover(dataDir);
      return version === handover.from ? { kind: "rolled-back", handover } : { kind: "none" };
    case "confirmed":
      if (!watchdogAlive(dataDir)) clearHandover(dataDir);
      return { kind: "none" };
    case "failed":
      if (someoneElse) return { kind: "none" };
      if (version === handover.to) return { kind: "must-roll-back", handover };
      break;
    case "restarting":
    case "pending": {
      if (someoneElse) return { kind: "none" };
      if (version !== handover.to) break;
      const self = selfRef();
      const ours = handover.process?.pid === self.pid && handover.process.startTime === self.startTime;
      if (ours) return { kind: "trial", handover, watched: watchdogAlive(dataDir) };
      // Installed offline, or the machine restarted mid-trial: this start is the trial, unwatched.
      const adopted: Handover = {
        ...handover,
        phase: "restarting",
        process: self,
        startedAt: now,
        deadline: now + handover.selfTestSeconds * 1000 + 60_000,
        stage: "starting",
        reason: null,
      };
      writeHandover(dataDir, adopted);
      return { kind: "trial", handover: adopted, watched: false };
    }
  }
  // The previous version starts while an update is unsettled (its binary is already back, e.g.
  // after a crash mid-rollback): finish by restoring the database the new version may have migrated.
  if (version === handover.from) {
    if (handover.backup && existsSync(handover.backup)) restoreDatabase(handover.backup, handover.databaseFile);
    const reason = handover.reason ?? `the update to ${handover.to} was interrupted (${handover.stage})`;
    const done: Handover = { ...handover, phase: "rolled-back", reason };
    clearHandover(dataDir);
    return { kind: "rolled-back", handover: done };
  }
  clearHandover(dataDir);
  return { kind: "none" };
}
