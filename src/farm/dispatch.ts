/**
 * Which farm-queue entry goes to which printer: a pure function of the entries (in order, each
 * with the copies still to hand out and what its file needs), and the printers (their state,
 * whether their bed is clear, their profile). It decides nothing about time or I/O; the
 * dispatcher (dispatcher.ts) feeds it what the host knows and starts what it returns.
 *
 * Rules, as a print farm runs:
 * - a printer takes work only when it is operational (its firmware identified), prints nothing,
 *   has no interrupted print waiting for a decision (resume or discard), its own queue is not
 *   using it, and its bed is clear: confirmed by a user after its last print, or that print
 *   ended well and the printer starts the next by itself (auto-start; a failed or cancelled
 *   print always waits for a user);
 * - an entry goes to the first free printer it fits (firmware, bed, height, nozzle, extruders,
 *   heated bed), earlier entries first; an entry that fits no printer stays queued with the
 *   reason, and later entries go on past it;
 * - an entry with several copies may start on several printers at once.
 */
import { farthestFrom } from "../analysis/hull.ts";
import type { AnalysisResult } from "../analysis/result.ts";
import type { QueueState } from "../jobs/queue.ts";
import type { PrinterProfile } from "../printers/profile.ts";
import type { PrinterState } from "../printers/status.ts";
import { firmwareMisfit, firmwareNeed, type FirmwareNeed } from "./firmware.ts";

/** What a print needs of a printer, from its file's analysis. */
export interface FileNeeds {
  /** Where the file extrudes, in its own coordinates (null: it extrudes nothing). */
  area: { minX: number; maxX: number; minY: number; maxY: number; maxZ: number } | null;
  /** The outline of what it prints (the convex hull of its printing moves, see analysis/hull.ts); empty with `area` null. */
  hull: [number, number][];
  /** The nozzle the file was sliced for, mm (null: the file does not say). */
  nozzle: number | null;
  /** How many extruders it uses (the highest tool that extrudes, plus one). */
  tools: number;
  /** It heats the bed. */
  heatedBed: boolean;
  /** The firmware dialect it needs, from its slicer's flavour or the macros it calls (null: any). */
  firmware: FirmwareNeed | null;
}

/**
 * What the farm knows of a printer's bed since its last print (any print, the farm's or not).
 * `clear`: confirmed by a user (or never printed on since the farm knew it); `printing`: a print
 * runs or was running; `printed`: the last print ended well; `stopped`: it failed or was cancelled.
 */
export const BED_STATES = ["clear", "printing", "printed", "stopped"] as const;
export type BedState = (typeof BED_STATES)[number];

export interface FarmPrinterFacts {
  id: string;
  name: string;
  state: PrinterState;
  /** A job runs (not yet done, cancelled or failed). */
  jobRunning: boolean;
  /** An interrupted print waits for the user to resume or discard it. */
  interrupted: boolean;
  /** The printer's own queue (src/jobs/queue.ts): anything but idle means it is using the printer. */
  ownQueue: QueueState;
  bed: BedState;
  autoStart: boolean;
  profile: PrinterProfile;
  /**
   * The firmware family it runs (firmware-quirks id, as detected at its latest connection) and the
   * families that one extends, nearest first; null while it never said.
   */
  firmware: string[] | null;
}

export interface FarmEntryFacts {
  id: string;
  file: string;
  /** Copies not yet handed to a printer. */
  remaining: number;
  /** The file was deleted since it was queued. */
  missing: boolean;
  /** What the file needs; `pending` until it is analysed, `unreadable` when the analysis failed. */
  needs: FileNeeds | "pending" | { unreadable: string };
}

export interface Dispatch {
  entry: string;
  printer: string;
  file: string;
}

export interface DispatchPlan {
  /** Copies to start now, one per printer. */
  starts: Dispatch[];
  /** Why each entry with copies left (and no start now) waits, in words. */
  waiting: Record<string, string>;
}

/**
 * How far a file's extents may stray past the profile's bed, mm: purge and prime lines often run
 * a few millimetres off the nominal bed (a Prusa MK3's at Y −3), which the profile cannot express.
 */
export const BED_MARGIN_MM = 5;
/** Nozzle sizes closer than this are the same nozzle (0.4 vs 0.40000001 from a slicer's float). */
const NOZZLE_TOLERANCE_MM = 0.01;
/** A height a little over the profile's is rounding (layer heights add up in floats). */
const HEIGHT_TOLERANCE_MM = 0.05;

/** What a file needs, from its analysis. */
export function fileNeeds(result: Pick<AnalysisResult, "printingArea" | "printingHull" | "slicer" | "filament" | "heatUp" | "macros">): FileNeeds {
  const a = result.printingArea;
  const extruding = result.filament.filter((f) => f.length > 0).map((f) => f.tool);
  const bedTarget = result.slicer.temperatures.bed ?? result.slicer.temperatures.firstLayerBed ?? 0;
  return {
    area: a ? { minX: a.minX, maxX: a.maxX, minY: a.minY, maxY: a.maxY, maxZ: a.maxZ } : null,
    hull: result.printingHull,
    nozzle: result.slicer.nozzleDiameter,
    tools: extruding.length ? Math.max(...extruding) + 1 : 0,
    heatedBed: bedTarget > 0 || result.heatUp.waits.some((w) => w.heater === "bed" && w.target > 0),
    firmware: firmwareNeed(result.slicer.gcodeFlavour, result.macros),
  };
}

const mm = (n: number) => `${Math.round(n * 10) / 10}`;

/** Why a file does not fit a printer (by its firmware and profile), in words; null when it fits. */
export function misfit(needs: FileNeeds, profile: PrinterProfile, firmware: FarmPrinterFacts["firmware"]): string | null {
  const firmwareWhy = firmwareMisfit(needs.firmware, firmware);
  if (firmwareWhy) return firmwareWhy;
  const { width, depth, height, origin, formFactor } = profile.volume;
  const a = needs.area;
  if (a) {
    // The bed in the file's coordinates: from 0 (lower-left origin) or centred on 0.
    const x0 = origin === "center" ? -width / 2 : 0;
    const y0 = origin === "center" ? -depth / 2 : 0;
    const m = BED_MARGIN_MM;
    if (formFactor === "circular") {
      const cx = x0 + width / 2;
      const cy = y0 + depth / 2;
      // The outline's farthest corner, not the box's: a round part's box corners are off a round bed it fits.
      const far = farthestFrom(needs.hull, cx, cy);
      if (far > width / 2 + m) return `it reaches ${mm(far)} mm from the centre of the ${mm(width)} mm round bed, ${mm(far - width / 2)} mm past its edge`;
    } else if (a.minX < x0 - m || a.maxX > x0 + width + m || a.minY < y0 - m || a.maxY > y0 + depth + m) {
      return `it spans X ${mm(a.minX)}…${mm(a.maxX)}, Y ${mm(a.minY)}…${mm(a.maxY)} mm; the bed is ${mm(width)} × ${mm(depth)} mm`;
    }
    if (a.maxZ > height + HEIGHT_TOLERANCE_MM) return `it is ${mm(a.maxZ)} mm tall; the printer prints up to ${mm(height)} mm`;
  }
  if (needs.nozzle !== null && Math.abs(needs.nozzle - profile.extruder.nozzleDiameter) > NOZZLE_TOLERANCE_MM) {
    return `it was sliced for a ${needs.nozzle} mm nozzle; the printer has ${profile.extruder.nozzleDiameter} mm`;
  }
  if (needs.tools > profile.extruder.count) return `it uses ${needs.tools} extruders; the printer has ${profile.extruder.count}`;
  if (needs.heatedBed && !profile.heatedBed) return "it heats the bed; the printer has no heated bed";
  return null;
}

/** Why a printer takes no work now, in words; null when it is free. */
export function notFree(p: FarmPrinterFacts): string | null {
  if (p.state !== "operational" || p.jobRunning) return p.state === "printing" || p.state === "paused" || p.jobRunning ? "printing" : `not ready (${p.state})`;
  // Connected a moment ago: what it runs decides which files it may take (firmware.ts).
  if (p.firmware === null) return "not ready (its firmware is being identified)";
  if (p.interrupted) return "an interrupted print waits for you to resume or discard it";
  if (p.ownQueue !== "idle") return "its own queue is using it";
  if (p.bed === "printing" || p.bed === "stopped" || (p.bed === "printed" && !p.autoStart)) return "waiting for the bed to be cleared";
  return null;
}

/** The copies to start now and why the other entries wait. */
export function planDispatch(entries: readonly FarmEntryFacts[], printers: readonly FarmPrinterFacts[]): DispatchPlan {
  const free = printers.filter((p) => notFree(p) === null);
  const taken = new Set<string>();
  const starts: Dispatch[] = [];
  const waiting: Record<string, string> = {};
  for (const e of entries) {
    if (e.remaining <= 0) continue;
    if (e.missing) {
      waiting[e.id] = "The file was deleted after it was queued; it will not print.";
      continue;
    }
    if (e.needs === "pending") {
      waiting[e.id] = "Waiting for the file's analysis (its size decides which printers it fits).";
      continue;
    }
    if ("unreadable" in e.needs) {
      waiting[e.id] = `The file could not be analysed (${e.needs.unreadable}), so no printer is known to fit it; print it on a printer directly.`;
      continue;
    }
    const needs = e.needs;
    const misfits = printers.map((p) => [p, misfit(needs, p.profile, p.firmware)] as const);
    const fitting = misfits.filter(([, why]) => why === null).map(([p]) => p);
    if (fitting.length === 0) {
      waiting[e.id] = printers.length === 0 ? "There is no printer." : `Fits no printer: ${misfits.map(([p, why]) => `${p.name}: ${why}`).join("; ")}.`;
      continue;
    }
    let left = e.remaining;
    for (const p of free) {
      if (left === 0) break;
      if (taken.has(p.id) || !fitting.includes(p)) continue;
      taken.add(p.id);
      starts.push({ entry: e.id, printer: p.id, file: e.file });
      left--;
    }
    if (left === e.remaining) {
      const on = fitting.map((p) => `${p.name} (${taken.has(p.id) ? "taken by an earlier entry" : notFree(p)})`).join(", ");
      waiting[e.id] = `Waiting for a free printer it fits: ${on}.`;
    }
  }
  return { starts, waiting };
}
