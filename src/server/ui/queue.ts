/**
 * The queue page for htmx: the page, its panel fragment, the actions (add, move, remove, clear,
 * mode, start, confirm the bed is clear), "add to queue" from the files page, and its push
 * channel. Actions answer with the panel to swap in, or a toast saying what went wrong.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { toast } from "../../../views/dashboard.ts";
import { queueHref, queuePage, queuePanel } from "../../../views/queue.ts";
import { subscribe } from "../../events.ts";
import { QueueModeSchema } from "../../jobs/queue.ts";
import type { Result } from "../../printers/controller.ts";
import type { PrinterSession } from "../../printers/session.ts";
import { accessFor } from "../auth/access.ts";
import { principalOf, visibleTo } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { changesOnly, farmNav, farmViews, pushDot } from "./overview.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse, toastResponse } from "./routes.ts";
import { pageStream } from "./viewer-watch.ts";

const FileForm = v.object({ file: v.pipe(v.string(), v.minLength(1)) });
const AddForm = v.object({ file: v.pipe(v.string(), v.minLength(1)), printer: v.pipe(v.string(), v.minLength(1)) });
const ModeForm = v.object({ mode: QueueModeSchema });
const MoveForm = v.object({ to: v.pipe(v.string(), v.transform(Number), v.integer(), v.minValue(0)) });

export function uiQueue(ctx: AppContext) {
  const farm = farmViews(ctx);
  const view = (s: PrinterSession) => ({ record: s.record, status: s.status });
  const panel = (request: Request, s: PrinterSession) => htmlResponse(queuePanel(view(s), ctx.queue.view(s.id), ctx.files.list(), accessFor(request)));
  /** Runs an action on a printer's queue; answers with the panel, or a toast when it failed. */
  const act = async (request: Request, id: string, action: (printer: string) => Result<unknown> | Promise<Result<unknown>>) => {
    const s = ctx.printers.get(id);
    if (!s) return toastResponse(`There is no printer "${id}".`);
    const result = await action(s.id);
    if (!result.ok) return toastResponse(result.error.message, result.error.hint);
    return panel(request, s);
  };
  const parse = <S extends v.GenericSchema>(schema: S, body: unknown) => v.safeParse(schema, body ?? {});
  const userOf = (request: Request) => principalOf(request).user?.name ?? null;

  return new Elysia()
    .get("/queue", ({ query, request }) => {
      // The printer asked for, else a restricted key's own, else the default.
      const wanted = typeof query.printer === "string" ? query.printer : (principalOf(request).printerId ?? ctx.printers.default()?.id);
      const s = wanted ? ctx.printers.get(wanted) : undefined;
      if (!s || !visibleTo(request, s.id)) return new Response(null, { status: 303, headers: { location: "/" } });
      const recent = ctx.history.list({ printer: s.id, limit: 5 }).items;
      const nav = farmNav(farm, request, s.id, queueHref);
      return htmlResponse(queuePage(view(s), nav, ctx.queue.view(s.id), ctx.files.list(), recent, accessFor(request), pageSession(request)));
    })
    .get("/ui/queue/:id/panel", ({ params, request }) => {
      const s = ctx.printers.get(params.id);
      return s ? panel(request, s) : toastResponse(`There is no printer "${params.id}".`);
    })
    .post("/ui/queue/:id/add", ({ params, body, request }) => {
      const form = parse(FileForm, body);
      if (!form.success) return toastResponse("Choose a file to add to the queue.");
      return act(request, params.id, (p) => ctx.queue.add(p, form.output.file, userOf(request)));
    })
    .post("/ui/queue/:id/mode", ({ params, body, request }) => {
      const form = parse(ModeForm, body);
      if (!form.success) return toastResponse("Choose how the queue goes on after a print.");
      return act(request, params.id, (p) => ({ ok: true, value: ctx.queue.setMode(p, form.output.mode) }));
    })
    .post("/ui/queue/:id/start", ({ params, request }) => act(request, params.id, (p) => ctx.queue.start(p)))
    .post("/ui/queue/:id/confirm", ({ params, request }) => act(request, params.id, (p) => ctx.queue.confirm(p)))
    .post("/ui/queue/:id/clear", ({ params, request }) => act(request, params.id, (p) => ({ ok: true, value: ctx.queue.clear(p) })))
    .post("/ui/queue/:id/items/:item/move", ({ params, body, request }) => {
      const form = parse(MoveForm, body);
      if (!form.success) return toastResponse("Say where to move the file.");
      return act(request, params.id, (p) => ctx.queue.move(p, params.item, form.output.to));
    })
    .post("/ui/queue/:id/items/:item/remove", ({ params, request }) => act(request, params.id, (p) => ctx.queue.remove(p, params.item)))
    // From the files page: the printer is a form field, so its access is checked here.
    .post("/ui/queue/add", ({ body, request }) => {
      const form = parse(AddForm, body);
      if (!form.success) return toastResponse("Choose a printer.");
      const s = ctx.printers.get(form.output.printer);
      if (!s || !visibleTo(request, s.id)) return toastResponse(`There is no printer "${form.output.printer}".`);
      const added = ctx.queue.add(s.id, form.output.file, userOf(request));
      if (!added.ok) return toastResponse(added.error.message, added.error.hint);
      const n = ctx.queue.view(s.id).items.length;
      return htmlResponse(toast("info", `${added.value.file} is number ${n} in the queue of ${s.record.name}.`), { "HX-Retarget": "#toasts", "HX-Reswap": "beforeend" });
    })
    .get("/ui/queue/events", ({ query, set, request }) => {
      const s = typeof query.printer === "string" ? ctx.printers.get(query.printer) : ctx.printers.default();
      if (!s) {
        set.status = 404;
        return "no such printer";
      }
      // The panel reloads on "queue": its queue changed, the printer's state changed, or files did.
      // The top bar's dots (`nav-<id>`) follow every printer the viewer may see, as on the dashboard.
      return pageStream(ctx, request, (send) => {
        let lastState = s.status.state;
        const refresh = () => send("queue", String(Date.now()));
        const dot = pushDot(farm, ctx, request, changesOnly(send));
        // Once on (re)connecting: what changed while the page loaded or was offline.
        for (const p of farm.visible(request)) dot(p.id);
        return subscribe(ctx.bus, {
          "queue.changed": (e) => {
            dot(e.printer);
            if (e.printer === s.id) refresh();
          },
          "printer.status": (e) => {
            dot(e.id);
            if (e.id !== s.id || e.status.state === lastState) return;
            lastState = e.status.state;
            refresh();
          },
          "files.changed": refresh,
        });
      });
    });
}
