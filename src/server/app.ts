/**
 * The HTTP server: each area is an Elysia plugin, registered here in one place.
 */
import { Elysia } from "elysia";
import { assets } from "./assets.ts";
import type { AppContext } from "./context.ts";
import { errorHandler } from "./errors.ts";
import { eventsApi } from "./api/events.ts";
import { filesApi } from "./api/files.ts";
import { printersApi } from "./api/printers.ts";
import { versionApi } from "./api/version.ts";
import { uiEvents } from "./ui/events.ts";
import { printerLinkUi } from "./ui/printer-link.ts";
import { uiRoutes } from "./ui/routes.ts";

/** Builds the app for a running host; `listen` is the caller's. */
export function createApp(ctx: AppContext) {
  return new Elysia()
    .use(errorHandler)
    .use(assets)
    .use(versionApi(ctx))
    .use(printersApi(ctx))
    .use(filesApi(ctx))
    .use(eventsApi(ctx))
    .use(uiRoutes(ctx))
    .use(printerLinkUi(ctx))
    .use(uiEvents(ctx));
}
