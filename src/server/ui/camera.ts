/**
 * The printer's Camera settings page of the htmx UI, and saving it (the same WebcamService as
 * `PUT /api/v1/printers/:id/camera`); the form answers with a fresh copy of itself.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { cameraForm, cameraPage } from "../../../views/camera.ts";
import { timelapseForm } from "../../../views/timelapse.ts";
import { CameraSchema } from "../../webcam/camera.ts";
import { accessFor } from "../auth/access.ts";
import type { AppContext } from "../context.ts";
import { notFoundResponse } from "../errors.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse, toastResponse } from "./routes.ts";

const CameraForm = v.object({
  streamUrl: v.optional(v.string(), ""),
  snapshotUrl: v.optional(v.string(), ""),
  rotate: v.optional(v.string(), "0"),
  ratio: v.optional(v.string(), "16:9"),
  flipH: v.optional(v.string()),
  flipV: v.optional(v.string()),
});

export function uiCamera(ctx: AppContext) {
  return new Elysia()
    .get("/settings/printers/:id/camera", ({ params, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return notFoundResponse(`There is no printer "${params.id}".`, pageSession(request));
      const access = accessFor(request);
      return htmlResponse(cameraPage(s.record, ctx.webcam.camera(s.id), access, pageSession(request), timelapseForm(s.id, ctx.timelapse.config(s.id), access)));
    })
    .post("/ui/printers/:id/camera", ({ params, body, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return toastResponse(`There is no printer "${params.id}".`);
      const form = v.safeParse(CameraForm, body ?? {});
      if (!form.success) return toastResponse("The camera was not saved: the form was incomplete.");
      const f = form.output;
      const parsed = v.safeParse(CameraSchema, { streamUrl: f.streamUrl, snapshotUrl: f.snapshotUrl, rotate: Number(f.rotate), ratio: f.ratio, flipH: f.flipH !== undefined, flipV: f.flipV !== undefined });
      const access = accessFor(request);
      if (!parsed.success) return htmlResponse(cameraForm(s.record, { ...ctx.webcam.camera(s.id), streamUrl: f.streamUrl, snapshotUrl: f.snapshotUrl }, access, { error: `Not saved — ${parsed.issues[0].message}.` }));
      return htmlResponse(cameraForm(s.record, ctx.webcam.configure(s.id, parsed.output), access, { saved: "Saved." }));
    });
}
