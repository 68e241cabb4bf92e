/**
 * What a printer's Worker gets from the main thread to run a job well — the file's layers,
 * labelled objects and pace table from its analysis, and how long earlier prints of it took —
 * and what it hands back a few times a second so a crashed host can resume the print
 * (`Checkpoint`). Checkpoints are stored, so they have a schema (read back through it).
 */
import * as v from "valibot";
import type { LongLine } from "../analysis/long-lines.ts";
import type { AnalysisResult } from "../analysis/result.ts";
import type { LabelledObject } from "./object-filter.ts";
import { paceTable, type PaceTable } from "./time-left.ts";

export interface JobPlan {
  /** Content hash of the file (null for an SD card file without a matching stored file). */
  sha256: string | null;
  /** The analysis' pace table (time left), or null before the file was analysed. */
  pace: PaceTable | null;
  /** Byte offset and height of each layer's start. */
  layers: { offset: number; z: number }[];
  /** The file's line count. */
  lines: number | null;
  objects: PlannedObject[];
  /** The slicer's own estimate of the whole print, seconds. */
  slicerTotal: number | null;
  /** Average seconds of earlier successful prints of this file on this printer (pauses excluded). */
  average: number | null;
  /** The file's longest line of each command word (from its analysis), or null when not known. */
  longLines: LongLine[] | null;
}

/** A labelled object of the file: its sections, and how the file labels it (a firmware acts only on its own kind). */
export interface PlannedObject extends LabelledObject {
  source: AnalysisResult["objects"][number]["source"];
  /** The firmware's number for it (M486 labels). */
  index?: number;
}

/** A plan with nothing known about the file. */
export const EMPTY_PLAN: JobPlan = { sha256: null, pace: null, layers: [], lines: null, objects: [], slicerTotal: null, average: null, longLines: null };

/**
 * The plan for a file with this analysis (or none yet) and this average print time;
 * `printerLimits`: the analysis was planned with the printing printer's own machine limits.
 */
export function planFrom(sha256: string | null, analysis: AnalysisResult | undefined, average: number | null, printerLimits = false): JobPlan {
  if (!analysis) return { ...EMPTY_PLAN, sha256, average };
  return {
    sha256,
    pace: paceTable(analysis.timeline, analysis.timelineParts, printerLimits),
    layers: analysis.layers.map((l) => ({ offset: l.offset, z: l.z })),
    lines: analysis.lines,
    objects: analysis.objects.map((o) => ({ name: o.name, ranges: o.ranges, source: o.source, ...(o.index !== undefined ? { index: o.index } : {}) })),
    slicerTotal: analysis.slicer.estimatedTime,
    average,
    longLines: analysis.longLines ?? null,
  };
}

/** How the firmware treats a line: left out (it does not know it), or too long to be read whole. */
export interface LineJudge {
  skips(command: string): boolean;
  tooLong(command: string, lineNumber?: number, length?: number): { length: number; limit: number } | undefined;
}

/**
 * The first of a file's long lines (`plan.longLines`) that the firmware could not read whole, or
 * undefined. `firstLineNumber` is the line number the print's first line will get; a file line
 * gets at most that plus its own line number plus what scripts add (a generous margin).
 */
export function firstTooLong(longLines: LongLine[], judge: LineJudge, firstLineNumber: number): { line: number; length: number; limit: number } | undefined {
  let first: { line: number; length: number; limit: number } | undefined;
  for (const l of longLines) {
    if (first && first.line < l.line) continue;
    if (judge.skips(l.text)) continue;
    const over = judge.tooLong(l.text, firstLineNumber + l.line + 1000, l.length);
    if (over) first = { line: l.line, ...over };
  }
  return first;
}

/**
 * The problem of a line longer than the firmware reads: `where` names it ("Line 12 of cube.gcode"),
 * `length` is framed (line number and checksum included), `outcome` says what became of the job.
 */
export function lineTooLongProblem(where: string, length: number, limit: number, outcome: string): { code: string; message: string; hint: string } {
  return {
    code: "line_too_long",
    message: `${where} is too long for this printer: ${length} characters with its line number and checksum, and its firmware reads at most ${limit}. ${outcome}`,
    hint: "Shorten or remove that line (a long message or macro call, for instance) and upload the file again; or raise commands.maxLineLength in a quirks file if your firmware was built with a larger MAX_CMD_SIZE.",
  };
}

const N = v.number();
const NullableN = v.nullable(N);

/** The machine state at one point of a file (see `MachineTracker`). */
export const MachineSnapshotSchema = v.object({
  x: NullableN,
  y: NullableN,
  z: NullableN,
  e: N,
  relative: v.boolean(),
  extruderMode: v.picklist(["follow", "absolute", "relative"]),
  feedrate: NullableN,
  fan: N,
  tool: N,
  targets: v.record(v.string(), N),
  extruded: N,
});

/** What a print needs to be resumed after a crash or a power cut, persisted a few times a second. */
export const CheckpointSchema = v.object({
  jobId: v.string(),
  file: v.string(),
  sha256: v.nullable(v.string()),
  source: v.picklist(["host", "sd"]),
  size: N,
  startedAt: N,
  /** Seconds printing so far (pauses excluded). */
  printTime: N,
  /** End of the last line the printer acknowledged, and its line number. */
  offset: N,
  line: N,
  /** The layer being printed, where it starts, and the machine state at its start. */
  layer: v.nullable(v.object({ index: N, count: N, offset: N, z: N, state: MachineSnapshotSchema })),
  /** The machine state after the last line sent (Z, E, modes, fan, heater targets). */
  state: v.nullable(MachineSnapshotSchema),
  /** The heaters' targets as the printer last reported them. */
  temperatures: v.record(v.string(), N),
  cancelled: v.array(v.string()),
  paused: v.boolean(),
  /** When it was taken, ms since 1970. */
  at: N,
});
export type Checkpoint = v.InferOutput<typeof CheckpointSchema>;

/** How a job starts part-way through its file (resuming after a crash). */
export interface ResumeFrom {
  /** The interrupted job's id: history links the resumed print to it. */
  jobId: string;
  /** A line start: the first byte to print. */
  offset: number;
  /** The line number of that byte's line. */
  line: number;
  /** The machine state there (from the checkpoint). */
  state: v.InferOutput<typeof MachineSnapshotSchema>;
  layer: number | null;
  /**
   * G-code to run before the file goes on: `lift` (heat, lift the nozzle off the print), then,
   * once the printer has done that, `restore` (home X/Y, restore Z, E and the modes).
   */
  prologue: { lift: string[]; restore: string[] };
  /** Objects cancelled before the crash stay cancelled. */
  cancelled: string[];
}
