/**
 * Machine limits for the time estimate: the printer's kinematic envelope. They come, in order of
 * precedence, from Marlin 2's defaults, the printer profile, the slicer's config block in the
 * file, and finally the file's own `M201/M203/M204/M205/M566` lines (applied while planning).
 */
import * as v from "valibot";

const Axes = v.object({ x: v.number(), y: v.number(), z: v.number(), e: v.number() });

export const MachineLimitsSchema = v.object({
  /** mm/s per axis. */
  maxFeedrate: Axes,
  /** mm/s² per axis. */
  maxAcceleration: Axes,
  /** mm/s per axis (classic jerk). */
  maxJerk: Axes,
  /** Ceiling for print moves (M204 P/S), mm/s². */
  maxPrintAcceleration: v.number(),
  maxRetractAcceleration: v.number(),
  maxTravelAcceleration: v.number(),
  /** Start values of M204 P, R, T. */
  printAcceleration: v.number(),
  retractAcceleration: v.number(),
  travelAcceleration: v.number(),
  /** M205 S / T, mm/s. */
  minExtrudingRate: v.number(),
  minTravelRate: v.number(),
  /** Marlin 2 junction deviation in mm (M205 J); 0 = classic jerk. */
  junctionDeviation: v.number(),
});

export type MachineLimits = v.InferOutput<typeof MachineLimitsSchema>;

/** Partial limits (a printer profile or a setting): any field may be missing. */
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

/** `base` with the fields of `patch` that are set. */
export function applyLimits(base: MachineLimits, patch: MachineLimitsPatch | undefined): MachineLimits {
  if (!patch) return base;
  const out: MachineLimits = { ...base, maxFeedrate: { ...base.maxFeedrate }, maxAcceleration: { ...base.maxAcceleration }, maxJerk: { ...base.maxJerk } };
  for (const key of ["maxFeedrate", "maxAcceleration", "maxJerk"] as const) {
    const axes = patch[key];
    if (axes) for (const a of ["x", "y", "z", "e"] as const) if (axes[a] !== undefined) out[key][a] = axes[a]!;
  }
  for (const key of [
    "maxPrintAcceleration",
    "maxRetractAcceleration",
    "maxTravelAcceleration",
    "printAcceleration",
    "retractAcceleration",
    "travelAcceleration",
    "minExtrudingRate",
    "minTravelRate",
    "junctionDeviation",
  ] as const) {
    if (patch[key] !== undefined) out[key] = patch[key]!;
  }
  return out;
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
    return Number.isFinite(n) ? n : undefined;
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
