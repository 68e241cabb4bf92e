/**
 * The live state of one printer: the single source every view renders (design principle 5) —
 * the dashboard fragments, the native JSON API and the push channels.
 */
import * as v from "valibot";

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

export const JobStateSchema = v.picklist(["printing", "paused", "cancelled", "done", "failed"]);

export const JobSchema = v.object({
  /** Path of the file relative to the files folder. */
  file: v.string(),
  size: v.number(),
  state: JobStateSchema,
  startedAt: v.number(),
  endedAt: v.nullable(v.number()),
  /** Why it failed or was stopped, in words. */
  reason: v.nullable(v.string()),
});
export type Job = v.InferOutput<typeof JobSchema>;

export const ProgressSchema = v.object({
  /** 0–100, by bytes acknowledged by the firmware. */
  completion: v.number(),
  bytesSent: v.number(),
  bytesTotal: v.number(),
  linesSent: v.number(),
  /** Seconds printing, pauses excluded. */
  printTime: v.number(),
});
export type Progress = v.InferOutput<typeof ProgressSchema>;

export const LinkStatsSchema = v.object({
  linesSent: v.number(),
  linesResent: v.number(),
  resendRequests: v.number(),
  timeouts: v.number(),
});

export const PrinterStatusSchema = v.object({
  id: v.string(),
  state: PrinterStateSchema,
  problem: v.nullable(ProblemSchema),
  firmware: v.nullable(
    v.object({
      name: v.string(),
      profile: v.string(),
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
    link: { linesSent: 0, linesResent: 0, resendRequests: 0, timeouts: 0 },
  };
}
