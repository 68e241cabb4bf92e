/**
 * The OctoPrint-compatible REST API (octoprint-compat.md §2.3 minimum set and more), for the
 * default printer at `/api/…` and for every printer at `/printers/<id>/api/…`. Every answer is a
 * rendering of the printer's live status (`state.ts`) or of FileStorage data (`files.ts`);
 * commands go through the same printer session as the native API.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import type { Principal } from "../../../accounts/accounts.ts";
import { CAMERA_TOKEN_PARAM } from "../../../accounts/camera-tokens.ts";
import { FileError, type StoredFile } from "../../../files/storage.ts";
import { isPrintable, safeRelativePath } from "../../../files/paths.ts";
import { receiveUpload } from "../../../files/upload.ts";
import type { Result } from "../../../printers/controller.ts";
import type { PrinterSession } from "../../../printers/session.ts";
import { isJobRunning } from "../../../printers/status.ts";
import { clearSessionCookie, octoprintCsrfCookie, readCookie, SESSION_COOKIE, sessionCookie } from "../../auth/cookies.ts";
import { OCTOPRINT_FORBIDDEN } from "../../auth/refusal.ts";
import { principalOf } from "../../auth/principal.ts";
import type { AppContext } from "../../context.ts";
import { ApiError } from "../../errors.ts";
import { REMEMBER_MS } from "../../../accounts/sessions.ts";
import {
  ConnectionCommand,
  FileCommand,
  firstIssue,
  HeaterCommand,
  JobCommand,
  PrintheadCommand,
  RawCommand,
  SdCommand,
  ToolCommand,
  toolIndex,
  truthy,
} from "./commands.ts";
import { downloadUrl, fileEntry, folderEntry, resourceUrl, sdEntry, sdResourceUrl, tree, type AnalysisLookup, type FileExtras, type Refs } from "./files.ts";
import { PRINTER_PREFIX } from "./permissions.ts";
import { octoprintControls, substitute } from "../../../controls/model.ts";
import { extrudeGcode, homeGcode, jogGcode } from "../../../controls/manual.ts";
import { problemText, readProfile } from "../../../printers/profile.ts";
import { cameraPatchOf, profilePayload, readSettings, SettingsUpdateSchema, settingsPayload, updateSettings, ProfileUpdateSchema, webcamPayload } from "./settings.ts";
import { snapshotResponse } from "../../api/webcam.ts";
import { contentDisposition } from "../../api/files.ts";
import { setFor, timelapseVisible, videoFor, videoResponse } from "../../api/timelapse.ts";
import { TimelapsePatchSchema } from "../../../timelapse/config.ts";
import { timelapseConfigPayload, timelapseFilePayload, timelapsePatchOf, TimelapseUpdateSchema, unrenderedPayload } from "./timelapse.ts";
import { connectionPayload, isOperational, jobPayload, printerState, progressPayload, PROFILE_ID, stateText, temperatureMap, type JobContext } from "./state.ts";
import type { OctoTracker } from "./tracker.ts";
import { subscribe } from "../../../events.ts";
import { currentUser, groupRecord, loginRecord, OCTO_PERMISSIONS, permissionJson, userRecord } from "./users.ts";
import { clientAddress } from "../../auth/reverse-proxy.ts";
import { publicBase } from "../../path-prefix.ts";
import { systemInfoPayload } from "./system.ts";

/** The API version string OctoPrint reports (`server/api/__init__.py`). */
export const OCTOPRINT_API = "0.1";
/** The OctoPrint release whose API this layer reproduces. */
export const OCTOPRINT_COMPAT = "1.11.8";

export interface CompatDeps {
  tracker: OctoTracker;
  analysis: AnalysisLookup;
  /** Sends an OctoPrint event to push clients (of one printer, or all with null). */
  event: (printerId: string | null, type: string, payload: Record<string, unknown>) => void;
}

const MACHINECODE = ["machinecode", "gcode"];

const fail = (status: number, message: string) => new ApiError(status, "octoprint", message);
const noContent = () => new Response(null, { status: 204 });

/** A command's JSON body through its schema; like OctoPrint, anything but JSON is refused. */
function parse<S extends v.GenericSchema>(schema: S, body: unknown, request: Request): v.InferOutput<S> {
  if (!/^application\/(.+\+)?json\b/i.test(request.headers.get("content-type") ?? "")) throw fail(400, "Expected content-type JSON");
  const r = v.safeParse(schema, body ?? {});
  if (!r.success) throw fail(400, firstIssue(r.issues));
  return r.output;
}

/** An upload's `userdata` field: a JSON string, passed on in the Upload event. */
function userdataOf(field: string | undefined): unknown {
  if (!field) return undefined;
  try {
    return JSON.parse(field);
  } catch {
    throw fail(400, "userdata contains invalid JSON");
  }
}

/** The printer a request is about: `/printers/<id>/…` or the default one. */
function printerFor(ctx: AppContext, params: Record<string, string> | undefined): PrinterSession {
  const s = params?.printer ? ctx.printers.get(params.printer) : ctx.printers.default();
  if (!s) throw fail(404, params?.printer ? `There is no printer "${params.printer}"` : "No printer is configured");
  return s;
}

function refsFor(request: Request, params: Record<string, string> | undefined): Refs {
  const origin = publicBase(request);
  const base = params?.printer ? `${origin}/printers/${encodeURIComponent(params.printer)}` : origin;
  return { api: base, downloads: base };
}

const commandFailed = (r: Result<unknown>) => {
  if (!r.ok) throw fail(409, r.error.message);
};

const nameOf = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/** A LIKE pattern for everything under folder `path`. */
const under = (path: string) => `${path.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`;

export function octoprintRest(ctx: AppContext, deps: CompatDeps) {
  const ownerOf = (path: string) =>
    (ctx.db.query("SELECT user_name FROM octoprint_uploads WHERE path = ?").get(path) as { user_name: string } | null)?.user_name;
  const setOwner = (path: string, user: string | null) => {
    if (user) ctx.db.query("INSERT OR REPLACE INTO octoprint_uploads (path, user_name) VALUES (?, ?)").run(path, user);
  };
  const dropOwner = (path: string) => ctx.db.query("DELETE FROM octoprint_uploads WHERE path = ? OR path LIKE ? ESCAPE '\\'").run(path, under(path));
  /** Who uploaded what follows a copy or a move (of a file, or of a folder's files). */
  const copyOwners = (from: string, to: string) =>
    ctx.db
      .query("INSERT OR REPLACE INTO octoprint_uploads (path, user_name) SELECT ? || substr(path, ?), user_name FROM octoprint_uploads WHERE path = ? OR path LIKE ? ESCAPE '\\'")
      .run(to, from.length + 1, from, under(from));

  const historyOf = (f: StoredFile | undefined) => (f?.sha256 ? ctx.history.statsFor(f.sha256) : undefined);
  const extrasFor = (f: StoredFile): FileExtras => ({ user: ownerOf(f.path), analysis: deps.analysis(f)?.gcodeAnalysis, history: historyOf(f) });

  const jobContext = (s: PrinterSession): JobContext => {
    const x = deps.tracker.of(s.id);
    const job = s.status.job;
    const active = job && isJobRunning(job.state) ? job : null;
    if (job?.source === "sd" && (active || x.selected?.path === job.file)) {
      // An SD print (or the last one, still selected): its file is on the card, not in the files folder.
      const sd = s.status.sd.files.find((f) => f.name === job.file) ?? { name: job.file, size: job.size };
      return { file: undefined, analysis: undefined, user: x.selected?.user ?? null, everSelected: true, sd };
    }
    const path = active?.file ?? x.selected?.path ?? null;
    const file = path ? safeGet(path) : undefined;
    return { file, analysis: file ? deps.analysis(file) : undefined, user: x.selected?.path === path ? x.selected.user : null, everSelected: x.everSelected, stats: historyOf(file) };
  };
  const safeGet = (path: string) => {
    try {
      return ctx.files.get(path);
    } catch {
      return undefined;
    }
  };

  /** An ETag over the body; 304 when the client has it already. */
  const withEtag = (request: Request, body: unknown, tagged: unknown = body) => {
    const json = JSON.stringify(body);
    const etag = `"${new Bun.CryptoHasher("sha1").update(JSON.stringify(tagged)).digest("hex")}"`;
    if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: { etag } });
    return new Response(json, { headers: { "content-type": "application/json", etag, "cache-control": "max-age=0" } });
  };

  const userName = (p: Principal) => p.user?.name ?? null;

  const startJob = async (s: PrinterSession, path: string, user: string | null) => {
    deps.tracker.expectJob(s.id, user);
    commandFailed(await s.startJob(path));
  };

  /**
   * Prints card file `name` once its copy to the card is through and the card lists it whole
   * (OctoPrint's select/print after an upload to the SD card); gives up after a while, or when the
   * copy stops and the file never shows up complete.
   */
  const printWhenCopied = (s: PrinterSession, name: string) => {
    let giveUp: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      stop();
      clearTimeout(overall);
      clearTimeout(giveUp);
    };
    // An hour covers the slowest copy of a big file.
    const overall = setTimeout(done, 3_600_000);
    overall.unref();
    const stop = subscribe(ctx.bus, {
      "printer.status": ({ id, status }) => {
        if (id !== s.id || status.sd.upload?.name === name) return;
        // Written under its long name, the card may list it under its 8.3 one.
        const file = status.sd.files.find((f) => f.name === name || f.longName === name);
        if (file && !file.incomplete) {
          done();
          void s.sdPrint(name);
        } else if (!giveUp) {
          // The card is listed again right after the copy; a copy that failed never shows up whole.
          giveUp = setTimeout(done, 30_000);
          giveUp.unref();
        }
      },
    });
  };

  const requireOperational = (s: PrinterSession) => {
    if (!isOperational(s.status)) throw fail(409, "Printer is not operational");
  };

  const send = async (s: PrinterSession, commands: string[]) => {
    requireOperational(s);
    if (commands.length) commandFailed(await s.send(commands));
  };

  /** Resolves a file or folder path of the files folder; throws 404 in OctoPrint's words. */
  const resolve = (raw: string): { path: string; file?: StoredFile; folder: boolean } => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      throw fail(400, "The path is not valid URL encoding");
    }
    const check = safeRelativePath(decoded);
    if (!check.ok) throw fail(400, `The path is not allowed: ${check.reason}`);
    const file = safeGet(check.path);
    if (file) return { path: check.path, file, folder: false };
    if (ctx.files.isFolder(check.path)) return { path: check.path, folder: true };
    throw fail(404, `File not found on 'local': ${check.path}`);
  };

  const requireLocal = (origin: string) => {
    if (origin === "sdcard") throw fail(400, "This operation is not possible on the SD card; files there can be listed, selected to print and deleted");
    if (origin !== "local") throw fail(404, `Unknown origin: ${origin}`);
  };

  /** The printer's SD card files as OctoPrint entries (none while no card is mounted). */
  const sdListing = (s: PrinterSession, refs: Refs) => (s.status.sd.available ? s.status.sd.files.map((f) => sdEntry(f, refs)) : []);

  /** A file on the printer's SD card, by its listed or long name; throws in OctoPrint's words. */
  const sdFile = (s: PrinterSession, raw: string) => {
    if (!s.status.sd.available) throw fail(409, "Can not access the SD card: no card is initialised");
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      throw fail(400, "The path is not valid URL encoding");
    }
    const file = s.status.sd.files.find((f) => f.name === name || f.longName === name);
    if (!file) throw fail(404, `File not found on 'sdcard': ${name}`);
    return file;
  };

  /** Copies or moves a file or a folder into the folder `destination` ("" = the top), or to that new name. */
  const transfer = (from: { path: string; folder: boolean }, destination: string, move: boolean) => {
    const dest = destination.replace(/^\/+|\/+$/g, "");
    const base = nameOf(from.path);
    let target = base;
    if (dest) {
      const check = safeRelativePath(dest);
      if (!check.ok) throw fail(400, `The destination is not allowed: ${check.reason}`);
      const parent = check.path.includes("/") ? check.path.slice(0, check.path.lastIndexOf("/")) : "";
      if (ctx.files.isFolder(check.path)) target = `${check.path}/${base}`;
      else if (destination.endsWith("/")) throw fail(404, `There is no folder "${check.path}" to ${move ? "move" : "copy"} into`);
      else if (parent && !ctx.files.isFolder(parent)) throw fail(404, `There is no folder "${parent}" to ${move ? "move" : "copy"} into`);
      else target = check.path;
    }
    if (target === from.path || target.startsWith(`${from.path}/`)) throw fail(409, "Cannot move or copy onto itself");
    try {
      if (move) ctx.files.move(from.path, target);
      else ctx.files.copy(from.path, target);
    } catch (e) {
      if (e instanceof FileError && e.code === "exists") throw fail(409, `The destination ${target} already exists`);
      if (e instanceof FileError && e.code === "in_use") throw fail(409, "Trying to move a file that is being printed");
      throw e;
    }
    copyOwners(from.path, target);
    if (move) {
      dropOwner(from.path);
      deps.tracker.forget(from.path);
    }
    ctx.bus.emit("files.changed", undefined);
    // OctoPrint's events for both (payloads as in its file manager).
    const typed = (key: string) => (from.folder ? {} : { [key]: MACHINECODE });
    if (move) {
      deps.event(null, from.folder ? "FolderMoved" : "FileMoved", {
        storage: "local",
        source_path: from.path,
        source_name: nameOf(from.path),
        ...typed("source_type"),
        destination_path: target,
        destination_name: nameOf(target),
        ...typed("destination_type"),
      });
    } else deps.event(null, from.folder ? "FolderAdded" : "FileAdded", { storage: "local", path: target, name: nameOf(target), ...typed("type") });
    return target;
  };

  /** Deletes a file, or a folder with everything in it (as OctoPrint does). */
  const removePath = (at: { path: string; folder: boolean }) => {
    try {
      if (at.folder) ctx.files.removeFolder(at.path, true);
      else ctx.files.remove(at.path);
    } catch (e) {
      if (e instanceof FileError && e.code === "in_use") {
        throw fail(409, at.folder ? "Trying to delete a folder that contains a file being printed" : "Trying to delete a file that is currently in use");
      }
      throw e;
    }
    dropOwner(at.path);
    deps.tracker.forget(at.path);
    const name = nameOf(at.path);
    deps.event(null, at.folder ? "FolderRemoved" : "FileRemoved", { storage: "local", path: at.path, name, ...(at.folder ? {} : { type: MACHINECODE }) });
  };

  /** The upload form's `foldername` (in `path`) as a new folder; an existing one is fine, as in OctoPrint. */
  const newFolder = (path: string, name: string) => {
    const parent = path.replace(/^\/+|\/+$/g, "");
    const check = safeRelativePath(parent ? `${parent}/${name}` : name);
    if (!check.ok) throw fail(400, `The folder name is not allowed: ${check.reason}`);
    // OctoPrint refuses folder names that look like printable files.
    if (isPrintable(check.path)) throw fail(409, "Can't create folder, please try another name");
    const folder = ctx.files.mkdir(check.path);
    ctx.bus.emit("files.changed", undefined);
    deps.event(null, "FolderAdded", { storage: "local", path: folder.path, name: folder.name });
    return folder;
  };

  const selected = (s: PrinterSession, file: StoredFile, user: string | null) => {
    deps.tracker.select(s.id, file.path, user);
    deps.event(s.id, "FileSelected", { name: file.name, path: file.path, origin: "local", size: file.size, ...(user ? { user } : {}) });
  };

  const filesListing = (request: Request, params: Record<string, string>, recursive: boolean, folder = "") =>
    tree(ctx.files.list(), ctx.files.folders().map((f) => f.path), folder, refsFor(request, params), extrasFor, recursive);

  const routes = (prefix: string) =>
    new Elysia({ prefix })
      .get("/api/version", ({ params }) => {
        printerFor(ctx, params as Record<string, string>);
        // PrusaSlicer requires `text` to start with "OctoPrint"; `server` says what really answers.
        return { api: OCTOPRINT_API, server: ctx.version, text: `OctoPrint ${OCTOPRINT_COMPAT} (Layerline ${ctx.version})` };
      })
      .get("/api/server", () => ({ version: ctx.version, safemode: null }))
      .post("/api/login", async ({ body, query, request, set }) => {
        const data = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
        const now = Date.now();
        if (truthy(query.passive) || "passive" in data) {
          const p = principalOf(request);
          if (!p.user) return noContent();
          const { token } = ctx.accounts.startSession(p, p.via === "apikey" ? "apikey" : "password");
          return loginRecord(p, token, p.via === "apikey" ? "apikey" : "password", now);
        }
        const user = typeof data.user === "string" ? data.user : "";
        const pass = typeof data.pass === "string" ? data.pass : "";
        if (!user || !pass) throw fail(400, "Neither user and pass attributes nor passive flag present");
        const result = await ctx.accounts.login(user, pass, clientAddress(request) ?? "unknown", now);
        if (!result.ok && result.reason === "throttled") {
          set.status = 429;
          set.headers["retry-after"] = String(Math.ceil(result.retryAfterMs / 1000));
          return { error: "Too many failed login attempts, try again later" };
        }
        if (!result.ok) {
          set.status = 403;
          return { error: OCTOPRINT_FORBIDDEN };
        }
        const remember = truthy(data.remember);
        const principal: Principal = { user: result.user, permissions: ctx.accounts.permissionsOf(result.user), via: "session", printerId: null };
        const { token, session } = ctx.accounts.startSession(principal, "password", remember, now);
        const port = new URL(request.url).port || "80";
        return new Response(JSON.stringify(loginRecord(principal, token, "password", now)), {
          headers: [
            ["content-type", "application/json"],
            ["cache-control", "no-store, no-cache, must-revalidate, post-check=0, pre-check=0, max-age=0"],
            ["set-cookie", sessionCookie(request, token, remember, REMEMBER_MS / 1000)],
            ["set-cookie", octoprintCsrfCookie(request, port, session.csrf)],
          ],
        });
      })
      .post("/api/logout", ({ request }) => {
        const token = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
        if (token) ctx.accounts.logout(token);
        return new Response(null, { status: 204, headers: { "set-cookie": clearSessionCookie(request) } });
      })
      .get("/api/currentuser", ({ request }) => currentUser(principalOf(request)))
      .get("/api/settings", async ({ params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        return withEtag(request, await settingsOf(s, request));
      })
      .post("/api/settings", async ({ body, params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        const update = parse(SettingsUpdateSchema, body, request);
        updateSettings(ctx.settings, update);
        if (update.webcam) ctx.webcam.configure(s.id, cameraPatchOf(update.webcam, ctx.webcam.camera(s.id)));
        return settingsOf(s, request);
      })
      .get("/downloads/camera/current", ({ params, request }) => snapshotResponse(ctx.webcam, printerFor(ctx, params as Record<string, string>).id, request))
      .get("/api/connection", async ({ params }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        return connectionPayload(s.record, s.status, await ctx.printers.ports());
      })
      .post("/api/connection", async ({ body, params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        const c = parse(ConnectionCommand, body, request);
        if (c.command === "disconnect") {
          commandFailed(await ctx.printers.disconnect(s.id));
          return noContent();
        }
        if (c.command === "fake_ack") throw fail(400, "fake_ack is not needed: Layerline recovers lost acknowledgements itself (timeouts and resends)");
        const port = c.port && c.port !== "AUTO" ? c.port : undefined;
        if (port === "VIRTUAL" && s.record.transport !== "virtual") throw fail(400, "This printer is a serial printer; add a virtual printer in Layerline instead");
        if (port && port !== "VIRTUAL") {
          if (s.record.transport !== "serial") throw fail(400, "This is the virtual printer; add a serial printer in Layerline to use a port");
          if (!port.startsWith("/")) throw fail(400, "The port must be an absolute path such as /dev/ttyUSB0 (or Klipper's /tmp/printer)");
        }
        const baud = c.baudrate && c.baudrate > 0 ? c.baudrate : s.record.baud;
        const changed = s.record.transport === "serial" && ((port && port !== s.record.port) || baud !== s.record.baud);
        if (changed) {
          await ctx.printers.disconnect(s.id);
          ctx.printers.updateConnection(s.id, port ?? s.record.port, baud);
        } else if (s.status.state !== "closed" && s.status.state !== "error") {
          return noContent(); // already connected as asked
        }
        commandFailed(await ctx.printers.connect(s.id));
        return noContent();
      })
      .get("/api/printer", ({ params, query }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        if (!isOperational(s.status)) throw fail(409, "Printer is not operational");
        const exclude = new Set(String(query.exclude ?? "").split(",").map((e) => e.trim()));
        const out: Record<string, unknown> = {};
        if (!exclude.has("temperature")) {
          const temperature: Record<string, unknown> = temperatureMap(s.status, deps.tracker.of(s.id).offsets);
          if (truthy(query.history)) {
            const limit = Number.parseInt(String(query.limit ?? ""), 10);
            const temps = deps.tracker.of(s.id).temps;
            temperature.history = temps.slice(-(Number.isFinite(limit) && limit > 0 ? limit : 300));
          }
          out.temperature = temperature;
        }
        if (!exclude.has("sd")) out.sd = { ready: s.status.sd.available };
        if (!exclude.has("state")) out.state = printerState(s.status);
        return out;
      })
      .get("/api/printer/tool", ({ params, query }) => heaterState(params, query, (n) => n.startsWith("tool")))
      .get("/api/printer/bed", ({ params, query }) => heaterState(params, query, (n) => n === "bed"))
      .get("/api/printer/chamber", ({ params, query }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        if (!s.status.temperatures.chamber) throw fail(409, "Printer does not have a heated chamber");
        return heaterState(params, query, (n) => n === "chamber");
      })
      .post("/api/printer/tool", async ({ body, params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        const c = parse(ToolCommand, body, request);
        const offsets = deps.tracker.of(s.id).offsets;
        switch (c.command) {
          case "target":
            await send(s, Object.entries(c.targets).map(([tool, t]) => `M104 T${toolIndex(tool)} S${Math.round(t + (offsets[tool] ?? 0))}`));
            break;
          case "offset":
            requireOperational(s);
            Object.assign(offsets, c.offsets);
            break;
          case "select":
            await send(s, [`T${toolIndex(c.tool)}`]);
            break;
          case "extrude":
            if (s.status.state === "printing") throw fail(409, "Printer is currently printing");
            await send(s, extrudeGcode(c.amount, c.speed));
            break;
          case "flowrate":
            await send(s, [`M221 S${c.factor}`]);
            break;
        }
        return noContent();
      })
      .post("/api/printer/bed", async ({ body, params, request }) => heaterCommand(params, body, request, "bed", "M140"))
      .post("/api/printer/chamber", async ({ body, params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        if (!s.status.temperatures.chamber) throw fail(409, "Printer does not have a heated chamber");
        return heaterCommand(params, body, request, "chamber", "M141");
      })
      .post("/api/printer/printhead", async ({ body, params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        const c = parse(PrintheadCommand, body, request);
        if (s.status.state === "printing") throw fail(409, "Printer is currently printing");
        if (c.command === "jog") await send(s, jogGcode(c));
        else if (c.command === "home") await send(s, homeGcode(c.axes));
        else await send(s, [`M220 S${c.factor}`]);
        return noContent();
      })
      .post("/api/printer/command", async ({ body, params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        const c = parse(RawCommand, body, request);
        if ("script" in c) throw fail(400, "Named G-code scripts are not supported; send the commands themselves");
        let lines = "commands" in c ? c.commands : [c.command];
        // A custom control with inputs: OctoPrint fills `%(name)s` from `parameters` (`line % parameters`).
        if (c.parameters) {
          const filled = substitute(lines, c.parameters, true);
          if (!filled.ok) throw fail(400, `Could not fill in the parameters: ${filled.error}`);
          lines = filled.lines;
        }
        await send(s, lines.map((l) => l.trim()).filter(Boolean));
        return noContent();
      })
      // OctoPrint's custom controls (settings `controls`), as Settings → Custom controls defines them.
      .get("/api/printer/command/custom", ({ params }) => {
        printerFor(ctx, params as Record<string, string>);
        return { controls: octoprintControls(ctx.controls.list()) };
      })
      .get("/api/printer/sd", ({ params }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        return { ready: s.status.sd.available };
      })
      .post("/api/printer/sd", async ({ body, params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        const c = parse(SdCommand, body, request);
        requireOperational(s);
        if (c.command === "release") {
          if (s.status.job?.source === "sd" && (s.status.state === "printing" || s.status.state === "paused")) throw fail(409, "Printer is currently printing from the SD card");
          await send(s, ["M22"]);
          // Listed again, the firmware reports the card gone.
          commandFailed(await s.sdRefresh());
        } else commandFailed(await s.sdRefresh());
        return noContent();
      })
      .get("/api/job", ({ params }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        const j = jobContext(s);
        return {
          job: jobPayload(s.status, j),
          progress: progressPayload(s.status, j),
          state: stateText(s.status),
          ...(s.status.state === "error" ? { error: s.status.problem?.message ?? "" } : {}),
        };
      })
      .post("/api/job", async ({ body, params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        const c = parse(JobCommand, body, request);
        const state = s.status.state;
        switch (c.command) {
          case "start": {
            if (state === "printing" || state === "paused") throw fail(409, "Printer already has an active job");
            if (state !== "operational") throw fail(409, "Printer is not operational");
            const j = jobContext(s);
            if (j.sd) {
              // The card file of the last SD print stays selected, as in OctoPrint: printed again.
              commandFailed(await s.sdPrint(j.sd.name));
              break;
            }
            if (!j.file) throw fail(409, "Printer has no file selected");
            await startJob(s, j.file.path, userName(principalOf(request)));
            break;
          }
          case "restart": {
            if (state !== "paused") throw fail(409, "Printer is not paused, cannot restart");
            // One step in the printer's thread: the paused print ends (as cancelled, without the
            // cancel script) and starts again; a cancel first would still be cancelling here.
            deps.tracker.expectJob(s.id, userName(principalOf(request)));
            commandFailed(await s.restartJob());
            break;
          }
          case "cancel":
            if (state !== "printing" && state !== "paused") throw fail(409, "Printer is neither printing nor paused, 'cancel' command cannot be performed");
            commandFailed(await s.cancelJob());
            break;
          case "pause": {
            const wantPause = c.action === "pause" || (c.action === "toggle" && state === "printing");
            if (wantPause) {
              if (state !== "printing") throw fail(409, "Printer is not printing, cannot pause");
              commandFailed(await s.pauseJob());
            } else {
              if (state !== "paused") throw fail(409, "Printer is not paused, cannot resume");
              commandFailed(await s.resumeJob());
            }
            break;
          }
        }
        return noContent();
      })
      .get("/api/files", async ({ params, query, request }) => {
        const p = (params ?? {}) as Record<string, string>;
        printerFor(ctx, p);
        const files = [...filesListing(request, p, truthy(query.recursive)), ...sdListing(printerFor(ctx, p), refsFor(request, p))];
        // The tag follows the files, not the free space (which changes all the time).
        return withEtag(request, { files, ...ctx.files.space() }, files);
      })
      .get("/api/files/:origin", async ({ params, query, request }) => {
        const p = (params ?? {}) as Record<string, string>;
        const s = printerFor(ctx, p);
        if (p.origin === "sdcard") return { files: sdListing(s, refsFor(request, p)) };
        if (p.origin !== "local") throw fail(404, `Unknown origin: ${p.origin}`);
        const files = filesListing(request, p, truthy(query.recursive));
        return withEtag(request, { files, ...ctx.files.space() }, files);
      })
      .get("/api/files/:origin/*", ({ params, query, request }) => {
        const p = (params ?? {}) as Record<string, string>;
        if (p.origin === "sdcard") return sdEntry(sdFile(printerFor(ctx, p), p["*"]!), refsFor(request, p));
        requireLocal(p.origin!);
        const at = resolve(p["*"]!);
        const refs = refsFor(request, p);
        if (at.file) return withEtag(request, fileEntry(at.file, refs, extrasFor(at.file)));
        return { ...folderEntry(at.path, ctx.files.list(), refs), children: filesListing(request, p, truthy(query.recursive), at.path) };
      })
      .post(
        "/api/files/:origin",
        async ({ params, request, set }) => {
          const p = (params ?? {}) as Record<string, string>;
          const s = printerFor(ctx, p);
          // To the card, as OctoPrint does it: stored locally first, then copied over the serial line.
          const toCard = p.origin === "sdcard";
          if (toCard) {
            if (s.status.state !== "operational") throw fail(409, "Can not upload to SD card, printer is either not operational or already busy");
            if (!s.status.sd.available) throw fail(409, "Can not upload to SD card, not yet initialized");
          } else requireLocal(p.origin!);
          const refs = refsFor(request, p);
          const principal = principalOf(request);
          // Streamed to disk like every upload (files/upload.ts); the other fields are text.
          let userdata: unknown;
          const { fields, file: stored } = await receiveUpload(request, ctx.files, {
            overwrite: (f) => !truthy(f.noOverwrite),
            check: (f) => {
              userdata = userdataOf(f.userdata);
            },
          }).catch((e: unknown) => {
            if (e instanceof FileError && e.code === "not_printable") throw fail(415, `${e.message} ${e.hint}`);
            throw e;
          });
          if (!stored) {
            if (fields.foldername !== undefined && !toCard) {
              const folder = newFolder(fields.path ?? "", fields.foldername);
              set.status = 201;
              set.headers.location = resourceUrl(refs, folder.path);
              return { folder: { name: folder.name, path: folder.path, origin: "local", refs: { resource: resourceUrl(refs, folder.path) } }, done: true };
            }
            throw fail(400, "No file included");
          }
          setOwner(stored.path, userName(principal));
          ctx.bus.emit("files.changed", undefined);
          // select/print are honoured only when allowed and the printer is ready; never a 409 (§2.4).
          const mayPrint = principal.permissions.has("print") && (!principal.printerId || principal.printerId === s.id);
          const ready = s.status.state === "operational";
          const wantPrint = truthy(fields.print);
          const local = { name: stored.name, path: stored.path, origin: "local", refs: { resource: resourceUrl(refs, stored.path), download: downloadUrl(refs, stored.path) } };
          deps.event(null, "FileAdded", { storage: "local", path: stored.path, name: stored.name, type: MACHINECODE });
          set.status = 201;
          set.headers["cache-control"] = "no-store, no-cache, must-revalidate, post-check=0, pre-check=0, max-age=0";
          if (toCard) {
            const copy = await s.sdUpload(stored.path);
            // The local copy stays, as in OctoPrint; the card copy could not start.
            if (!copy.ok) throw fail(409, `Can not upload to SD card: ${copy.error.message}`);
            const card = copy.value.name;
            // A card file is selected only to print it (see the SD select command), once it is all there.
            const onCard = wantPrint && mayPrint;
            if (onCard) {
              deps.tracker.expectJob(s.id, userName(principal));
              printWhenCopied(s, card);
            }
            deps.event(s.id, "Upload", { name: stored.name, path: card, target: "sdcard", select: truthy(fields.select), print: wantPrint, effective_select: onCard, effective_print: onCard });
            set.headers.location = sdResourceUrl(refs, card);
            return { files: { local, sdcard: { name: card, path: card, origin: "sdcard", refs: { resource: sdResourceUrl(refs, card) } } }, done: false, effectiveSelect: onCard, effectivePrint: onCard };
          }
          const effectiveSelect = (truthy(fields.select) || wantPrint) && mayPrint && ready;
          let effectivePrint = wantPrint && mayPrint && ready;
          if (effectiveSelect) selected(s, stored, userName(principal));
          if (effectivePrint) {
            deps.tracker.expectJob(s.id, userName(principal));
            effectivePrint = (await s.startJob(stored.path)).ok;
          }
          deps.event(s.id, "Upload", {
            name: stored.name,
            path: stored.path,
            target: "local",
            select: truthy(fields.select),
            print: wantPrint,
            effective_select: effectiveSelect,
            effective_print: effectivePrint,
            ...(userdata !== undefined ? { userdata } : {}),
          });
          set.headers.location = resourceUrl(refs, stored.path);
          return {
            files: { local },
            done: true,
            effectiveSelect,
            effectivePrint,
          };
        },
        { parse: "none" },
      )
      .post("/api/files/:origin/*", async ({ body, params, request, set }) => {
        const p = (params ?? {}) as Record<string, string>;
        const s = printerFor(ctx, p);
        const c = parse(FileCommand, body, request);
        const principal = principalOf(request);
        const need = (...perms: ("print" | "files.upload" | "files.delete")[]) => {
          for (const perm of perms) if (!principal.permissions.has(perm)) throw fail(403, OCTOPRINT_FORBIDDEN);
        };
        if (p.origin === "sdcard") {
          const file = sdFile(s, p["*"]!);
          if (c.command !== "select") throw fail(400, `"${c.command}" is not possible on the SD card`);
          need("print");
          if (principal.printerId && principal.printerId !== s.id) throw fail(403, OCTOPRINT_FORBIDDEN);
          if (s.status.state === "printing" || s.status.state === "paused") throw fail(409, "Printer is already printing, cannot select a new file");
          // The firmware prints from its card at once (M23 + M24): a card file is selected to print it.
          if (!truthy(c.print)) throw fail(409, "Layerline selects a file on the SD card only to print it: send {\"command\": \"select\", \"print\": true}");
          commandFailed(await s.sdPrint(file.name));
          return noContent();
        }
        requireLocal(p.origin!);
        const at = resolve(p["*"]!);
        switch (c.command) {
          case "select": {
            need("print");
            if (!at.file) throw fail(409, "Only files can be selected");
            if (principal.printerId && principal.printerId !== s.id) throw fail(403, OCTOPRINT_FORBIDDEN);
            if (s.status.state === "printing" || s.status.state === "paused") throw fail(409, "Printer is already printing, cannot select a new file");
            const print = truthy(c.print);
            if (print && s.status.state !== "operational") throw fail(409, "Printer is not operational, cannot directly start printing");
            selected(s, at.file, userName(principal));
            if (print) await startJob(s, at.path, userName(principal));
            return noContent();
          }
          case "unselect":
            need("print");
            if (s.status.state === "printing" || s.status.state === "paused") throw fail(409, "Printer is already printing, cannot unselect current file");
            if (deps.tracker.of(s.id).selected?.path === at.path) {
              deps.tracker.unselect(s.id);
              deps.event(s.id, "FileDeselected", {});
            }
            return noContent();
          case "move":
          case "copy": {
            need(...(c.command === "move" ? (["files.upload", "files.delete"] as const) : (["files.upload"] as const)));
            const target = transfer(at, c.destination, c.command === "move");
            const refs = refsFor(request, p);
            set.status = 201;
            set.headers.location = resourceUrl(refs, target);
            return { origin: "local", name: nameOf(target), path: target, refs: { resource: resourceUrl(refs, target), ...(at.folder ? {} : { download: downloadUrl(refs, target) }) } };
          }
          case "analyse":
            // Files are analysed on upload; this analyses one again (OctoPrint answers 204).
            need("files.upload");
            if (!at.file) throw fail(400, "Only files can be analysed");
            ctx.analysis.reanalyse(at.path);
            return noContent();
          case "slice":
            throw fail(400, "Slicing is not supported; upload G-code from your slicer");
        }
      })
      .delete("/api/files/:origin/*", async ({ params }) => {
        const p = (params ?? {}) as Record<string, string>;
        const s = printerFor(ctx, p);
        if (p.origin === "sdcard") {
          commandFailed(await s.sdDelete(sdFile(s, p["*"]!).name));
          return noContent();
        }
        requireLocal(p.origin!);
        removePath(resolve(p["*"]!));
        ctx.bus.emit("files.changed", undefined);
        return noContent();
      })
      .get("/downloads/files/:origin/*", ({ params }) => {
        const p = (params ?? {}) as Record<string, string>;
        requireLocal(p.origin!);
        const at = resolve(p["*"]!);
        if (!at.file) throw fail(404, "Folders cannot be downloaded");
        return new Response(Bun.file(ctx.files.absolute(at.path)), {
          headers: { "content-type": "text/x.gcode", "content-disposition": contentDisposition("attachment", at.file.name) },
        });
      })
      .get("/api/printerprofiles", ({ params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        const resource = `${refsFor(request, params as Record<string, string>).api}/api/printerprofiles/${PROFILE_ID}`;
        return withEtag(request, { profiles: { [PROFILE_ID]: profilePayload(readProfile(ctx.settings, s.id), resource) } });
      })
      .get("/api/printerprofiles/:profile", ({ params, request }) => {
        const p = (params ?? {}) as Record<string, string>;
        const s = printerFor(ctx, p);
        if (p.profile !== PROFILE_ID) throw fail(404, `Unknown profile: ${p.profile}`);
        return profilePayload(readProfile(ctx.settings, s.id), `${refsFor(request, p).api}/api/printerprofiles/${PROFILE_ID}`);
      })
      .patch("/api/printerprofiles/:profile", async ({ body, params, request }) => {
        const p = (params ?? {}) as Record<string, string>;
        const s = printerFor(ctx, p);
        if (p.profile !== PROFILE_ID) throw fail(404, `Unknown profile: ${p.profile}`);
        const problem = await ctx.jobs.updateProfile(s, parse(ProfileUpdateSchema, body, request).profile);
        if (problem) throw fail(400, problemText(problem));
        return { profile: profilePayload(readProfile(ctx.settings, s.id), `${refsFor(request, p).api}/api/printerprofiles/${PROFILE_ID}`) };
      })
      .get("/api/access/permissions", () => ({ permissions: OCTO_PERMISSIONS.map(permissionJson) }))
      .get("/api/access/groups", () => ({ groups: ctx.accounts.users.groups().map((g) => groupRecord(g.key, g.permissions)) }))
      .get("/api/access/users", () => ({ users: users() }))
      .get("/api/users", () => ({ users: users() }))
      .get("/api/system/commands", () => ({ core: [], custom: [], plugin: [] }))
      .get("/api/system/info", () => systemInfoPayload(ctx))
      .get("/api/timelapse", ({ params, query, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        return withEtag(request, timelapseListing(s, request, params as Record<string, string>, truthy(query.unrendered)));
      })
      .post("/api/timelapse", ({ body, params, request }) => {
        const s = printerFor(ctx, params as Record<string, string>);
        const patch = timelapsePatchOf(parse(TimelapseUpdateSchema, body, request));
        const r = v.safeParse(TimelapsePatchSchema, patch);
        if (!r.success) throw fail(400, firstIssue(r.issues));
        ctx.timelapse.configure(s.id, r.output);
        return timelapseListing(s, request, params as Record<string, string>, true);
      })
      .get("/api/timelapse/:file", ({ params }) => {
        const p = params as Record<string, string>;
        const base = p.printer ? `/printers/${encodeURIComponent(p.printer)}` : "";
        return new Response(null, { status: 302, headers: { location: `${base}/downloads/timelapse/${encodeURIComponent(p.file!)}` } });
      })
      .delete("/api/timelapse/:file", ({ params, request }) => {
        const p = params as Record<string, string>;
        const s = printerFor(ctx, p);
        videoFor(ctx, request, p.file!);
        ctx.timelapse.store.deleteVideo(p.file!);
        return timelapseListing(s, request, p, false);
      })
      .post("/api/timelapse/unrendered/:name", ({ body, params, request }) => {
        const p = params as Record<string, string>;
        printerFor(ctx, p);
        const c = parse(v.object({ command: v.literal("render", 'command must be "render"') }), body, request);
        const refusal = c && ctx.timelapse.render(setFor(ctx, request, p.name!));
        if (refusal) throw fail(refusal === "missing" ? 404 : 409, refusal === "missing" ? `Unknown unrendered timelapse ${p.name}` : "Printer is currently printing, cannot render timelapse");
        return noContent();
      })
      .delete("/api/timelapse/unrendered/:name", ({ params, request }) => {
        const p = params as Record<string, string>;
        printerFor(ctx, p);
        const refusal = ctx.timelapse.deleteSet(setFor(ctx, request, p.name!));
        if (refusal) throw fail(refusal === "missing" ? 404 : 409, refusal === "missing" ? `Unknown unrendered timelapse ${p.name}` : "The timelapse is still being recorded");
        return noContent();
      })
      .get("/downloads/timelapse/:file", ({ params, request }) => {
        const p = params as Record<string, string>;
        printerFor(ctx, p);
        const thumb = /^(.+)\.thumb\.jpg$/.exec(p.file!);
        if (!thumb) return videoResponse(ctx, request, p.file!);
        const file = Bun.file(`${videoFor(ctx, request, thumb[1]!)}.thumb.jpg`);
        return file.size > 0 ? new Response(file, { headers: { "content-type": "image/jpeg" } }) : noContent();
      });

  /**
   * The settings for a printer. Its camera's URLs are the host's own (a streamer on loopback works
   * remotely, behind the login); a client that came with an API key gets a camera token in them
   * (slicers and apps open the stream without sending their key header), never the key itself:
   * these URLs end up in logs and screenshots, and the token opens this camera and nothing else.
   */
  const settingsOf = async (s: PrinterSession, request: Request) => {
    const principal = principalOf(request);
    const camera = ctx.webcam.camera(s.id);
    const origin = publicBase(request);
    const token = ctx.accounts.cameraTokenFor(principal, s.id);
    const key = token ? `?${CAMERA_TOKEN_PARAM}=${token}` : "";
    const refs = {
      stream: camera.streamUrl ? `${origin}/api/v1/printers/${encodeURIComponent(s.id)}/camera/stream${key}` : "",
      snapshot: camera.streamUrl || camera.snapshotUrl ? `${origin}/api/v1/printers/${encodeURIComponent(s.id)}/camera/snapshot${key}` : "",
    };
    // As OctoPrint: the webcam block only for those who may watch the camera.
    const webcam = principal.permissions.has("webcam") ? webcamPayload(camera, refs) : undefined;
    return settingsPayload(readSettings(ctx.settings), s.record, await ctx.printers.ports(), principal.permissions.has("admin"), webcam);
  };

  /** `/api/timelapse`: the printer's settings and its videos (and frame sets with `unrendered`). */
  const timelapseListing = (s: PrinterSession, request: Request, params: Record<string, string>, unrendered: boolean) => {
    const listing = ctx.timelapse.list((printer) => printer === s.id && timelapseVisible(request)(printer));
    const downloads = refsFor(request, params).downloads;
    return {
      config: timelapseConfigPayload(ctx.timelapse.config(s.id)),
      enabled: true,
      files: listing.files.map((f) => timelapseFilePayload(f, downloads)),
      ...(unrendered ? { unrendered: listing.unrendered.map(unrenderedPayload) } : {}),
    };
  };

  const users = () => ctx.accounts.users.list().map((u) => userRecord(u, ctx.accounts.permissionsOf(u)));

  const heaterState = (params: unknown, query: Record<string, unknown>, only: (name: string) => boolean) => {
    const s = printerFor(ctx, params as Record<string, string>);
    if (!isOperational(s.status)) throw fail(409, "Printer is not operational");
    const out: Record<string, unknown> = temperatureMap(s.status, deps.tracker.of(s.id).offsets, only);
    if (truthy(query.history)) {
      const limit = Number.parseInt(String(query.limit ?? ""), 10);
      out.history = deps.tracker
        .of(s.id)
        .temps.slice(-(Number.isFinite(limit) && limit > 0 ? limit : 300))
        .map((pt) => Object.fromEntries(Object.entries(pt).filter(([k]) => k === "time" || only(k))));
    }
    return out;
  };

  const heaterCommand = async (params: unknown, body: unknown, request: Request, heater: string, gcode: string) => {
    const s = printerFor(ctx, params as Record<string, string>);
    const c = parse(HeaterCommand, body, request);
    const offsets = deps.tracker.of(s.id).offsets;
    if (c.command === "target") await send(s, [`${gcode} S${Math.round(c.target + (offsets[heater] ?? 0))}`]);
    else {
      requireOperational(s);
      offsets[heater] = c.offset;
    }
    return noContent();
  };

  return { app: new Elysia({ name: "octoprint-rest" }).use(routes("")).use(routes(PRINTER_PREFIX)), jobContext };
}
