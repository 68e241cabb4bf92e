/**
 * Native API: the farm queue — one queue for all printers, each entry a file with a number of
 * copies, fed to the next free printer it fits — and, per printer, "the bed is clear" and the
 * auto-start option. Changing the farm queue needs the same permission as a printer's queue; a
 * key or session restricted to one printer may look but not change it (it feeds every printer).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { MAX_COPIES } from "../../farm/queue.ts";
import { principalOf, visibleTo } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { printerSession, unwrap } from "./printers.ts";

const Copies = v.pipe(v.number("copies must be a number"), v.integer("copies must be a whole number"), v.minValue(1, "copies must be 1 or more"), v.maxValue(MAX_COPIES, `copies may be at most ${MAX_COPIES}`));
export const FarmAddSchema = v.object(
  {
    file: v.pipe(v.string("file must be a path"), v.minLength(1, "name the file to queue (its path in the files folder)"), v.maxLength(1024, "file may be at most 1024 characters")),
    copies: v.optional(Copies, 1),
  },
  'name the file to queue, and how many copies: {"file": "folder/part.gcode", "copies": 3}',
);
const CopiesSchema = v.object({ copies: Copies }, 'say how many copies in all: {"copies": 3}');
const MoveSchema = v.object({
  to: v.pipe(v.number("to must be a number: the new index, 0 = next to print"), v.integer("to must be a whole number"), v.minValue(0, "to must be 0 or more")),
}, 'say where to move the entry: {"to": 0} puts it first');
const AutoStartSchema = v.object({ autoStart: v.boolean("autoStart must be true or false") }, 'say whether the printer starts the next farm print by itself: {"autoStart": true}');

/** Refuses a principal restricted to one printer: the farm queue feeds every printer. */
export function farmChangeRefusal(request: Request): ApiError | null {
  return principalOf(request).printerId
    ? new ApiError(403, "printer_restricted", "This key or session is restricted to one printer; the farm queue feeds every printer.", "Use that printer's own queue, or a key that is not restricted.")
    : null;
}

export function farmApi(ctx: AppContext) {
  const mayChange = (request: Request) => {
    const refusal = farmChangeRefusal(request);
    if (refusal) throw refusal;
  };
  /** The farm queue as the request's principal may see it (a restricted key: its printer only). */
  const viewFor = (request: Request) => ctx.farm.view((id) => visibleTo(request, id));
  return new Elysia()
    .get("/api/v1/farm/queue", ({ request }) => viewFor(request))
    .post(
      "/api/v1/farm/queue",
      ({ body, request, set }) => {
        mayChange(request);
        const item = unwrap(ctx.farm.add(body.file, body.copies, principalOf(request).user?.name ?? null));
        set.status = 201;
        return { item, queue: ctx.farm.view() };
      },
      { body: FarmAddSchema },
    )
    .delete("/api/v1/farm/queue", ({ request }) => (mayChange(request), ctx.farm.clear()))
    .patch("/api/v1/farm/queue/:item", ({ params, body, request }) => (mayChange(request), unwrap(ctx.farm.setCopies(params.item, body.copies))), { body: CopiesSchema })
    .post("/api/v1/farm/queue/:item/move", ({ params, body, request }) => (mayChange(request), unwrap(ctx.farm.move(params.item, body.to))), { body: MoveSchema })
    .delete("/api/v1/farm/queue/:item", ({ params, request }) => (mayChange(request), unwrap(ctx.farm.remove(params.item))))
    .post("/api/v1/printers/:id/bed-cleared", ({ params, request }) => (unwrap(ctx.farm.bedCleared(printerSession(ctx, params.id).id)), viewFor(request)))
    .patch("/api/v1/printers/:id/farm", ({ params, body, request }) => (unwrap(ctx.farm.setAutoStart(printerSession(ctx, params.id).id, body.autoStart)), viewFor(request)), { body: AutoStartSchema });
}
