/**
 * The history page for htmx: the page, the results fragment for the filter form (and paging), and
 * deleting an entry (admin). A session restricted to one printer sees that printer's history.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { historyPage, historyResults, type HistoryResults } from "../../../views/history.ts";
import { HistoryQuerySchema } from "../../jobs/history.ts";
import { runningOn, undeletable } from "../api/history.ts";
import { accessFor } from "../auth/access.ts";
import { principalOf, visibleTo } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse, toastResponse } from "./routes.ts";

const FORM_KEYS = ["printer", "outcome", "q", "from", "to", "limit", "offset"] as const;

export function uiHistory(ctx: AppContext) {
  /** The results for a form's values; a bad value is a toast, not an error page. */
  const results = (request: Request, raw: Record<string, unknown>): HistoryResults | string => {
    const form: Record<string, string> = {};
    for (const key of FORM_KEYS) if (typeof raw[key] === "string") form[key] = raw[key];
    const parsed = v.safeParse(HistoryQuerySchema, form);
    if (!parsed.success) return `${v.getDotPath(parsed.issues[0]) ?? "filter"}: ${parsed.issues[0].message}`;
    const query = parsed.output;
    const restricted = principalOf(request).printerId;
    if (restricted) query.printer = restricted;
    const { limit: _l, offset: _o, ...filter } = query;
    const list = ctx.history.list(query);
    const running = new Set(list.items.filter((e) => runningOn(ctx, e) !== null).map((e) => e.id));
    return { query, form, ...list, files: ctx.history.files(filter), mayDelete: accessFor(request).may("POST /ui/history/:id/delete"), running };
  };
  const fragment = (request: Request, raw: Record<string, unknown>) => {
    const r = results(request, raw);
    return typeof r === "string" ? toastResponse(r, "Fix the filter and try again.") : htmlResponse(historyResults(r));
  };

  return new Elysia()
    .get("/history", ({ query, request }) => {
      let r = results(request, query);
      if (typeof r === "string") r = results(request, {}) as HistoryResults;
      const printers = ctx.printers.list().filter((p) => visibleTo(request, p.id)).map((p) => p.record);
      return htmlResponse(historyPage(printers, r, pageSession(request)));
    })
    .get("/ui/history/list", ({ query, request }) => fragment(request, query))
    .post("/ui/history/:id/delete", ({ params, body, request }) => {
      const id = Number(params.id);
      const entry = Number.isSafeInteger(id) ? ctx.history.get(id) : undefined;
      if (!entry) return toastResponse(`There is no history entry ${params.id}.`);
      const refused = undeletable(ctx, entry);
      if (refused) return toastResponse(refused.message, refused.hint);
      ctx.history.delete(entry.id);
      return fragment(request, (body ?? {}) as Record<string, unknown>);
    });
}
