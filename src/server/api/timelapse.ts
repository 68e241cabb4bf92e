/**
 * Native API of timelapses: each printer's settings, the videos (download with Range requests,
 * thumbnail, delete) and the frame sets not rendered (render, delete). Names are confined to the
 * timelapse folder by the store; a printer-restricted key sees its printer's only.
 */
import { Elysia } from "elysia";
import { statSync } from "node:fs";
import { TimelapsePatchSchema } from "../../timelapse/config.ts";
import type { SetRefusal } from "../../timelapse/service.ts";
import { principalOf, visibleTo } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { download } from "./files.ts";

const noVideo = (name: string) => new ApiError(404, "not_found", `There is no timelapse "${name}".`, "GET /api/v1/timelapse lists them.");

/** Whether the request's principal may see a timelapse of `printer` (null: of a printer removed since). */
export const timelapseVisible = (request: Request) => (printer: string | null) => (printer === null ? principalOf(request).printerId === null : visibleTo(request, printer));

/** A video's path if the request may have it; else 404. */
export function videoFor(ctx: AppContext, request: Request, name: string): string {
  const path = ctx.timelapse.store.video(name);
  const entry = path ? ctx.timelapse.store.videos(ctx.printers.list().map((p) => p.id)).find((v) => v.name === name) : undefined;
  if (!path || !entry || !timelapseVisible(request)(entry.printer)) throw noVideo(name);
  return path;
}

/** The video as a download that players can seek in. */
export function videoResponse(ctx: AppContext, request: Request, name: string): Response {
  const path = videoFor(ctx, request, name);
  const st = statSync(path);
  return download(request, path, name, `W/"${st.size}-${Math.round(st.mtimeMs)}"`, "video/mp4", "inline");
}

/** A refusal to render or delete a frame set, as the API's error. */
export function setRefused(refusal: SetRefusal, name: string): ApiError {
  return refusal === "missing"
    ? new ApiError(404, "not_found", `There is no unrendered timelapse "${name}".`, "GET /api/v1/timelapse lists them under unrendered.")
    : new ApiError(409, "recording", `The timelapse "${name}" is still being recorded.`, "Wait until its print ends.");
}

/** A frame set's name, when the request may see it (else 404 as for one that does not exist). */
export function setFor(ctx: AppContext, request: Request, name: string): string {
  const meta = ctx.timelapse.store.meta(name);
  if (meta && !timelapseVisible(request)(meta.printer)) throw setRefused("missing", name);
  return name;
}

export function timelapseApi(ctx: AppContext) {
  const printerId = (id: string) => {
    if (!ctx.printers.get(id)) throw new ApiError(404, "not_found", `There is no printer "${id}".`, "GET /api/v1/printers lists them.");
    return id;
  };
  return new Elysia({ name: "timelapse-api" })
    .get("/api/v1/printers/:id/timelapse", ({ params }) => ctx.timelapse.config(printerId(params.id)))
    .put("/api/v1/printers/:id/timelapse", ({ params, body }) => ctx.timelapse.configure(printerId(params.id), body), { body: TimelapsePatchSchema })
    .get("/api/v1/timelapse", ({ request }) => ctx.timelapse.list(timelapseVisible(request)))
    .get("/api/v1/timelapse/files/:name", ({ params, request }) => videoResponse(ctx, request, params.name))
    .get("/api/v1/timelapse/files/:name/thumbnail", ({ params, request }) => {
      const path = videoFor(ctx, request, params.name);
      const thumb = Bun.file(`${path}.thumb.jpg`);
      return thumb.size > 0 ? new Response(thumb, { headers: { "content-type": "image/jpeg" } }) : new Response(null, { status: 404 });
    })
    .delete("/api/v1/timelapse/files/:name", ({ params, request }) => {
      videoFor(ctx, request, params.name);
      ctx.timelapse.store.deleteVideo(params.name);
      return new Response(null, { status: 204 });
    })
    .post("/api/v1/timelapse/unrendered/:name/render", ({ params, request }) => {
      const refusal = ctx.timelapse.render(setFor(ctx, request, params.name));
      if (refusal) throw setRefused(refusal, params.name);
      return new Response(JSON.stringify(ctx.timelapse.renderer.status()), { status: 202, headers: { "content-type": "application/json" } });
    })
    .delete("/api/v1/timelapse/unrendered/:name", ({ params, request }) => {
      const refusal = ctx.timelapse.deleteSet(setFor(ctx, request, params.name));
      if (refusal) throw setRefused(refusal, params.name);
      return new Response(null, { status: 204 });
    });
}
