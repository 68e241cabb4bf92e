/**
 * Resuming a print that a crash or power cut interrupted, from its stored checkpoint: from the
 * start of the layer it was printing (that layer is printed again in full; a partial layer
 * cannot be trusted), after heating up, homing X and Y only (homing Z would drive the nozzle
 * into the print; the nozzle is lifted first) and restoring Z (the layer's height, beside the
 * print at the X/Y home) and E. Pure: checkpoint in, plan out.
 */
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

/**
 * Where and how to go on: the layer's first byte and its line number (`linesBefore`: newlines
 * in the file before that byte), the machine state there, and the G-code that gets the printer
 * ready. Call only for a resumable checkpoint.
 */
export function resumeFrom(cp: Checkpoint, linesBefore: number): ResumeFrom {
  const layer = cp.layer!;
  return {
    offset: layer.offset,
    line: linesBefore + 1,
    state: layer.state,
    layer: layer.index,
    prologue: resumePrologue(cp),
    cancelled: cp.cancelled,
  };
}

export function resumePrologue(cp: Checkpoint): string[] {
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
  out.push(`G92 Z${gcodeNumber(stoppedZ)}`, "G91", `G1 Z${LIFT_MM} F600`, "G90", "G28 X Y", `G1 Z${gcodeNumber(layer.z)} F600`);
  if (tools.length > 1 || at.tool !== 0) out.push(`T${at.tool}`);
  // Prime what oozed, then the extruder's mode and position as the file had them at the layer.
  out.push("M83", `G1 E${PRIME_MM} F300`, at.extruderMode === "absolute" || (at.extruderMode === "follow" && !at.relative) ? "M82" : "M83", `G92 E${gcodeNumber(at.e)}`);
  out.push(at.fan > 0 ? `M106 S${gcodeNumber(at.fan)}` : "M107");
  if (at.feedrate !== null) out.push(`G1 F${gcodeNumber(at.feedrate)}`);
  if (at.relative) out.push("G91");
  return out;
}
