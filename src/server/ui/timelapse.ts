/**
 * The Timelapse page of the htmx UI and its actions (the same TimelapseService as the API), and
 * saving a printer's timelapse settings from its Camera page.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { timelapseForm, timelapseList, timelapsePage } from "../../../views/timelapse.ts";
import { TimelapseConfigSchema } from "../../timelapse/config.ts";
import { setFor, setRefused, timelapseVisible, videoFor } from "../api/timelapse.ts";
import { accessFor } from "../auth/access.ts";
import type { AppContext } from "../context.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse, toastResponse } from "./routes.ts";

const TimelapseForm = v.object({
  mode: v.optional(v.string(), "off"),
  interval: v.optional(v.string(), "10"),
  minDelay: v.optional(v.string(), "0"),
  fps: v.optional(v.string(), "25"),
  postRoll: v.optional(v.string(), "0"),
  renderAfterPrint: v.optional(v.string(), "always"),
  postponeWhilePrinting: v.optional(v.string()),
});

export function uiTimelapse(ctx: AppContext) {
  const names = () => new Map(ctx.printers.list().map((s) => [s.id, s.record.name]));
  const list = (request: Request) => htmlResponse(timelapseList(ctx.timelapse.list(timelapseVisible(request)), names(), accessFor(request)));
  return new Elysia()
    .get("/timelapse", ({ request }) => htmlResponse(timelapsePage(ctx.timelapse.list(timelapseVisible(request)), names(), accessFor(request), pageSession(request))))
    .get("/ui/timelapse/list", ({ request }) => list(request))
    .post("/ui/timelapse/files/:name/delete", ({ params, request }) => {
      videoFor(ctx, request, params.name);
      ctx.timelapse.store.deleteVideo(params.name);
      return list(request);
    })
    .post("/ui/timelapse/unrendered/:name/render", ({ params, request }) => {
      const refusal = ctx.timelapse.render(setFor(ctx, request, params.name));
      if (refusal) return toastResponse(setRefused(refusal, params.name).message);
      return list(request);
    })
    .post("/ui/timelapse/unrendered/:name/delete", ({ params, request }) => {
      const refusal = ctx.timelapse.deleteSet(setFor(ctx, request, params.name));
      if (refusal) return toastResponse(setRefused(refusal, params.name).message);
      return list(request);
    })
    .post("/ui/printers/:id/timelapse", ({ params, body, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return toastResponse(`There is no printer "${params.id}".`);
      const form = v.safeParse(TimelapseForm, body ?? {});
      if (!form.success) return toastResponse("The timelapse settings were not saved: the form was incomplete.");
      const f = form.output;
      const parsed = v.safeParse(TimelapseConfigSchema, { ...f, interval: Number(f.interval), minDelay: Number(f.minDelay), fps: Number(f.fps), postRoll: Number(f.postRoll), postponeWhilePrinting: f.postponeWhilePrinting !== undefined });
      const access = accessFor(request);
      if (!parsed.success) return htmlResponse(timelapseForm(s.id, ctx.timelapse.config(s.id), access, { error: `Not saved — ${parsed.issues[0].message}.` }));
      return htmlResponse(timelapseForm(s.id, ctx.timelapse.configure(s.id, parsed.output), access, { saved: "Saved." }));
    });
}
