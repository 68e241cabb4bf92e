/**
 * The HTTP server: each area is an Elysia plugin, registered here in one place.
 */
import { Elysia } from "elysia";
import { assets } from "./assets.ts";
import type { AppContext } from "./context.ts";
import { errorHandler } from "./errors.ts";
import { eventsApi } from "./api/events.ts";
import { filesApi } from "./api/files.ts";
import { pluginsApi } from "./api/plugins.ts";
import { printersApi } from "./api/printers.ts";
import { trackingApi } from "./api/tracking.ts";
import { updateApi } from "./api/update.ts";
import { versionApi } from "./api/version.ts";
import { uiEvents } from "./ui/events.ts";
import { uiFiles } from "./ui/files.ts";
import { uiPlugins } from "./ui/plugins.ts";
import { uiRoutes } from "./ui/routes.ts";
import { uiTracking } from "./ui/tracking.ts";
import { uiUpdate } from "./ui/update.ts";

/** Builds the app for a running host; `listen` is the caller's. */
export function createApp(ctx: AppContext) {
  return new Elysia()
    .use(errorHandler)
    .use(assets)
    .use(versionApi(ctx))
    .use(printersApi(ctx))
    .use(filesApi(ctx))
    .use(eventsApi(ctx))
    .use(updateApi(ctx))
    .use(trackingApi(ctx))
    .use(pluginsApi(ctx))
    .use(uiRoutes(ctx))
    .use(uiFiles(ctx))
    .use(uiEvents(ctx))
    .use(uiUpdate(ctx))
    .use(uiTracking(ctx))
    .use(uiPlugins(ctx));
}
