/**
 * Sent with every request the host makes to a camera. The host's own camera routes refuse a request
 * that carries it (and say so with it): a camera URL that points back at the host (a client sent
 * back the URLs it was given) would otherwise have the host fetch itself, deeper and deeper.
 */
export const CAMERA_FETCH_HEADER = "x-layerline-camera-fetch";

/**
 * What went wrong with a camera, in words for people (design principle 6): a stable code, a
 * sentence and a hint. Routes answer them as 4xx/5xx JSON errors, never as a crash.
 */
export class CameraProblem extends Error {
  constructor(
    readonly code: "no_camera" | "camera_unreachable" | "camera_timeout" | "camera_error" | "camera_bad_stream" | "camera_stalled" | "camera_ended" | "camera_stopped" | "camera_loop",
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }

  /** The HTTP status to answer with: the camera (upstream) failed → 502/504; none configured → 404. */
  get status(): number {
    return this.code === "no_camera" ? 404 : this.code === "camera_timeout" || this.code === "camera_stalled" ? 504 : 502;
  }

  /** A failed fetch (refused, unknown host…) as a problem. */
  static of(e: unknown, url: string): CameraProblem {
    const message = e instanceof Error ? e.message : String(e);
    let where = url;
    try {
      const u = new URL(url);
      where = u.host;
    } catch {}
    return new CameraProblem("camera_unreachable", `The camera at ${where} could not be reached (${message}).`, "Check that the streamer runs on that host and port and that the URL is right.");
  }

  /** The host itself was asked for its picture by its own camera fetch. */
  static loop(): CameraProblem {
    return new CameraProblem("camera_loop", "The camera URL points at Layerline itself, not at the camera's streamer.", "Enter the streamer's own address (e.g. http://127.0.0.1:8080/?action=stream), not the camera address Layerline gives to slicers and apps.");
  }

  /** A camera's answer that is no picture, or null when it is fine. */
  static ofResponse(response: Response, kind: "stream" | "snapshot"): CameraProblem | null {
    if (response.headers.has(CAMERA_FETCH_HEADER)) return CameraProblem.loop();
    if (!response.ok) {
      return new CameraProblem("camera_error", `The camera answered ${response.status} ${response.statusText} to the ${kind} URL.`, response.status === 401 || response.status === 403 ? "The streamer wants credentials: put them in the URL (http://user:password@host:port/…)." : `Check the ${kind} URL (for mjpg-streamer and µStreamer: /?action=${kind}).`);
    }
    const type = (response.headers.get("content-type") ?? "").toLowerCase();
    if (kind === "stream" && type.startsWith("image/")) {
      return new CameraProblem("camera_bad_stream", `The stream URL answered with one picture (${type}), not an MJPEG stream.`, "Put that URL under Snapshot URL, and the streamer's stream URL (…?action=stream) under Stream URL.");
    }
    if (type.startsWith("text/html") || type.startsWith("application/json")) {
      return new CameraProblem("camera_bad_stream", `The ${kind} URL answered with ${type.split(";")[0]}, not ${kind === "stream" ? "an MJPEG stream" : "a picture"}.`, `Check the ${kind} URL (for mjpg-streamer and µStreamer: /?action=${kind}).`);
    }
    return null;
  }
}
