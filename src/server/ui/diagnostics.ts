/**
 * Settings → Diagnostics (views/diagnostics.ts): the page with the latest findings, the report
 * fragment (run now when there is none yet), Run again, and the dashboard's notice, which only
 * reads the latest report (the checks run on demand and on the host's schedule, never per view).
 */
import { Elysia } from "elysia";
import { diagnosticsNotice, diagnosticsPage, diagnosticsReport } from "../../../views/diagnostics.ts";
import type { AppContext } from "../context.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse } from "./routes.ts";

export function uiDiagnostics(ctx: AppContext) {
  return new Elysia()
    .get("/settings/diagnostics", ({ request }) => htmlResponse(diagnosticsPage(ctx.diagnostics.latest(), pageSession(request))))
    .get("/ui/diagnostics/report", async () => htmlResponse(diagnosticsReport(ctx.diagnostics.latest() ?? (await ctx.diagnostics.run()))))
    .post("/ui/diagnostics/run", async () => htmlResponse(diagnosticsReport(await ctx.diagnostics.run({ fresh: true }))))
    .get("/ui/diagnostics/notice", () => htmlResponse(diagnosticsNotice(ctx.diagnostics.latest())));
}
