/**
 * The old version's half of an update, once the new binary is downloaded, verified and no print
 * is running: stop, back up the database, swap the binary (keeping `<name>.previous`), write the
 * handover, start the watchdog from the previous binary, and re-execute into the new version.
 */
import type { Database } from "bun:sqlite";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { backupDatabase } from "./backup.ts";
import { BACKUP_PREFIX, backupFile, selfRef, updateDir, updateHandover, writeHandover, type Handover } from "./handover.ts";
import { previousPath, replaceKeepingPrevious } from "./install.ts";
import { EXIT_RESTART, type ProcessControl } from "./process-control.ts";
import { rollBack } from "./rollback.ts";
import { NOT_STARTED, spawnWatchdog } from "./watchdog.ts";

export interface RestartPlan {
  dataDir: string;
  db: Database;
  databaseFile: string;
  /** The verified new binary, in the same folder as control.execPath. */
  newBinary: string;
  from: string;
  to: string;
  printers: { id: string; name: string }[];
  selfTestSeconds: number;
  control: ProcessControl & { execPath: string };
  /** Stops the HTTP server and the printers (the database stays open for the backup). */
  stopServices(): Promise<void>;
  log(line: string): void;
}

/** Extra time on top of the self-test for the new version to start at all. */
const START_ALLOWANCE_MS = 60_000;

/** Never returns: the process becomes the new version, or exits for its supervisor. */
export async function installAndRestart(plan: RestartPlan): Promise<never> {
  const { control, dataDir } = plan;
  const execPath = control.execPath;
  await plan.stopServices();
  const base: Handover = {
    phase: "restarting",
    from: plan.from,
    to: plan.to,
    process: selfRef(),
    execPath,
    databaseFile: plan.databaseFile,
    backup: null,
    printers: plan.printers,
    argv: control.argv,
    cwd: control.cwd,
    selfTestSeconds: plan.selfTestSeconds,
    startedAt: Date.now(),
    deadline: Date.now() + plan.selfTestSeconds * 1000 + START_ALLOWANCE_MS,
    stage: NOT_STARTED,
    reason: null,
  };
  try {
    mkdirSync(updateDir(dataDir), { recursive: true });
    // Only the newest backup is kept: older ones belong to updates that are long settled.
    for (const old of readdirSync(updateDir(dataDir))) if (old.startsWith(BACKUP_PREFIX)) rmSync(join(updateDir(dataDir), old), { force: true });
    const backup = backupFile(dataDir, plan.from);
    backupDatabase(plan.db, backup);
    base.backup = backup;
  } catch (e) {
    plan.db.close();
    return comeBack(plan, `the database could not be backed up (${(e as Error).message})`);
  }
  plan.db.close();
  try {
    replaceKeepingPrevious(plan.newBinary, execPath);
  } catch (e) {
    return comeBack(plan, (e as Error).message);
  }
  writeHandover(dataDir, base);
  try {
    await spawnWatchdog(previousPath(execPath), dataDir);
  } catch (e) {
    rollBack(dataDir, `the update could not start its watchdog (${(e as Error).message})`);
    return reexecOrExit(plan);
  }
  plan.log(`Restarting into Layerline ${plan.to} (the previous version is kept as ${previousPath(execPath)})`);
  const error = control.reexec();
  // Still here: the kernel refused the new binary. The watchdog rolls back once we are gone.
  updateHandover(dataDir, { phase: "failed", reason: `Layerline ${plan.to} could not be started (${error})` });
  plan.log(`Could not start Layerline ${plan.to} (${error}); exiting so the previous version can be restored`);
  return control.exit(EXIT_RESTART);
}

/** Nothing was swapped: record why the update failed and start this same version again. */
function comeBack(plan: RestartPlan, reason: string): never {
  rmSync(plan.newBinary, { force: true });
  writeHandover(plan.dataDir, {
    phase: "rolled-back",
    from: plan.from,
    to: plan.to,
    process: null,
    execPath: plan.control.execPath,
    databaseFile: plan.databaseFile,
    backup: null,
    printers: [],
    argv: plan.control.argv,
    cwd: plan.control.cwd,
    selfTestSeconds: plan.selfTestSeconds,
    startedAt: Date.now(),
    deadline: Date.now(),
    stage: NOT_STARTED,
    reason,
  });
  return reexecOrExit(plan);
}

function reexecOrExit(plan: RestartPlan): never {
  const error = plan.control.reexec();
  plan.log(`Could not restart Layerline (${error}); exiting with code ${EXIT_RESTART} for the supervisor`);
  return plan.control.exit(EXIT_RESTART);
}
