/**
 * Safe mode: no third-party plugins. On with `--safe`, and on by itself after repeated crashes at
 * start — every start is recorded in the data folder before any plugin loads, and cleared once
 * the host has run for a while (or stops cleanly); so a plugin that takes the whole process down
 * (a native crash, `process.exit`, memory exhausted) can only do it a few times in a row.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";

export const START_RECORD_FILE = "plugin-starts.json";
/** Starts in a row that ended before the host was healthy, after which the next one is safe. */
export const CRASHES_BEFORE_SAFE_MODE = 3;
/** How long a start must last to count as healthy. */
export const HEALTHY_AFTER_MS = 60_000;

const RecordSchema = v.object({ unfinished: v.pipe(v.number(), v.integer(), v.minValue(0)) });

export interface SafeMode {
  safe: boolean;
  /** Why, in words (null when off). */
  reason: string | null;
  automatic: boolean;
}

/** Records this start and decides whether it runs in safe mode. */
export function beginStart(dataDir: string, forced: boolean): SafeMode {
  const unfinished = readRecord(dataDir);
  writeRecord(dataDir, unfinished + 1);
  if (forced) return { safe: true, reason: "Safe mode (--safe): third-party plugins are not loaded.", automatic: false };
  if (unfinished >= CRASHES_BEFORE_SAFE_MODE) {
    return {
      safe: true,
      reason: `Safe mode: the last ${unfinished} starts ended before Layerline had run for ${HEALTHY_AFTER_MS / 1000} s, so third-party plugins are not loaded this time. Disable or uninstall the plugin that crashes, then restart.`,
      automatic: true,
    };
  }
  return { safe: false, reason: null, automatic: false };
}

/** This start went well: the count starts again from zero. */
export function startWasHealthy(dataDir: string): void {
  writeRecord(dataDir, 0);
}

function readRecord(dataDir: string): number {
  try {
    const parsed = v.safeParse(RecordSchema, JSON.parse(readFileSync(join(dataDir, START_RECORD_FILE), "utf8")));
    return parsed.success ? parsed.output.unfinished : 0;
  } catch {
    return 0;
  }
}

/** Written durably: the record must survive the crash it is about. */
function writeRecord(dataDir: string, unfinished: number): void {
  const path = join(dataDir, START_RECORD_FILE);
  const temp = `${path}.tmp`;
  const fd = openSync(temp, "w", 0o644);
  try {
    writeSync(fd, JSON.stringify({ unfinished }));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}
