/**
 * All plugins of this host: found in the bundled folder and `<data-dir>/plugins/`, checked for
 * compatibility before any of their code runs, loaded (main-thread part here, serial hooks in
 * every printer Worker), watched and reloaded when their files change, enabled, disabled and
 * uninstalled at runtime. A plugin that fails to load is marked failed; one whose hooks fault
 * {@link FAULT_LIMIT} times is disabled across the host with a notice — the host and its prints
 * go on. In safe mode no installed (third-party) plugin is loaded.
 */
import type { Database } from "bun:sqlite";
import { mkdirSync, rmSync, watch, type FSWatcher } from "node:fs";
import { basename, join, resolve } from "node:path";
import mitt from "mitt";
import type { Bus } from "../events.ts";
import type { FileStorage } from "../files/storage.ts";
import type { PrinterManager } from "../printers/manager.ts";
import { html, Html, escape } from "../../views/html.ts";
import { BUDGET_MS, FAULT_LIMIT, PLUGIN_API_VERSION, type SlotName } from "./api.ts";
import { bundledPlugins } from "./bundled.ts";
import { checkCompatibility } from "./compat.ts";
import { findPluginDirs, fingerprint, folderFiles, readPlugin, type Found, type Origin } from "./discovery.ts";
import { bridgeEvents } from "./events-bridge.ts";
import { refuseExits, unattributedMessage, type Uncaught } from "./exit-guard.ts";
import { perSecondBudget } from "../rate-limit.ts";
import { attempt, describe, guarded } from "./guard.ts";
import { createContext, Registrations, type PluginBus } from "./host-api.ts";
import { recoverInterruptedInstalls } from "./install.ts";
import { hasSerialHooks, importFresh, type LoadedDefinition } from "./loader.ts";
import { description, displayName, type Manifest } from "./manifest.ts";
import { HEALTHY_AFTER_MS, noteStart, startWasHealthy, type SafeMode } from "./safe-mode.ts";
import { MainThreadWatch, type HungRecord } from "./main-thread-watch.ts";
import { HttpError, PluginApiError, type PluginRequest, type SlotProps } from "./sdk.ts";
import { faultPlace, type SerialPluginReport, type SerialPluginSpec } from "./serial/protocol.ts";
import { describeSettings, readSettings, validateSettings, type FormField } from "./settings.ts";
import { PluginStore, type PluginStateRow } from "./store.ts";
import { ApiError } from "../server/errors.ts";
import { parseJson, readCapped } from "../server/request-body.ts";

export type PluginStatus = "enabled" | "disabled" | "incompatible" | "failed";

export interface LogEntry {
  at: number;
  level: "info" | "warn" | "error";
  message: string;
  /** "main" or the printer whose Worker it came from. */
  where: string;
}

export interface Notice {
  id: number;
  plugin: string | null;
  level: "info" | "warning" | "error";
  message: string;
  at: number;
}

interface Plugin {
  id: string;
  dir: string;
  origin: Origin;
  manifest: Manifest | null;
  status: PluginStatus;
  reason: string | null;
  declaredApi: string | null;
  generation: number;
  loadedAt: number | null;
  definition: LoadedDefinition | null;
  registrations: Registrations | null;
  settings: Record<string, unknown>;
  faults: { at: number; where: string; message: string }[];
  log: LogEntry[];
  fingerprint: string;
  /** Printers whose Worker runs the current generation. */
  workers: Set<string>;
}

export interface ManagerOptions {
  dataDir: string;
  db: Database;
  bus: Bus;
  printers: PrinterManager;
  files: FileStorage;
  safe: SafeMode;
  log: (line: string) => void;
  /** Folders of bundled plugins (default: the embedded ones). */
  bundledDirs?: string[];
  /** Reload plugins when their files change (default true). */
  watch?: boolean;
  /** How long a start must last to count as healthy (safe-mode bookkeeping). */
  healthyAfterMs?: number;
  /** Marks whose code the main thread runs, for the main thread's watchdog (see main-thread-watch.ts). */
  mainThread?: MainThreadWatch;
  /** What that watchdog wrote down before this start: the plugin to disable before anything loads. */
  hung?: HungRecord | null;
}

const LOG_KEEP = 100;
const FAULTS_KEEP = 10;
const WATCH_DEBOUNCE_MS = 250;

export class PluginManager {
  readonly installedRoot: string;
  readonly store: PluginStore;
  private readonly plugins = new Map<string, Plugin>();
  private readonly pluginBus: PluginBus = mitt();
  /** Each plugin's own log lines and notices, at most LOG_PER_SECOND a second (rate-limit.ts). */
  private readonly mayLog = perSecondBudget();
  private notices: Notice[] = [];
  private nextNotice = 1;
  private lock: Promise<unknown> = Promise.resolve();
  private watchers: FSWatcher[] = [];
  private rescanTimer: ReturnType<typeof setTimeout> | undefined;
  private healthyTimer: ReturnType<typeof setTimeout> | undefined;
  /** This start lasted (or stopped cleanly): nothing more to note for safe mode. */
  private healthy = false;
  private unbridge: (() => void) | undefined;
  private unrefused: (() => void) | undefined;
  private readonly printersChanged = () => this.forgetRemovedPrinters();
  private stopped = false;
  private bundled: { dirs: string[]; fromSource: boolean } = { dirs: [], fromSource: false };

  private readonly mainThread: MainThreadWatch;

  constructor(private readonly options: ManagerOptions) {
    this.installedRoot = join(options.dataDir, "plugins");
    this.store = new PluginStore(options.db);
    this.mainThread = options.mainThread ?? new MainThreadWatch();
  }

  get safeMode(): SafeMode {
    return this.options.safe;
  }

  /** Finds and loads every plugin, then watches for changes. */
  async start(): Promise<void> {
    mkdirSync(this.installedRoot, { recursive: true });
    recoverInterruptedInstalls(this.installedRoot);
    this.bundled = this.options.bundledDirs ? { dirs: this.options.bundledDirs, fromSource: true } : bundledPlugins(this.options.dataDir);
    if (this.options.safe.reason) this.notify(null, this.options.safe.automatic ? "error" : "info", this.options.safe.reason);
    // Before anything loads: a plugin that stopped the main thread last time must not again.
    const hung = this.options.hung;
    if (hung) {
      const reason = `disabled because its ${hung.what} never returned: the web interface and the API stopped answering for ${hung.seconds} s, and Layerline started again without it`;
      this.store.setEnabled(hung.plugin, false, reason);
      this.notify(hung.plugin, "error", `The plugin ${hung.plugin} was ${reason}. Fix or update it, then enable it again.`);
    }
    this.unbridge = bridgeEvents(this.options.bus, this.pluginBus, this.options.printers);
    this.options.bus.on("printers.changed", this.printersChanged);
    // A plugin's process.exit() (or an error its own timer leaves uncaught) would end the host and every print: its fault instead.
    this.unrefused = refuseExits({
      runningNow: () => this.mainThread.runningNow(),
      uncaught: (plugin, e) => this.uncaughtFrom(plugin, e),
      unattributed: (how, e) => this.unattributed(how, e),
    });
    await this.scan();
    if (this.options.watch !== false) this.watch();
    this.healthyTimer = setTimeout(() => this.wasHealthy(), this.options.healthyAfterMs ?? HEALTHY_AFTER_MS);
    this.healthyTimer.unref?.();
  }

  /** Unloads every plugin; a clean stop counts as a healthy start. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    if (this.healthyTimer) clearTimeout(this.healthyTimer);
    await this.exclusive(async () => {
      for (const p of this.plugins.values()) await this.unload(p);
    });
    this.unbridge?.();
    this.options.bus.off("printers.changed", this.printersChanged);
    this.unrefused?.();
    this.wasHealthy();
  }

  private wasHealthy(): void {
    this.healthy = true;
    startWasHealthy(this.options.dataDir);
  }

  /** Until this start is healthy: what a crash now would most likely be (see safe-mode.ts). */
  private noteForSafeMode(change: Parameters<typeof noteStart>[1]): void {
    if (!this.healthy) noteStart(this.options.dataDir, change);
  }

  /** Runs `fn` with no other plugin operation (load, install, scan) in progress. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  // ---- discovery and loading -----------------------------------------------------------------

  /** Looks at the plugin folders again: new plugins load, changed ones reload, removed ones unload. */
  scan(): Promise<void> {
    return this.exclusive(() => this.scanLocked());
  }

  /** `scan()` for a caller that holds the lock. */
  async scanLocked(): Promise<void> {
    if (this.stopped) return;
    const found = [
      ...this.bundled.dirs.map((d) => readPlugin(d, "bundled")),
      ...findPluginDirs(this.installedRoot).map((d) => readPlugin(d, "installed")),
    ];
    const seenDirs = new Set(found.map((f) => resolve(f.dir)));
    for (const p of [...this.plugins.values()]) {
      if (!seenDirs.has(resolve(p.dir))) {
        await this.unload(p);
        this.plugins.delete(p.id);
        this.changed();
      }
    }
    for (const f of found) {
      const existing = [...this.plugins.values()].find((p) => resolve(p.dir) === resolve(f.dir));
      const print = fingerprint(f.dir);
      // Unchanged is done, unless it waits for an id the plugin holding it no longer has.
      const waitsForId = !!existing?.manifest && existing.id !== existing.manifest.name && !this.plugins.has(existing.manifest.name);
      if (existing && existing.fingerprint === print && !waitsForId) continue;
      await this.loadFound(f, print);
    }
  }

  /** (Re)loads the plugin in `dir` now; the caller holds the lock. Returns its id. */
  async loadDir(dir: string, origin: Origin): Promise<string> {
    const f = readPlugin(dir, origin);
    return (await this.loadFound(f, fingerprint(dir))).id;
  }

  private async loadFound(f: Found, print: string): Promise<Plugin> {
    const id = f.manifest.ok ? f.manifest.manifest.name : basename(f.dir);
    const previous = [...this.plugins.values()].find((p) => resolve(p.dir) === resolve(f.dir));
    // The printer Workers keep running the old version until the new one is loaded (or failed):
    // a reload swaps the hooks between two lines, it never leaves lines without them.
    const wasSerial = !!previous?.definition && hasSerialHooks(previous.definition);
    if (previous) {
      await this.unload(previous, false);
      this.plugins.delete(previous.id);
    }
    const other = this.plugins.get(id);
    const plugin: Plugin = {
      id,
      dir: f.dir,
      origin: f.origin,
      manifest: f.manifest.ok ? f.manifest.manifest : null,
      status: "incompatible",
      reason: null,
      declaredApi: null,
      generation: previous?.generation ?? 0,
      loadedAt: null,
      definition: null,
      registrations: null,
      settings: {},
      faults: [],
      log: previous?.log ?? [],
      fingerprint: print,
      workers: new Set(),
    };
    if (other) {
      // Two folders, one id: the first one found keeps it (bundled before installed).
      plugin.id = `${id} (${basename(f.dir)})`;
      plugin.reason = `another plugin with the id "${id}" is already loaded from ${other.dir}`;
      this.plugins.set(plugin.id, plugin);
      this.changed();
      return plugin;
    }
    this.plugins.set(id, plugin);
    this.noteForSafeMode({ loading: id });
    try {
      await this.load(plugin, f.manifest.ok ? null : f.manifest.reason);
    } catch (e) {
      // Whatever still escapes fails this plugin only: the scan (and the host's start) goes on.
      await this.unload(plugin, false);
      this.settle(plugin, "failed", `loading failed: ${describe(e)}`);
    } finally {
      this.noteForSafeMode({ loading: null });
    }
    if (wasSerial || (plugin.definition && hasSerialHooks(plugin.definition))) this.pushSpecs();
    this.changed();
    return plugin;
  }

  private async load(p: Plugin, manifestProblem: string | null): Promise<void> {
    const m = p.manifest;
    if (!m) return this.settle(p, "incompatible", manifestProblem ?? "no manifest");
    const compat = checkCompatibility(m, folderFiles(p.dir));
    p.declaredApi = compat.declaredApi;
    if (!compat.ok) return this.settle(p, "incompatible", compat.reason);
    if (this.options.safe.safe && p.origin === "installed") return this.settle(p, "disabled", "safe mode: third-party plugins are not loaded");
    const state = this.store.state(p.id);
    if (!state.enabled) return this.settle(p, "disabled", state.reason);

    let definition: LoadedDefinition;
    try {
      // The module's own code runs during the import, not within this call: marked until it is in.
      definition = await this.mainThread.during(p.id, "module code at load", importFresh(p.id, p.dir, join(p.dir, m.layerline.entry)));
    } catch (e) {
      return this.settle(p, "failed", `loading failed: ${describe(e)}`);
    }
    // A schema's checks, transforms and defaults are the plugin's code too.
    const read = attempt(() => this.mainThread.run(p.id, "settings schema", () => readSettings(definition.settings, this.store.settings(p.id))));
    if (!read.ok) return this.settle(p, "failed", `its settings schema ${read.message}`);
    p.definition = definition;
    p.settings = read.value;
    const registrations = new Registrations();
    const ctx = createContext(
      {
        bus: this.pluginBus,
        printers: this.options.printers,
        files: this.options.files,
        filesChanged: () => this.options.bus.emit("files.changed", undefined),
      },
      {
        id: p.id,
        version: m.version,
        apiVersion: PLUGIN_API_VERSION,
        permissions: m.layerline.permissions,
        settings: () => p.settings,
        setSettings: (change) => {
          const result = this.applySettings(p, change);
          if (!result.ok) throw new PluginApiError("invalid_settings", Object.entries(result.errors).map(([k, e]) => `${k}: ${e}`).join("; "));
          return p.settings;
        },
        storage: {
          get: <T>(key: string) => this.store.data(p.id, String(key)) as T | undefined,
          set: (key, value) => this.store.setData(p.id, String(key), value),
          delete: (key) => this.store.deleteData(p.id, String(key)),
          keys: () => this.store.dataKeys(p.id),
        },
        log: (level, message) => this.mayLog(p.id, performance.now()) && this.pluginLog(p, level, message, "main"),
        notify: (level, message) => this.mayLog(p.id, performance.now()) && this.notify(p.id, level, `${displayName(m)}: ${message}`),
        fault: (where, message) => this.fault(p.id, where, message),
        run: (what, fn) => this.mainThread.run(p.id, what, fn),
      },
      registrations,
    );
    p.registrations = registrations;
    const outcome = await guarded(() => this.mainThread.run(p.id, "setup", () => definition.setup?.(ctx as never)), BUDGET_MS.setup);
    if (!outcome.ok) {
      await registrations.teardown(() => {}, (fn) => this.mainThread.run(p.id, "dispose function", fn));
      p.registrations = null;
      p.definition = null;
      return this.settle(p, "failed", `setup ${outcome.message}`);
    }
    if (typeof outcome.value === "function") registrations.onDispose(outcome.value as () => void);
    p.generation++;
    p.loadedAt = Date.now();
    p.faults = [];
    p.workers = new Set();
    this.settle(p, "enabled", null);
  }

  private settle(p: Plugin, status: PluginStatus, reason: string | null): void {
    p.status = status;
    p.reason = reason;
    if (status === "failed") this.pluginLog(p, "error", reason ?? "failed", "main");
  }

  /** Removes what the plugin registered; `tellWorkers` false leaves the Workers to the caller. */
  private async unload(p: Plugin, tellWorkers = true): Promise<void> {
    const wasSerial = p.definition ? hasSerialHooks(p.definition) : false;
    if (p.registrations) await p.registrations.teardown((where, message) => this.pluginLog(p, "warn", `${where} ${message}`, "main"), (fn) => this.mainThread.run(p.id, "dispose function", fn));
    p.registrations = null;
    p.definition = null;
    p.workers = new Set();
    if (wasSerial && tellWorkers) this.pushSpecs();
  }

  // ---- runtime control -----------------------------------------------------------------------

  list(): PluginView[] {
    return [...this.plugins.values()].sort((a, b) => a.id.localeCompare(b.id)).map((p) => this.view(p));
  }

  get(id: string): PluginView | undefined {
    const p = this.plugins.get(id);
    return p ? this.view(p) : undefined;
  }

  /** Where a plugin lives and came from (for the installer). */
  location(id: string): { dir: string; origin: Origin; version: string | null } | undefined {
    const p = this.plugins.get(id);
    return p ? { dir: p.dir, origin: p.origin, version: p.manifest?.version ?? null } : undefined;
  }

  enable(id: string): Promise<PluginView> {
    return this.exclusive(async () => {
      const p = this.mustGet(id);
      this.store.setEnabled(p.id, true);
      return this.view(await this.reloadLocked(p));
    });
  }

  disable(id: string): Promise<PluginView> {
    return this.exclusive(async () => {
      const p = this.mustGet(id);
      this.store.setEnabled(p.id, false);
      await this.unload(p);
      if (p.status === "enabled" || p.status === "failed") this.settle(p, "disabled", null);
      this.changed();
      return this.view(p);
    });
  }

  /** Loads the plugin's current files again (after a fix, or to retry a failed load). */
  reload(id: string): Promise<PluginView> {
    return this.exclusive(async () => {
      return this.view(await this.reloadLocked(this.mustGet(id)));
    });
  }

  /** The plugin as loaded again (its id may have changed: a second folder with an id gets it once free). */
  private reloadLocked(p: Plugin): Promise<Plugin> {
    return this.loadFound(readPlugin(p.dir, p.origin), fingerprint(p.dir));
  }

  /** Removes an installed plugin: unloads it, deletes its folder, settings and data. */
  uninstall(id: string): Promise<void> {
    return this.exclusive(async () => {
      const p = this.mustGet(id);
      if (p.origin === "bundled") {
        throw new PluginApiError("bundled", `${id} comes with Layerline and cannot be uninstalled.`, "Disable it instead.");
      }
      await this.unload(p);
      rmSync(p.dir, { recursive: true, force: true });
      for (const keep of [".previous", ".failed"]) rmSync(join(this.installedRoot, keep, p.id), { recursive: true, force: true });
      this.store.forget(p.id);
      this.plugins.delete(p.id);
      this.changed();
    });
  }

  /** Disables a plugin whose hooks fault; the user gets a notice. */
  private disableForFaults(id: string, why: string): void {
    this.disableBroken(id, `disabled after ${FAULT_LIMIT} faults; the last: ${why}`, "Printing goes on without it");
  }

  /** Disables a plugin that misbehaved, across the host, and tells the user (`then`: what became of printing). */
  private disableBroken(id: string, reason: string, then: string): void {
    void this.exclusive(async () => {
      const p = this.plugins.get(id);
      if (!p || p.status !== "enabled") return;
      this.store.setEnabled(p.id, false, reason);
      await this.unload(p);
      this.settle(p, "disabled", reason);
      this.pluginLog(p, "error", reason, "main");
      this.notify(p.id, "error", `${p.manifest ? displayName(p.manifest) : p.id} was ${reason}. ${then}; fix or update it, then enable it again.`);
      this.changed();
    });
  }

  /** A refused exit or anything a plugin's own timer or promise left uncaught: that plugin's fault (false: not one of these plugins). */
  private uncaughtFrom(plugin: string, e: unknown): boolean {
    const p = this.plugins.get(plugin);
    if (!p) return false;
    // Not running (a timer an unloaded version left behind): there is nothing to fault, only its log.
    if (p.status === "enabled") this.fault(p.id, faultPlace("callback"), `threw: ${describe(e)}`);
    else this.pluginLog(p, "error", `${faultPlace("callback")} threw: ${describe(e)}`, "main");
    return true;
  }

  /** The same when no plugin could be named: a notice that says so and which plugins could have done it. */
  private unattributed(how: Uncaught, e: unknown): void {
    // Plugins whose code ran here (a failed one's did, at load), and may have left timers behind.
    const running = [...this.plugins.values()].filter((p) => p.status === "enabled" || p.status === "failed" || p.generation > 0).map((p) => p.id);
    this.notify(null, "error", unattributedMessage("the main thread", how, e, running));
  }

  private fault(id: string, what: string, message: string, printer = "main"): void {
    const p = this.plugins.get(id);
    if (!p || p.status !== "enabled") return;
    const where = printer === "main" ? what : `${what} (printer ${printer})`;
    p.faults.push({ at: Date.now(), where, message });
    this.noteForSafeMode({ faulted: id });
    this.pluginLog(p, "warn", `${what} ${message}`, printer);
    if (p.faults.length >= FAULT_LIMIT) this.disableForFaults(id, `${where} ${message}`);
    if (p.faults.length > FAULTS_KEEP) p.faults.splice(0, p.faults.length - FAULTS_KEEP);
  }

  // ---- the printer Workers ------------------------------------------------------------------------

  /** The enabled plugins with serial hooks, for every printer Worker. */
  specs(): SerialPluginSpec[] {
    return [...this.plugins.values()]
      .filter((p) => p.status === "enabled" && p.definition && hasSerialHooks(p.definition) && p.manifest)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((p) => ({ id: p.id, dir: p.dir, entry: join(p.dir, p.manifest!.layerline.entry), generation: p.generation, settings: p.settings }));
  }

  /** A deleted printer's thread runs no plugin any more. */
  private forgetRemovedPrinters(): void {
    for (const p of this.plugins.values()) {
      for (const printer of p.workers) if (!this.options.printers.get(printer)) p.workers.delete(printer);
    }
  }

  private pushSpecs(): void {
    const specs = this.specs();
    for (const s of this.options.printers.list()) s.setPlugins(specs);
  }

  /** A printer Worker's report about a plugin. */
  report(printer: string, r: SerialPluginReport): void {
    if (r.kind === "unattributed") return void this.notify(null, "error", r.message);
    const p = this.plugins.get(r.plugin);
    if (!p) return;
    switch (r.kind) {
      case "fault":
        this.fault(p.id, faultPlace(r.where), r.message, printer);
        return;
      case "disabled":
        if (p.status === "enabled") this.disableForFaults(p.id, `${r.message} (printer ${printer})`);
        return;
      case "hung":
        this.disableBroken(p.id, `disabled because ${r.message}`, r.print === "went on" ? "The print went on without it" : "An interrupted print can be resumed from the dashboard");
        return;
      case "loadFailed":
        this.fault(p.id, "loading in the printer's Worker", r.message, printer);
        return;
      case "loaded":
        // A printer being deleted may still report while its thread stops.
        if (r.generation === p.generation && this.options.printers.get(printer)) p.workers.add(printer);
        return;
      case "log":
        this.pluginLog(p, r.level, r.message, printer);
        return;
    }
  }

  // ---- settings -------------------------------------------------------------------------------

  settingsOf(id: string): { values: Record<string, unknown>; fields: FormField[] } {
    const p = this.mustGet(id);
    const schema = p.definition?.settings;
    return { values: p.settings, fields: schema ? describeSettings(schema) : [] };
  }

  /** Validates and saves a change; the plugin and its Workers see the new values at once. */
  setSettings(id: string, change: Record<string, unknown>): ReturnType<typeof validateSettings> {
    const p = this.mustGet(id);
    if (!p.definition) {
      return { ok: false, errors: { "": p.status === "enabled" ? "This plugin has no settings." : `The plugin is ${p.status}; its settings can be changed while it is enabled.` } };
    }
    return this.applySettings(p, change);
  }

  private applySettings(p: Plugin, change: Record<string, unknown>): ReturnType<typeof validateSettings> {
    const checked = attempt(() => this.mainThread.run(p.id, "settings schema", () => validateSettings(p.definition?.settings, p.settings, change)));
    if (!checked.ok) {
      this.fault(p.id, "settings schema", checked.message);
      return { ok: false, errors: { "": `The plugin ${p.id} could not check these settings: its settings schema ${checked.message}. Nothing was saved.` } };
    }
    const result = checked.value;
    if (!result.ok) return result;
    p.settings = result.value;
    this.store.setSettings(p.id, result.value);
    for (const handler of p.registrations?.settingsHandlers ?? []) {
      const outcome = guarded(() => this.mainThread.run(p.id, "settings handler", () => handler(result.value)), BUDGET_MS.event);
      const check = (o: Awaited<typeof outcome>) => !o.ok && this.fault(p.id, "settings handler", o.message);
      if (outcome instanceof Promise) void outcome.then(check);
      else check(outcome);
    }
    if (p.definition && hasSerialHooks(p.definition)) this.pushSpecs();
    return result;
  }

  // ---- routes and UI slots -------------------------------------------------------------------

  /** Answers a request to `/api/v1/plugins/<id><path>` from the plugin's routes. */
  async dispatch(id: string, path: string, request: Request): Promise<Response> {
    const p = this.plugins.get(id);
    if (!p) return jsonError(404, "plugin_not_found", `There is no plugin "${id}".`, "GET /api/v1/plugins lists them.");
    if (p.status !== "enabled" || !p.registrations) return jsonError(409, "plugin_not_enabled", `${id} is ${p.status}${p.reason ? `: ${p.reason}` : ""}.`, "Enable it first.");
    const method = request.method === "HEAD" ? "GET" : request.method;
    let match: { handler: (r: PluginRequest) => unknown; params: Record<string, string> } | undefined;
    let allowed = false;
    for (const r of p.registrations.routes) {
      const m = r.regex.exec(path);
      if (!m) continue;
      allowed = true;
      if (r.method !== method) continue;
      try {
        match = { handler: r.handler, params: Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) };
      } catch {
        return jsonError(400, "invalid_path", `${path} is not valid URL encoding.`, "Encode each path segment with encodeURIComponent.");
      }
      break;
    }
    if (!match) {
      return allowed
        ? jsonError(405, "method_not_allowed", `${id} does not answer ${method} ${path}.`, "")
        : jsonError(404, "not_found", `${id} has no route ${path}.`, `GET /api/v1/plugins/${id} lists its routes.`);
    }
    const url = new URL(request.url);
    const body = await readBody(request);
    if (!body.ok) return jsonError(body.error.status, body.error.code, body.error.message, body.error.hint);
    const req: PluginRequest = {
      method,
      path,
      params: match.params,
      query: Object.fromEntries(url.searchParams),
      headers: request.headers,
      body: body.value,
    };
    const handler = match.handler;
    const outcome = await guarded(() => this.mainThread.run(p.id, "route", () => handler(req)), BUDGET_MS.route);
    const failed = (said: string) => {
      const message = said.replace(/\.$/, "");
      this.fault(p.id, `route ${method} ${path}`, message);
      return jsonError(502, "plugin_failed", `The plugin ${id} could not answer: it ${message}.`, "The plugin's log on its page has details.");
    };
    if (outcome.ok) {
      // The server cannot send a body that was read (or is being): it would answer a 500.
      const value = outcome.value;
      if (value instanceof Response && (value.bodyUsed || value.body?.locked)) return failed("returned a Response whose body was already read");
      // Turning the value into a response runs its toJSON and may meet what JSON cannot hold.
      const response = attempt(() => this.mainThread.run(p.id, "route", () => toResponse(outcome.value)));
      return response.ok ? response.value : failed(`returned a value that cannot be sent: its conversion ${response.message}`);
    }
    // An HttpError is the plugin's answer, not a fault (if its status is an error's).
    const thrown = outcome.error;
    if (thrown instanceof HttpError) {
      return isErrorStatus(thrown.status) ? jsonError(thrown.status, thrown.code, thrown.message, thrown.hint) : failed(`threw an HttpError with status ${thrown.status}, which is not an error's (400–599)`);
    }
    if (thrown instanceof PluginApiError) return jsonError(409, thrown.code, thrown.message, thrown.hint);
    return failed(outcome.message);
  }

  /** Every enabled plugin's fragment for a UI slot (or only `only`'s). */
  async renderSlot<N extends SlotName>(name: N, props: SlotProps[N], only?: string): Promise<Html> {
    const parts: Html[] = [];
    for (const p of [...this.plugins.values()].sort((a, b) => a.id.localeCompare(b.id))) {
      if (only !== undefined && p.id !== only) continue;
      const render = p.status === "enabled" ? p.registrations?.slots.get(name) : undefined;
      if (!render) continue;
      const outcome = await guarded(() => this.mainThread.run(p.id, "page slot", () => render(props as never)), BUDGET_MS.slot);
      if (!outcome.ok) {
        this.fault(p.id, `${name} fragment`, outcome.message);
        parts.push(html`<div class="plugin-slot plugin-error" data-plugin="${p.id}">${p.id} could not show this: it ${outcome.message}.</div>`);
        continue;
      }
      const value = outcome.value;
      if (value === null || value === undefined || value === "") continue;
      // Making text of it runs the plugin's toString: a throw there leaves out this fragment only.
      const text = attempt(() => this.mainThread.run(p.id, "page slot", () => (value instanceof Html ? value : escape(String(value)))));
      if (!text.ok) {
        this.fault(p.id, `${name} fragment`, `returned a value whose conversion to text ${text.message}`);
        continue;
      }
      parts.push(html`<div class="plugin-slot" data-plugin="${p.id}">${text.value}</div>`);
    }
    return html`${parts}`;
  }

  // ---- notices and logs -----------------------------------------------------------------------

  notify(plugin: string | null, level: Notice["level"], message: string): Notice {
    const notice: Notice = { id: this.nextNotice++, plugin, level, message, at: Date.now() };
    this.notices.push(notice);
    if (this.notices.length > 50) this.notices.splice(0, this.notices.length - 50);
    this.options.log(`${level}: ${message}`);
    this.options.bus.emit("plugins.notice", { id: notice.id, plugin, level, message });
    return notice;
  }

  activeNotices(): Notice[] {
    return [...this.notices];
  }

  dismissNotice(id: number): boolean {
    const before = this.notices.length;
    this.notices = this.notices.filter((n) => n.id !== id);
    return this.notices.length !== before;
  }

  logOf(id: string): LogEntry[] {
    return [...this.mustGet(id).log];
  }

  private pluginLog(p: Plugin, level: LogEntry["level"], message: string, where: string): void {
    p.log.push({ at: Date.now(), level, message, where });
    if (p.log.length > LOG_KEEP) p.log.splice(0, p.log.length - LOG_KEEP);
    if (level !== "info") this.options.log(`plugin ${p.id}${where === "main" ? "" : ` (printer ${where})`}: ${message}`);
  }

  // ---- helpers --------------------------------------------------------------------------------

  private mustGet(id: string): Plugin {
    const p = this.plugins.get(id);
    if (!p) throw new PluginApiError("plugin_not_found", `There is no plugin "${id}".`, "GET /api/v1/plugins lists them.");
    return p;
  }

  private changed(): void {
    this.options.bus.emit("plugins.changed", undefined);
  }

  private watch(): void {
    // Bundled plugins are watched only from source (in the binary they cannot change).
    const roots = [this.installedRoot, ...(this.bundled.fromSource ? new Set(this.bundled.dirs.map((d) => resolve(d, ".."))) : [])];
    for (const root of roots) {
      try {
        const w = watch(root, { recursive: true }, () => this.scheduleScan());
        w.on("error", () => {});
        this.watchers.push(w);
      } catch (e) {
        this.options.log(`warning: cannot watch ${root} for plugin changes (${describe(e)}); use Reload on the plugins page.`);
      }
    }
  }

  private scheduleScan(): void {
    if (this.stopped) return;
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    this.rescanTimer = setTimeout(() => void this.scan(), WATCH_DEBOUNCE_MS);
  }

  private view(p: Plugin): PluginView {
    const m = p.manifest;
    const d = p.definition;
    const r = p.registrations;
    const state: PluginStateRow = this.store.state(p.id);
    return {
      id: p.id,
      name: m ? displayName(m) : p.id,
      version: m?.version ?? null,
      description: m ? description(m) : "",
      homepage: m?.layerline.homepage ?? null,
      author: m ? (typeof m.author === "string" ? m.author : (m.author?.name ?? null)) : null,
      license: m?.license ?? null,
      origin: p.origin,
      dir: p.dir,
      state: p.status,
      reason: p.reason,
      api: m?.layerline.api ?? null,
      declaredApi: p.declaredApi,
      permissions: m?.layerline.permissions ?? [],
      hooks: {
        gcode: Object.keys(d?.gcode ?? {}),
        scripts: Object.keys(d?.scripts ?? {}),
        slots: [...(r?.slots.keys() ?? [])],
        routes: (r?.routes ?? []).map((x) => `${x.method} ${x.pattern}`),
      },
      hasSettings: !!d?.settings,
      generation: p.generation,
      loadedAt: p.loadedAt,
      printersRunning: [...p.workers],
      faults: p.faults.map((f) => ({ ...f })),
      installed: state.source ? { source: state.source, sha256: state.archiveSha256, at: state.installedAt, updatedAt: state.updatedAt } : null,
    };
  }
}

/** A plugin as the API and the pages show it. */
export interface PluginView {
  id: string;
  name: string;
  version: string | null;
  description: string;
  homepage: string | null;
  author: string | null;
  license: string | null;
  origin: Origin;
  dir: string;
  state: PluginStatus;
  reason: string | null;
  api: string | null;
  declaredApi: string | null;
  permissions: string[];
  hooks: { gcode: string[]; scripts: string[]; slots: string[]; routes: string[] };
  hasSettings: boolean;
  generation: number;
  loadedAt: number | null;
  printersRunning: string[];
  faults: { at: number; where: string; message: string }[];
  installed: { source: string; sha256: string | null; at: number | null; updatedAt: number | null } | null;
}

function jsonError(status: number, code: string, message: string, hint: string): Response {
  return Response.json({ error: { code, message, hint } }, { status });
}

/**
 * The request's body as a plugin's route gets it, JSON and text read with the host's caps (1 MB,
 * 32 levels); one that does not parse as its content type says is refused.
 */
async function readBody(request: Request): Promise<{ ok: true; value: unknown } | { ok: false; error: ApiError }> {
  if (request.method === "GET" || request.method === "HEAD") return { ok: true, value: undefined };
  const type = request.headers.get("content-type") ?? "";
  try {
    if (type.includes("application/x-www-form-urlencoded") || type.includes("multipart/form-data")) {
      let form: FormData;
      try {
        form = await request.formData();
      } catch (e) {
        throw new ApiError(400, "invalid_body", `The request body is not a valid form (${describe(e)}).`, "Send JSON with Content-Type: application/json, or a form.");
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of form.entries()) out[k] = v;
      return { ok: true, value: out };
    }
    const text = await readCapped(request);
    if (text === "") return { ok: true, value: undefined };
    return { ok: true, value: type.includes("application/json") ? parseJson(text) : text };
  } catch (e) {
    if (e instanceof ApiError) return { ok: false, error: e };
    throw e;
  }
}

const isErrorStatus = (status: unknown) => Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599;

function toResponse(value: unknown): Response {
  if (value instanceof Response) return value;
  if (value instanceof Html) return new Response(value.value, { headers: { "content-type": "text/html; charset=utf-8" } });
  if (value === undefined || value === null) return new Response(null, { status: 204 });
  if (typeof value === "string") return new Response(value, { headers: { "content-type": "text/plain; charset=utf-8" } });
  return Response.json(value);
}
