/**
 * The `layerline` module plugins import (registered as a virtual module by `virtual-module.ts`):
 * the definition helper, the types of everything the host hands a plugin, and a few helpers
 * (valibot for settings schemas, the escaping `html` tag for UI fragments, G-code parsing).
 * This file *is* the plugin API of version {@link API_VERSION}; docs/plugins.md documents it and
 * tests/plugins/api-surface.test.ts pins it. Plugins never see host internals.
 */
import * as v from "valibot";
import { escape, html, Html, raw } from "../../views/html.ts";
import { PLUGIN_API_VERSION, type LineStage, type Permission, type ScriptName, type SlotName } from "./api.ts";

export { v, html, raw, escape, Html };
export type { LineStage, Permission, ScriptName, SlotName };

/** The version of this API (semver); a plugin's manifest declares the range it works with. */
export const API_VERSION = PLUGIN_API_VERSION;

/** Marks a plugin definition, so the loader can tell one from any other default export. */
export const PLUGIN_BRAND = Symbol.for("layerline.plugin");

// ---- what a plugin defines ---------------------------------------------------------------------

/** A settings schema: a valibot object whose entries become the settings form's fields. */
export type SettingsSchema = v.ObjectSchema<v.ObjectEntries, v.ErrorMessage<v.ObjectIssue> | undefined>;
/** The settings values a schema describes (an empty object without one). */
export type SettingsOf<S> = S extends SettingsSchema ? v.InferOutput<S> : Record<string, never>;

/**
 * What a G-code hook returns for one line: `undefined` (or nothing) keeps the line, a string
 * replaces it, an array replaces it with several lines (empty array or `null` drops it). Lines
 * starting with `@` are host commands and never reach the printer (`@pause` pauses the print).
 */
export type LineResult = string | string[] | null | undefined | void;

/** Runs in each printer's Worker for every line of one stage; must answer within its time budget. */
export type LineHook<S = Record<string, unknown>> = (line: string, ctx: LineContext<S>) => LineResult | Promise<LineResult>;
/** Lines a plugin adds to one of the host's G-code scripts (same result shape as a line hook). */
export type ScriptHook<S = Record<string, unknown>> = (ctx: LineContext<S>) => LineResult | Promise<LineResult>;

export interface PluginDefinition<S extends SettingsSchema | undefined = undefined> {
  /** The settings: persisted by the host, shown as a form, validated with this schema. */
  settings?: S;
  /**
   * Runs on the host's main thread when the plugin is loaded (and again after each reload).
   * Register events, tasks, routes and UI fragments through `ctx`; return a function to run
   * when it is unloaded (or use `ctx.onDispose`).
   */
  setup?(ctx: PluginContext<SettingsOf<S>>): void | (() => void) | Promise<void | (() => void)>;
  /** Serial-path hooks, run in every printer's Worker. */
  gcode?: Partial<Record<LineStage, LineHook<SettingsOf<S>>>>;
  /** Lines added to the host's G-code scripts, run in every printer's Worker. */
  scripts?: Partial<Record<ScriptName, ScriptHook<SettingsOf<S>>>>;
}

/** Declares a plugin: `export default definePlugin({ ... })`. Returns the definition, branded. */
export function definePlugin<S extends SettingsSchema | undefined = undefined>(definition: PluginDefinition<S>): PluginDefinition<S> {
  return Object.assign({}, definition, { [PLUGIN_BRAND]: API_VERSION });
}

// ---- the serial path (printer Workers) ----------------------------------------------------------

/** Where a line on the serial path came from. */
export type LineSource = "job" | "command" | "script" | "firmware";

/** What a G-code or script hook is told about the line. One object per plugin and printer. */
export interface LineContext<S = Record<string, unknown>> {
  readonly plugin: string;
  readonly printer: { readonly id: string; readonly name: string };
  /** The plugin's settings as last saved. */
  readonly settings: S;
  /** Where the line came from (scripts: "script"; received lines: "firmware"). */
  readonly source: LineSource;
  /** The script being run, for script hooks. */
  readonly script: ScriptName | null;
  /** The print this printer runs, if any. */
  readonly job: { readonly file: string; readonly state: JobState } | null;
  /**
   * Where the running print has the machine, as the host follows it from the file's lines (API
   * 1.1); null when no print streams from the host's files (none, or one from the SD card). A
   * job line is applied before it enters the plugin stages: its `queue` and `send` hooks see it
   * applied. Script hooks see the state after the last line fed (`afterPrintPaused`: where the
   * print stopped).
   */
  readonly machine: MachineState | null;
  /** The plugin's scratch space for this printer; kept until the plugin is reloaded. */
  readonly state: Record<string, unknown>;
  /** A line for the plugin's log (shown on its page). */
  log(message: string): void;
}

/**
 * The machine state a print's file leaves behind, as far as it has been fed to the printer. It
 * follows the file's own lines (never what plugins, scripts or commands add) in the file's
 * coordinates, and runs ahead of the printer by the lines in flight. A live, read-only view:
 * read the fields you need (spreading it copies them too); it changes with the next line.
 */
export interface MachineState {
  /** Null until the file homes (G28: 0), sets (G92) or moves that axis (relative moves count from 0). */
  readonly x: number | null;
  readonly y: number | null;
  readonly z: number | null;
  /** The extruder in the file's terms (after G92 E…). */
  readonly e: number;
  /** G90 (true, the start) or G91. */
  readonly absolute: boolean;
  /** M82 (true) or M83; until either is given, G90/G91 decide. */
  readonly absoluteE: boolean;
  /** The last feed rate set (mm/min), or null. */
  readonly feedrate: number | null;
  /** The tool selected (T0 at the start). */
  readonly tool: number;
}

// ---- the main thread -----------------------------------------------------------------------------

export type PrinterState = "closed" | "connecting" | "operational" | "printing" | "paused" | "error";
export type JobState = "printing" | "paused" | "cancelled" | "done" | "failed";

/** A printer as plugins see it (a stable subset of `GET /api/v1/printers/:id`). */
export interface PrinterInfo {
  id: string;
  name: string;
  isDefault: boolean;
  state: PrinterState;
  problem: { code: string; message: string; hint: string } | null;
  /** The firmware's name once identified. */
  firmware: string | null;
  /** Keyed by `tool0`, `bed`, … (°C). */
  temperatures: Record<string, { actual: number; target: number | null }>;
  job: { file: string; state: JobState; startedAt: number; endedAt: number | null; reason: string | null } | null;
  progress: { completion: number; printTime: number; bytesSent: number; bytesTotal: number } | null;
}

/** A file in the files folder. */
export interface FileInfo {
  /** Relative path, e.g. `parts/bracket.gcode`. */
  path: string;
  size: number;
  /** Last change, ms since the epoch. */
  date: number;
}

/** The events a plugin can subscribe to (`ctx.on`). Payloads are plain JSON. */
export interface PluginEvents {
  /** A printer's state changed. */
  "printer.state": { printer: string; state: PrinterState; previous: PrinterState };
  /** A printer's status was updated (temperatures, progress; several times a second while printing). */
  "printer.status": { printer: PrinterInfo };
  /** A print started, paused, resumed or ended. */
  job: { printer: string; file: string; state: "started" | "paused" | "resumed" | "done" | "cancelled" | "failed"; reason: string | null };
  /** A notice from a printer's link (firmware warnings, refused commands). */
  "printer.notice": { printer: string; level: "info" | "warning" | "error"; message: string };
  "printer.firmwareError": { printer: string; text: string };
  /** Files were added, removed or changed. */
  "files.changed": Record<string, never>;
  /** A file's analysis ended. */
  "analysis.finished": { path: string; ok: boolean; error: string | null };
}

/**
 * Who looks at a rendered fragment (API 1.2): offer a button only to a viewer who may press it.
 * Example: `${viewer.may("POST") ? html\`<button hx-post="/api/v1/plugins/me/reset">Reset</button>\` : ""}`.
 */
export interface SlotViewer {
  /** Whether the viewer may call the plugin's own routes with `method` (GET needs the "status" permission, the others "control"). */
  may(method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"): boolean;
}

/** Props each UI slot's renderer gets. */
export interface SlotProps {
  "dashboard.card": { printer: PrinterInfo; viewer: SlotViewer };
  "settings.section": { viewer: SlotViewer };
  "navbar.item": { viewer: SlotViewer };
  "file.actions": { path: string; printer: PrinterInfo | null; viewer: SlotViewer };
}
/** A slot renderer returns markup (`html\`…\``); a plain string is shown as text. */
export type SlotRender<N extends SlotName> = (props: SlotProps[N]) => Html | string | null | undefined | Promise<Html | string | null | undefined>;

/** A request to one of the plugin's routes. */
export interface PluginRequest {
  method: string;
  /** The path below `/api/v1/plugins/<id>`, e.g. `/summary`. */
  path: string;
  /** `:name` parts of the route's pattern. */
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Headers;
  /** Parsed JSON, or the fields of a form; undefined without a body. */
  body: unknown;
}
/** An object is answered as JSON, `Html` as a page fragment, a string as text; a Response as it is. */
export type RouteResult = Response | Html | string | object | null | undefined | void;
export type RouteHandler = (request: PluginRequest) => RouteResult | Promise<RouteResult>;

/** Thrown by a route to answer with an error: `throw new HttpError(404, "not_found", "No such print.")`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint = "",
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** Thrown by the host API when a call is refused (missing permission, bad printer, busy file…). */
export class PluginApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint = "",
  ) {
    super(message);
    this.name = "PluginApiError";
  }
}

/** Printers, through the host (never their internals). */
export interface PrintersApi {
  list(): PrinterInfo[];
  get(id: string): PrinterInfo | null;
  /** Sends G-code (permission `printer.commands`). */
  send(id: string, commands: string[]): Promise<void>;
  /** Starts printing a file of the files folder (permission `printer.jobs`). */
  startJob(id: string, file: string): Promise<void>;
  pauseJob(id: string): Promise<void>;
  resumeJob(id: string): Promise<void>;
  cancelJob(id: string): Promise<void>;
}

/** Files, through the host. */
export interface FilesApi {
  /** Every printable file (permission `files.read`). */
  list(): FileInfo[];
  get(path: string): FileInfo | null;
  /** A file's content as text (permission `files.read`). */
  read(path: string): Promise<string>;
  /** Adds or replaces a file (permission `files.write`). */
  write(path: string, content: string | Uint8Array | Blob): Promise<FileInfo>;
  /** Deletes a file (permission `files.write`). */
  remove(path: string): void;
}

export interface PluginLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What `setup()` gets: the plugin's whole view of the host. */
export interface PluginContext<S = Record<string, unknown>> {
  readonly id: string;
  readonly version: string;
  /** The host's plugin API version. */
  readonly apiVersion: string;
  readonly log: PluginLog;
  readonly settings: {
    get(): S;
    /** Validates and saves a change (throws PluginApiError when invalid); returns the new values. */
    set(change: Partial<S>): S;
    onChange(handler: (settings: S) => void): () => void;
  };
  /** Small persisted JSON values private to the plugin. */
  readonly storage: {
    get<T = unknown>(key: string): T | undefined;
    set(key: string, value: unknown): void;
    delete(key: string): void;
    keys(): string[];
  };
  /** Subscribes to a host event; returns the function that unsubscribes. */
  on<E extends keyof PluginEvents>(event: E, handler: (payload: PluginEvents[E]) => void | Promise<void>): () => void;
  /** Runs `task` every `ms` milliseconds (at least 1000); a run still going is not overlapped. */
  every(ms: number, task: () => void | Promise<void>): () => void;
  /** Serves `handler` at `/api/v1/plugins/<id><path>` (path like `/summary` or `/prints/:n`). */
  route(method: "GET" | "POST" | "PUT" | "DELETE", path: string, handler: RouteHandler): void;
  /** Renders a fragment into a named place of the UI. */
  slot<N extends SlotName>(name: N, render: SlotRender<N>): void;
  /** Shows the user a notice (top of every page until dismissed). */
  notify(level: "info" | "warning" | "error", message: string): void;
  readonly printers: PrintersApi;
  readonly files: FilesApi;
  /** Runs when the plugin is unloaded (disable, reload, uninstall, host stop). */
  onDispose(fn: () => void | Promise<void>): void;
}

// ---- helpers -----------------------------------------------------------------------------------

/** A G-code command split into its code and parameters. */
export interface GcodeCommand {
  /** Upper-case code, e.g. `G1`, `M600`, `T0`. */
  code: string;
  /** Parameter letters (upper case) to their text; a flag without value maps to "". */
  params: Record<string, string>;
}

/**
 * Parses one cleaned G-code line (no comment, no line number). Null for anything else.
 * Example: `parseGcode("G1 X10 Y-2.5 F3000")` → `{ code: "G1", params: { X: "10", Y: "-2.5", F: "3000" } }`.
 *
 * Plugins call it for every line of a print, so it reads the characters once instead of running
 * regular expressions; it answers exactly as `/^\s*([GMTgmt])(\d+(?:\.\d+)?)(.*)$/` and then
 * `/([A-Za-z])\s*([-+]?[0-9.]*)/g` over the rest would (tests/plugins/api-surface.test.ts).
 */
export function parseGcode(line: string): GcodeCommand | null {
  const n = line.length;
  let i = 0;
  while (i < n && isSpace(line.charCodeAt(i))) i++;
  const letter = line.charCodeAt(i) | 32; // lower case (and NaN past the end becomes 32)
  if (letter !== 103 /* g */ && letter !== 109 /* m */ && letter !== 116 /* t */) return null;
  const digits = ++i;
  while (i < n && isDigit(line.charCodeAt(i))) i++;
  if (i === digits) return null;
  if (line.charCodeAt(i) === 46 /* . */ && isDigit(line.charCodeAt(i + 1))) for (i += 2; i < n && isDigit(line.charCodeAt(i)); ) i++;
  // The rest is `.*` up to the end: a line break in it means no match at all.
  for (let k = i; k < n; k++) {
    const c = line.charCodeAt(k);
    if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return null;
  }
  const code = String.fromCharCode(letter - 32) + line.slice(digits, i);
  // M117/M118 carry free text, not parameters.
  if (code === "M117" || code === "M118") return { code, params: { "": line.slice(i).trim() } };
  const params: Record<string, string> = {};
  while (i < n) {
    const c = line.charCodeAt(i++);
    const upper = c & ~32;
    if (upper < 65 || upper > 90 || c > 122) continue; // not a letter A-Z / a-z
    while (i < n && isSpace(line.charCodeAt(i))) i++;
    const value = i;
    const sign = line.charCodeAt(i);
    if (sign === 45 /* - */ || sign === 43 /* + */) i++;
    for (let d = line.charCodeAt(i); i < n && (isDigit(d) || d === 46); d = line.charCodeAt(++i));
    params[String.fromCharCode(upper)] = line.slice(value, i);
  }
  return { code, params };
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** What `\s` matches in a JavaScript regular expression. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** The number of a parameter, or undefined when absent or not a number. */
export function gcodeNumber(command: GcodeCommand, letter: string): number | undefined {
  // The usual one-letter ASCII name without toUpperCase (asked several times per line).
  const c = letter.length === 1 ? letter.charCodeAt(0) : 0;
  const text = command.params[c >= 97 && c <= 122 ? String.fromCharCode(c - 32) : c >= 65 && c <= 90 ? letter : letter.toUpperCase()];
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}
