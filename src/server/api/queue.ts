/**
 * Native API: each printer's print queue — list, add, reorder, remove, clear, mode, start, and
 * confirming the bed is clear after a print.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { QueueModeSchema } from "../../jobs/queue.ts";
import { principalOf } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { printerSession, unwrap } from "./printers.ts";

const AddSchema = v.object({
  file: v.pipe(v.string("file must be a path"), v.minLength(1, "name the file to queue (its path in the files folder)"), v.maxLength(1024, "file may be at most 1024 characters")),
}, 'name the file to queue: {"file": "folder/part.gcode"}');
const ModeSchema = v.object({ mode: QueueModeSchema }, 'set the mode: {"mode": "auto"} or {"mode": "confirm"}');
const MoveSchema = v.object({
  to: v.pipe(v.number("to must be a number: the new index, 0 = next to print"), v.integer("to must be a whole number"), v.minValue(0, "to must be 0 or more")),
}, 'say where to move the item: {"to": 0} puts it first');

export function queueApi(ctx: AppContext) {
  const id = (params: { id: string }) => printerSession(ctx, params.id).id;
  return new Elysia({ prefix: "/api/v1/printers/:id/queue" })
    .get("/", ({ params }) => ctx.queue.view(id(params)))
    .post(
      "/",
      ({ params, body, request, set }) => {
        const printer = id(params);
        const item = unwrap(ctx.queue.add(printer, body.file, principalOf(request).user?.name ?? null));
        set.status = 201;
        return { item, queue: ctx.queue.view(printer) };
      },
      { body: AddSchema },
    )
    .patch("/", ({ params, body }) => ctx.queue.setMode(id(params), body.mode), { body: ModeSchema })
    .delete("/", ({ params }) => ctx.queue.clear(id(params)))
    .post("/start", async ({ params }) => unwrap(await ctx.queue.start(id(params))))
    .post("/confirm", async ({ params }) => unwrap(await ctx.queue.confirm(id(params))))
    .post("/:item/move", ({ params, body }) => unwrap(ctx.queue.move(id(params), params.item, body.to)), { body: MoveSchema })
    .delete("/:item", ({ params }) => unwrap(ctx.queue.remove(id(params), params.item)));
}
