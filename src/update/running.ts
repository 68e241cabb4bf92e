/**
 * `<data-dir>/update/running.json`: which process serves this data folder, where, and its local
 * token, so `layerline update` can ask a running host to update itself (waiting for prints,
 * restarting and self-testing under its watchdog) instead of swapping the binary under it.
 * The file is readable only by the user the host runs as (0600); the host takes the token from
 * loopback only, and each start makes a new one.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { isRunning, readJson, selfRef, updateDir, writeJsonAtomic } from "./handover.ts";

const RunningSchema = v.object({ pid: v.number(), startTime: v.string(), url: v.string(), version: v.string(), token: v.optional(v.string()) });
export type RunningHost = v.InferOutput<typeof RunningSchema>;

export const runningFile = (dataDir: string) => join(updateDir(dataDir), "running.json");

export function announceRunning(dataDir: string, url: string, version: string, token: string): void {
  writeJsonAtomic(runningFile(dataDir), { ...selfRef(), url, version, token });
}

/** Removes the announcement if it is this process's. */
export function withdrawRunning(dataDir: string): void {
  const current = readJson(runningFile(dataDir), RunningSchema);
  if (current?.pid === process.pid) rmSync(runningFile(dataDir), { force: true });
}

/** The host serving `dataDir` right now, or null. */
export function findRunning(dataDir: string): RunningHost | null {
  const running = readJson(runningFile(dataDir), RunningSchema);
  return running && isRunning(running) ? running : null;
}
