/**
 * The handover record (`<data-dir>/update/handover.json`): what the old version tells the new one
 * and the watchdog across a restart — which versions, which binary and database, which printers
 * were connected, and how the trial of the new version is going. Written atomically (temp file +
 * rename) so a reader never sees half of it; read through a schema so a damaged file is ignored.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { VersionSchema } from "./manifest.ts";

export const HandoverPhaseSchema = v.picklist([
  /** The old version swapped the binary and is re-executing; the new one has not confirmed yet. */
  "restarting",
  /** Installed by `layerline update` with no host running: the next start runs the trial. */
  "pending",
  /** The new version passed its self-test. */
  "confirmed",
  /** The new version failed its self-test (reason says why); a rollback follows. */
  "failed",
  /** The previous binary and database are back (reason says why). */
  "rolled-back",
]);
export type HandoverPhase = v.InferOutput<typeof HandoverPhaseSchema>;

const ProcessRefSchema = v.object({ pid: v.number(), startTime: v.string() });
export type ProcessRef = v.InferOutput<typeof ProcessRefSchema>;

export const HandoverSchema = v.object({
  phase: HandoverPhaseSchema,
  from: VersionSchema,
  to: VersionSchema,
  /** The process that runs the new version (the same pid after exec); null until a pending trial starts. */
  process: v.nullable(ProcessRefSchema),
  execPath: v.string(),
  databaseFile: v.string(),
  /** Consistent copy of the database taken before the new version could migrate it. */
  backup: v.nullable(v.string()),
  /** Printers connected before the restart: the self-test waits for each to be connected again. */
  printers: v.array(v.object({ id: v.string(), name: v.string() })),
  /** The command line and folder to start the previous version with again (no supervisor). */
  argv: v.array(v.string()),
  cwd: v.string(),
  selfTestSeconds: v.number(),
  startedAt: v.number(),
  /** After this time (ms) an unconfirmed trial counts as hung. */
  deadline: v.number(),
  /** What the new version was doing last, for the reason shown when it fails. */
  stage: v.string(),
  reason: v.nullable(v.string()),
  /** The new version was stopped on purpose during its trial: roll back, but do not start again. */
  stopped: v.optional(v.boolean()),
});
export type Handover = v.InferOutput<typeof HandoverSchema>;

export const updateDir = (dataDir: string) => join(dataDir, "update");
export const handoverFile = (dataDir: string) => join(updateDir(dataDir), "handover.json");
/** Written by the watchdog when it has started and is watching. */
export const watchdogFile = (dataDir: string) => join(updateDir(dataDir), "watchdog.json");
export const BACKUP_PREFIX = "database-before-update-from-";
export const backupFile = (dataDir: string, fromVersion: string) => join(updateDir(dataDir), `${BACKUP_PREFIX}${fromVersion}.sqlite`);

export function readHandover(dataDir: string): Handover | null {
  return readJson(handoverFile(dataDir), HandoverSchema);
}

export function writeHandover(dataDir: string, handover: Handover): void {
  writeJsonAtomic(handoverFile(dataDir), handover);
}

/** Changes some fields of the record on disk (when it still exists) and returns the result. */
export function updateHandover(dataDir: string, change: Partial<Handover>): Handover | null {
  const current = readHandover(dataDir);
  if (!current) return null;
  const next = { ...current, ...change };
  writeHandover(dataDir, next);
  return next;
}

export function clearHandover(dataDir: string): void {
  rmSync(handoverFile(dataDir), { force: true });
}

export function readJson<S extends v.GenericSchema>(file: string, schema: S): v.InferOutput<S> | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  try {
    const parsed = v.safeParse(schema, JSON.parse(text));
    return parsed.success ? parsed.output : null;
  } catch {
    return null;
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(join(file, ".."), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  // Created afresh, so the mode applies (running.json holds a secret).
  rmSync(temp, { force: true });
  writeFileSync(temp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  renameSync(temp, file);
}

/**
 * A process's start time (clock ticks since boot, from /proc/PID/stat), which with the pid names
 * the process uniquely: a recycled pid has another start time. null when there is no such process.
 */
export function processStartTime(pid: number): string | null {
  const stat = procStat(pid);
  return stat ? stat.fields[19]! : null;
}

/** Whether the process is still running (not gone, not a zombie, not a recycled pid). */
export function isRunning(ref: ProcessRef): boolean {
  const stat = procStat(ref.pid);
  return stat !== null && stat.fields[0] !== "Z" && stat.fields[19] === ref.startTime;
}

/** This process, as a ProcessRef. */
export function selfRef(): ProcessRef {
  return { pid: process.pid, startTime: processStartTime(process.pid)! };
}

function procStat(pid: number): { fields: string[] } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // "pid (comm) state ppid …": the command name may hold spaces and parentheses.
  return { fields: text.slice(text.lastIndexOf(")") + 2).split(" ") };
}
