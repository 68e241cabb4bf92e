/**
 * The htmx UI: full pages and the fragments that actions return. Forms post here (URL-encoded or
 * multipart); each action calls the same printer session as the JSON API and answers with the
 * fragment to swap in, or a toast explaining what went wrong.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { cameraCard } from "../../../views/camera.ts";
import { customControlsPanel } from "../../../views/controls.ts";
import { dashboardPage, fileList, noPrinterPage, toast } from "../../../views/dashboard.ts";
import type { Html } from "../../../views/html.ts";
import { settingsHome } from "../../../views/layout.ts";
import { FileError } from "../../files/storage.ts";
import { notFoundResponse } from "../errors.ts";
import { receiveUpload } from "../../files/upload.ts";
import { accessFor } from "../auth/access.ts";
import { principalOf, visibleTo } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { jogGcode } from "../../controls/manual.ts";
import { JOG_STEPS } from "../../../views/dashboard.ts";
import { liveAction, printerViews } from "./jobs.ts";
import { farmNav, farmViews } from "./overview.ts";
import { pageSession } from "./page-session.ts";

export const htmlResponse = (body: Html, headers: Record<string, string> = {}) =>
  new Response(body.value, { headers: { "content-type": "text/html; charset=utf-8", ...headers } });

/** A toast in place of the requested swap (htmx only swaps 2xx answers, so this is a 200). */
export const toastResponse = (message: string, hint = "") =>
  htmlResponse(toast("error", message, hint), { "HX-Retarget": "#toasts", "HX-Reswap": "beforeend" });

const CommandForm = v.object({ command: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(256)) });
const TemperatureForm = v.object({
  tool0: v.optional(v.string()),
  bed: v.optional(v.string()),
  off: v.optional(v.string()),
});
const JobForm = v.object({ file: v.pipe(v.string(), v.minLength(1)) });
/** The jog pad: which way (an axis and a sign, from the pressed button) and how far (mm). */
const JogForm = v.object({
  move: v.picklist(["x-", "x+", "y-", "y+", "z-", "z+"]),
  step: v.picklist(JOG_STEPS.map(String)),
});
const DeleteForm = v.object({ path: v.pipe(v.string(), v.minLength(1)) });

export function uiRoutes(ctx: AppContext) {
  const view = printerViews(ctx);
  const act = liveAction(ctx, view);
  const farm = farmViews(ctx);
  const parse = <S extends v.GenericSchema>(schema: S, body: unknown) => v.safeParse(schema, body ?? {});

  return new Elysia()
    .get("/", ({ query, request }) => {
      // The printer asked for, else a restricted key's own, else the default; never one the viewer may not see.
      const own = principalOf(request).printerId;
      const s = (typeof query.printer === "string" && ctx.printers.get(query.printer)) || (own ? ctx.printers.get(own) : ctx.printers.default());
      if (s && !visibleTo(request, s.id)) return new Response(null, { status: 303, headers: { location: "/" } });
      if (!s) return htmlResponse(noPrinterPage(pageSession(request)));
      const access = accessFor(request);
      return htmlResponse(dashboardPage(view(s), farmNav(farm, request, s.id), ctx.files.list(), s.terminal, access, pageSession(request), cameraCard(s.record, ctx.webcam.camera(s.id), access), customControlsPanel(ctx.controls.list(), ctx.controls.updatedAt(), s.id, ctx.controls.outputs(s.id), access)));
    })
    // A typed or bookmarked /settings: the first settings page this viewer may open.
    .get("/settings", ({ request }) => {
      const session = pageSession(request);
      const home = settingsHome(session);
      if (home) return new Response(null, { status: 303, headers: { location: home } });
      return notFoundResponse("There is no settings page you may open.", session);
    })
    .post("/ui/printers/:id/connect", ({ params, request }) => act(request, params.id, (s) => ctx.printers.connect(s.id)))
    .post("/ui/printers/:id/disconnect", ({ params, request }) => act(request, params.id, (s) => ctx.printers.disconnect(s.id)))
    .post("/ui/printers/:id/emergency-stop", ({ params, request }) => act(request, params.id, (s) => s.emergencyStop()))
    .post("/ui/printers/:id/job/pause", ({ params, request }) => act(request, params.id, (s) => s.pauseJob()))
    .post("/ui/printers/:id/job/resume", ({ params, request }) => act(request, params.id, (s) => s.resumeJob()))
    .post("/ui/printers/:id/job/cancel", ({ params, request }) => act(request, params.id, (s) => s.cancelJob()))
    .post("/ui/printers/:id/job", ({ params, body, request }) => {
      const form = parse(JobForm, body);
      if (!form.success) return toastResponse("Choose a file to print.");
      const file = ctx.files.get(form.output.file);
      if (!file) return toastResponse(`There is no file "${form.output.file}".`, "Upload it first.");
      return act(request, params.id, (s) => s.startJob(file.path));
    })
    .post("/ui/printers/:id/commands", ({ params, body, request }) => {
      const form = parse(CommandForm, body);
      if (!form.success) return toastResponse("Type a command to send, e.g. M105.");
      return act(request, params.id, (s) => s.send([form.output.command]));
    })
    .post("/ui/printers/:id/jog", ({ params, body, request }) => {
      const form = parse(JogForm, body);
      if (!form.success) return toastResponse("Choose a step and press an arrow to move.");
      const axis = form.output.move[0] as "x" | "y" | "z";
      const distance = Number(form.output.step) * (form.output.move[1] === "-" ? -1 : 1);
      // Relative move at the profile speeds OctoPrint uses, back to absolute after (as /api/printer/printhead).
      return act(request, params.id, (s) => s.send(jogGcode({ [axis]: distance })));
    })
    .post("/ui/printers/:id/temperature", ({ params, body, request }) => {
      const form = parse(TemperatureForm, body);
      if (!form.success) return toastResponse("Enter temperatures as numbers.");
      const { tool0, bed, off } = form.output;
      const commands: string[] = [];
      if (off) commands.push("M104 S0", "M140 S0");
      else {
        for (const [value, cmd, max] of [[tool0, "M104", 320], [bed, "M140", 150]] as const) {
          if (value === undefined || value.trim() === "") continue;
          const t = Number(value);
          if (!Number.isFinite(t) || t < 0 || t > max) return toastResponse(`${value} °C is not a valid target.`, `Use 0 to ${max} °C.`);
          commands.push(`${cmd} S${Math.round(t)}`);
        }
      }
      if (commands.length === 0) return toastResponse("Enter a target temperature.");
      return act(request, params.id, (s) => s.send(commands));
    })
    .post(
      "/ui/files",
      async ({ request, query }) => {
        // Streamed to disk (see files/upload.ts); the form's file field is "file".
        try {
          const { file } = await receiveUpload(request, ctx.files);
          if (!file) return toastResponse("Choose a G-code file to upload.");
        } catch (e) {
          if (e instanceof FileError) return toastResponse(e.message, e.hint);
          throw e;
        }
        ctx.bus.emit("files.changed", undefined);
        return filesFragment(ctx, request, typeof query.printer === "string" ? query.printer : undefined);
      },
      { parse: "none" },
    )
    .post("/ui/files/delete", ({ body, query, request }) => {
      const form = parse(DeleteForm, body);
      if (!form.success) return toastResponse("Choose a file to delete.");
      try {
        ctx.files.remove(form.output.path);
      } catch (e) {
        if (e instanceof FileError) return toastResponse(e.message, e.hint);
        throw e;
      }
      ctx.bus.emit("files.changed", undefined);
      return filesFragment(ctx, request, typeof query.printer === "string" ? query.printer : undefined);
    });
}

function filesFragment(ctx: AppContext, request: Request, printerId: string | undefined): Response {
  const s = (printerId && ctx.printers.get(printerId)) || ctx.printers.default();
  if (!s) return htmlResponse(toast("info", "No printer."));
  return htmlResponse(fileList(ctx.files.list(), { record: s.record, status: s.status }, accessFor(request)));
}
