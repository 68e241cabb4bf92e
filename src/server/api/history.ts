/**
 * Native API: print history (filters, paging, CSV export), statistics per file, deleting entries.
 * A key restricted to one printer sees that printer's history only.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { csvStream } from "../../jobs/history-csv.ts";
import { HistoryQuerySchema, type HistoryEntry, type HistoryFilter, type HistoryQuery } from "../../jobs/history.ts";
import { isJobRunning } from "../../printers/status.ts";
import { principalOf } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { ApiError, parseBody } from "../errors.ts";

const QUERY_HINT = "Filters: printer, outcome (done|cancelled|failed|printing), q, sha256, from, to (a date or ISO time), limit (1–500), offset.";

const StatsQuerySchema = v.object({
  ...v.pick(HistoryQuerySchema, ["printer", "sha256", "q", "outcome", "from", "to"]).entries,
  /** A stored file's path: its content's statistics. */
  file: v.optional(v.pipe(v.string(), v.minLength(1))),
});

const IdSchema = v.pipe(v.string(), v.regex(/^\d{1,15}$/, "a history entry's id is a number"), v.transform(Number));

/** The query's filter, narrowed to the printer a restricted key is for. */
function scoped<T extends { printer?: string }>(request: Request, query: T): T {
  const restricted = principalOf(request).printerId;
  if (!restricted) return query;
  if (query.printer && query.printer !== restricted) {
    throw new ApiError(403, "wrong_printer", `This API key is restricted to printer "${restricted}".`, "Use a key for this printer, or one without a printer restriction.");
  }
  return { ...query, printer: restricted };
}

/**
 * The printer (its name) still running the print of `entry`, or null. The print's end, time and
 * filament are written to its entry when it ends: the entry stays until then.
 */
export function runningOn(ctx: AppContext, entry: HistoryEntry): string | null {
  if (entry.outcome !== "printing") return null;
  const s = ctx.printers.get(entry.printer);
  const job = s?.status.job;
  return s && job?.id === entry.jobId && isJobRunning(job.state) ? s.record.name : null;
}

/** Why an entry may not be deleted now, or null when it may. */
export function undeletable(ctx: AppContext, entry: HistoryEntry): ApiError | null {
  const printer = runningOn(ctx, entry);
  if (!printer) return null;
  return new ApiError(409, "print_running", `The print of ${entry.name} is still running on ${printer}.`, "Its entry can be deleted once the print has ended (or been cancelled).");
}

/** A history answer for this request: JSON by default, CSV with `format=csv` or the `.csv` path. */
function csvResponse(ctx: AppContext, filter: HistoryFilter): Response {
  const name = `layerline-history-${new Date().toISOString().slice(0, 10)}.csv`;
  return new Response(csvStream(ctx.history.each(filter)), {
    headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${name}"` },
  });
}

export function historyApi(ctx: AppContext) {
  const parseQuery = (request: Request, query: Record<string, unknown>): HistoryQuery => scoped(request, parseBody(HistoryQuerySchema, query, QUERY_HINT));
  const exportFilter = ({ limit: _l, offset: _o, ...filter }: HistoryQuery): HistoryFilter => filter;
  const entry = (raw: string) => {
    const id = parseBody(IdSchema, raw, "GET /api/v1/history lists the entries with their ids.");
    const found = ctx.history.get(id);
    if (!found) throw new ApiError(404, "not_found", `There is no history entry ${id}.`, "GET /api/v1/history lists them.");
    return found;
  };

  return new Elysia({ prefix: "/api/v1" })
    .get("/history", ({ query, request }) => {
      const { format, ...rest } = query;
      const q = parseQuery(request, rest);
      if (format === "csv") return csvResponse(ctx, exportFilter(q));
      if (format !== undefined && format !== "json") throw new ApiError(400, "invalid_request", "format is json or csv.", QUERY_HINT);
      return { ...ctx.history.list(q), limit: q.limit, offset: q.offset };
    })
    .get("/history.csv", ({ query, request }) => csvResponse(ctx, exportFilter(parseQuery(request, query))))
    .get("/history/stats", ({ query, request }) => {
      const q = scoped(request, parseBody(StatsQuerySchema, query, "Name a file's content (sha256=…) or path (file=…), optionally a printer; neither lists every file."));
      let sha256 = q.sha256;
      if (q.file) {
        const stored = ctx.files.get(q.file);
        if (!stored) throw new ApiError(404, "file_not_found", `There is no file "${q.file}".`, "GET /api/v1/files lists them.");
        if (!stored.sha256) throw new ApiError(409, "not_hashed", `"${q.file}" has not been read yet.`, "Try again once its analysis has run.");
        sha256 = stored.sha256;
      }
      if (sha256) return ctx.history.statsFor(sha256, q.printer || undefined);
      const { file: _f, ...filter } = q;
      return { files: ctx.history.files(filter) };
    })
    .get("/history/:id", ({ params, request }) => {
      const e = entry(params.id);
      const restricted = principalOf(request).printerId;
      if (restricted && e.printer !== restricted) throw new ApiError(404, "not_found", `There is no history entry ${e.id}.`, "GET /api/v1/history lists them.");
      return e;
    })
    .delete("/history/:id", ({ params, set }) => {
      const e = entry(params.id);
      const refused = undeletable(ctx, e);
      if (refused) throw refused;
      ctx.history.delete(e.id);
      set.status = 204;
    });
}
