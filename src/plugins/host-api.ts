/**
 * The `ctx` a plugin's `setup()` gets on the main thread: its whole view of the host. Everything
 * it registers (event handlers, tasks, routes, UI fragments, dispose functions) is recorded in
 * its {@link Registrations}, so unloading removes all of it. Calls that act on printers or files
 * check the permissions the manifest asked for; every callback into plugin code runs under a time
 * budget, and failures are reported as faults.
 */
import type { Emitter } from "mitt";
import type { FileStorage, StoredFile } from "../files/storage.ts";
import { FileError } from "../files/storage.ts";
import type { Result } from "../printers/controller.ts";
import type { PrinterManager } from "../printers/manager.ts";
import type { PrinterSession } from "../printers/session.ts";
import { coarseJobState } from "../printers/status.ts";
import { BUDGET_MS, PERMISSIONS, RESERVED_ROUTES, SLOTS, type Permission, type SlotName } from "./api.ts";
import { withDeprecations } from "./deprecations.ts";
import { guarded } from "./guard.ts";
import type { MainWhat } from "./main-thread-watch.ts";
import { blame } from "./scope.ts";
import {
  PluginApiError,
  type FileInfo,
  type FilesApi,
  type PluginContext,
  type PluginEvents,
  type PrinterInfo,
  type PrintersApi,
  type RouteHandler,
  type SlotRender,
} from "./sdk.ts";

export type PluginBus = Emitter<{ [K in keyof PluginEvents]: PluginEvents[K] }>;

export interface RouteEntry {
  method: string;
  pattern: string;
  regex: RegExp;
  names: string[];
  handler: RouteHandler;
}

/** What one loaded instance of a plugin has registered. */
export class Registrations {
  readonly routes: RouteEntry[] = [];
  readonly slots = new Map<SlotName, SlotRender<SlotName>>();
  readonly settingsHandlers = new Set<(settings: Record<string, unknown>) => void>();
  private readonly undo: (() => void)[] = [];
  private readonly disposers: (() => void | Promise<void>)[] = [];

  onUndo(fn: () => void): void {
    this.undo.push(fn);
  }

  onDispose(fn: () => void | Promise<void>): void {
    this.disposers.push(fn);
  }

  /** Removes everything and runs the plugin's dispose functions (each under the setup budget; `run` marks them for the watchdog). */
  async teardown(fault: (where: string, message: string) => void, run: <T>(fn: () => T) => T = (fn) => fn()): Promise<void> {
    for (const fn of this.undo.splice(0)) fn();
    this.routes.length = 0;
    this.slots.clear();
    this.settingsHandlers.clear();
    for (const fn of this.disposers.splice(0).reverse()) {
      const outcome = await guarded(() => run(fn), BUDGET_MS.setup);
      if (!outcome.ok) fault("dispose", outcome.message);
    }
  }
}

/** What the host gives the context builder. */
export interface HostParts {
  bus: PluginBus;
  printers: PrinterManager;
  files: FileStorage;
  /** Tells the rest of the host that files changed (the files views refresh). */
  filesChanged(): void;
}

/** The plugin-specific part: identity, permissions, settings, storage, log and fault reporting. */
export interface PluginParts {
  id: string;
  version: string;
  apiVersion: string;
  permissions: readonly Permission[];
  settings(): Record<string, unknown>;
  setSettings(change: Record<string, unknown>): Record<string, unknown>;
  storage: PluginContext["storage"];
  log(level: "info" | "warn" | "error", message: string): void;
  notify(level: "info" | "warning" | "error", message: string): void;
  fault(where: string, message: string): void;
  /** Runs the plugin's own code, marked as its `what` for the main thread's watchdog. */
  run<T>(what: MainWhat, fn: () => T): T;
}

/** Builds the context for one load of a plugin; `registrations` collects what it registers. */
export function createContext(host: HostParts, plugin: PluginParts, registrations: Registrations): PluginContext {
  const need = (permission: Permission) => {
    if (!plugin.permissions.includes(permission)) {
      throw new PluginApiError(
        "permission_denied",
        `${plugin.id} may not ${PERMISSIONS[permission]}: its manifest does not ask for the "${permission}" permission.`,
        `Add "${permission}" to layerline.permissions in its package.json.`,
      );
    }
  };
  const ctx: PluginContext = {
    id: plugin.id,
    version: plugin.version,
    apiVersion: plugin.apiVersion,
    log: {
      info: (m) => plugin.log("info", String(m)),
      warn: (m) => plugin.log("warn", String(m)),
      error: (m) => plugin.log("error", String(m)),
    },
    settings: {
      get: () => plugin.settings(),
      set: (change) => plugin.setSettings(change as Record<string, unknown>),
      onChange: (handler) => {
        const h = handler as (s: Record<string, unknown>) => void;
        registrations.settingsHandlers.add(h);
        return () => registrations.settingsHandlers.delete(h);
      },
    },
    storage: plugin.storage,
    on(event, handler) {
      const wrapped = (payload: unknown) => {
        const outcome = guarded(() => plugin.run("event handler", () => (handler as (p: unknown) => unknown)(payload)), BUDGET_MS.event);
        const check = (o: Awaited<typeof outcome>) => {
          if (!o.ok) plugin.fault(`${event} handler`, o.message);
        };
        if (outcome instanceof Promise) void outcome.then(check);
        else check(outcome);
      };
      host.bus.on(event, wrapped as never);
      const off = () => host.bus.off(event, wrapped as never);
      registrations.onUndo(off);
      return off;
    },
    every(ms, task) {
      const interval = Math.max(1000, Math.floor(Number(ms) || 0));
      let running = false;
      const timer = setInterval(async () => {
        if (running) return; // never overlap runs of a slow task
        running = true;
        const outcome = await guarded(() => plugin.run("periodic task", task), BUDGET_MS.task);
        running = false;
        if (!outcome.ok) plugin.fault("periodic task", outcome.message);
      }, interval);
      const stop = () => clearInterval(timer);
      registrations.onUndo(stop);
      return stop;
    },
    route(method, path, handler) {
      const m = String(method).toUpperCase();
      if (!["GET", "POST", "PUT", "DELETE"].includes(m)) throw new PluginApiError("invalid_route", `${method} is not a method plugins can serve (GET, POST, PUT, DELETE).`);
      if (typeof path !== "string" || !/^\/[A-Za-z0-9._~:\/-]*$/.test(path)) {
        throw new PluginApiError("invalid_route", `"${path}" is not a route path; use e.g. "/summary" or "/prints/:n".`);
      }
      const first = path.split("/")[1] ?? "";
      if (RESERVED_ROUTES.has(first)) throw new PluginApiError("invalid_route", `"/${first}" is used by the host under /api/v1/plugins/${plugin.id}/; choose another path.`);
      const names: string[] = [];
      const source = path
        .replace(/\/+$/, "")
        .split("/")
        .map((part) => {
          if (part.startsWith(":")) {
            names.push(part.slice(1));
            return "([^/]+)";
          }
          return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        })
        .join("/");
      registrations.routes.push({ method: m, pattern: path, regex: new RegExp(`^${source}/?$`), names, handler });
    },
    slot(name, render) {
      if (!(SLOTS as readonly string[]).includes(name)) throw new PluginApiError("invalid_slot", `"${name}" is not a UI slot (known: ${SLOTS.join(", ")}).`);
      registrations.slots.set(name, render as SlotRender<SlotName>);
    },
    notify: (level, message) => plugin.notify(level, String(message)),
    printers: blamingRejections(printersApi(host, need), plugin.id),
    files: blamingRejections(filesApi(host, need), plugin.id),
    onDispose: (fn) => registrations.onDispose(fn),
  };
  // Calls replaced in this major version keep working, with a warning in the plugin's log.
  return withDeprecations(ctx, plugin.apiVersion, (message) => plugin.log("warn", message));
}

/**
 * The API's calls, whose rejections are marked as raised for `plugin` (scope.ts): a call it does
 * not await, failing once the host has looked (no such printer, no permission), leaves an error
 * with no frame of the plugin on its stack uncaught, which must not count as Layerline's own.
 */
function blamingRejections<A extends object>(api: A, plugin: string): A {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(api)) {
    out[name] = (...args: unknown[]) => {
      const result = (fn as (...a: unknown[]) => unknown)(...args);
      return result instanceof Promise ? result.catch((e: unknown) => Promise.reject(blame(e, plugin))) : result;
    };
  }
  return out as A;
}

function printersApi(host: HostParts, need: (p: Permission) => void): PrintersApi {
  const session = (id: string): PrinterSession => {
    const s = host.printers.get(id);
    if (!s) throw new PluginApiError("printer_not_found", `There is no printer "${id}".`, "ctx.printers.list() names them.");
    return s;
  };
  const check = async (result: Promise<Result<unknown>>) => {
    const r = await result;
    if (!r.ok) throw new PluginApiError(r.error.code, r.error.message, r.error.hint);
  };
  return {
    list: () => host.printers.list().map(printerInfo),
    get: (id) => {
      const s = host.printers.get(id);
      return s ? printerInfo(s) : null;
    },
    async send(id, commands) {
      need("printer.commands");
      if (!Array.isArray(commands) || commands.some((c) => typeof c !== "string")) throw new PluginApiError("invalid_commands", "send() takes an array of G-code strings.");
      await check(session(id).send(commands));
    },
    async startJob(id, file) {
      need("printer.jobs");
      const stored = fileOrThrow(host.files, file);
      await check(session(id).startJob(stored.path));
    },
    async pauseJob(id) {
      need("printer.jobs");
      await check(session(id).pauseJob());
    },
    async resumeJob(id) {
      need("printer.jobs");
      await check(session(id).resumeJob());
    },
    async cancelJob(id) {
      need("printer.jobs");
      await check(session(id).cancelJob());
    },
  };
}

function filesApi(host: HostParts, need: (p: Permission) => void): FilesApi {
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof FileError) throw new PluginApiError(e.code, e.message, e.hint);
      throw e;
    }
  };
  return {
    list() {
      need("files.read");
      return host.files.list().map(fileInfo);
    },
    get(path) {
      need("files.read");
      const f = wrap(() => host.files.get(path));
      return f ? fileInfo(f) : null;
    },
    async read(path) {
      need("files.read");
      const f = fileOrThrow(host.files, path);
      return Bun.file(host.files.absolute(f.path)).text();
    },
    async write(path, content) {
      need("files.write");
      const blob = content instanceof Blob ? content : new Blob([content as BlobPart]);
      try {
        const stored = await host.files.save(path, blob, true);
        host.filesChanged();
        return fileInfo(stored);
      } catch (e) {
        if (e instanceof FileError) throw new PluginApiError(e.code, e.message, e.hint);
        throw e;
      }
    },
    remove(path) {
      need("files.write");
      wrap(() => host.files.remove(path));
      host.filesChanged();
    },
  };
}

function fileOrThrow(files: FileStorage, path: string): StoredFile {
  let f: StoredFile | undefined;
  try {
    f = files.get(path);
  } catch (e) {
    if (e instanceof FileError) throw new PluginApiError(e.code, e.message, e.hint);
    throw e;
  }
  if (!f) throw new PluginApiError("file_not_found", `There is no file "${path}".`, "ctx.files.list() names them.");
  return f;
}

const fileInfo = (f: StoredFile): FileInfo => ({ path: f.path, size: f.size, date: f.date });

/** A printer as plugins see it: a stable subset of the host's status, whatever changes inside. */
export function printerInfo(session: Pick<PrinterSession, "record" | "status">): PrinterInfo {
  const { record, status } = session;
  return {
    id: record.id,
    name: record.name,
    isDefault: record.isDefault,
    state: status.state,
    problem: status.problem ? { ...status.problem } : null,
    firmware: status.firmware?.name ?? null,
    temperatures: Object.fromEntries(Object.entries(status.temperatures).map(([k, r]) => [k, { actual: r.actual, target: r.target }])),
    job: status.job ? { file: status.job.file, state: coarseJobState(status.job.state), startedAt: status.job.startedAt, endedAt: status.job.endedAt, reason: status.job.reason } : null,
    progress: status.progress
      ? { completion: status.progress.completion, printTime: status.progress.printTime, bytesSent: status.progress.bytesSent, bytesTotal: status.progress.bytesTotal }
      : null,
  };
}
