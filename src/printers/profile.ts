/**
 * A printer's profile: its build volume, heated bed and chamber, extruders (OctoPrint's printer
 * profile, which slicers and apps read and edit through the compat API), and its machine limits
 * (max feed rates, accelerations, jerk: what the time estimates plan with where the file sets
 * none; filled in from the firmware's own report when the profile has none). Scripts read it,
 * and the cancel-object map draws the bed from it. Stored per printer in the settings.
 */
import * as v from "valibot";
import { isEmptyLimits, mergeLimits, MachineLimitsPatchSchema, type MachineLimitsPatch } from "../analysis/limits.ts";
import type { SettingsStore } from "../db/settings.ts";

const NUMBER = "must be a number";
export const PrinterProfileSchema = v.object({
  name: v.optional(v.pipe(v.string(), v.maxLength(80, "must be at most 80 characters")), "Default"),
  model: v.optional(v.pipe(v.string(), v.maxLength(80, "must be at most 80 characters")), "Generic RepRap Printer"),
  color: v.optional(v.string(), "default"),
  heatedBed: v.optional(v.boolean(), true),
  heatedChamber: v.optional(v.boolean(), false),
  volume: v.optional(
    v.object({
      width: v.optional(v.pipe(v.number(NUMBER), v.minValue(1, "must be at least 1")), 200),
      depth: v.optional(v.pipe(v.number(NUMBER), v.minValue(1, "must be at least 1")), 200),
      height: v.optional(v.pipe(v.number(NUMBER), v.minValue(1, "must be at least 1")), 200),
      formFactor: v.optional(v.picklist(["rectangular", "circular"], 'must be "rectangular" or "circular"'), "rectangular"),
      origin: v.optional(v.picklist(["lowerleft", "center"], 'must be "lowerleft" or "center"'), "lowerleft"),
      custom_box: v.optional(v.literal(false), false),
    }),
    {},
  ),
  extruder: v.optional(
    v.object({
      count: v.optional(v.pipe(v.number(NUMBER), v.integer("must be a whole number"), v.minValue(1, "must be at least 1"), v.maxValue(10, "must be at most 10")), 1),
      nozzleDiameter: v.optional(v.pipe(v.number(NUMBER), v.minValue(0.05, "must be at least 0.05"), v.maxValue(5, "must be at most 5")), 0.4),
      sharedNozzle: v.optional(v.boolean(), false),
      defaultExtrusionLength: v.optional(v.number(), 5),
    }),
    {},
  ),
  /** The printer's machine limits; absent: none known (the analysis uses the file's and Marlin's defaults). */
  limits: v.optional(MachineLimitsPatchSchema),
});
export type PrinterProfile = v.InferOutput<typeof PrinterProfileSchema>;
export const DEFAULT_PROFILE: PrinterProfile = v.parse(PrinterProfileSchema, {});

const profileKey = (printerId: string) => `printer.profile.${printerId}`;

export function readProfile(store: SettingsStore, printerId: string): PrinterProfile {
  return store.get(profileKey(printerId), PrinterProfileSchema, DEFAULT_PROFILE);
}

/** The profile's machine limits, undefined when it has none. */
export function profileLimits(profile: PrinterProfile): MachineLimitsPatch | undefined {
  return isEmptyLimits(profile.limits) ? undefined : profile.limits;
}

/**
 * What is wrong with a profile change: the field, by its path in the profile (`volume.width`,
 * `limits.maxJerk.x`), and what is wrong with it. The API says the path; the UI the field's label.
 */
export interface ProfileProblem {
  path: string;
  message: string;
}

/** The problem as JSON clients read it. Example: "volume.width: must be at least 1". */
export function problemText(problem: ProfileProblem): string {
  return `${problem.path}: ${problem.message}`;
}

/**
 * Merges a partial profile (`limits` merges field by field, or replaces the profile's with
 * `limits: "replace"`; `limits: null` removes them all); returns the problem if the result is
 * invalid (then nothing is stored).
 */
export function updateProfile(store: SettingsStore, printerId: string, patch: Record<string, unknown>, limits: "merge" | "replace" = "merge"): ProfileProblem | null {
  const current = readProfile(store, printerId);
  const merged: Record<string, unknown> = { ...current, ...patch };
  for (const part of ["volume", "extruder"] as const) {
    const p = patch[part];
    // An array would spread as keys "0", "1"… that the schema then drops: accepted, and ignored.
    if (Array.isArray(p)) return { path: part, message: "expected an object of named fields, got a list" };
    if (p && typeof p === "object") merged[part] = { ...current[part], ...(p as object) };
  }
  if (patch.limits === null) delete merged.limits;
  else if (patch.limits !== undefined) {
    const parsed = v.safeParse(MachineLimitsPatchSchema, patch.limits);
    if (!parsed.success) {
      const at = v.getDotPath(parsed.issues[0]);
      return { path: at ? `limits.${at}` : "limits", message: parsed.issues[0].message };
    }
    const next = mergeLimits(limits === "replace" ? {} : (current.limits ?? {}), parsed.output);
    if (isEmptyLimits(next)) delete merged.limits;
    else merged.limits = next;
  }
  const parsed = v.safeParse(PrinterProfileSchema, merged);
  if (!parsed.success) return { path: v.getDotPath(parsed.issues[0]) ?? "profile", message: parsed.issues[0].message };
  store.set(profileKey(printerId), parsed.output);
  return null;
}
