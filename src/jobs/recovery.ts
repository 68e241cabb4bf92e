/**
 * Resuming a print that a crash or power cut interrupted, from its stored checkpoint: from the
 * start of the layer it was printing (that layer is printed again in full; a partial layer
 * cannot be trusted), after heating up, homing X and Y only (homing Z would drive the nozzle
 * into the print; the nozzle is lifted first) and restoring Z (the layer's height, beside the
 * print at the X/Y home) and E.
 *
 * The lift is the first move, and nothing more is sent until the printer has done it: a
 * firmware that moves no axis it has not homed since it was switched on (Marlin's
 * NO_MOTION_BEFORE_HOMING, Klipper) refuses it, and then homing X and Y would drag the nozzle
 * across the print and the rest would "print" without moving. The refusal is recognised (quirk
 * data `unhomed`) and the resume stopped with what happened and what to do. Pure: checkpoint
 * in, plan out.
 */
import type { Quirks } from "../protocol/quirks.ts";
import type { Interrupted } from "../printers/status.ts";
import { gcodeNumber } from "./object-filter.ts";
import type { Checkpoint, ResumeFrom } from "./plan.ts";

/** How far the nozzle is lifted off the print before X and Y are homed, mm. */
const LIFT_MM = 2;
/** Filament pushed back after the wait (it oozed while the nozzle heated), mm. */
const PRIME_MM = 2;

/** Why this checkpoint cannot be resumed, in words, or null when it can. */
export function notResumable(cp: Checkpoint, fileSha256: string | null | undefined): string | null {
  if (cp.source !== "host") return "It printed from the printer's SD card; start it again from the card.";
  if (fileSha256 === undefined) return `The file "${cp.file}" is no longer there.`;
  if (cp.sha256 !== null && fileSha256 !== null && fileSha256 !== cp.sha256) return `The file "${cp.file}" changed since the print stopped.`;
  if (!cp.layer) return "It stopped before its first layer (or its file was not analysed); start it again.";
  return null;
}

/** What the UI and the API show about an interrupted print. */
export function interruptedSummary(cp: Checkpoint, reason: string | null): Interrupted {
  return {
    jobId: cp.jobId,
    file: cp.file,
    source: cp.source,
    at: cp.at,
    startedAt: cp.startedAt,
    completion: cp.size > 0 ? Math.min(100, (cp.offset / cp.size) * 100) : 0,
    layer: cp.layer ? { current: cp.layer.index + 1, count: cp.layer.count, z: cp.layer.z } : null,
    resumable: reason === null,
    reason,
  };
}

/** Where an interrupted print stopped, in words: "at layer 12 of 80 (Z 2.40 mm), 15.0 % done". */
export function stoppedWhere(i: Pick<Interrupted, "completion" | "layer">): string {
  const pct = `${i.completion.toFixed(1)} % done`;
  return i.layer ? `at layer ${i.layer.current} of ${i.layer.count} (Z ${i.layer.z.toFixed(2)} mm), ${pct}` : pct;
}

/**
 * Where and how to go on: the layer's first byte and its line number (`linesBefore`: newlines
 * in the file before that byte), the machine state there, and the G-code that gets the printer
 * ready. Call only for a resumable checkpoint.
 */
export function resumeFrom(cp: Checkpoint, linesBefore: number): ResumeFrom {
  const layer = cp.layer!;
  return {
    jobId: cp.jobId,
    offset: layer.offset,
    line: linesBefore + 1,
    state: layer.state,
    layer: layer.index,
    prologue: resumePrologue(cp),
    cancelled: cp.cancelled,
  };
}

/**
 * The G-code that gets the printer ready, in two parts: `lift` (heat, then lift the nozzle off
 * the print) and `restore` (home X and Y, restore Z, the tool, E, the modes, fan and feed rate),
 * sent only once the lift went through.
 */
export function resumePrologue(cp: Checkpoint): ResumeFrom["prologue"] {
  const layer = cp.layer!;
  const at = layer.state;
  // Targets the file had set by the layer's start; else what the printer reported last.
  const targets = { ...cp.temperatures, ...at.targets };
  const tools = Object.entries(targets)
    .filter(([k, t]) => /^tool\d+$/.test(k) && t > 0)
    .map(([k, t]) => [Number(k.slice(4)), t] as const);
  const bed = targets.bed ?? 0;
  const out: string[] = [];
  if (bed > 0) out.push(`M140 S${gcodeNumber(bed)}`);
  for (const [n, t] of tools) out.push(`M104 T${n} S${gcodeNumber(t)}`);
  if (bed > 0) out.push(`M190 S${gcodeNumber(bed)}`);
  for (const [n, t] of tools) out.push(`M109 T${n} S${gcodeNumber(t)}`);
  // The nozzle is where the print stopped: say so, lift it clear, then home X and Y only.
  const stoppedZ = cp.state?.z ?? layer.z;
  out.push(`G92 Z${gcodeNumber(stoppedZ)}`, "G91", `G1 Z${LIFT_MM} F600`, "G90");
  const restore = ["G28 X Y", `G1 Z${gcodeNumber(layer.z)} F600`];
  if (tools.length > 1 || at.tool !== 0) restore.push(`T${at.tool}`);
  // Prime what oozed, then the extruder's mode and position as the file had them at the layer.
  restore.push("M83", `G1 E${PRIME_MM} F300`, at.extruderMode === "absolute" || (at.extruderMode === "follow" && !at.relative) ? "M82" : "M83", `G92 E${gcodeNumber(at.e)}`);
  restore.push(at.fan > 0 ? `M106 S${gcodeNumber(at.fan)}` : "M107");
  if (at.feedrate !== null) restore.push(`G1 F${gcodeNumber(at.feedrate)}`);
  if (at.relative) restore.push("G91");
  return { lift: out, restore };
}

const refusals = new WeakMap<Quirks["unhomed"], RegExp[]>();

/** Whether `line` says the firmware refused a move because an axis is not homed. */
export function refusedUnhomed(q: Quirks["unhomed"], line: string): boolean {
  let res = refusals.get(q);
  if (!res) refusals.set(q, (res = q.refused.map((p) => new RegExp(p, "i"))));
  return res.some((re) => re.test(line));
}

/**
 * Why a job stopped when the firmware refused to move for want of homing (`line`), and what to
 * do; `resuming` when it refused the lift of a resumed print (then nothing moved).
 */
export function unhomedReason(q: Quirks["unhomed"], line: string, resuming: boolean): string {
  if (resuming) {
    return (
      `The printer refused to lift the nozzle off the print ("${line}"). ${q.why} ` +
      "Homing Z would drive the nozzle into the print, so the print cannot be resumed this way: nothing moved, the heaters were turned off, " +
      "and the interrupted print is still offered. To resume it, the firmware must accept moves before homing (Marlin: build it without NO_MOTION_BEFORE_HOMING); " +
      "otherwise take the print off the bed and start it again."
    );
  }
  return (
    `The printer refused to move because an axis is not homed ("${line}"). ${q.why} ` +
    "The print was stopped rather than run without moving. Home the printer (G28) in the file's start G-code or the before-print script, then start it again."
  );
}
