/**
 * The job's controls in the htmx UI: restart, the cancel-object map and its action, and the
 * interrupted print (resume from its last layer start, or discard). Each calls the same session
 * and job service as the JSON API; a failure comes back as a toast. Also the printer view the
 * live panel renders, with the running job's thumbnail.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { livePanel, type PrinterView } from "../../../views/dashboard.ts";
import type { Html } from "../../../views/html.ts";
import { jobThumbnail, objectMap } from "../../../views/job.ts";
import { FileCatalog, type ThumbnailRef } from "../../files/catalog.ts";
import type { Result } from "../../printers/controller.ts";
import type { PrinterSession } from "../../printers/session.ts";
import { accessFor, type Access } from "../auth/access.ts";
import type { AppContext } from "../context.ts";
import { htmlResponse, toastResponse } from "./routes.ts";

const ObjectForm = v.object({ name: v.pipe(v.string(), v.minLength(1), v.maxLength(1024)) });

/** The cancel-object map of a printer's running job, from its file's analysis. */
export function objectMapView(ctx: AppContext, s: PrinterSession, access: Access): Html {
  const job = s.status.job;
  const analysis = job?.sha256 ? ctx.analyses.result(job.sha256) : undefined;
  return objectMap(s.id, job, analysis?.objects ?? [], ctx.jobs.profile(s.id), access);
}

/** What the live panel renders for a printer: its record, status and the job's thumbnail. */
export function printerViews(ctx: AppContext): (s: PrinterSession) => PrinterView {
  const catalog = new FileCatalog(ctx.files, ctx.analyses, ctx.analysis);
  // By content hash: a thumbnail found stays valid (the status is pushed many times a second).
  const found = new Map<string, ThumbnailRef | null>();
  const thumbnail = (s: PrinterSession): ThumbnailRef | null => {
    const job = s.status.job;
    if (!job || job.source !== "host" || !job.sha256) return null;
    const known = found.get(job.sha256);
    if (known) return known;
    const entry = catalog.get(job.file);
    const thumb = entry && entry.sha256 === job.sha256 ? jobThumbnail(entry.thumbnails) : null;
    if (thumb) {
      if (found.size > 64) found.clear();
      found.set(job.sha256, thumb);
    }
    return thumb;
  };
  return (s) => ({ record: s.record, status: s.status, thumbnail: thumbnail(s) });
}

/** Runs an action on a printer and answers with its live panel (as the requester may see it), or a toast when it failed. */
export function liveAction(ctx: AppContext, view: (s: PrinterSession) => PrinterView) {
  return async (request: Request, id: string, action: (s: PrinterSession) => Promise<Result<unknown>>) => {
    const s = ctx.printers.get(id);
    if (!s) return toastResponse(`There is no printer "${id}".`);
    const result = await action(s);
    if (!result.ok) return toastResponse(result.error.message, result.error.hint);
    return htmlResponse(livePanel(view(s), accessFor(request)));
  };
}

export function uiJobs(ctx: AppContext) {
  const view = printerViews(ctx);
  const act = liveAction(ctx, view);
  const map = (request: Request, s: PrinterSession) => htmlResponse(objectMapView(ctx, s, accessFor(request)));

  return new Elysia()
    .post("/ui/printers/:id/job/restart", ({ params, request }) => act(request, params.id, (s) => s.restartJob()))
    .post("/ui/printers/:id/job/interrupted/resume", ({ params, request }) => act(request, params.id, (s) => ctx.jobs.resumeInterrupted(s)))
    .post("/ui/printers/:id/job/interrupted/discard", ({ params, request }) => act(request, params.id, (s) => ctx.jobs.discardInterrupted(s)))
    .get("/ui/printers/:id/job/objects", ({ params, request }) => {
      const s = ctx.printers.get(params.id);
      return s ? map(request, s) : toastResponse(`There is no printer "${params.id}".`);
    })
    .post("/ui/printers/:id/job/cancel-object", async ({ params, body, request }) => {
      const form = v.safeParse(ObjectForm, body ?? {});
      if (!form.success) return toastResponse("Choose an object to cancel.");
      const s = ctx.printers.get(params.id);
      if (!s) return toastResponse(`There is no printer "${params.id}".`);
      const result = await s.cancelObject(form.output.name);
      if (!result.ok) return toastResponse(result.error.message, result.error.hint);
      return map(request, s);
    });
}
