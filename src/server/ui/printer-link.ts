/**
 * UI actions for the serial link and the SD card: the send window, answers to the printer's
 * prompts, and the SD card (refresh, print, delete, copy a stored file to it). Each calls the
 * same printer session as the JSON API; a failure comes back as a toast.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import type { Result } from "../../printers/controller.ts";
import { WindowSchema } from "../../printers/record.ts";
import type { PrinterSession } from "../../printers/session.ts";
import type { AppContext } from "../context.ts";
import { liveAction, printerViews } from "./jobs.ts";
import { toastResponse } from "./routes.ts";

const NameForm = v.object({ name: v.pipe(v.string(), v.minLength(1), v.maxLength(255)) });
const FileForm = v.object({ file: v.pipe(v.string(), v.minLength(1)) });
const WindowForm = v.object({ window: v.pipe(v.string(), v.transform(Number), WindowSchema) });
const ChoiceForm = v.object({ choice: v.pipe(v.string(), v.transform(Number), v.integer(), v.minValue(0)) });

export function printerLinkUi(ctx: AppContext) {
  const live = liveAction(ctx, printerViews(ctx));
  /** Runs an action; answers with nothing (what it changes is pushed), or a toast when it failed. */
  const act = async (id: string, action: (s: PrinterSession) => Promise<Result<unknown>>) => {
    const s = ctx.printers.get(id);
    if (!s) return toastResponse(`There is no printer "${id}".`);
    const result = await action(s);
    if (!result.ok) return toastResponse(result.error.message, result.error.hint);
    return new Response(null, { status: 204 });
  };
  const parse = <S extends v.GenericSchema>(schema: S, body: unknown) => v.safeParse(schema, body ?? {});

  return new Elysia()
    .post("/ui/printers/:id/window", async ({ params, body }) => {
      const form = parse(WindowForm, body);
      if (!form.success) return toastResponse("Lines in flight must be a whole number from 1 to 32.", "1 sends one line at a time; 4 suits Marlin with ADVANCED_OK.");
      const s = ctx.printers.get(params.id);
      if (!s) return toastResponse(`There is no printer "${params.id}".`);
      await ctx.printers.updateSettings(s.id, { window: form.output.window });
      return new Response(null, { status: 204 });
    })
    .post("/ui/printers/:id/prompt", ({ params, body, request }) => {
      const form = parse(ChoiceForm, body);
      if (!form.success) return toastResponse("Choose one of the printer's answers.");
      return live(request, params.id, (s) => s.answerPrompt(form.output.choice));
    })
    .post("/ui/printers/:id/sd/refresh", ({ params }) => act(params.id, (s) => s.sdRefresh()))
    .post("/ui/printers/:id/sd/print", ({ params, body, request }) => {
      const form = parse(NameForm, body);
      if (!form.success) return toastResponse("Choose a file on the SD card.");
      return live(request, params.id, (s) => s.sdPrint(form.output.name));
    })
    .post("/ui/printers/:id/sd/delete", ({ params, body }) => {
      const form = parse(NameForm, body);
      if (!form.success) return toastResponse("Choose a file on the SD card.");
      return act(params.id, (s) => s.sdDelete(form.output.name));
    })
    .post("/ui/printers/:id/sd/upload", ({ params, body }) => {
      const form = parse(FileForm, body);
      if (!form.success) return toastResponse("Choose a file to copy to the SD card.");
      const file = ctx.files.get(form.output.file);
      if (!file) return toastResponse(`There is no file "${form.output.file}".`, "Upload it first.");
      return act(params.id, (s) => s.sdUpload(file.path));
    });
}
