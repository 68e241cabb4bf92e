/**
 * Safe mode: no third-party plugins. On with `--safe`, and on by itself after repeated crashes at
 * start — every start is recorded in the data folder before any plugin loads, and cleared once
 * the host has run for a while (or stops cleanly); so a plugin that takes the whole process down
 * (a native crash, a signal, memory exhausted) can only do it a few times in a row. Until then
 * the record also notes which plugin was loading and which faulted last, so the reason safe mode
 * gives names the plugins those crashes most likely came from.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";

export const START_RECORD_FILE = "plugin-starts.json";
/** Starts in a row that ended before the host was healthy, after which the next one is safe. */
export const CRASHES_BEFORE_SAFE_MODE = 3;
/** How long a start must last to count as healthy. */
export const HEALTHY_AFTER_MS = 60_000;

const SuspectSchema = v.object({ plugin: v.string(), loading: v.boolean() });
type Suspect = v.InferOutput<typeof SuspectSchema>;
/** Suspects kept from earlier unfinished starts. */
const SUSPECTS_KEEP = 5;

const RecordSchema = v.object({
  unfinished: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** The plugin whose module or setup the main thread was loading when this start last noted. */
  loading: v.optional(v.nullable(v.string()), null),
  /** The plugin that faulted last in this start. */
  faulted: v.optional(v.nullable(v.string()), null),
  /** The plugins earlier starts of this run of unfinished ones stopped on, oldest first. */
  suspects: v.optional(v.array(SuspectSchema), []),
});
type StartRecord = v.InferOutput<typeof RecordSchema>;

export interface SafeMode {
  safe: boolean;
  /** Why, in words (null when off). */
  reason: string | null;
  automatic: boolean;
}

/** Records this start and decides whether it runs in safe mode. */
export function beginStart(dataDir: string, forced: boolean): SafeMode {
  const previous = readRecord(dataDir);
  const unfinished = previous.unfinished;
  // The start before this one did not finish: the plugin it was loading, else the last to fault, is a suspect.
  const culprit = unfinished === 0 ? null : (previous.loading ?? previous.faulted);
  const stoppedOn: Suspect | null = culprit ? { plugin: culprit, loading: culprit === previous.loading } : null;
  const suspects = stoppedOn ? [...previous.suspects.filter((s) => s.plugin !== stoppedOn.plugin), stoppedOn].slice(-SUSPECTS_KEEP) : previous.suspects;
  writeRecord(dataDir, { unfinished: unfinished + 1, loading: null, faulted: null, suspects }, true);
  if (forced) return { safe: true, reason: "Safe mode (--safe): third-party plugins are not loaded.", automatic: false };
  if (unfinished >= CRASHES_BEFORE_SAFE_MODE) {
    return {
      safe: true,
      reason: `Safe mode: the last ${unfinished} starts ended before Layerline had run for ${HEALTHY_AFTER_MS / 1000} s, so third-party plugins are not loaded this time. ${blame(suspects)}`,
      automatic: true,
    };
  }
  return { safe: false, reason: null, automatic: false };
}

/** What to do about the crashes, naming the plugins they most likely came from. */
function blame(suspects: Suspect[]): string {
  if (suspects.length === 0) return "Disable or uninstall the plugin that crashes, then restart.";
  const when = suspects.map((s) => (s.loading ? `while the plugin ${s.plugin} was loading` : `after the plugin ${s.plugin} faulted`));
  return `Layerline stopped ${when.join(", and ")}. Disable or uninstall ${suspects.length === 1 ? "it" : "them"}, then restart.`;
}

/**
 * Notes the plugin loading now (null once done) or the one that just faulted, for the next start
 * to name should this one crash. Not fsynced: a crashed process leaves its writes to the system;
 * only a power loss drops them, and that is no plugin's doing.
 */
export function noteStart(dataDir: string, change: { loading?: string | null; faulted?: string }): void {
  writeRecord(dataDir, { ...readRecord(dataDir), ...change }, false);
}

/** The record after a healthy start (or before the first). */
const FRESH: StartRecord = { unfinished: 0, loading: null, faulted: null, suspects: [] };

/** This start went well: the count starts again from zero. */
export function startWasHealthy(dataDir: string): void {
  writeRecord(dataDir, FRESH, true);
}

function readRecord(dataDir: string): StartRecord {
  try {
    const parsed = v.safeParse(RecordSchema, JSON.parse(readFileSync(join(dataDir, START_RECORD_FILE), "utf8")));
    if (parsed.success) return parsed.output;
  } catch {
    // No record yet, or an unreadable one: as after a healthy start.
  }
  return FRESH;
}

/** Replaced in one step; `durable`: fsynced too, as the count must survive the crash it is about. */
function writeRecord(dataDir: string, record: StartRecord, durable: boolean): void {
  const path = join(dataDir, START_RECORD_FILE);
  const temp = `${path}.tmp`;
  const fd = openSync(temp, "w", 0o644);
  try {
    writeSync(fd, JSON.stringify(record));
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}
