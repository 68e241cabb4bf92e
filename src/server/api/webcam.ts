/**
 * Native API of the printers' cameras: the config (`GET/PUT /api/v1/printers/:id/camera`) and the
 * picture through the host (`…/camera/stream`, `…/camera/snapshot`), so a streamer on the Pi's
 * loopback is watched from anywhere behind Layerline's login (webcam.md §5, §6).
 */
import { pathPrefix } from "../path-prefix.ts";
import { Elysia } from "elysia";
import { CameraPatchSchema, exposureWarning, withoutCredentials, type Camera } from "../../webcam/camera.ts";
import { CAMERA_FETCH_HEADER, CameraProblem } from "../../webcam/problem.ts";
import { STREAM_CONTENT_TYPE } from "../../webcam/mjpeg.ts";
import type { WebcamService } from "../../webcam/service.ts";
import { accessHolds, principalOf } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";

const NO_STORE = { "cache-control": "no-store, no-cache, must-revalidate", pragma: "no-cache" };

/** A camera problem as the API's error. */
export function cameraError(e: unknown): never {
  if (e instanceof CameraProblem) throw new ApiError(e.status, e.code, e.message, e.hint);
  throw e;
}

/** A request of the host's own camera fetch (a camera URL pointing back here): answered at once, marked so the fetch knows. */
function refuseLoop(request: Request): Response | null {
  return request.headers.has(CAMERA_FETCH_HEADER) ? cameraLoopResponse() : null;
}

/** The answer to the host's own camera fetch, which the fetch reads as `camera_loop`. */
export function cameraLoopResponse(): Response {
  const p = CameraProblem.loop();
  return Response.json({ error: { code: p.code, message: p.message, hint: p.hint } }, { status: 508, headers: { [CAMERA_FETCH_HEADER]: "loop" } });
}

/** The host's MJPEG stream of a printer's camera (until the request's credentials are revoked), or the camera's problem as an error. */
export async function streamResponse(webcam: WebcamService, printerId: string, request: Request): Promise<Response> {
  const loop = refuseLoop(request);
  if (loop) return loop;
  const body = await webcam.stream(printerId, () => accessHolds(request)).catch(cameraError);
  return new Response(body, { headers: { "content-type": STREAM_CONTENT_TYPE, ...NO_STORE, "x-accel-buffering": "no" } });
}

/** One picture of a printer's camera (query parameters such as cache busters are ignored). */
export async function snapshotResponse(webcam: WebcamService, printerId: string, request: Request): Promise<Response> {
  const loop = refuseLoop(request);
  if (loop) return loop;
  const shot = await webcam.snapshot(printerId).catch(cameraError);
  return new Response(shot.jpeg as Uint8Array<ArrayBuffer>, { headers: { "content-type": shot.contentType, ...NO_STORE, "x-content-type-options": "nosniff", "last-modified": new Date(shot.at).toUTCString() } });
}

/** The config as a viewer sees it: URLs without credentials unless they may change settings; the proxied URLs. */
/** `prefix`: the path Layerline is served under behind a proxy, for the proxied URLs. */
export function cameraJson(printerId: string, camera: Camera, mayConfigure: boolean, prefix = "") {
  const url = (u: string) => (mayConfigure ? u : withoutCredentials(u));
  const warnings = [exposureWarning(camera.streamUrl), exposureWarning(camera.snapshotUrl)].filter((w): w is string => w !== null);
  return {
    ...camera,
    streamUrl: url(camera.streamUrl),
    snapshotUrl: url(camera.snapshotUrl),
    configured: camera.streamUrl !== "" || camera.snapshotUrl !== "",
    proxy: { stream: `${prefix}/api/v1/printers/${printerId}/camera/stream`, snapshot: `${prefix}/api/v1/printers/${printerId}/camera/snapshot` },
    warnings: [...new Set(warnings)],
  };
}

export function webcamApi(ctx: AppContext) {
  const printerId = (id: string) => {
    if (!ctx.printers.get(id)) throw new ApiError(404, "not_found", `There is no printer "${id}".`, "GET /api/v1/printers lists them.");
    return id;
  };
  return new Elysia({ name: "webcam-api" })
    .get("/api/v1/printers/:id/camera", ({ params, request }) => cameraJson(params.id, ctx.webcam.camera(printerId(params.id)), principalOf(request).permissions.has("settings"), pathPrefix(request)))
    .put("/api/v1/printers/:id/camera", ({ params, body, request }) => cameraJson(params.id, ctx.webcam.configure(printerId(params.id), body), true, pathPrefix(request)), { body: CameraPatchSchema })
    .get("/api/v1/printers/:id/camera/stream", ({ params, request }) => streamResponse(ctx.webcam, printerId(params.id), request))
    .get("/api/v1/printers/:id/camera/snapshot", ({ params, request }) => snapshotResponse(ctx.webcam, printerId(params.id), request));
}
