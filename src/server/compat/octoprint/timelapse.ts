/**
 * OctoPrint's `/api/timelapse` shapes (api_timelapse.json, server/api/timelapse.py) as renderings
 * of a printer's timelapse settings and the host's videos and frame sets. OctoPrint's "zchange"
 * is Layerline's "layer" mode.
 */
import * as v from "valibot";
import type { TimelapseConfig, TimelapsePatch } from "../../../timelapse/config.ts";
import type { UnrenderedSet } from "../../../timelapse/service.ts";
import type { VideoEntry } from "../../../timelapse/store.ts";

const num = v.union([v.number(), v.pipe(v.string(), v.decimal("must be a number"), v.transform(Number))]);

/** `POST /api/timelapse`: the new settings (`save` is accepted: Layerline always keeps them). */
export const TimelapseUpdateSchema = v.object({
  type: v.optional(v.picklist(["off", "zchange", "timed"], 'type is "off", "zchange" or "timed"')),
  postRoll: v.optional(num),
  fps: v.optional(num),
  interval: v.optional(num),
  retractionZHop: v.optional(num),
  minDelay: v.optional(num),
  renderAfterPrint: v.optional(v.picklist(["always", "success", "failure", "never", "off"], "renderAfterPrint is always, success, failure or never")),
  save: v.optional(v.unknown()),
});

export function timelapsePatchOf(u: v.InferOutput<typeof TimelapseUpdateSchema>): TimelapsePatch {
  return {
    mode: u.type === undefined ? undefined : u.type === "zchange" ? "layer" : u.type,
    postRoll: u.postRoll,
    fps: u.fps === undefined ? undefined : Math.round(u.fps),
    interval: u.interval,
    minDelay: u.minDelay,
    renderAfterPrint: u.renderAfterPrint === "off" ? "never" : u.renderAfterPrint,
  };
}

export function timelapseConfigPayload(c: TimelapseConfig) {
  const renderAfterPrint = c.renderAfterPrint === "never" ? "off" : c.renderAfterPrint;
  if (c.mode === "off") return { type: "off" };
  if (c.mode === "layer") return { type: "zchange", postRoll: c.postRoll, fps: c.fps, retractionZHop: 0, minDelay: c.minDelay, renderAfterPrint };
  return { type: "timed", postRoll: c.postRoll, fps: c.fps, interval: c.interval, renderAfterPrint };
}

/** Bytes as OctoPrint's `get_formatted_size` writes them ("1.2MB"). */
export function formattedSize(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(1)}${units[i]}`;
}

/** A moment as OctoPrint's `get_formatted_datetime` writes it ("2025-01-01 12:00", local time). */
function formattedDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function timelapseFilePayload(f: VideoEntry, downloads: string) {
  const url = `${downloads}/downloads/timelapse/${encodeURIComponent(f.name)}`;
  return {
    name: f.name,
    size: formattedSize(f.bytes),
    bytes: f.bytes,
    date: formattedDate(f.date),
    timestamp: f.date / 1000,
    url,
    ...(f.thumbnail ? { thumbnail: `${url}.thumb.jpg` } : {}),
  };
}

export function unrenderedPayload(s: UnrenderedSet) {
  return { name: s.name, count: s.frames, size: formattedSize(s.bytes), bytes: s.bytes, date: formattedDate(s.startedAt), recording: s.recording, rendering: s.rendering, processing: s.rendering };
}
