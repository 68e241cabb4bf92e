/**
 * `<data-dir>/update/running.json`: which process serves this data folder and where, so
 * `layerline update` can ask a running host to update itself (waiting for prints, restarting and
 * self-testing under its watchdog) instead of swapping the binary under it.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { isRunning, readJson, selfRef, updateDir, writeJsonAtomic } from "./handover.ts";

const RunningSchema = v.object({ pid: v.number(), startTime: v.string(), url: v.string(), version: v.string() });
export type RunningHost = v.InferOutput<typeof RunningSchema>;

const runningFile = (dataDir: string) => join(updateDir(dataDir), "running.json");

export function announceRunning(dataDir: string, url: string, version: string): void {
  writeJsonAtomic(runningFile(dataDir), { ...selfRef(), url, version });
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
