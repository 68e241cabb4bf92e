/**
 * Native API: what this host is, and the index of endpoints.
 */
import { Elysia } from "elysia";
import type { AppContext } from "../context.ts";

/** The endpoints of the native API, for people and scripts discovering it. */
export const ENDPOINTS: [method: string, path: string, what: string][] = [
  ["GET", "/api/v1", "this index: every endpoint and what it does"],
  ["GET", "/api/v1/version", "name and version of this host"],
  ["GET", "/api/v1/printers", "all printers with their live status"],
  ["POST", "/api/v1/printers", "add a printer {name, transport: virtual|serial, port?, baud?, autoconnect?}"],
  ["GET", "/api/v1/printers/:id", "one printer: state, temperatures, position, job, progress"],
  ["DELETE", "/api/v1/printers/:id", "remove a printer"],
  ["POST", "/api/v1/printers/:id/connect", "open the link"],
  ["POST", "/api/v1/printers/:id/disconnect", "close the link"],
  ["POST", "/api/v1/printers/:id/commands", "send G-code {commands: string[]}"],
  ["POST", "/api/v1/printers/:id/emergency-stop", "M112, bypassing every queue"],
  ["GET", "/api/v1/printers/:id/terminal", "the latest lines sent and received"],
  ["POST", "/api/v1/printers/:id/job", "print a file {file}"],
  ["POST", "/api/v1/printers/:id/job/pause", "pause the print"],
  ["POST", "/api/v1/printers/:id/job/resume", "resume the print"],
  ["POST", "/api/v1/printers/:id/job/cancel", "cancel the print"],
  ["GET", "/api/v1/files", "files with their analysis and thumbnails, folders, free/total space (?q=, sort=name|date|size|time, order=asc|desc, folder=)"],
  ["POST", "/api/v1/files", "upload, streamed (multipart: file, path = folder, filename, overwrite=false), or JSON {folder} to create a folder"],
  ["PUT", "/api/v1/files/*", "upload the request body as this file (curl -T), streamed; ?overwrite=false keeps an existing one"],
  ["GET", "/api/v1/files/*", "a file's entry or a folder's listing; …/content downloads (Range), …/analysis is the full analysis, …/thumbnails/WxH.png|jpg a thumbnail"],
  ["POST", "/api/v1/files/*", "{command: move|copy, destination}, {command: rename, name} or {command: analyse}"],
  ["DELETE", "/api/v1/files/*", "delete a file, or a folder (?recursive=true with its content)"],
  ["GET", "/api/v1/analysis", "the analysis queue and its settings"],
  ["PUT", "/api/v1/analysis/settings", "analysis settings {onlyWhenIdle?, limits?}"],
  ["GET", "/api/v1/events", "Server-Sent Events: status, log, event, files (?printer=id)"],
  ["GET", "/api/v1/update", "self-update: version, last check, release notes, progress, last result"],
  ["POST", "/api/v1/update/check", "check for a new release now {url?, channel?}"],
  ["POST", "/api/v1/update/start", "download, verify and install the new release {url?, channel?, force?}"],
  ["POST", "/api/v1/update/cancel", "cancel an update that is downloading or waiting for a print"],
  ["PUT", "/api/v1/update/settings", "update source and schedule {url, channel, checkHours, selfTestSeconds}"],
  ["POST", "/api/v1/setup", "first run only, from this machine or with --setup-token: create the admin {username, password, printer?}; returns a full-scope {apiKey}"],
  ["GET", "/api/v1/me", "who the credentials belong to, their permissions, scope and printer"],
  ["GET", "/api/v1/apikeys", "your API keys (never the secrets)"],
  ["POST", "/api/v1/apikeys", "create a key {name, scope?, printer?, expiresIn? (s)}; the key is in the answer only"],
  ["DELETE", "/api/v1/apikeys/:id", "revoke a key"],
  ["POST", "/api/v1/logout-everywhere", "end every browser and socket session of your account"],
  ["GET", "/api/v1/users", "all users (admin)"],
  ["POST", "/api/v1/users", "add a user {username, password, group?: admins|users|readonly} (admin)"],
  ["DELETE", "/api/v1/users/:name", "remove a user (admin)"],
  ["GET", "/api/v1/openapi.json", "this API as an OpenAPI 3.1 document"],
  ["GET", "/api/v1/docs", "this API for people, with curl examples"],
  ["GET", "/api/v1/tracking", "anonymous usage statistics: on/off, registry, last report, the exact next payload"],
  ["PUT", "/api/v1/tracking", "opt in or out, or change the registry {enabled?, url?}"],
  ["POST", "/api/v1/tracking/send", "send the usage report now (only when opted in)"],
  ["GET", "/api/v1/tracking/stars", "the plugins this host starred"],
  ["POST", "/api/v1/tracking/stars", "star or unstar a repository plugin {plugin, starred}; answers the like count"],
  ["GET", "/api/v1/plugins", "every plugin with its state (enabled, disabled, incompatible, failed) and why; safe mode"],
  ["GET", "/api/v1/plugins/:id", "one plugin: manifest, state, hooks, settings, faults, log, repository notices"],
  ["POST", "/api/v1/plugins/:id/enable", "enable (and load) a plugin"],
  ["POST", "/api/v1/plugins/:id/disable", "disable (and unload) a plugin"],
  ["POST", "/api/v1/plugins/:id/reload", "load a plugin's files again"],
  ["DELETE", "/api/v1/plugins/:id", "uninstall a plugin (all its files, settings and data)"],
  ["GET", "/api/v1/plugins/:id/settings", "a plugin's settings and their form fields"],
  ["PUT", "/api/v1/plugins/:id/settings", "change settings {field: value, …}"],
  ["POST", "/api/v1/plugins/install", "install: multipart field file (archive), or {url, sha256?}, or {id} from the repository"],
  ["POST", "/api/v1/plugins/:id/update", "update to the repository's newer release (verified; rolled back if it fails to load)"],
  ["GET", "/api/v1/plugins/repository", "search the repository ?q=&sort=popular|trending|released|stars|title|published&compatible=1&os=&with=&without=&hideAbandoned=1"],
  ["POST", "/api/v1/plugins/repository/refresh", "download the repository index now"],
  ["PUT", "/api/v1/plugins/repository/settings", "repository index {url, refreshHours}"],
  ["GET", "/api/v1/plugins/:id/log", "a plugin's log (what it wrote, its faults)"],
  ["GET", "/api/v1/plugins/notices", "notices about plugins (faults, safe mode)"],
  ["DELETE", "/api/v1/plugins/notices/:n", "dismiss a notice"],
  ["*", "/api/v1/plugins/:id/*", "a plugin's own routes (reading needs status; anything else control)"],
];

export function versionApi(ctx: AppContext) {
  return new Elysia()
    .get("/api/v1", () => ({
      name: "Layerline",
      version: ctx.version,
      endpoints: ENDPOINTS.map(([method, path, description]) => ({ method, path, description })),
    }))
    .get("/api/v1/version", () => ({ name: "Layerline", version: ctx.version, api: "v1" }));
}
