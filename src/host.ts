/**
 * The composition root: opens storage, starts the printers and the HTTP server, and stops them
 * again. `main.ts` calls it for `layerline serve`; tests call it to run a real host on loopback.
 */
import type { Database } from "bun:sqlite";
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import { Accounts } from "./accounts/accounts.ts";
import { newToken } from "./accounts/tokens.ts";
import { AnalysisQueue } from "./analysis/queue.ts";
import { AnalysisStore } from "./analysis/store.ts";
import { DATABASE_FILE, openDatabase } from "./db/database.ts";
import { SettingsStore } from "./db/settings.ts";
import { createBus, type Bus } from "./events.ts";
import { RecentLog } from "./diagnostics/recent-log.ts";
import { DiagnosticsService, type DiagnosticsServiceOptions } from "./diagnostics/service.ts";
import { FileStorage } from "./files/storage.ts";
import { carried, lockDataDir, lockHolder, type DataDirLock } from "./host-lock.ts";
import { JobService } from "./jobs/service.ts";
import { HistoryStore } from "./jobs/history.ts";
import { PrintQueue } from "./jobs/queue.ts";
import { FarmDispatcher } from "./farm/dispatcher.ts";
import { FarmQueue } from "./farm/queue.ts";
import { MqttBridge, type MqttBridgeOptions } from "./mqtt/bridge.ts";
import { MqttSettings } from "./mqtt/settings.ts";
import { ControlsService } from "./controls/service.ts";
import { MainThreadWatch, takeHungRecord } from "./plugins/main-thread-watch.ts";
import { beginStart } from "./plugins/safe-mode.ts";
import { PluginService } from "./plugins/service.ts";
import { PrinterManager } from "./printers/manager.ts";
import { yieldToPrinters } from "./printers/priority.ts";
import { loadQuirkSources } from "./printers/quirks-sources.ts";
import { DEFAULT_WINDOW } from "./printers/record.ts";
import { PrinterStore } from "./printers/store.ts";
import { QuirksLibrary } from "./protocol/quirks-library.ts";
import { createApp } from "./server/app.ts";
import { DEFAULT_PRINT_READ_RATE } from "./server/pacing.ts";
import { perMethod } from "./server/auth/route-permissions.ts";
import { ZeroconfResponder } from "./server/compat/octoprint/zeroconf.ts";
import { builtInFirmwareFamilies, TrackingReporter, type InstalledPlugin } from "./tracking/reporter.ts";
import { TrackingSettings } from "./tracking/settings.ts";
import { settleBeforeStart, trialStartFailed, UpdateManager } from "./update/manager.ts";
import { updatingProcess } from "./update/offline-lock.ts";
import { processControl, thisCommand, type ProcessControl } from "./update/process-control.ts";
import { trustedPublicKey } from "./update/release-key.ts";
import { announceRunning, findRunning, withdrawRunning } from "./update/running.ts";
import { takeStartupUpdate, type StartupUpdate } from "./update/startup.ts";
import type { VirtualPrinterOptionsInput } from "./virtual/options.ts";
import { BUILD_TIME, VERSION } from "./version.ts";
import { WebcamService } from "./webcam/service.ts";
import { TimelapseService } from "./timelapse/service.ts";
import { applyStagedRestore } from "./backup/restore.ts";
import { BackupService } from "./backup/service.ts";
import { closeOnExecAll, execve } from "./update/exec.ts";
import { EXIT_RESTART } from "./update/process-control.ts";

export interface HostOptions {
  dataDir: string;
  port: number;
  host: string;
  /** Add (or update) a serial printer on this port and make it the default. */
  serial?: string;
  baud?: number;
  virtual?: VirtualPrinterOptionsInput;
  /** Lower the HTTP thread's priority below the printers' threads once they run (the CLI does). */
  yieldToPrinters?: boolean;
  /** Reads (GET) a second the server answers while a printer prints; more wait their turn. 0 = no limit; default DEFAULT_PRINT_READ_RATE. */
  printReadRate?: number;
  /** Terminals offered as serial ports besides the system's, e.g. /dev/printer* (see listSerialPorts). */
  extraPorts?: readonly string[];
  /** Lines in flight for printers created now (default 4; 1 = ping-pong); each printer keeps its own. */
  window?: number;
  log?: (line: string) => void;
  /** Safe mode (`--safe`): load no third-party plugins. */
  safe?: boolean;
  /**
   * Watch the main thread for plugin code that never returns, then disable that plugin and start
   * this process again in place (the CLI does; never in a host started inside another program).
   */
  mainThreadWatch?: { stuckMs: number };
  /**
   * Start this process again in place (execve, same pid) to apply a restore uploaded through the
   * API (the CLI does; a host started inside another program applies it at its next start).
   */
  restartInPlace?: boolean;
  plugins?: {
    /** Folders of the bundled plugins (default: the embedded ones). */
    bundledDirs?: string[];
    /** Reload plugins when their files change (default true). */
    watch?: boolean;
    /** How long a start must last before it no longer counts towards automatic safe mode. */
    healthyAfterMs?: number;
    /** Refresh the plugin repository index on its schedule (default true). */
    repositorySchedule?: boolean;
  };
  update?: {
    /** This process as the updater sees it (default: the real one; execPath is null from source). */
    control?: ProcessControl;
    /** The key releases must be signed with (default: the built-in one). */
    publicKey?: KeyObject;
    /** Check for updates periodically, the first time after this delay; absent = no automatic checks. */
    firstCheckDelayMs?: number;
  };
  /** Require this token for first-run setup (then accepted from any address). */
  setupToken?: string;
  /** Reverse proxies whose forwarding headers are believed (default: loopback, see reverse-proxy.ts). */
  trustedProxies?: readonly string[];
  /** Advertise the printers as `_octoprint._tcp` over mDNS (`--zeroconf`). */
  zeroconf?: boolean;
  /** Timings of the MQTT bridge (tests shorten them); its settings are in the settings store. */
  mqtt?: Pick<MqttBridgeOptions, "stateIntervalMs" | "reconnectMs" | "birthJitterMs">;
  /**
   * The host's recent log for support bundles. Given one, the caller feeds it (`serve` copies the
   * console into it); otherwise the host keeps one of what it logs.
   */
  recentLog?: RecentLog;
  /** The self-diagnosis' schedule (for the dashboard's notice) and probe timeouts; tests shorten them. */
  diagnostics?: { firstDelayMs?: number; intervalMs?: number; probe?: DiagnosticsServiceOptions["probe"] };
  /** Anonymous usage statistics (sent only after the user opts in). */
  tracking?: {
    /** The installed plugins (the plugin manager's list; empty until one is wired in). */
    installedPlugins?: () => InstalledPlugin[];
    intervalMs?: number;
    firstDelayMs?: number;
  };
}

export interface Host {
  url: string;
  port: number;
  db: Database;
  settings: SettingsStore;
  bus: Bus;
  printers: PrinterManager;
  files: FileStorage;
  analysis: AnalysisQueue;
  jobs: JobService;
  update: UpdateManager;
  accounts: Accounts;
  /** Every registered route as "METHOD path", an `.all()` route once per method (for the route-guard tests). */
  routes: { method: string; path: string }[];
  tracking: TrackingReporter;
  plugins: PluginService;
  history: HistoryStore;
  queue: PrintQueue;
  farm: FarmQueue;
  mqtt: MqttBridge;
  controls: ControlsService;
  webcam: WebcamService;
  timelapse: TimelapseService;
  diagnostics: DiagnosticsService;
  recentLog: RecentLog;
  backups: BackupService;
  stop(): Promise<void>;
}

/** Thrown when the HTTP port is taken, so the CLI can say so plainly. */
export class PortInUseError extends Error {}

/** Thrown when another running host serves the same data folder. */
export class HostInUseError extends Error {}

/** The first scheduled diagnosis waits this long (printers connect first), then one every interval. */
const DIAGNOSTICS_FIRST_MS = 60_000;
const DIAGNOSTICS_INTERVAL_MS = 10 * 60_000;

export async function startHost(options: HostOptions): Promise<Host> {
  const recentLog = options.recentLog ?? new RecentLog();
  const base = options.log ?? ((line: string) => console.log(line));
  // A log the caller feeds itself (serve's console) is not fed twice.
  const log = options.recentLog ? base : (line: string) => (recentLog.add("log", line), base(line));
  options = { ...options, recentLog };
  // Two hosts on one data folder would both drive its printers, queue and database: the lock is
  // the kernel's answer, taken before anything is opened (this process itself already holds it
  // after an update's or the watchdog's re-exec, and adopts it).
  const lock = lockDataDir(options.dataDir);
  // A Layerline from before the lock announces itself only in running.json.
  const unlocked = lock && findRunning(options.dataDir);
  if (!lock || (unlocked && unlocked.pid !== process.pid)) {
    lock?.release();
    throw new HostInUseError(await inUseMessage(options.dataDir));
  }
  const control = options.update?.control ?? processControl();
  // An update may have left work for this start: settle it before the database is opened.
  const startup = takeStartupUpdate(options.dataDir, VERSION);
  settleBeforeStart(startup, options.dataDir, control, log);
  // A restore checked and staged before this start (the API's, or an interrupted one) is applied
  // before anything opens the database.
  const restored = applyStagedRestore(options.dataDir, Date.now());
  if (restored) {
    log(`Restored the backup made by Layerline ${restored.manifest.layerline} on ${restored.manifest.createdAt}; what it replaced is kept in ${restored.aside}.`);
  }
  try {
    return await openHost(options, log, control, startup, lock);
  } catch (e) {
    trialStartFailed(startup, options.dataDir, e as Error, control);
    lock.release();
    throw e;
  }
}

/** How long a refused start waits for the other host to say where it answers (it may be starting too). */
const ANNOUNCE_WAIT_MS = 5000;

/** Names the host holding the data folder: its process at once, its address once it announced it. */
async function inUseMessage(dataDir: string): Promise<string> {
  const deadline = Date.now() + ANNOUNCE_WAIT_MS;
  let running = findRunning(dataDir);
  let holder = lockHolder(dataDir);
  while (!(running && (holder === null || running.pid === holder)) && Date.now() < deadline) {
    // An offline `layerline update` holds it while it swaps the binary: say so, at once.
    const updating = updatingProcess(dataDir, holder);
    if (updating !== null) return `Layerline in the data folder ${dataDir} is being updated (layerline update, process ${updating}). Start it again once the update has ended: the new version then runs.`;
    await Bun.sleep(100);
    running = findRunning(dataDir);
    holder = lockHolder(dataDir) ?? holder;
  }
  const who = running && (holder === null || running.pid === holder) ? `process ${running.pid}, ${running.url}` : holder !== null ? `process ${holder}, still starting` : "another process";
  return `Layerline is already running with the data folder ${dataDir} (${who}). Stop it first (\`sudo systemctl stop layerline\` if it runs as the service), or give this one another --data-dir.`;
}

async function openHost(options: HostOptions, log: (line: string) => void, control: ProcessControl, startup: StartupUpdate, lock: DataDirLock): Promise<Host> {
  const db = openDatabase(options.dataDir);
  const settings = new SettingsStore(db);
  const bus = createBus();
  const store = new PrinterStore(db);
  const { sources, problems } = await loadQuirkSources(options.dataDir);
  const library = new QuirksLibrary(sources);
  for (const p of [...problems, ...library.problems]) log(`warning: firmware quirks ${p.source}: ${p.field}: ${p.message} (file ignored)`);

  seedPrinters(store, options);

  const filesDir = join(options.dataDir, "files");
  let printers: PrinterManager | undefined;
  const files = new FileStorage(filesDir, db, () => printers?.filesInUse() ?? new Set());
  // Recorded before any plugin loads: repeated crashes at start turn safe mode on by themselves.
  const safe = beginStart(options.dataDir, options.safe ?? false);
  let plugins: PluginService | undefined;
  const pluginLink = { specs: () => plugins?.manager.specs() ?? [], report: (...a: Parameters<PluginService["manager"]["report"]>) => plugins?.manager.report(...a) };
  const analyses = new AnalysisStore(db);
  const history = new HistoryStore(db);
  // Earlier successful prints of a file on a printer feed its time-left estimate.
  const jobs: JobService = new JobService({
    db,
    settings,
    files,
    analyses,
    averagePrintTime: (sha256, printer) => history.statsFor(sha256, printer).averagePrintTime,
    bus,
    replanner: { planned: (sha256, limits) => analysis.planned(sha256, limits), replan: (path, limits) => analysis.replan(path, limits) },
  });
  // What the main thread's watchdog wrote down before this start (a plugin that held the thread).
  const hung = takeHungRecord(options.dataDir);
  const watch = new MainThreadWatch();
  printers = new PrinterManager({
    store,
    bus,
    filesDir,
    quirks: sources,
    virtual: options.virtual,
    traceDir: join(options.dataDir, "logs"),
    extraPorts: options.extraPorts,
    plugins: pluginLink,
    jobs,
    slotsChanged: (slots) => watch.printers(slots),
  });
  plugins = new PluginService({ dataDir: options.dataDir, db, bus, printers, files, safe, log, settings, mainThread: watch, hung, ...options.plugins });

  // Before any printer runs: prints that ended while a plugin held the main thread are closed as
  // they ended (the watchdog's record), the others the host never saw end as interrupted, and
  // their queues wait for a person.
  for (const e of hung?.ended ?? []) {
    history.closeEndedUnseen(e.printer, e.state, hung!.at);
    jobs.checkpoint(e.printer, null);
  }
  history.closeInterrupted((printer) => jobs.interrupted(printer));
  const queue = new PrintQueue({ db, files, bus, printer: (id) => printers!.get(id) });
  queue.recover();
  const stopHistory = history.listen(bus, (id) => printers!.get(id)?.record.name);
  const stopQueue = queue.listen();
  // The farm queue: one queue for all printers, fed to the next free printer each file fits.
  const farm = new FarmQueue({
    db,
    files,
    analyses,
    bus,
    printers: () => printers!.list(),
    profile: (id) => jobs.profile(id),
    ownQueue: (id) => queue.view(id).state,
    interruptedJob: (id) => jobs.interrupted(id)?.jobId,
    firmwareLineage: (family) => library.lineage(family),
  });
  farm.recover();
  const stopFarmRecords = farm.listen(log);
  const stopFarm = new FarmDispatcher({ farm, bus, printer: (id) => printers!.get(id), log }).listen();

  // Stored analyses are planned with the default printer's machine limits (its profile's).
  const defaultLimits = () => {
    const d = printers!.default();
    return d ? jobs.limits(d.id) : undefined;
  };
  const analysis: AnalysisQueue = new AnalysisQueue({ files, store: analyses, bus, settings, printing: () => printers!.filesInUse().size > 0, limits: defaultLimits });

  const stopServices = async () => {
    // Analysis first: nothing may write to the database while an update backs it up.
    analysis.stop();
    // Before the printers stop: their last job events must not start farm prints (they are still recorded).
    stopFarm();
    jobs.stop();
    timelapse.stop();
    webcam.stop();
    await app.stop(true);
    await plugins!.stop();
    await printers!.stop();
    stopQueue();
    stopFarmRecords();
    stopHistory();
  };
  const update = new UpdateManager({
    dataDir: options.dataDir,
    db,
    databaseFile: join(options.dataDir, DATABASE_FILE),
    settings,
    printers,
    version: VERSION,
    control,
    publicKey: options.update?.publicKey ?? trustedPublicKey(),
    log,
    stopServices,
    shutdown: () => stop(),
  });
  const accounts = new Accounts(db, bus);
  const webcam = new WebcamService(settings);
  const timelapse = new TimelapseService({ dataDir: options.dataDir, bus, settings, webcam, printers, log });
  const tracking = new TrackingReporter({
    settings: new TrackingSettings(settings),
    bus,
    version: VERSION,
    installedPlugins: options.tracking?.installedPlugins ?? (() => plugins!.installed()),
    knownFirmware: builtInFirmwareFamilies(sources),
    currentFirmware: () => printers!.list().map((s) => s.status.firmware?.profile),
    intervalMs: options.tracking?.intervalMs,
    firstDelayMs: options.tracking?.firstDelayMs,
    log,
  });
  // On the main thread's bus: a broker's troubles never reach the printers' Workers.
  // Custom controls' read-outs are matched here, on the main thread, never on a printer's.
  const controls = new ControlsService({ db, bus, log });
  const mqtt = new MqttBridge({ settings: new MqttSettings(settings), bus, printers, accounts, version: VERSION, log, ...options.mqtt });
  let url = "";
  let localToken = "";
  // Assigned once the host listens; the backup service's restart calls it.
  let stop: () => Promise<void> = async () => {};
  // Made here, once a listening host knows its URL (below); its checks read the parts above.
  const diagnostics = new DiagnosticsService({
    dataDir: options.dataDir,
    version: VERSION,
    db,
    settings,
    printers,
    update,
    plugins,
    jobs,
    quirks: library,
    log: options.recentLog!,
    notBefore: BUILD_TIME,
    startedAt: Date.now(),
    url: () => url,
    secrets: () => [localToken],
    probe: options.diagnostics?.probe,
  });
  const backups = new BackupService({
    dataDir: options.dataDir,
    db,
    printers,
    version: VERSION,
    log,
    restart: options.restartInPlace
      ? async () => {
          log("Restarting to restore the backup…");
          await stop();
          // Same program, same arguments: the next start applies the staged restore.
          closeOnExecAll();
          const command = thisCommand();
          const error = execve(command.execPath, command.argv, process.env);
          log(`Could not restart Layerline (${error}); exiting with code ${EXIT_RESTART} for the supervisor (the restore is applied at the next start).`);
          control.exit(EXIT_RESTART);
        }
      : null,
  });
  const app = createApp({ controls, backups, diagnostics, mqtt, version: VERSION, db, settings, bus, printers, files, analyses, analysis, jobs, update, tracking, plugins, history, queue, farm, startedAt: Date.now(), accounts, webcam, timelapse, setupToken: options.setupToken, trustedProxies: options.trustedProxies, printReadRate: options.printReadRate ?? DEFAULT_PRINT_READ_RATE });
  try {
    // Uploads are streamed to disk, so the body size is bounded by the disk, not memory. Elysia
    // asks for SO_REUSEPORT by default: a second Layerline on the port would then silently share
    // it, each answering some of the requests (sessions and setup flapping between the two).
    app.listen({ port: options.port, hostname: options.host, maxRequestBodySize: 2 ** 40, reusePort: false });
  } catch (e) {
    analysis.stop();
    await printers.stop();
    db.close();
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE" || /in use/i.test((e as Error).message)) {
      throw new PortInUseError(
        `Port ${options.port} is already in use (is another Layerline or OctoPrint running?). Choose another with --port.`,
      );
    }
    throw e;
  }
  if (options.mainThreadWatch) {
    // Started again as this process was started.
    watch.start({ dataDir: options.dataDir, stuckMs: options.mainThreadWatch.stuckMs, streaming: printers.streaming, restart: { ...thisCommand(), carry: carried() } });
  }
  // Plugins first, so every printer Worker starts with their serial hooks in place.
  await plugins.start();
  timelapse.start();
  printers.start();
  if (options.yieldToPrinters) yieldToPrinters();
  // After the yield: the analysis Worker starts at the web's lower priority, not the printers'.
  analysis.scan();
  tracking.start();
  mqtt.start();
  controls.start();
  const port = app.server!.port!;
  let zeroconf: ZeroconfResponder | undefined;
  if (options.zeroconf) {
    zeroconf = new ZeroconfResponder({ printers, bus, httpPort: port, version: VERSION, log });
    // Discovery is a convenience: a busy port 5353 or no multicast must not stop the host.
    await zeroconf.start().catch((e: Error) => {
      log(`warning: zeroconf advertising is off: ${e.message}`);
      zeroconf = undefined;
    });
  }
  url = `http://${options.host === "0.0.0.0" ? "127.0.0.1" : options.host}:${port}`;
  // `layerline update` and `layerline doctor` on this machine authenticate with this token (src/update/running.ts).
  localToken = newToken();
  accounts.allowLocalToken(localToken);
  announceRunning(options.dataDir, url, VERSION, localToken);
  update.begin(startup, url);
  if (options.update?.firstCheckDelayMs !== undefined) update.startPeriodicChecks(options.update.firstCheckDelayMs);
  diagnostics.start(options.diagnostics?.firstDelayMs ?? DIAGNOSTICS_FIRST_MS, options.diagnostics?.intervalMs ?? DIAGNOSTICS_INTERVAL_MS);
  let stopping: Promise<void> | undefined;
  stop = () =>
    (stopping ??= (async () => {
      update.stop();
      diagnostics.stop();
      watch.stop();
      await zeroconf?.stop();
      tracking.stop();
      // Before the printers stop: the broker hears "offline" from the host, not a will.
      await mqtt.stop();
      controls.stop();
      withdrawRunning(options.dataDir);
      await stopServices();
      db.close();
      lock.release();
    })());
  return {
    url,
    port,
    db,
    settings,
    bus,
    printers,
    files,
    analysis,
    jobs,
    update,
    tracking,
    plugins,
    accounts,
    history,
    queue,
    farm,
    mqtt,
    controls,
    webcam,
    timelapse,
    diagnostics,
    recentLog: options.recentLog!,
    backups,
    routes: perMethod(app.routes).map((r) => ({ method: r.method, path: r.path })),
    stop,
  };
}

/** First start: the virtual printer, unless a real one was named. `--serial` adds or updates one. */
function seedPrinters(store: PrinterStore, options: HostOptions): void {
  const now = Date.now();
  if (options.serial) {
    const baud = options.baud ?? 115200;
    const existing = store.findByPort(options.serial);
    const name = options.serial === "auto" ? "Printer (auto-detected)" : `Printer on ${options.serial.split("/").pop()}`;
    const record = existing ?? store.create({ name, transport: "serial", port: options.serial, baud, autoconnect: true, window: options.window ?? DEFAULT_WINDOW }, now);
    if (existing) store.updateConnection(existing.id, options.serial, baud);
    store.setAutoconnect(record.id, true);
    store.setDefault(record.id);
  } else if (store.list().length === 0) {
    store.create({ name: "Virtual printer", transport: "virtual", baud: 115200, autoconnect: true, window: options.window ?? DEFAULT_WINDOW }, now);
  }
}
