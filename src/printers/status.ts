/**
 * The live state of one printer: the single source every view renders (design principle 5) —
 * the dashboard fragments, the native JSON API and the push channels.
 */
import * as v from "valibot";
import { MachineLimitsPatchSchema } from "../analysis/limits.ts";
import { newLinkCounters } from "../protocol/engine.ts";

export const ProblemSchema = v.object({
  code: v.string(),
  message: v.string(),
  hint: v.string(),
});
export type Problem = v.InferOutput<typeof ProblemSchema>;

export const ReadingSchema = v.object({
  actual: v.number(),
  /** null when the firmware did not say (heat-wait lines carry no target). */
  target: v.nullable(v.number()),
});

export const PrinterStateSchema = v.picklist(["closed", "connecting", "operational", "printing", "paused", "error"]);
export type PrinterState = v.InferOutput<typeof PrinterStateSchema>;

/**
 * A job's states: `starting` (the before-print script runs) → `printing` ⇄ `pausing` (lines in
 * flight and the pause script finish) → `paused` → `resuming` (the resume script runs) →
 * `printing`; `cancelling` (the cancel script runs) → `cancelled`; `finishing` (the after-print
 * script runs) → `done`; or `failed`, with the reason in words. No job at all is "idle".
 */
export const JOB_STATES = ["starting", "printing", "pausing", "paused", "resuming", "cancelling", "finishing", "done", "cancelled", "failed"] as const;
export const JobStateSchema = v.picklist(JOB_STATES);
export type JobState = v.InferOutput<typeof JobStateSchema>;

/** Whether a job in this state still runs (is not over). */
export function isJobRunning(state: JobState | undefined): boolean {
  return state !== undefined && state !== "done" && state !== "cancelled" && state !== "failed";
}

/**
 * A job's state as plugin API 1.x and the job events name it: the steps in between count as
 * printing (the job runs), except that a paused job is paused.
 */
export function coarseJobState(state: JobState): "printing" | "paused" | "done" | "cancelled" | "failed" {
  return state === "paused" || state === "done" || state === "cancelled" || state === "failed" ? state : "printing";
}

/**
 * What the head, heaters, fan and extruder were when the host paused the job; the resume script
 * restores it. Host prints know it from the file's own lines; for an SD print the firmware
 * reports the position (M114) and the modes stay unknown (null).
 */
export const PauseRecordSchema = v.object({
  /** Where the head stopped, in the file's coordinates (null where not known). */
  x: v.nullable(v.number()),
  y: v.nullable(v.number()),
  z: v.nullable(v.number()),
  /** Extruder position (the file's E axis) and whether E was relative (M83). */
  e: v.nullable(v.number()),
  relativeE: v.nullable(v.boolean()),
  /** Whether X/Y/Z moves were relative (G91). */
  relative: v.nullable(v.boolean()),
  /** Feed rate of the last move, mm/min. */
  feedrate: v.nullable(v.number()),
  /** Part-cooling fan, 0–255. */
  fan: v.nullable(v.number()),
  tool: v.nullable(v.number()),
  /** Heater targets then, °C, keyed like `temperatures`; and the active tool's. */
  temperatures: v.record(v.string(), v.number()),
  toolTemperature: v.nullable(v.number()),
});
export type PauseRecord = v.InferOutput<typeof PauseRecordSchema>;

export const JobSchema = v.object({
  /** Unique per job (history and crash recovery refer to it). */
  id: v.string(),
  /** Path of the file relative to the files folder, or its name on the SD card. */
  file: v.string(),
  /** `host`: streamed by Layerline from its files; `sd`: printed by the firmware from its card. */
  source: v.picklist(["host", "sd"]),
  size: v.number(),
  state: JobStateSchema,
  startedAt: v.number(),
  endedAt: v.nullable(v.number()),
  /** Why it failed or was stopped, in words. */
  reason: v.nullable(v.string()),
  /** Content hash of the file (host jobs), for history and statistics. */
  sha256: v.nullable(v.string()),
  /** The layer being printed (from the file's analysis): 1-based number, of how many, at what height. */
  layer: v.nullable(v.object({ current: v.number(), count: v.number(), z: v.number() })),
  /** The file's labelled objects (from its analysis) and which of them were cancelled. */
  objects: v.array(v.object({ name: v.string(), cancelled: v.boolean() })),
  /** Recorded when the host paused the job. */
  pause: v.nullable(PauseRecordSchema),
  /** A job resumed after a crash: the interrupted job's id, the byte offset and layer it went on from. */
  resumedFrom: v.nullable(v.object({ jobId: v.string(), offset: v.number(), layer: v.nullable(v.number()) })),
  /** What happened to it along the way without ending it (the printer's thread restarted under it), in words. */
  notes: v.optional(v.array(v.string())),
});
export type Job = v.InferOutput<typeof JobSchema>;

export const ProgressSchema = v.object({
  /** 0–100, by bytes acknowledged by the firmware. */
  completion: v.number(),
  bytesSent: v.number(),
  bytesTotal: v.number(),
  linesSent: v.number(),
  /** Line number in the file of the last line the firmware acknowledged, and the file's line count (once known). */
  line: v.number(),
  lines: v.nullable(v.number()),
  /** Seconds printing, pauses excluded. */
  printTime: v.number(),
  /** Seconds left, and where that figure comes from (src/jobs/time-left.ts). */
  timeLeft: v.nullable(v.number()),
  timeLeftOrigin: v.nullable(v.picklist(["analysis", "analysis+rate", "slicer", "slicer+rate", "history", "history+rate", "rate"])),
  /** Filament pushed so far by the file's moves, mm (all tools). */
  filament: v.number(),
});
export type Progress = v.InferOutput<typeof ProgressSchema>;

export const LinkStatsSchema = v.object({
  /** Every line written, resends and emergency lines included. */
  linesSent: v.number(),
  linesResent: v.number(),
  resendRequests: v.number(),
  timeouts: v.number(),
  /** Lines acknowledged. */
  acks: v.number(),
  /** Oks lost on the wire (found from a later `ok N..`), and late oks that were ignored. */
  lostOks: v.number(),
  lateOks: v.number(),
  /** Lines in flight the window allows now (1 without ADVANCED_OK), and the printer's setting. */
  window: v.number(),
  maxWindow: v.number(),
  /** Free planner blocks and command slots from the last ADVANCED_OK ok; -1 when unknown. */
  plannerFree: v.number(),
  bufferFree: v.number(),
  /** Lines acknowledged per second over the last few seconds. */
  linesPerSecond: v.number(),
  /** Lines sent again / lines sent (0–1). */
  resendRatio: v.number(),
  /** Time from writing a line to its ok: median and 99th percentile of the latest 1024, ms. */
  ackLatencyP50Ms: v.nullable(v.number()),
  ackLatencyP99Ms: v.nullable(v.number()),
});
export type LinkStatsStatus = v.InferOutput<typeof LinkStatsSchema>;

export const SdFileSchema = v.object({
  /** What M23/M30 take (the 8.3 path on FAT cards). */
  name: v.string(),
  longName: v.optional(v.string()),
  size: v.optional(v.number()),
  /** ms since 1970, when the listing carried a plausible time stamp. */
  modified: v.optional(v.number()),
  /** A copy to the card that stopped part-way (failure, emergency stop): the file holds only its start. */
  incomplete: v.optional(v.literal(true)),
});

export type SdFile = v.InferOutput<typeof SdFileSchema>;

export const SdStateSchema = v.object({
  /** A card is present and mounted, as far as the firmware said. */
  available: v.boolean(),
  /** Uploads are possible (the firmware reports SD_WRITE, or says nothing and writes are in its profile). */
  writable: v.boolean(),
  files: v.array(SdFileSchema),
  /** A file being copied to the card, with its progress. */
  upload: v.nullable(v.object({ file: v.string(), name: v.string(), bytes: v.number(), total: v.number() })),
});
export type SdState = v.InferOutput<typeof SdStateSchema>;

export const PromptSchema = v.object({ text: v.string(), buttons: v.array(v.string()) });

/**
 * A print the host was running when it stopped (a crash, `kill -9`, a power cut), from its last
 * stored checkpoint: shown until the user resumes it from its last layer start or discards it.
 */
export const InterruptedSchema = v.object({
  jobId: v.string(),
  file: v.string(),
  source: v.picklist(["host", "sd"]),
  /** ms since 1970 of the last checkpoint, and of the print's start. */
  at: v.number(),
  startedAt: v.number(),
  /** Percent of the file acknowledged, and the layer being printed then. */
  completion: v.number(),
  layer: v.nullable(v.object({ current: v.number(), count: v.number(), z: v.number() })),
  /** Whether it can be resumed, and if not why, in words. */
  resumable: v.boolean(),
  reason: v.nullable(v.string()),
});
export type Interrupted = v.InferOutput<typeof InterruptedSchema>;

export const PrinterStatusSchema = v.object({
  id: v.string(),
  state: PrinterStateSchema,
  problem: v.nullable(ProblemSchema),
  firmware: v.nullable(
    v.object({
      name: v.string(),
      profile: v.string(),
      /** Overlays applied on top of the profile (e.g. `creality`). */
      overlays: v.array(v.string()),
      capabilities: v.record(v.string(), v.boolean()),
    }),
  ),
  /** Keyed by `tool0`, `tool1`, `bed`, `chamber`, … */
  temperatures: v.record(v.string(), ReadingSchema),
  position: v.nullable(v.object({ x: v.number(), y: v.number(), z: v.number(), e: v.nullable(v.number()) })),
  /** `echo:busy:` reason while the firmware works on a long command. */
  busy: v.nullable(v.string()),
  job: v.nullable(JobSchema),
  progress: v.nullable(ProgressSchema),
  link: LinkStatsSchema,
  sd: SdStateSchema,
  /** A dialog the printer asks the user to answer (`//action:prompt_*`), answered with M876. */
  prompt: v.nullable(PromptSchema),
  /** Where the printer was found (with `auto`, the detected port and rate). */
  connection: v.nullable(v.object({ port: v.string(), baud: v.number() })),
  interrupted: v.nullable(InterruptedSchema),
  /**
   * The machine limits the firmware reported on its latest connection (Marlin's M503: max feed
   * rates, accelerations, jerk), null when it reported none; the printer profile's limits start
   * from them.
   */
  limits: v.nullable(MachineLimitsPatchSchema),
});
export type PrinterStatus = v.InferOutput<typeof PrinterStatusSchema>;

/** The status of a printer that has never been connected. */
export function initialStatus(id: string): PrinterStatus {
  return {
    id,
    state: "closed",
    problem: null,
    firmware: null,
    temperatures: {},
    position: null,
    busy: null,
    job: null,
    progress: null,
    link: { ...newLinkCounters(), maxWindow: 1, linesPerSecond: 0, resendRatio: 0, ackLatencyP50Ms: null, ackLatencyP99Ms: null },
    sd: { available: false, writable: false, files: [], upload: null },
    prompt: null,
    connection: null,
    interrupted: null,
    limits: null,
  };
}
