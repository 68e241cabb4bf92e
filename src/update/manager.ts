/**
 * The host's update service: periodic checks, the state the UI and API show, and an update from
 * request to restart — download with progress, verification, the wait for running prints, then
 * the handover to the new version. After a restart it runs the new version's self-test, or
 * reports the rollback that brought the previous version back.
 */
import type { Database } from "bun:sqlite";
import type { KeyObject } from "node:crypto";
import { accessSync, constants, rmSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { SettingsStore } from "../db/settings.ts";
import type { PrinterManager } from "../printers/manager.ts";
import { checkRecord, currentVerdict, evaluateRelease, fetchRelease, refusal, type FetchedRelease, type Offer } from "./check.ts";
import { downloadVerified, removeStaleDownloads } from "./download.ts";
import { clearHandover, updateHandover, type Handover } from "./handover.ts";
import { checkRuns } from "./install.ts";
import { currentTarget, type Channel, type ReleaseTarget } from "./manifest.ts";
import { accountName, detectPlatform, type Platform } from "./platform.ts";
import { UpdateError, type UpdateErrorCode } from "./problem.ts";
import { EXIT_RESTART, type ProcessControl } from "./process-control.ts";
import { installAndRestart } from "./restart.ts";
import { rollBack } from "./rollback.ts";
import { runSelfTest } from "./self-test.ts";
import { BUILT_IN_UPDATE_URL, UpdateSettingsStore, type CheckRecord, type UpdateSettingsInput } from "./settings.ts";
import type { StartupUpdate } from "./startup.ts";
import { watchdogAlive } from "./watchdog.ts";

export type UpdateJob =
  | { state: "idle" }
  | { state: "downloading"; version: string; received: number; total: number }
  | { state: "verifying"; version: string }
  | { state: "waiting-for-print"; version: string; printers: string[] }
  | { state: "restarting"; version: string }
  | { state: "self-test"; from: string; stage: string }
  | { state: "failed"; version: string | null; at: number; error: { code: string; message: string; hint: string } };

export interface UpdateManagerOptions {
  dataDir: string;
  db: Database;
  databaseFile: string;
  settings: SettingsStore;
  printers: PrinterManager;
  version: string;
  control: ProcessControl;
  publicKey: KeyObject;
  log: (line: string) => void;
  /** Stops the HTTP server and the printers, leaving the database open. */
  stopServices: () => Promise<void>;
  /** Stops everything, database included. */
  shutdown: () => Promise<void>;
  platform?: Platform;
}

/** One-off overrides of the configured source (the CLI's --url and --channel). */
export interface SourceOverride {
  url?: string;
  channel?: Channel;
}

const PRINT_POLL_MS = 1000;
const CANCELLED = () => new UpdateError("cancelled", "The update was cancelled; nothing was installed.");

export class UpdateManager {
  readonly settings: UpdateSettingsStore;
  readonly platform: Platform;
  private job: UpdateJob = { state: "idle" };
  private checking: Promise<CheckOutcome> | null = null;
  private abort: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private serverUrl = "";
  private stopped = false;

  constructor(private readonly options: UpdateManagerOptions) {
    this.settings = new UpdateSettingsStore(options.settings);
    this.platform = options.platform ?? detectPlatform();
  }

  /** Everything the UI and `GET /api/v1/update` show. */
  status() {
    const settings = this.settings.read();
    const installable = this.installable();
    return {
      version: this.options.version,
      pid: process.pid,
      target: currentTarget(),
      ...settings,
      /** The source this build was made with (null: none), so a custom `url` can be told from it. */
      builtInUrl: BUILT_IN_UPDATE_URL,
      installable: installable ? { ok: false, reason: installable.message, hint: installable.hint } : { ok: true, reason: null, hint: null },
      platform: { arch: this.platform.arch, kernel: this.platform.kernel, glibc: this.platform.glibc },
      checking: this.checking !== null,
      check: currentVerdict(this.settings.lastCheck(), this.options.version, this.settings.failedVersions()),
      job: this.job,
      lastResult: this.settings.lastResult(),
    };
  }

  changeSettings(change: UpdateSettingsInput): void {
    this.settings.write(change);
    this.schedule();
  }

  /** Puts away the notice shown: how the last update ended, else why the last check failed. */
  dismissResult(): void {
    const result = this.settings.lastResult();
    if (result && !result.dismissed) return this.settings.setLastResult({ ...result, dismissed: true });
    const check = this.settings.lastCheck();
    if (check?.error) this.settings.setLastCheck({ ...check, dismissed: true });
  }

  /** Fetches and verifies the manifest and records what it means for this host. */
  check(source: SourceOverride = {}): Promise<CheckOutcome> {
    // Concurrent requests share one fetch.
    this.checking ??= this.fetchAndEvaluate(source).finally(() => (this.checking = null));
    return this.checking;
  }

  /**
   * Starts an update: refuses at once (UpdateError) when there is nothing to install or this
   * process cannot install it; otherwise returns and carries on in the background.
   */
  async start(source: SourceOverride & { force?: boolean } = {}): Promise<void> {
    if (this.busy()) throw new UpdateError("in_progress", `An update is already under way (${this.job.state}).`, "Watch its progress with GET /api/v1/update.");
    const cannot = this.installable();
    if (cannot) throw cannot;
    const { record, release, offer } = await this.check(source);
    if (!release || !offer) {
      const error = record.error!;
      throw new UpdateError(error.code as UpdateErrorCode, error.message, error.hint);
    }
    if (this.busy()) throw new UpdateError("in_progress", `An update is already under way (${this.job.state}).`);
    const chosen = offer.kind === "failed-before" && source.force ? evaluateRelease(release.manifest, { ...this.facts(), failedVersions: [] }) : offer;
    if (chosen.kind !== "update") throw refusal(chosen, release.manifest, this.options.version);
    this.abort = new AbortController();
    this.job = { state: "downloading", version: release.manifest.version, received: 0, total: chosen.target.size };
    void this.install(release, chosen.target, this.abort.signal);
  }

  /** Cancels an update that is downloading or waiting for a print; false when there is none. */
  cancel(): boolean {
    if (this.job.state !== "downloading" && this.job.state !== "verifying" && this.job.state !== "waiting-for-print") return false;
    this.abort?.abort();
    return true;
  }

  /** Called once the host is up: settles what an update left for this start. */
  begin(startup: StartupUpdate, serverUrl: string): void {
    this.serverUrl = serverUrl;
    const execPath = this.options.control.execPath;
    if (execPath) for (const path of removeStaleDownloads(dirname(execPath))) this.options.log(`Removed ${path}, a download an earlier run left unfinished.`);
    if (startup.kind === "rolled-back") {
      const h = startup.handover;
      this.settings.setLastResult({ outcome: "rolled-back", from: h.from, to: h.to, at: Date.now(), reason: h.reason, dismissed: false });
      this.settings.addFailedVersion(h.to);
      this.options.log(`warning: the update to Layerline ${h.to} failed and was undone; this is ${h.from} again. Why: ${h.reason}`);
    } else if (startup.kind === "trial") {
      void this.runTrial(startup.handover, startup.watched);
    }
  }

  /** Starts the periodic checks (the first after `firstDelayMs`). */
  startPeriodicChecks(firstDelayMs: number): void {
    this.schedule(firstDelayMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
    // Stopped (Ctrl-C, systemctl stop) before the self-test passed: the update is not confirmed,
    // so it is rolled back — but the person who stopped it does not want it started again.
    if (this.job.state === "self-test") {
      updateHandover(this.options.dataDir, { phase: "failed", reason: `Layerline ${this.options.version} was stopped before its self-test finished`, stopped: true });
    }
  }

  private schedule(delayMs?: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const { checkHours, url } = this.settings.read();
    if (this.stopped || checkHours <= 0 || !url) return;
    const last = this.settings.lastCheck()?.at ?? 0;
    const due = delayMs ?? Math.max(0, last + checkHours * 3_600_000 - Date.now());
    this.timer = setTimeout(async () => {
      this.timer = null;
      if (!this.busy()) {
        const { offer, release } = await this.check();
        if (offer?.kind === "update" && release) this.options.log(`Layerline ${release.manifest.version} is available (this is ${this.options.version}): update from the dashboard or with \`layerline update\`.`);
      }
      this.schedule(checkHours * 3_600_000);
    }, Math.min(due, 2 ** 31 - 1));
    this.timer.unref?.();
  }

  private busy(): boolean {
    return this.job.state !== "idle" && this.job.state !== "failed";
  }

  private facts() {
    return { version: this.options.version, target: currentTarget(), platform: this.platform, failedVersions: this.settings.failedVersions() };
  }

  /** Why this process cannot replace its binary, or null when it can. */
  private installable(): UpdateError | null {
    const execPath = this.options.control.execPath;
    if (!execPath) {
      return new UpdateError("not_installable", "This Layerline runs from source (bun src/main.ts); only the compiled binary updates itself.", "Update the source with git pull, or run the binary built by bun run build.");
    }
    if (!currentTarget()) return new UpdateError("not_installable", `There are no Layerline releases for ${process.platform}-${process.arch}.`);
    try {
      accessSync(dirname(execPath), constants.W_OK);
    } catch {
      const user = accountName();
      return new UpdateError(
        "not_installable",
        `Layerline cannot replace ${execPath}: user ${user} may not write to ${dirname(execPath)}.`,
        `Give that user the folder (sudo chown ${user} ${dirname(execPath)}) or move the binary to a folder it owns.`,
      );
    }
    return null;
  }

  private async fetchAndEvaluate(source: SourceOverride): Promise<CheckOutcome> {
    const settings = this.settings.read();
    const url = source.url ?? settings.url;
    const channel = source.channel ?? settings.channel;
    let outcome: CheckOutcome;
    if (!url) {
      const error = new UpdateError("no_source", "No update URL is configured.", 'Set one with PUT /api/v1/update/settings {"url": "https://…/{channel}/release.json"}, or pass --url to layerline update.');
      outcome = { record: checkRecord({ url: "", channel }, { error }), release: null, offer: null };
    } else {
      try {
        const release = await fetchRelease(url, channel, this.options.publicKey);
        const offer = evaluateRelease(release.manifest, this.facts());
        outcome = { record: checkRecord({ url, channel }, { ...release, offer }), release, offer };
      } catch (e) {
        if (!(e instanceof UpdateError)) throw e;
        outcome = { record: checkRecord({ url, channel }, { error: e }), release: null, offer: null };
      }
    }
    // A check failing as the one before, whose notice was put away (an offline printer), stays put away.
    const previous = this.settings.lastCheck();
    const same = previous?.dismissed && previous.error && outcome.record.error?.code === previous.error.code && outcome.record.url === previous.url;
    this.settings.setLastCheck(same ? { ...outcome.record, dismissed: true } : outcome.record);
    return outcome;
  }

  private async install(release: FetchedRelease, target: ReleaseTarget, signal: AbortSignal): Promise<void> {
    const version = release.manifest.version;
    const execPath = this.options.control.execPath!;
    let temp: string | null = null;
    try {
      temp = await downloadVerified(new URL(target.file, release.url).href, target, dirname(execPath), {
        signal,
        mode: 0o755,
        name: basename(execPath),
        onProgress: (received, total) => (this.job = { state: "downloading", version, received, total }),
      });
      this.job = { state: "verifying", version };
      await checkRuns(temp, version);
      for (let printing = this.printing(); printing.length > 0; printing = this.printing()) {
        if (this.job.state !== "waiting-for-print") this.options.log(`Layerline ${version} is ready to install; waiting for the print on ${printing.join(", ")} to end.`);
        this.job = { state: "waiting-for-print", version, printers: printing };
        await Bun.sleep(PRINT_POLL_MS);
        if (signal.aborted) throw CANCELLED();
      }
      if (signal.aborted) throw CANCELLED();
      this.job = { state: "restarting", version };
      const connected = this.options.printers.list().filter((s) => s.status.state === "operational");
      await installAndRestart({
        dataDir: this.options.dataDir,
        db: this.options.db,
        databaseFile: this.options.databaseFile,
        newBinary: temp,
        from: this.options.version,
        to: version,
        printers: connected.map((s) => ({ id: s.id, name: s.record.name })),
        selfTestSeconds: this.settings.read().selfTestSeconds,
        control: { ...this.options.control, execPath },
        stopServices: this.options.stopServices,
        log: this.options.log,
      });
    } catch (e) {
      if (temp) rmSync(temp, { force: true });
      const error = signal.aborted ? CANCELLED() : e instanceof UpdateError ? e : new UpdateError("io", (e as Error).message);
      this.job = { state: "failed", version, at: Date.now(), error: error.toJSON() };
      this.options.log(`Update to Layerline ${version} stopped: ${error.message}`);
    }
  }

  /** Names of printers in the middle of a print (paused counts). */
  private printing(): string[] {
    return this.options.printers
      .list()
      .filter((s) => s.status.state === "printing" || s.status.state === "paused")
      .map((s) => s.record.name);
  }

  private async runTrial(handover: Handover, watched: boolean): Promise<void> {
    const { dataDir, log } = this.options;
    const stage = (s: string) => {
      this.job = { state: "self-test", from: handover.from, stage: s };
      updateHandover(dataDir, { stage: s });
    };
    stage("starting the self-test");
    const reason = await runSelfTest(
      { db: this.options.db, url: this.serverUrl, version: this.options.version, printerStatus: (id) => this.options.printers.get(id)?.status },
      { printers: handover.printers, deadline: handover.startedAt + handover.selfTestSeconds * 1000, onStage: stage },
    );
    if (reason === null) {
      updateHandover(dataDir, { phase: "confirmed", stage: "confirmed" });
      if (!watched || !watchdogAlive(dataDir)) clearHandover(dataDir);
      this.settings.setLastResult({ outcome: "updated", from: handover.from, to: handover.to, at: Date.now(), reason: null, dismissed: false });
      this.settings.forgetFailedVersion(handover.to);
      this.job = { state: "idle" };
      log(`Layerline ${handover.to} passed its self-test: the update from ${handover.from} is complete.`);
      return;
    }
    const why = `Layerline ${handover.to} failed its self-test: ${reason}`;
    log(why);
    updateHandover(dataDir, { phase: "failed", reason: why });
    await this.options.shutdown();
    if (watchdogAlive(dataDir)) return this.options.control.exit(EXIT_RESTART);
    rollBack(dataDir, why);
    const error = this.options.control.reexec();
    log(`Could not start the previous version (${error}); exiting with code ${EXIT_RESTART} for the supervisor.`);
    this.options.control.exit(EXIT_RESTART);
  }
}

export interface CheckOutcome {
  record: CheckRecord;
  release: FetchedRelease | null;
  offer: Offer | null;
}

/**
 * Settles what must happen before the database is opened: a new version that already failed rolls
 * back and re-executes into the previous one (never returns then).
 */
export function settleBeforeStart(startup: StartupUpdate, dataDir: string, control: ProcessControl, log: (line: string) => void): void {
  if (startup.kind !== "must-roll-back") return;
  rollBack(dataDir, startup.handover.reason ?? `Layerline ${startup.handover.to} failed its self-test`);
  const error = control.reexec();
  log(`Could not start the previous version (${error}); exiting with code ${EXIT_RESTART} for the supervisor.`);
  control.exit(EXIT_RESTART);
}

/** A trial whose host did not even start: record why and hand over to the rollback. */
export function trialStartFailed(startup: StartupUpdate, dataDir: string, error: Error, control: ProcessControl): void {
  if (startup.kind !== "trial") return;
  const why = `Layerline ${startup.handover.to} could not start: ${error.message}`;
  updateHandover(dataDir, { phase: "failed", reason: why });
  if (watchdogAlive(dataDir)) return; // the watchdog rolls back once this process exits
  rollBack(dataDir, why);
  control.reexec();
}

/** What `GET /api/v1/update` answers and the UI notice renders. */
export type UpdateStatus = ReturnType<UpdateManager["status"]>;
