/**
 * The OctoPrint-compatible layer as one Elysia plugin: REST, app keys and push, sharing the
 * per-printer tracker. `analysis` is where G-code analysis results plug in.
 */
import { Elysia } from "elysia";
import type { AppContext } from "../../context.ts";
import { appKeysApi } from "./appkeys.ts";
import type { AnalysisLookup } from "./files.ts";
import { PushHub, pushRoutes } from "./push.ts";
import { octoprintRest } from "./rest.ts";
import { OctoTracker } from "./tracker.ts";

export interface OctoPrintOptions {
  analysis?: AnalysisLookup;
}

export function octoprintCompat(ctx: AppContext, options: OctoPrintOptions = {}) {
  const tracker = new OctoTracker(ctx.bus, ctx.printers);
  const analysis = options.analysis ?? (() => undefined);
  let hub: PushHub | undefined;
  const rest = octoprintRest(ctx, { tracker, analysis, event: (printer, type, payload) => hub?.event(printer, type, payload) });
  hub = new PushHub(ctx, { tracker, jobContext: rest.jobContext });
  return new Elysia({ name: "octoprint" })
    .use(rest.app)
    .use(appKeysApi(ctx))
    .use(pushRoutes(ctx, hub))
    .onStop(() => {
      hub?.stop();
      tracker.stop();
    });
}
