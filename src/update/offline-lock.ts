/**
 * `layerline update` with no host running holds the data folder's lock (src/host-lock.ts), as a
 * host does, from before it fetches the release until the binary is swapped and the handover
 * written: a host started meanwhile is refused (and says an update is installing), and no binary
 * is swapped, nor the database backed up, under a host that started during the download. It
 * announces itself in `<data-dir>/update/updating.json` so a refused host can say why.
 *
 * Nothing it starts keeps the lock: the descriptor is close-on-exec (the new binary's `--version`
 * check), and it is released before the command ends (the next start of the host or the service
 * takes it afresh).
 */
import { existsSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { lockDataDir, lockHolder } from "../host-lock.ts";
import { isRunning, readJson, selfRef, updateDir, writeJsonAtomic } from "./handover.ts";
import { UpdateError } from "./problem.ts";
import { findRunning, type RunningHost } from "./running.ts";

const UpdatingSchema = v.object({ pid: v.number(), startTime: v.string() });

export const updatingFile = (dataDir: string) => join(updateDir(dataDir), "updating.json");

/** How long an update waits for a host holding the lock to say where it answers (it may be starting). */
export const ANNOUNCE_WAIT_MS = 5000;

/** The process of an offline `layerline update` holding the data folder (`holder`, when it is known), or null. */
export function updatingProcess(dataDir: string, holder: number | null): number | null {
  const u = readJson(updatingFile(dataDir), UpdatingSchema);
  return u && isRunning(u) && (holder === null || u.pid === holder) ? u.pid : null;
}

/** The offline update's hold on the data folder. */
export interface UpdateHold {
  release(): void;
}

/**
 * Takes the data folder for an offline update, or names the host to ask instead: one announced
 * in running.json (a Layerline from before the lock announces itself only there), or one that
 * holds the lock and announces itself within `waitMs` (it was starting). Refuses, like a second
 * host, when the holder is another update or a host that cannot be asked over its API.
 */
export async function holdForUpdate(dataDir: string, waitMs = ANNOUNCE_WAIT_MS): Promise<{ hold: UpdateHold } | { running: RunningHost }> {
  const deadline = Date.now() + waitMs;
  // A data folder that is not there yet is made for the lock; an update that ends without using
  // it (refused, interrupted) leaves none behind.
  const existed = existsSync(dataDir);
  for (;;) {
    const lock = lockDataDir(dataDir);
    if (lock) {
      const old = findRunning(dataDir);
      if (old) {
        lock.release();
        return { running: old };
      }
      const updateFolder = existsSync(updateDir(dataDir));
      writeJsonAtomic(updatingFile(dataDir), selfRef());
      return {
        hold: {
          release: () => {
            if (updatingProcess(dataDir, null) === process.pid) rmSync(updatingFile(dataDir), { force: true });
            if (!updateFolder) removeIfEmpty(updateDir(dataDir));
            if (existed) return lock.release();
            lock.discard();
            removeIfEmpty(dataDir);
          },
        },
      };
    }
    const holder = lockHolder(dataDir);
    const updating = updatingProcess(dataDir, holder);
    if (updating !== null) {
      throw new UpdateError("in_progress", `Layerline in the data folder ${dataDir} is being updated already (layerline update, process ${updating}).`, "Wait for that update to end; the next start of Layerline runs the new version.");
    }
    const running = findRunning(dataDir);
    if (running && (holder === null || running.pid === holder)) return { running };
    if (Date.now() >= deadline) {
      throw new UpdateError(
        "in_progress",
        `Layerline is already running with the data folder ${dataDir} (${holder === null ? "another process" : `process ${holder}`}) and does not say how to reach it, so it cannot be asked to update, and its binary is not swapped under it.`,
        "Run this again once it has started (it then does the update), or stop it first (`sudo systemctl stop layerline` if it runs as the service).",
      );
    }
    await Bun.sleep(100);
  }
}

function removeIfEmpty(folder: string): void {
  try {
    rmdirSync(folder);
  } catch {
    // not empty (the update's handover, a host's files), or gone
  }
}
