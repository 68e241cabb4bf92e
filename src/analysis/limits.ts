/**
 * Machine limits for the time estimate: the printer's kinematic envelope. They come, in order of
 * precedence, from Marlin 2's defaults, the slicer's config block in the file (what the slicer
 * assumed of the printer), the printer's own limits (its profile, which the firmware's `M503`
 * report fills in), and finally the file's own `M201/M203/M204/M205/M566` lines (applied while
 * planning, as the firmware applies them).
 */
import * as v from "valibot";

/** A limit: a finite number ≥ 0 (0 on a feed rate or acceleration means "none", as in the planner). */
const Limit = v.pipe(v.number(), v.finite(), v.minValue(0));
const Axes = v.object({ x: Limit, y: Limit, z: Limit, e: Limit });

export const MachineLimitsSchema = v.object({
  /** mm/s per axis. */
  maxFeedrate: Axes,
  /** mm/s² per axis. */
  maxAcceleration: Axes,
  /** mm/s per axis (classic jerk). */
  maxJerk: Axes,
  /** Ceiling for print moves (M204 P/S), mm/s². */
  maxPrintAcceleration: Limit,
  maxRetractAcceleration: Limit,
  maxTravelAcceleration: Limit,
  /** Start values of M204 P, R, T. */
  printAcceleration: Limit,
  retractAcceleration: Limit,
  travelAcceleration: Limit,
  /** M205 S / T, mm/s. */
  minExtrudingRate: Limit,
  minTravelRate: Limit,
  /** Marlin 2 junction deviation in mm (M205 J); 0 = classic jerk. */
  junctionDeviation: Limit,
});

export type MachineLimits = v.InferOutput<typeof MachineLimitsSchema>;

/** Partial limits (a printer profile, a firmware's report): any field may be missing. */
export const MachineLimitsPatchSchema = v.partial(
  v.object({
    ...MachineLimitsSchema.entries,
    maxFeedrate: v.partial(Axes),
    maxAcceleration: v.partial(Axes),
    maxJerk: v.partial(Axes),
  }),
);
export type MachineLimitsPatch = v.InferOutput<typeof MachineLimitsPatchSchema>;

/** Marlin 2.1 `Configuration.h` defaults (and PrusaSlicer's fallback accelerations). */
export function defaultLimits(): MachineLimits {
  return {
    maxFeedrate: { x: 300, y: 300, z: 5, e: 25 },
    maxAcceleration: { x: 3000, y: 3000, z: 100, e: 10000 },
    maxJerk: { x: 10, y: 10, z: 0.3, e: 5 },
    maxPrintAcceleration: 1500,
    maxRetractAcceleration: 1500,
    maxTravelAcceleration: 1500,
    printAcceleration: 1500,
    retractAcceleration: 1500,
    travelAcceleration: 1250,
    minExtrudingRate: 0,
    minTravelRate: 0,
    junctionDeviation: 0,
  };
}

const AXES = ["x", "y", "z", "e"] as const;
/** The per-axis fields and the single-value fields, in the order reports and forms list them. */
export const AXIS_LIMITS = ["maxFeedrate", "maxAcceleration", "maxJerk"] as const;
export const SCALAR_LIMITS = [
  "printAcceleration",
  "retractAcceleration",
  "travelAcceleration",
  "maxPrintAcceleration",
  "maxRetractAcceleration",
  "maxTravelAcceleration",
  "junctionDeviation",
  "minExtrudingRate",
  "minTravelRate",
] as const;

/** `base` with the fields of `patch` that are set. */
export function applyLimits(base: MachineLimits, patch: MachineLimitsPatch | null | undefined): MachineLimits {
  return mergeLimits(base, patch) as MachineLimits;
}

/**
 * `base` with the fields of `patch` that are set, per axis; either may be partial.
 * Example: `mergeLimits({ maxFeedrate: { z: 5 } }, { maxFeedrate: { e: 25 } })` has both.
 */
export function mergeLimits(base: MachineLimitsPatch, patch: MachineLimitsPatch | null | undefined): MachineLimitsPatch {
  if (!patch) return base;
  const out: MachineLimitsPatch = { ...base };
  for (const key of AXIS_LIMITS) {
    const axes = patch[key];
    if (!axes) continue;
    const merged = { ...out[key] };
    for (const a of AXES) if (axes[a] !== undefined) merged[a] = axes[a];
    out[key] = merged;
  }
  for (const key of SCALAR_LIMITS) if (patch[key] !== undefined) out[key] = patch[key];
  return out;
}

/** Whether no field is set (no limits at all). */
export function isEmptyLimits(p: MachineLimitsPatch | null | undefined): boolean {
  return limitsKey(p) === "";
}

/**
 * A canonical text of the fields set, "" for none: two patches that say the same have the same
 * key (field order and unset axes do not matter).
 */
export function limitsKey(p: MachineLimitsPatch | null | undefined): string {
  if (!p) return "";
  const parts: string[] = [];
  for (const key of AXIS_LIMITS) for (const a of AXES) if (p[key]?.[a] !== undefined) parts.push(`${key}.${a}=${p[key]![a]}`);
  for (const key of SCALAR_LIMITS) if (p[key] !== undefined) parts.push(`${key}=${p[key]}`);
  return parts.join(",");
}

/**
 * What a Marlin `M201`, `M203`, `M204` or `M205` sets (mm and seconds; `word` gives a letter's
 * value, undefined when the command lacks it), as the firmware reads it: M203 in mm/s, M204 `S`
 * as print and travel acceleration (then `T` is the retraction's, the Marlin 1.0 / Prusa form),
 * M205 `X` as the X and Y jerk unless `Y` follows. An `E` with a `T` other than 0 is another
 * extruder's and is left out. Null for any other command.
 * Example: `limitsFromCommand(203, (l) => ({ Z: 5 })[l])` → `{ maxFeedrate: { z: 5 } }`.
 */
export function limitsFromCommand(code: number, word: (letter: "X" | "Y" | "Z" | "E" | "P" | "R" | "S" | "T" | "J") => number | undefined): MachineLimitsPatch | null {
  const axes = () => {
    const tool = word("T");
    const out: { x?: number; y?: number; z?: number; e?: number } = {};
    for (const a of AXES) {
      const value = word(a.toUpperCase() as "X" | "Y" | "Z" | "E");
      if (value !== undefined && !(a === "e" && tool !== undefined && tool !== 0)) out[a] = value;
    }
    return out;
  };
  switch (code) {
    case 201:
      return { maxAcceleration: axes() };
    case 203:
      return { maxFeedrate: axes() };
    case 204: {
      const s = word("S");
      if (s !== undefined) return strip({ printAcceleration: s, travelAcceleration: s, retractAcceleration: word("T") });
      return strip({ printAcceleration: word("P"), retractAcceleration: word("R"), travelAcceleration: word("T") });
    }
    case 205: {
      const x = word("X");
      const jerk = strip({ x, y: word("Y") ?? x, z: word("Z"), e: word("E") });
      return { ...(Object.keys(jerk).length ? { maxJerk: jerk } : {}), ...strip({ minExtrudingRate: word("S"), minTravelRate: word("T"), junctionDeviation: word("J") }) };
    }
    default:
      return null;
  }
}

/**
 * Limits from a PrusaSlicer-family config block (`machine_max_*` keys; the first value of each
 * list is the normal mode). Returns undefined when the block has none.
 */
export function limitsFromSlicerConfig(config: Record<string, string>): MachineLimitsPatch | undefined {
  const num = (key: string): number | undefined => {
    const raw = config[key];
    if (raw === undefined) return undefined;
    const n = Number(raw.split(",")[0]);
    // A limit is never negative (the schema's Limit); a broken config block's value is ignored.
    return Number.isFinite(n) && n >= 0 ? n : undefined;
  };
  if (num("machine_max_feedrate_x") === undefined) return undefined;
  if (config.machine_limits_usage === "ignore") return undefined;
  const axes = (prefix: string) => strip({ x: num(`${prefix}_x`), y: num(`${prefix}_y`), z: num(`${prefix}_z`), e: num(`${prefix}_e`) });
  const print = num("machine_max_acceleration_extruding");
  const retract = num("machine_max_acceleration_retracting");
  // Older configs have no travel limit: PrusaSlicer then uses the extruding one.
  const travel = num("machine_max_acceleration_travel") ?? print;
  return {
    maxFeedrate: axes("machine_max_feedrate"),
    maxAcceleration: axes("machine_max_acceleration"),
    maxJerk: axes("machine_max_jerk"),
    ...strip({
      maxPrintAcceleration: print,
      maxRetractAcceleration: retract,
      maxTravelAcceleration: travel,
      printAcceleration: print,
      retractAcceleration: retract,
      travelAcceleration: travel,
      minExtrudingRate: num("machine_min_extruding_rate"),
      minTravelRate: num("machine_min_travel_rate"),
    }),
  };
}

/** The fields of `o` that are defined. */
function strip<T extends Record<string, number | undefined>>(o: T): { [K in keyof T]?: number } {
  return Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined)) as { [K in keyof T]?: number };
}
