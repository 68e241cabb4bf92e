/**
 * The HTTP server: each area is an Elysia plugin, registered here in one place.
 */
import { Elysia } from "elysia";
import { octoprintAnalyses } from "../analysis/octoprint.ts";
import { assets } from "./assets.ts";
import type { AppContext } from "./context.ts";
import { hostErrorHandler } from "./errors.ts";
import { cookiePageSession } from "./ui/page-session.ts";
import { readPacing, somePrinterPrinting } from "./pacing.ts";
import { accountsApi } from "./api/accounts.ts";
import { authGuard, type RouteHooks } from "./auth/guard.ts";
import { DEFAULT_TRUSTED_PROXIES, trustedProxies } from "./auth/reverse-proxy.ts";
import { pathPrefixes } from "./path-prefix.ts";
import { accountRoutes } from "./ui/accounts.ts";
import { octoprintCompat } from "./compat/octoprint/index.ts";
import { apiDocs } from "./api/openapi.ts";
import { eventsApi } from "./api/events.ts";
import { filesApi } from "./api/files.ts";
import { historyApi } from "./api/history.ts";
import { queueApi } from "./api/queue.ts";
import { farmApi } from "./api/farm.ts";
import { pluginsApi } from "./api/plugins.ts";
import { printersApi } from "./api/printers.ts";
import { mqttApi } from "./api/mqtt.ts";
import { trackingApi } from "./api/tracking.ts";
import { updateApi } from "./api/update.ts";
import { versionApi } from "./api/version.ts";
import { webcamApi } from "./api/webcam.ts";
import { timelapseApi } from "./api/timelapse.ts";
import { diagnosticsApi } from "./api/diagnostics.ts";
import { backupsApi } from "./api/backups.ts";
import { controlsApi } from "./api/controls.ts";
import { uiControls } from "./ui/controls.ts";
import { uiDiagnostics } from "./ui/diagnostics.ts";
import { uiBackups } from "./ui/backups.ts";
import { uiEvents } from "./ui/events.ts";
import { uiFiles } from "./ui/files.ts";
import { uiHistory } from "./ui/history.ts";
import { uiQueue } from "./ui/queue.ts";
import { uiFarm } from "./ui/farm.ts";
import { uiPlugins } from "./ui/plugins.ts";
import { uiJobs } from "./ui/jobs.ts";
import { uiLayerView } from "./ui/layer-view.ts";
import { uiOverview } from "./ui/overview.ts";
import { printerLinkUi } from "./ui/printer-link.ts";
import { uiRoutes } from "./ui/routes.ts";
import { viewerStreamRoutes } from "./ui/viewer-watch.ts";
import { uiScripts } from "./ui/scripts.ts";
import { uiProfile } from "./ui/profile.ts";
import { uiMqtt } from "./ui/mqtt.ts";
import { uiCamera } from "./ui/camera.ts";
import { uiTimelapse } from "./ui/timelapse.ts";
import { uiTracking } from "./ui/tracking.ts";
import { uiUpdate } from "./ui/update.ts";
import { uiUpdateSettings } from "./ui/update-settings.ts";

/** Builds the app for a running host; `listen` is the caller's. */
export function createApp(ctx: AppContext) {
  const app = new Elysia()
    .use(readPacing({ rate: ctx.printReadRate ?? 0, printing: somePrinterPrinting(ctx.bus) }))
    .use(hostErrorHandler((request) => cookiePageSession(request, ctx.accounts)))
    // Behind a proxy at a sub-path (X-Script-Name): every answer's URLs get the prefix.
    .use(pathPrefixes(trustedProxies(ctx.trustedProxies ?? DEFAULT_TRUSTED_PROXIES)))
    // First: every route registered after the guard is covered by it (default-deny).
    .use(authGuard({ accounts: ctx.accounts, printers: ctx.printers, trustedProxies: ctx.trustedProxies, routes: (): RouteHooks[] => app.routes }))
    .use(assets)
    .use(accountsApi(ctx))
    .use(accountRoutes(ctx))
    .use(versionApi(ctx))
    .use(printersApi(ctx))
    .use(filesApi(ctx))
    .use(queueApi(ctx))
    .use(farmApi(ctx))
    .use(historyApi(ctx))
    .use(eventsApi(ctx))
    .use(updateApi(ctx))
    .use(trackingApi(ctx))
    .use(mqttApi(ctx))
    .use(pluginsApi(ctx))
    .use(webcamApi(ctx))
    .use(timelapseApi(ctx))
    .use(diagnosticsApi(ctx))
    .use(backupsApi(ctx))
    .use(controlsApi(ctx))
    .use(uiRoutes(ctx))
    .use(viewerStreamRoutes(ctx))
    .use(printerLinkUi(ctx))
    .use(uiJobs(ctx))
    .use(uiScripts(ctx))
    .use(uiProfile(ctx))
    .use(uiCamera(ctx))
    .use(uiTimelapse(ctx))
    .use(uiFiles(ctx))
    .use(uiLayerView(ctx))
    .use(uiQueue(ctx))
    .use(uiFarm(ctx))
    .use(uiHistory(ctx))
    .use(uiEvents(ctx))
    .use(uiOverview(ctx))
    .use(uiUpdate(ctx))
    .use(uiUpdateSettings(ctx))
    .use(uiTracking(ctx))
    .use(uiMqtt(ctx))
    .use(uiPlugins(ctx))
    .use(uiDiagnostics(ctx))
    .use(uiBackups(ctx))
    .use(uiControls(ctx))
    .use(octoprintCompat(ctx, { analysis: octoprintAnalyses(ctx.analyses, ctx.bus) }));
  // The API's description is generated from every route registered above.
  return app.use(apiDocs(ctx, () => app.routes));
}
