/**
 * A printer's timelapse settings (webcam.md §4.4): when to take frames — off, at every layer
 * change, or every `interval` seconds — how fast the video plays, how long the last frame stays
 * (post-roll), whether to render when the print ends and whether rendering waits until no printer
 * prints. Stored per printer with SettingsStore under `timelapse.config.<printer id>`.
 */
import * as v from "valibot";
import type { SettingsStore } from "../db/settings.ts";

export const MODES = ["off", "layer", "timed"] as const;
export const RENDER_AFTER = ["always", "success", "failure", "never"] as const;

export const TimelapseConfigSchema = v.object({
  /** `layer`: a frame when the printer begins each layer (OctoPrint's "zchange"); `timed`: every `interval` s. */
  mode: v.optional(v.picklist(MODES, `mode is ${MODES.join(", ")}`), "off"),
  interval: v.optional(v.pipe(v.number("interval is a number of seconds"), v.minValue(1, "interval is at least 1 s"), v.maxValue(3600, "interval is at most 3600 s")), 10),
  /** Layers closer together than this (vase mode, tiny layers) share one frame. */
  minDelay: v.optional(v.pipe(v.number("minDelay is a number of seconds"), v.minValue(0), v.maxValue(600)), 0),
  fps: v.optional(v.pipe(v.number("fps is a number"), v.integer("fps is a whole number"), v.minValue(1, "fps is 1 to 60"), v.maxValue(60, "fps is 1 to 60")), 25),
  /** Seconds the last frame is shown at the end of the video. */
  postRoll: v.optional(v.pipe(v.number("postRoll is a number of seconds"), v.minValue(0), v.maxValue(30, "postRoll is at most 30 s")), 0),
  renderAfterPrint: v.optional(v.picklist(RENDER_AFTER, `renderAfterPrint is ${RENDER_AFTER.join(", ")}`), "always"),
  /** Render only while no printer prints (ffmpeg takes the CPU a Pi's printers need). */
  postponeWhilePrinting: v.optional(v.boolean("postponeWhilePrinting is true or false"), true),
});
export type TimelapseConfig = v.InferOutput<typeof TimelapseConfigSchema>;
export const TimelapsePatchSchema = v.partial(TimelapseConfigSchema);
export type TimelapsePatch = v.InferOutput<typeof TimelapsePatchSchema>;

export const DEFAULT_TIMELAPSE: TimelapseConfig = v.parse(TimelapseConfigSchema, {});

const key = (printerId: string) => `timelapse.config.${printerId}`;

export function readTimelapseConfig(settings: SettingsStore, printerId: string): TimelapseConfig {
  return settings.get(key(printerId), TimelapseConfigSchema, DEFAULT_TIMELAPSE);
}

export function writeTimelapseConfig(settings: SettingsStore, printerId: string, patch: TimelapsePatch): TimelapseConfig {
  const config = { ...readTimelapseConfig(settings, printerId), ...Object.fromEntries(Object.entries(patch).filter(([, x]) => x !== undefined)) } as TimelapseConfig;
  settings.set(key(printerId), config);
  return config;
}

/** Whether a print that ended in `state` is rendered under `policy`. */
export function rendersAfter(policy: TimelapseConfig["renderAfterPrint"], state: "done" | "cancelled" | "failed"): boolean {
  return policy === "always" || (policy === "success" ? state === "done" : policy === "failure" ? state !== "done" : false);
}
