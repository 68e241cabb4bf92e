/**
 * The scripts page of a printer in the htmx UI: the page, saving one event's script (checked
 * first, as the API does: a script that does not parse is not stored and its form shows why),
 * and putting one back to its default.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { scriptForm, scriptsPage, scriptViews } from "../../../views/scripts.ts";
import { checkScript, DEFAULT_SCRIPTS, ScriptTextSchema, SCRIPTS } from "../../jobs/scripts.ts";
import { accessFor } from "../auth/access.ts";
import type { AppContext } from "../context.ts";
import { notFoundResponse } from "../errors.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse, toastResponse } from "./routes.ts";

const EventForm = v.object({ event: v.picklist(SCRIPTS) });
const SaveForm = v.object({ ...EventForm.entries, text: ScriptTextSchema });

export function uiScripts(ctx: AppContext) {
  const noPrinter = (id: string) => toastResponse(`There is no printer "${id}".`);
  return new Elysia()
    .get("/settings/printers/:id/scripts", ({ params, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return notFoundResponse(`There is no printer "${params.id}".`, pageSession(request));
      return htmlResponse(scriptsPage(s.record, scriptViews(ctx.jobs.scripts(s.id)), accessFor(request), pageSession(request)));
    })
    .post("/ui/printers/:id/scripts", async ({ params, body, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return noPrinter(params.id);
      const form = v.safeParse(SaveForm, body ?? {});
      if (!form.success) return toastResponse(`The script was not saved: ${form.issues[0].message}.`);
      const { event, text } = form.output;
      // Browsers send textareas with CRLF line ends; scripts are stored with LF.
      const lf = text.replace(/\r\n?/g, "\n");
      const checked = checkScript(event, lf);
      if (!checked.ok) {
        const isDefault = ctx.jobs.scripts(s.id)[event] === undefined;
        return htmlResponse(scriptForm(s.id, { name: event, text: lf, isDefault, outcome: { error: `Not saved — ${checked.message}` } }, accessFor(request)));
      }
      // The default's own text, saved unchanged, stays the default (and follows it in later versions).
      const isDefault = lf === DEFAULT_SCRIPTS[event];
      const saved = await ctx.jobs.setScripts(s, { [event]: isDefault ? null : lf });
      if (!saved.ok) return toastResponse(saved.error.message, saved.error.hint);
      return htmlResponse(scriptForm(s.id, { name: event, text: lf, isDefault, outcome: "saved" }, accessFor(request)));
    })
    .post("/ui/printers/:id/scripts/reset", async ({ params, body, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return noPrinter(params.id);
      const form = v.safeParse(EventForm, body ?? {});
      if (!form.success) return toastResponse("Choose a script to reset.");
      const saved = await ctx.jobs.setScripts(s, { [form.output.event]: null });
      if (!saved.ok) return toastResponse(saved.error.message, saved.error.hint);
      const view = scriptViews(ctx.jobs.scripts(s.id)).find((x) => x.name === form.output.event)!;
      return htmlResponse(scriptForm(s.id, { ...view, outcome: "reset" }, accessFor(request)));
    });
}
