/**
 * What each route needs, keyed by "METHOD pattern" exactly as the route is registered. The guard
 * is default-deny: a route missing here needs the `admin` permission, so routes added by other
 * areas are protected until someone maps them. `public` routes are the only ones that answer
 * without credentials, and each says why.
 */
import type { Principal } from "../../accounts/accounts.ts";
import { HOST_WIDE, type Permission } from "../../accounts/permissions.ts";
import { OCTOPRINT_ROUTES } from "../compat/octoprint/permissions.ts";

/** Where a route names the printer it acts on, for keys restricted to one printer. */
export type PrinterRef = { param: string } | { query: string } | "default";

export type Requirement =
  | { public: string; csrf?: "form" }
  /**
   * `cameraToken`: a camera token (`?camera_token=`) is accepted too — on a printer's camera picture only.
   * `localToken`: the running host's local token (commands on this machine, `layerline doctor`) may use it too.
   * `hostWide`: the route may act on what all printers share whatever its permission (a plugin's
   * own routes: the plugin's code decides what they do), so a key restricted to one printer is refused.
   */
  | { permission: Permission | "login"; printer?: PrinterRef; cameraToken?: true; localToken?: true; hostWide?: true };

const status = { permission: "status" } as const;
const webcam = { permission: "webcam" } as const;
const control = { permission: "control" } as const;
const print = { permission: "print" } as const;
const upload = { permission: "files.upload" } as const;
const remove = { permission: "files.delete" } as const;
const settings = { permission: "settings" } as const;
const plugins = { permission: "plugins" } as const;
const update = { permission: "update" } as const;
const admin = { permission: "admin" } as const;
const login = { permission: "login" } as const;
const pluginAction = { permission: "control", hostWide: true } as const;
const byId = (permission: Permission): Requirement => ({ permission, printer: { param: "id" } });

export const ROUTE_PERMISSIONS: Record<string, Requirement> = {
  // Assets and the pages needed to get in.
  "GET /public/:name": { public: "stylesheets and scripts of the login and setup pages" },
  "GET /favicon.ico": { public: "the browser asks for it on every page" },
  "GET /login": { public: "the login page" },
  "POST /login": { public: "logging in (rate-limited per address and account)", csrf: "form" },
  "POST /logout": { public: "ending one's own session is harmless without one" },
  "GET /setup": { public: "the first-run wizard (only until an admin exists)" },
  "POST /setup": { public: "the first-run wizard (only until an admin exists)", csrf: "form" },
  "POST /api/v1/setup": { public: "headless first-run: loopback or --setup-token only, until an admin exists" },
  "GET /api/v1/version": { public: "health checks and clients finding out what this is" },
  "GET /api/v1": { public: "the index of the API, so people can learn how to authenticate" },
  "GET /api/v1/openapi.json": { public: "the API's description, for generated clients" },
  "GET /api/v1/docs": { public: "the API's human documentation" },

  // The htmx UI.
  "GET /": status,
  "GET /ui/events": { permission: "status", printer: { query: "printer" } },
  // All printers at a glance: each shows only the printers its viewer may see.
  "GET /printers": status,
  "GET /ui/printers/events": status,
  "POST /ui/printers/:id/connect": byId("control"),
  "POST /ui/printers/:id/disconnect": byId("control"),
  "POST /ui/printers/:id/emergency-stop": byId("control"),
  "POST /ui/printers/:id/commands": byId("control"),
  "POST /ui/printers/:id/temperature": byId("control"),
  "POST /ui/printers/:id/jog": byId("control"),
  "POST /ui/printers/:id/job": byId("print"),
  "POST /ui/printers/:id/job/pause": byId("print"),
  "POST /ui/printers/:id/job/resume": byId("print"),
  "POST /ui/printers/:id/job/cancel": byId("print"),
  "POST /ui/printers/:id/job/restart": byId("print"),
  "GET /ui/printers/:id/job/objects": byId("status"),
  "POST /ui/printers/:id/job/cancel-object": byId("print"),
  "POST /ui/printers/:id/job/interrupted/resume": byId("print"),
  "POST /ui/printers/:id/job/interrupted/discard": byId("print"),
  "GET /settings/printers/:id/scripts": byId("status"),
  "POST /ui/printers/:id/scripts": byId("settings"),
  "POST /ui/printers/:id/scripts/reset": byId("settings"),
  "GET /settings/printers/:id/profile": byId("status"),
  "POST /ui/printers/:id/profile": byId("settings"),
  "POST /ui/printers/:id/profile/limits": byId("settings"),
  "POST /ui/printers/:id/profile/limits/from-printer": byId("settings"),
  "POST /ui/printers/:id/profile/limits/clear": byId("settings"),
  "GET /settings/printers/:id/camera": byId("status"),
  "POST /ui/printers/:id/camera": byId("settings"),
  "POST /ui/printers/:id/timelapse": byId("settings"),
  // The Timelapse page: as GET /api/v1/timelapse and its actions.
  "GET /timelapse": webcam,
  "GET /ui/timelapse/list": webcam,
  "POST /ui/timelapse/files/:name/delete": remove,
  "POST /ui/timelapse/unrendered/:name/render": remove,
  "POST /ui/timelapse/unrendered/:name/delete": remove,
  "POST /ui/printers/:id/limits/query": byId("control"),
  "POST /ui/printers/:id/window": byId("settings"),
  "POST /ui/printers/:id/prompt": byId("control"),
  "POST /ui/printers/:id/sd/refresh": byId("control"),
  "POST /ui/printers/:id/sd/print": byId("print"),
  "POST /ui/printers/:id/sd/upload": byId("files.upload"),
  "POST /ui/printers/:id/sd/delete": byId("files.delete"),
  "POST /ui/files": upload,
  "POST /ui/files/delete": remove,
  "GET /account": login,
  // A page's own rights changing reach it here (src/server/ui/viewer-watch.ts): any logged-in viewer.
  "GET /ui/viewer/events": login,
  "GET /settings": login,
  "POST /account/password": login,
  "POST /account/keys": login,
  "POST /account/keys/:id/revoke": login,
  "POST /account/logout-everywhere": login,
  "GET /users": admin,
  "POST /users": admin,
  "POST /users/:id/group": admin,
  "POST /users/:id/password": admin,
  "POST /users/:id/remove": admin,
  "POST /users/:id/logout": admin,
  "POST /groups/:group": admin,

  // Native API.
  "GET /api/v1/me": login,
  "GET /api/v1/apikeys": login,
  "POST /api/v1/apikeys": login,
  "DELETE /api/v1/apikeys/:id": login,
  "POST /api/v1/logout-everywhere": login,
  "GET /api/v1/users": admin,
  "POST /api/v1/users": admin,
  "DELETE /api/v1/users/:name": admin,
  "GET /api/v1/printers": status,
  "POST /api/v1/printers": settings,
  "GET /api/v1/printers/:id": byId("status"),
  "DELETE /api/v1/printers/:id": byId("settings"),
  "POST /api/v1/printers/:id/connect": byId("control"),
  "POST /api/v1/printers/:id/disconnect": byId("control"),
  "POST /api/v1/printers/:id/commands": byId("control"),
  "POST /api/v1/printers/:id/emergency-stop": byId("control"),
  "GET /api/v1/printers/:id/terminal": byId("status"),
  "POST /api/v1/printers/:id/job": byId("print"),
  "POST /api/v1/printers/:id/job/pause": byId("print"),
  "POST /api/v1/printers/:id/job/resume": byId("print"),
  "POST /api/v1/printers/:id/job/cancel": byId("print"),
  "POST /api/v1/printers/:id/job/restart": byId("print"),
  "POST /api/v1/printers/:id/job/cancel-object": byId("print"),
  "GET /api/v1/printers/:id/job/interrupted": byId("status"),
  "POST /api/v1/printers/:id/job/interrupted/resume": byId("print"),
  "DELETE /api/v1/printers/:id/job/interrupted": byId("print"),
  "GET /api/v1/printers/:id/scripts": byId("status"),
  "PATCH /api/v1/printers/:id/scripts": byId("settings"),
  "GET /api/v1/printers/:id/profile": byId("status"),
  "PATCH /api/v1/printers/:id/profile": byId("settings"),
  "POST /api/v1/printers/:id/profile/limits/from-printer": byId("settings"),
  // Asking sends M503, which only reads: like refreshing the SD card list.
  "POST /api/v1/printers/:id/limits/query": byId("control"),
  "PATCH /api/v1/printers/:id": byId("settings"),
  // Cameras: the config reads like the profile (URLs without credentials unless settings); the picture is "webcam".
  "GET /api/v1/printers/:id/camera": byId("status"),
  "PUT /api/v1/printers/:id/camera": byId("settings"),
  // The URLs OctoPrint clients are given carry a camera token instead of their API key.
  "GET /api/v1/printers/:id/camera/stream": { ...byId("webcam"), cameraToken: true },
  "GET /api/v1/printers/:id/camera/snapshot": { ...byId("webcam"), cameraToken: true },
  // Timelapses: settings per printer; watching is "webcam"; deleting and rendering manage stored output like files.
  "GET /api/v1/printers/:id/timelapse": byId("status"),
  "PUT /api/v1/printers/:id/timelapse": byId("settings"),
  "GET /api/v1/timelapse": webcam,
  "GET /api/v1/timelapse/files/:name": webcam,
  "GET /api/v1/timelapse/files/:name/thumbnail": webcam,
  "DELETE /api/v1/timelapse/files/:name": remove,
  "POST /api/v1/timelapse/unrendered/:name/render": remove,
  "DELETE /api/v1/timelapse/unrendered/:name": remove,
  "GET /api/v1/printers/:id/link": byId("status"),
  "GET /api/v1/printers/:id/trace": byId("status"),
  // Answering the printer's dialog acts on the machine like a command (M876).
  "POST /api/v1/printers/:id/prompt": byId("control"),
  // The SD card as OctoPrint guards it: listing is status, (re)mounting control, the rest like files.
  "GET /api/v1/printers/:id/sd": byId("status"),
  "POST /api/v1/printers/:id/sd/refresh": byId("control"),
  "POST /api/v1/printers/:id/sd/print": byId("print"),
  "POST /api/v1/printers/:id/sd/upload": byId("files.upload"),
  "DELETE /api/v1/printers/:id/sd/*": byId("files.delete"),
  // The print queue: seeing it is status; changing it starts prints, like job control.
  "GET /api/v1/printers/:id/queue": byId("status"),
  "POST /api/v1/printers/:id/queue": byId("print"),
  "PATCH /api/v1/printers/:id/queue": byId("print"),
  "DELETE /api/v1/printers/:id/queue": byId("print"),
  "POST /api/v1/printers/:id/queue/start": byId("print"),
  "POST /api/v1/printers/:id/queue/confirm": byId("print"),
  "POST /api/v1/printers/:id/queue/:item/move": byId("print"),
  "DELETE /api/v1/printers/:id/queue/:item": byId("print"),
  // The farm queue: as a printer's queue (a restricted principal may only look: see api/farm.ts).
  "GET /api/v1/farm/queue": status,
  "POST /api/v1/farm/queue": print,
  "DELETE /api/v1/farm/queue": print,
  "PATCH /api/v1/farm/queue/:item": print,
  "POST /api/v1/farm/queue/:item/move": print,
  "DELETE /api/v1/farm/queue/:item": print,
  "POST /api/v1/printers/:id/bed-cleared": byId("print"),
  "PATCH /api/v1/printers/:id/farm": byId("print"),
  // Print history reads like status (a key restricted to a printer sees its own); deleting is admin's.
  "GET /api/v1/history": status,
  "GET /api/v1/history.csv": status,
  "GET /api/v1/history/stats": status,
  "GET /api/v1/history/:id": status,
  "DELETE /api/v1/history/:id": admin,
  "GET /api/v1/files": status,
  "POST /api/v1/files": upload,
  "GET /api/v1/files/*": status,
  "DELETE /api/v1/files/*": remove,
  "GET /api/v1/events": { permission: "status", printer: { query: "printer" } },
  // Moving, renaming and copying change the tree like deleting does; a folder is an upload.
  "POST /api/v1/files/*": remove,
  "PUT /api/v1/files/*": upload,
  "GET /api/v1/analysis": status,
  "PUT /api/v1/analysis/settings": settings,
  "GET /api/v1/update": status,
  "POST /api/v1/update/check": update,
  "POST /api/v1/update/start": update,
  "POST /api/v1/update/cancel": update,
  "PUT /api/v1/update/settings": update,
  // The self-diagnosis names this machine's users, processes and settings: admin's, and
  // `layerline doctor`'s (its local token), which asks the running host before checking alone.
  "GET /api/v1/diagnostics": { ...admin, localToken: true },
  "GET /api/v1/diagnostics/bundle": { ...admin, localToken: true },
  // Custom controls: everyone who watches printers sees them; changing them is settings; pressing one acts on the printer.
  "GET /api/v1/controls": status,
  "PUT /api/v1/controls": settings,
  "POST /api/v1/printers/:id/controls/run": byId("control"),
  "POST /ui/printers/:id/controls/run": byId("control"),
  "GET /settings/controls": settings,
  "POST /ui/controls": settings,
  "POST /ui/controls/example": settings,
  // A backup holds every password hash and API key; a restore replaces them all.
  "GET /api/v1/backups": admin,
  "POST /api/v1/backups": admin,
  "GET /api/v1/backups/:name": admin,
  "DELETE /api/v1/backups/:name": admin,
  "POST /api/v1/backups/restore": admin,
  "GET /settings/backup": admin,
  "POST /ui/backups/create": admin,
  "POST /ui/backups/:name/delete": admin,
  "POST /ui/backups/restore": admin,
  "GET /settings/diagnostics": admin,
  "GET /ui/diagnostics/report": admin,
  "POST /ui/diagnostics/run": admin,
  "GET /ui/diagnostics/notice": admin,

  // Plugins: managing them is the "plugins" permission; their lists and notices are read with
  // status. Dismissing a notice dismisses it for everybody, so that is managing them too.
  "GET /api/v1/plugins": status,
  "GET /api/v1/plugins/:id": status,
  "GET /api/v1/plugins/:id/log": plugins,
  "GET /api/v1/plugins/:id/settings": plugins,
  "PUT /api/v1/plugins/:id/settings": plugins,
  "POST /api/v1/plugins/:id/enable": plugins,
  "POST /api/v1/plugins/:id/disable": plugins,
  "POST /api/v1/plugins/:id/reload": plugins,
  "POST /api/v1/plugins/:id/update": plugins,
  "DELETE /api/v1/plugins/:id": plugins,
  "POST /api/v1/plugins/install": plugins,
  "GET /api/v1/plugins/repository": status,
  "POST /api/v1/plugins/repository/refresh": plugins,
  "PUT /api/v1/plugins/repository/settings": plugins,
  "GET /api/v1/plugins/notices": status,
  "DELETE /api/v1/plugins/notices/:n": plugins,
  // A plugin's own routes: reading is status, anything else acts like control — on whatever the
  // plugin's code acts on, so not with a key restricted to one printer.
  "GET /api/v1/plugins/:id/*": status,
  "POST /api/v1/plugins/:id/*": pluginAction,
  "PUT /api/v1/plugins/:id/*": pluginAction,
  "PATCH /api/v1/plugins/:id/*": pluginAction,
  "DELETE /api/v1/plugins/:id/*": pluginAction,

  // Usage statistics are a setting; starring a plugin is anyone's opinion.
  "GET /api/v1/tracking": settings,
  "PUT /api/v1/tracking": settings,
  "POST /api/v1/tracking/send": settings,
  "POST /api/v1/tracking/reset-id": settings,
  "GET /api/v1/tracking/stars": login,
  "POST /api/v1/tracking/stars": login,
  // The MQTT bridge is a host setting (its broker account, and the user its commands act as).
  "GET /api/v1/mqtt": settings,
  "PUT /api/v1/mqtt": settings,

  // Plugin and settings pages.
  "GET /plugins": status,
  "GET /plugins/:id": status,
  "GET /plugins/repository": status,
  "GET /ui/plugins/list": status,
  "GET /ui/plugins/notices": status,
  "GET /ui/plugins/repository/results": status,
  "GET /ui/plugins/slot/:name": status,
  "POST /ui/plugins/:id/enable": plugins,
  "POST /ui/plugins/:id/disable": plugins,
  "POST /ui/plugins/:id/reload": plugins,
  "POST /ui/plugins/:id/settings": plugins,
  "POST /ui/plugins/:id/uninstall": plugins,
  "POST /ui/plugins/:id/update": plugins,
  "POST /ui/plugins/install": plugins,
  "POST /ui/plugins/notices/:n/dismiss": plugins,
  "POST /ui/plugins/repository/refresh": plugins,
  "POST /ui/plugins/repository/settings": plugins,
  "GET /settings/tracking": settings,
  "POST /ui/tracking": settings,
  "POST /ui/tracking/send": settings,
  "POST /ui/tracking/reset-id": settings,
  "POST /ui/tracking/star": login,
  "GET /settings/mqtt": settings,
  "GET /ui/mqtt/status": settings,
  "POST /ui/mqtt": settings,

  // The files page.
  "GET /files": status,
  "GET /ui/files/list": status,
  "GET /ui/files/folders": status,
  "GET /ui/files/detail": status,
  "GET /ui/files/events": status,
  "POST /ui/files/upload": upload,
  "POST /ui/files/folder": upload,
  "POST /ui/files/analyse": upload,
  // The printer is a form field here; the handler checks a restricted key's printer.
  "POST /ui/files/print": print,
  "POST /ui/files/rename": remove,
  "POST /ui/files/move": remove,
  "POST /ui/files/remove": remove,
  "POST /ui/files/settings": settings,
  // The layer viewer reads files as the files page does; a print is followed on a printer the principal may see.
  "GET /files/viewer": status,
  "GET /ui/files/viewer/layer": status,
  "GET /ui/files/viewer/events": status,
  "GET /ui/printers/:id/job/viewer": byId("status"),

  // The queue and history pages.
  "GET /queue": status,
  "GET /ui/queue/events": { permission: "status", printer: { query: "printer" } },
  "GET /ui/queue/:id/panel": byId("status"),
  "POST /ui/queue/:id/add": byId("print"),
  "POST /ui/queue/:id/mode": byId("print"),
  "POST /ui/queue/:id/start": byId("print"),
  "POST /ui/queue/:id/confirm": byId("print"),
  "POST /ui/queue/:id/clear": byId("print"),
  "POST /ui/queue/:id/items/:item/move": byId("print"),
  "POST /ui/queue/:id/items/:item/remove": byId("print"),
  // The printer is a form field here; the handler checks a restricted key's printer.
  "POST /ui/queue/add": print,
  // The farm queue on the overview page, and the farm's controls on each printer's card.
  "POST /ui/farm/queue/add": print,
  "POST /ui/farm/queue/:item/copies": print,
  "POST /ui/farm/queue/:item/move": print,
  "POST /ui/farm/queue/:item/remove": print,
  "POST /ui/printers/:id/bed-cleared": byId("print"),
  "POST /ui/printers/:id/farm/auto-start": byId("print"),
  "GET /history": status,
  "GET /ui/history/list": status,
  "POST /ui/history/:id/delete": admin,

  // The update notice.
  "GET /ui/update/notice": status,
  "POST /ui/update/check": update,
  "POST /ui/update/start": update,
  "POST /ui/update/cancel": update,
  "POST /ui/update/dismiss": update,
  // Settings → Updates: seen as GET /api/v1/update, changed as PUT /api/v1/update/settings.
  "GET /settings/update": status,
  "GET /ui/update/status": status,
  "POST /ui/update/settings": update,

  ...OCTOPRINT_ROUTES,
};

/**
 * The methods a route registered with `.all()` answers. The guard looks a request up by its own
 * method, so each of them has its own entry above; other methods need admin, like unmapped routes.
 */
export const ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** Routes with an `ALL` route spelled out as one route per method it answers. */
export function perMethod<T extends { method: string }>(routes: readonly T[]): T[] {
  return routes.flatMap((r) => (r.method === "ALL" ? ALL_METHODS.map((method) => ({ ...r, method })) : [r]));
}

/** Unmapped routes need this. */
export const DEFAULT_REQUIREMENT: Requirement = admin;

/** The requirement of a registered route (trailing slashes do not matter). */
export function requirementFor(method: string, route: string, table: Record<string, Requirement> = ROUTE_PERMISSIONS): Requirement {
  const m = method === "HEAD" ? "GET" : method;
  return table[`${m} ${normalizeRoute(route)}`] ?? DEFAULT_REQUIREMENT;
}

export function normalizeRoute(route: string): string {
  return route.length > 1 && route.endsWith("/") ? route.slice(0, -1) : route;
}

/**
 * Why `principal` may not use a route that needs `requirement` (null: it may). `target` names the
 * printer the request acts on, asked only for a principal restricted to one printer. The guard's
 * refusals and the pages' controls (auth/access.ts) both come from this, so the two cannot disagree.
 * - "credentials": nobody is logged in; "permission": the user (or key) lacks the permission;
 * - "printer": restricted to another printer; "host-wide": restricted, and the route acts on what
 *   all printers share (users, plugins, updates, host settings).
 */
export type Denial = "credentials" | "permission" | "printer" | "host-wide";

export function denial(requirement: Requirement, principal: Pick<Principal, "user" | "permissions" | "printerId"> & { via?: Principal["via"] }, target: (ref: PrinterRef) => string | undefined): Denial | null {
  if (!("permission" in requirement)) return null;
  if (requirement.localToken && principal.via === "local") return null;
  const { permission } = requirement;
  // Anonymous requests have the guests group's permissions (none unless an admin grants some).
  const allowed = permission === "login" ? !!principal.user : principal.permissions.has(permission);
  if (!allowed) return principal.user ? "permission" : "credentials";
  if (principal.printerId && requirement.printer) return target(requirement.printer) === principal.printerId ? null : "printer";
  if (principal.printerId && permission !== "login" && (HOST_WIDE.has(permission) || requirement.hostWide)) return "host-wide";
  return null;
}
