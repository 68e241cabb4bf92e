/**
 * The farm queue's htmx actions on the overview page: add a file with copies, set copies, move,
 * remove (each answers with the farm queue section, or a toast saying what went wrong), and per
 * printer card "bed cleared" and auto-start (the card follows over the overview's SSE stream).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { farmQueuePanel } from "../../../views/farm-queue.ts";
import { toast } from "../../../views/dashboard.ts";
import type { Result } from "../../printers/controller.ts";
import { farmChangeRefusal } from "../api/farm.ts";
import { accessFor } from "../auth/access.ts";
import { principalOf } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { htmlResponse, toastResponse } from "./routes.ts";

const Count = v.pipe(v.string(), v.transform(Number), v.integer(), v.minValue(1), v.maxValue(1000));
const AddForm = v.object({ file: v.pipe(v.string(), v.minLength(1)), copies: v.optional(Count, "1") });
const CopiesForm = v.object({ copies: Count });
const MoveForm = v.object({ to: v.pipe(v.string(), v.transform(Number), v.integer(), v.minValue(0)) });
const AutoStartForm = v.object({ autoStart: v.optional(v.literal("on")) });

export function uiFarm(ctx: AppContext) {
  const parse = <S extends v.GenericSchema>(schema: S, body: unknown) => v.safeParse(schema, body ?? {});
  /** Runs a change of the farm queue; answers with its section, or a toast when refused or it failed. */
  const act = (request: Request, action: () => Result<unknown>) => {
    const refusal = farmChangeRefusal(request);
    if (refusal) return toastResponse(refusal.message, refusal.hint);
    const result = action();
    if (!result.ok) return toastResponse(result.error.message, result.error.hint);
    return htmlResponse(farmQueuePanel(ctx.farm.view(), ctx.files.list(), accessFor(request), true));
  };
  /** A printer card's action: nothing to swap (the card follows over SSE), or a toast. */
  const cardAction = (result: Result<unknown>) => (result.ok ? new Response(null, { status: 204 }) : toastResponse(result.error.message, result.error.hint));
  return new Elysia()
    .post("/ui/farm/queue/add", ({ body, request }) => {
      const form = parse(AddForm, body);
      if (!form.success) return toastResponse("Choose a file, and from 1 to 1000 copies.");
      return act(request, () => ctx.farm.add(form.output.file, form.output.copies, principalOf(request).user?.name ?? null));
    })
    .post("/ui/farm/queue/:item/copies", ({ params, body, request }) => {
      const form = parse(CopiesForm, body);
      if (!form.success) return toastResponse("Copies are a whole number from 1 to 1000.");
      return act(request, () => ctx.farm.setCopies(params.item, form.output.copies));
    })
    .post("/ui/farm/queue/:item/move", ({ params, body, request }) => {
      const form = parse(MoveForm, body);
      if (!form.success) return toastResponse("Say where to move the file.");
      return act(request, () => ctx.farm.move(params.item, form.output.to));
    })
    .post("/ui/farm/queue/:item/remove", ({ params, request }) => act(request, () => ctx.farm.remove(params.item)))
    .post("/ui/printers/:id/bed-cleared", ({ params }) => cardAction(ctx.farm.bedCleared(params.id)))
    .post("/ui/printers/:id/farm/auto-start", ({ params, body }) => {
      const form = parse(AutoStartForm, body);
      if (!form.success) return toastResponse("Auto-start is on or off.");
      const result = ctx.farm.setAutoStart(params.id, form.output.autoStart === "on");
      return result.ok ? htmlResponse(toast("info", `Auto-start is ${form.output.autoStart ? "on" : "off"}.`), { "HX-Retarget": "#toasts", "HX-Reswap": "beforeend" }) : cardAction(result);
    });
}
