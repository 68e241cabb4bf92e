/**
 * The running host's self-diagnosis: runs the checks on demand (the Diagnostics page, the API,
 * `layerline doctor` asking the host) and on a schedule, keeping the latest report for the
 * dashboard's notice — so no page view runs a check. Also makes the support bundle, and answers
 * whether the host is online (OctoPrint's `connectivity.online`) from the same probe.
 */
import type { Database } from "bun:sqlite";
import type { SettingsStore } from "../db/settings.ts";
import type { JobService } from "../jobs/service.ts";
import type { PluginService } from "../plugins/service.ts";
import type { PrinterManager } from "../printers/manager.ts";
import { threadNice } from "../printers/priority.ts";
import type { PrinterSession } from "../printers/session.ts";
import type { QuirksLibrary } from "../protocol/quirks-library.ts";
import type { UpdateManager } from "../update/manager.ts";
import { buildBundle, bundleName, type BundlePrinter } from "./bundle.ts";
import { isOnline, type ConnectivityFacts } from "./connectivity.ts";
import type { Report } from "./finding.ts";
import { ConnectivityProbe, targetsFromSettings } from "./gather/connectivity.ts";
import type { PrinterInput } from "./gather/serial.ts";
import { largestStoredFile, settingsByKey, systemSummary, userQuirkFiles } from "./gather/stored.ts";
import type { LayerlineFacts } from "./layerline.ts";
import type { RecentLog } from "./recent-log.ts";
import { runDiagnostics, type DiagnosticsSources } from "./run.ts";

/** How old a connectivity result the scheduled runs accept: the servers are not asked more than hourly for the notice. */
const SCHEDULED_NETWORK_AGE_MS = 60 * 60_000;
/** How long the trace of one printer may take to arrive for the bundle. */
const TRACE_WAIT_MS = 5000;

export interface DiagnosticsServiceOptions {
  dataDir: string;
  version: string;
  db: Database;
  settings: SettingsStore;
  printers: PrinterManager;
  update: UpdateManager;
  plugins: PluginService;
  jobs: JobService;
  quirks: QuirksLibrary;
  log: RecentLog;
  /** A time the clock cannot be before (this build's time). */
  notBefore: number;
  startedAt: number;
  /** The host's own URL (known once it listens). */
  url: () => string;
  /** Secrets the host holds by value that must never reach a bundle (the local token). */
  secrets?: () => string[];
  /** Probe options (tests shorten the timeouts). */
  probe?: ConstructorParameters<typeof ConnectivityProbe>[1];
}

export class DiagnosticsService {
  readonly probe: ConnectivityProbe;
  private report: Report | null = null;
  private running: Promise<Report> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(private readonly o: DiagnosticsServiceOptions) {
    this.probe = new ConnectivityProbe(() => targetsFromSettings(o.settings, o.plugins.repository.url(), o.plugins.repository.refreshHours()), o.probe);
  }

  /** The latest report (null before the first run). */
  latest(): Report | null {
    return this.report;
  }

  /**
   * Runs every check now; concurrent callers share one run. `fresh` asks the servers again even
   * when a recent answer is kept (the page's Run again).
   */
  run(options: { fresh?: boolean; networkMaxAgeMs?: number } = {}): Promise<Report> {
    if (this.running && !options.fresh) return this.running;
    const maxAge = options.fresh ? 0 : options.networkMaxAgeMs;
    const run = runDiagnostics(this.sources(maxAge)).then((report) => {
      this.report = report;
      return report;
    });
    this.running = run;
    void run.finally(() => {
      if (this.running === run) this.running = null;
    });
    return run;
  }

  /** Runs the checks `firstDelayMs` after now, then every `intervalMs` (for the dashboard's notice). */
  start(firstDelayMs: number, intervalMs: number): void {
    const tick = (delay: number) => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        void this.run({ networkMaxAgeMs: SCHEDULED_NETWORK_AGE_MS })
          .catch((e) => this.o.log.add("error", `diagnostics: ${(e as Error).message}`))
          .finally(() => tick(intervalMs));
      }, delay);
      this.timer.unref?.();
    };
    tick(firstDelayMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Whether a server Layerline uses answers (null: none is configured), at most a few minutes old. */
  async online(): Promise<{ online: boolean | null; facts: ConnectivityFacts }> {
    const facts = await this.probe.check();
    return { online: isOnline(facts), facts };
  }

  private sources(networkMaxAgeMs: number | undefined): DiagnosticsSources {
    const o = this.o;
    return {
      dataDir: o.dataDir,
      version: o.version,
      source: "host",
      notBefore: o.notBefore,
      printers: () => o.printers.list().map(printerInput),
      selfPids: () => [process.pid],
      largestFile: () => largestStoredFile(o.db),
      layerline: () => this.layerlineFacts(),
      connectivity: () => this.probe.check(networkMaxAgeMs),
    };
  }

  private layerlineFacts(): LayerlineFacts {
    const o = this.o;
    const status = o.update.status();
    return {
      version: o.version,
      host: { pid: process.pid, url: o.url(), startedAt: o.startedAt },
      update: { channel: status.channel, url: status.url, checkHours: status.checkHours, lastCheck: status.check, lastResult: status.lastResult },
      safeMode: o.plugins.manager.safeMode,
      crashedStarts: null,
      plugins: o.plugins.manager.list().map((p) => ({ id: p.id, state: p.state, reason: p.reason, faults: p.faults.length })),
      restarts: o.printers.list().flatMap((s) => s.restarts.map((r) => ({ printer: s.id, ...r }))).sort((a, b) => a.at - b.at),
      // Read here, on the main thread: the web's own nice value.
      priorities: { web: threadNice(), printers: o.printers.list().map((s) => ({ printer: s.id, nice: s.threadNice })) },
    };
  }

  /** The support bundle: a fresh diagnosis and everything beside it, redacted. */
  async bundle(): Promise<{ name: string; bytes: Uint8Array<ArrayBuffer> }> {
    const o = this.o;
    const report = await this.run();
    const printers: BundlePrinter[] = await Promise.all(o.printers.list().map((s) => this.bundlePrinter(s)));
    const bytes = await buildBundle({
      report,
      system: { ...systemSummary(o.dataDir, o.version), startedAt: new Date(o.startedAt).toISOString(), url: o.url() },
      log: o.log.text(),
      printers,
      settings: settingsByKey(o.db),
      plugins: { safeMode: o.plugins.manager.safeMode, plugins: o.plugins.manager.list().map(({ id, name, version, origin, state, reason, api, declaredApi, faults, loadedAt, printersRunning, installed }) => ({ id, name, version, origin, state, reason, api, declaredApi, faults, loadedAt, printersRunning, installed })) },
      userQuirks: userQuirkFiles(o.dataDir),
      secrets: o.secrets?.() ?? [],
    });
    return { name: `${bundleName(report.at)}.tar.gz`, bytes };
  }

  private async bundlePrinter(s: PrinterSession): Promise<BundlePrinter> {
    const { status, record } = s;
    const firmware = status.firmware;
    let quirks: unknown = { detected: null, note: "The firmware is detected when the printer connects." };
    if (firmware) {
      try {
        quirks = { firmware: firmware.name, family: firmware.profile, overlays: firmware.overlays, capabilities: firmware.capabilities, merged: this.o.quirks.with(firmware.profile, firmware.overlays) };
      } catch (e) {
        quirks = { firmware: firmware.name, family: firmware.profile, overlays: firmware.overlays, error: (e as Error).message };
      }
    }
    const traced = await Promise.race([s.trace(), Bun.sleep(TRACE_WAIT_MS).then(() => null)]);
    const trace = traced?.ok ? traced.value : "";
    return {
      id: s.id,
      printer: {
        record,
        status: { state: status.state, problem: status.problem, firmware, connection: status.connection, link: status.link, job: status.job && { file: status.job.file, state: status.job.state, reason: status.job.reason } },
        restarts: s.restarts,
      },
      profile: this.o.jobs.profile(s.id),
      quirks,
      trace,
    };
  }
}

/** A printer session as the serial checks see it. */
function printerInput(s: PrinterSession): PrinterInput {
  return { record: s.record, live: { state: s.status.state, connectionPort: s.status.connection?.port ?? null, link: s.status.link } };
}
