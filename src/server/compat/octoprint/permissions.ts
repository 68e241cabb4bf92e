/**
 * What each OctoPrint-compatible route needs, for the default printer (`/api/…`) and for every
 * printer under `/printers/:printer/…`. Mirrors OctoPrint's own decorators (octoprint-compat.md
 * §2.2) mapped onto Layerline's permissions; the public ones are those OctoPrint serves to anyone.
 */
import type { Permission } from "../../../accounts/permissions.ts";

type Rel = { public: string } | { permission: Permission | "login" };

const RELATIVE: Record<string, Rel> = {
  "GET /api/version": { permission: "status" },
  "GET /api/server": { permission: "status" },
  "POST /api/login": { public: "OctoPrint login, active (rate-limited) or passive with a key" },
  "POST /api/logout": { public: "OctoPrint logout" },
  "GET /api/currentuser": { public: "clients learn who they are (anonymous → guests)" },
  "GET /api/settings": { permission: "status" },
  "POST /api/settings": { permission: "settings" },
  "GET /api/connection": { permission: "status" },
  "POST /api/connection": { permission: "control" },
  "GET /api/printer": { permission: "status" },
  "GET /api/printer/tool": { permission: "status" },
  "POST /api/printer/tool": { permission: "control" },
  "GET /api/printer/bed": { permission: "status" },
  "POST /api/printer/bed": { permission: "control" },
  "GET /api/printer/chamber": { permission: "status" },
  "POST /api/printer/chamber": { permission: "control" },
  "POST /api/printer/printhead": { permission: "control" },
  "POST /api/printer/command": { permission: "control" },
  "GET /api/printer/command/custom": { permission: "control" },
  "GET /api/printer/sd": { permission: "status" },
  "POST /api/printer/sd": { permission: "control" },
  "GET /api/job": { permission: "status" },
  "POST /api/job": { permission: "print" },
  "GET /api/files": { permission: "status" },
  "GET /api/files/:origin": { permission: "status" },
  "POST /api/files/:origin": { permission: "files.upload" },
  "GET /api/files/:origin/*": { permission: "status" },
  "POST /api/files/:origin/*": { permission: "status" },
  "DELETE /api/files/:origin/*": { permission: "files.delete" },
  "GET /downloads/files/:origin/*": { permission: "status" },
  "GET /api/printerprofiles": { permission: "status" },
  "GET /api/printerprofiles/:profile": { permission: "status" },
  "PATCH /api/printerprofiles/:profile": { permission: "settings" },
  "GET /api/access/permissions": { permission: "status" },
  "GET /api/access/groups": { permission: "admin" },
  "GET /api/access/users": { permission: "admin" },
  "GET /api/users": { permission: "admin" },
  "GET /api/system/commands": { permission: "admin" },
  "GET /api/system/info": { permission: "admin" },
  "GET /api/timelapse": { permission: "webcam" },
  "POST /api/timelapse": { permission: "settings" },
  "GET /api/timelapse/:file": { permission: "webcam" },
  "DELETE /api/timelapse/:file": { permission: "files.delete" },
  "POST /api/timelapse/unrendered/:name": { permission: "files.delete" },
  "DELETE /api/timelapse/unrendered/:name": { permission: "files.delete" },
  "GET /downloads/timelapse/:file": { permission: "webcam" },
  "GET /downloads/camera/current": { permission: "webcam" },
  "GET /plugin/appkeys/probe": { public: "app-keys flow: is it available" },
  "POST /plugin/appkeys/request": { public: "app-keys flow: an app asks for a key" },
  "GET /plugin/appkeys/request/:app_token": { public: "app-keys flow: the app polls for the decision" },
  "GET /plugin/appkeys/auth/:app_token": { permission: "login" },
  "POST /plugin/appkeys/decision/:user_token": { permission: "login" },
  "GET /api/plugin/appkeys": { permission: "login" },
  "POST /api/plugin/appkeys": { permission: "login" },
  "WS /sockjs/websocket": { public: "push socket; clients authenticate with an auth message" },
  "GET /sockjs/info": { public: "SockJS handshake" },
  "WS /sockjs/:server/:session/websocket": { public: "SockJS websocket transport; auth by message" },
  "POST /sockjs/:server/:session/xhr": { public: "SockJS polling transport; auth by message" },
  "POST /sockjs/:server/:session/xhr_send": { public: "SockJS polling transport; auth by message" },
};

/** The path prefix of a printer's own OctoPrint API. */
export const PRINTER_PREFIX = "/printers/:printer";

function expand(): Record<string, Rel & { printer?: { param: string } | "default" }> {
  const out: Record<string, Rel & { printer?: { param: string } | "default" }> = {};
  for (const [key, rel] of Object.entries(RELATIVE)) {
    const [method, path] = key.split(" ") as [string, string];
    out[key] = "permission" in rel ? { ...rel, printer: "default" } : rel;
    out[`${method} ${PRINTER_PREFIX}${path}`] = "permission" in rel ? { ...rel, printer: { param: "printer" } } : rel;
  }
  return out;
}

export const OCTOPRINT_ROUTES = expand();
