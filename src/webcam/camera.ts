/**
 * A printer's camera: where its streamer answers (MJPEG stream, JPEG snapshot) and how the picture
 * is turned. Stored per printer with SettingsStore under `webcam.camera.<printer id>`, read through
 * the schema, so a value edited by hand can never crash a reader.
 */
import * as v from "valibot";
import type { SettingsStore } from "../db/settings.ts";

/** An http(s) URL of the camera, or "" for none. */
export const CameraUrl = v.pipe(
  v.string("a camera URL is text"),
  v.trim(),
  v.maxLength(2048, "a camera URL may be at most 2048 characters"),
  v.check((s) => s === "" || /^https?:\/\/[^\s/?#]+/i.test(s), "a camera URL starts with http:// or https:// and names a host (e.g. http://127.0.0.1:8080/?action=stream)"),
);

export const RATIOS = ["16:9", "4:3"] as const;
export const ROTATIONS = [0, 90, 180, 270] as const;

export const CameraSchema = v.object({
  /** MJPEG stream (multipart/x-mixed-replace), e.g. µStreamer's `http://127.0.0.1:8080/?action=stream`. */
  streamUrl: v.optional(CameraUrl, ""),
  /** One JPEG; when empty, snapshots are taken from the stream. */
  snapshotUrl: v.optional(CameraUrl, ""),
  flipH: v.optional(v.boolean("flipH is true or false"), false),
  flipV: v.optional(v.boolean("flipV is true or false"), false),
  /** Clockwise degrees (OctoPrint's `rotate90` is 90° counter-clockwise = 270 here). */
  rotate: v.optional(v.picklist(ROTATIONS, "rotate is 0, 90, 180 or 270 (degrees clockwise)"), 0),
  ratio: v.optional(v.picklist(RATIOS, `ratio is ${RATIOS.join(" or ")}`), "16:9"),
});
export type Camera = v.InferOutput<typeof CameraSchema>;

/** `PUT /api/v1/printers/:id/camera`: any of the fields; the others keep their value. */
export const CameraPatchSchema = v.partial(CameraSchema);
export type CameraPatch = v.InferOutput<typeof CameraPatchSchema>;

export const NO_CAMERA: Camera = v.parse(CameraSchema, {});

const key = (printerId: string) => `webcam.camera.${printerId}`;

/** A camera is configured when it has a stream or a snapshot URL. */
export const hasCamera = (c: Camera): boolean => c.streamUrl !== "" || c.snapshotUrl !== "";

export function readCamera(settings: SettingsStore, printerId: string): Camera {
  return settings.get(key(printerId), CameraSchema, NO_CAMERA);
}

export function writeCamera(settings: SettingsStore, printerId: string, camera: Camera): void {
  settings.set(key(printerId), camera);
}

/** Query parameters that carry credentials in IP cameras' URLs (Reolink `user`/`password`, Foscam `usr`/`pwd`, keys and tokens). */
const CREDENTIAL_PARAM = /^(user(name)?|usr|login|pass(word)?|passwd|pwd|key|api_?key|token|access_?token|camera_?token|auth|secret|sig(nature)?)$/i;

/**
 * A URL as someone without the settings permission sees it: user and password removed (a streamer
 * with basic auth keeps them in the URL), and so are query parameters that carry credentials.
 * Example: `http://u:p@cam/s?cmd=Snap&pwd=x` → `http://cam/s?cmd=Snap`.
 */
export function withoutCredentials(url: string): string {
  if (url === "") return url;
  try {
    const u = new URL(url);
    const params = [...u.searchParams.keys()].filter((k) => CREDENTIAL_PARAM.test(k));
    if (!u.username && !u.password && params.length === 0) return url;
    u.username = "";
    u.password = "";
    for (const k of params) u.searchParams.delete(k);
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Why a camera URL may be reachable by more than this host, or null: a streamer should listen on
 * loopback (or the LAN) and be watched through Layerline, whose login covers it (webcam.md §6).
 */
export function exposureWarning(url: string): string | null {
  if (url === "") return null;
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return null;
  }
  const local =
    host === "localhost" ||
    /^127\./.test(host) ||
    host === "::1" ||
    /^10\./.test(host) ||
    /^192\.168\./.test(host) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(host) ||
    /^169\.254\./.test(host) ||
    /^f[cd][0-9a-f]{2}:/i.test(host) ||
    /^fe80:/i.test(host) ||
    host.endsWith(".local") ||
    !host.includes(".");
  return local ? null : `${host} looks like a public address: anyone who can reach the camera there watches it without logging in. Let the streamer listen on 127.0.0.1 and watch it through Layerline.`;
}

/** The CSS transform that shows the picture as configured (flips, then clockwise rotation). */
export function cssTransform(c: Camera): string {
  const parts = [c.rotate ? `rotate(${c.rotate}deg)` : "", c.flipH ? "scaleX(-1)" : "", c.flipV ? "scaleY(-1)" : ""].filter(Boolean);
  return parts.length ? parts.join(" ") : "none";
}
