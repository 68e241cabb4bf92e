/**
 * Native API of the self-diagnosis: the findings (run now; `?fresh=true` asks the servers
 * Layerline uses again instead of taking an answer a few minutes old), and the support bundle.
 * The local token of `layerline doctor` may read both (route-permissions.ts).
 */
import { Elysia } from "elysia";
import { ReportSchema } from "../../diagnostics/finding.ts";
import type { AppContext } from "../context.ts";
import { documentedResponse } from "./openapi.ts";

const truthy = (s: unknown) => s === "true" || s === "1" || s === "yes";

export function diagnosticsApi(ctx: AppContext) {
  return new Elysia({ prefix: "/api/v1/diagnostics" })
    .get("/", ({ query }) => ctx.diagnostics.run({ fresh: truthy(query.fresh) }), { detail: documentedResponse({ "application/json": ReportSchema }) })
    .get(
      "/bundle",
      async () => {
        const { name, bytes } = await ctx.diagnostics.bundle();
        return new Response(bytes, { headers: { "content-type": "application/gzip", "content-disposition": `attachment; filename="${name}"`, "cache-control": "no-store" } });
      },
      { detail: documentedResponse({ "application/gzip": "binary" }) },
    );
}
