/**
 * The analysis queue (main thread): files without a current analysis are queued (on upload, on
 * any change of the files folder, at start, when the machine limits they are planned with
 * change) and handed one at a time to the analysis Worker. Progress and results go out on the
 * bus. With `analysis.onlyWhenIdle` set, nothing runs while a printer prints: a running analysis
 * is paused and resumes when all printers are idle.
 *
 * Stored analyses are planned with one set of machine limits (the default printer's profile,
 * see `QueueOptions.limits`). A job on another printer asks for its file to be re-planned with
 * that printer's limits (`replan`): run in a second Worker at once (the printer is about to
 * print it, idle or not), kept in memory for the next time, never stored.
 */
import * as v from "valibot";
import type { SettingsStore } from "../db/settings.ts";
import type { Bus } from "../events.ts";
import type { FileStorage, StoredFile } from "../files/storage.ts";
import { workerUrl } from "../worker-url.ts";
import { limitsKey, type MachineLimitsPatch } from "./limits.ts";
import type { AnalysisResult } from "./result.ts";
import type { AnalysisProblem, AnalysisStore } from "./store.ts";
import type { FromAnalyser, ToAnalyser } from "./worker-protocol.ts";

export const AnalysisSettingsSchema = v.object({
  /** Run analyses only while no printer is printing. */
  onlyWhenIdle: v.boolean(),
});
export type AnalysisSettings = v.InferOutput<typeof AnalysisSettingsSchema>;

/** Re-planned analyses kept (one per file and set of limits). */
const PLANS_KEPT = 8;

const SETTINGS_KEY = "analysis.settings";
const DEFAULT_SETTINGS: AnalysisSettings = { onlyWhenIdle: false };

export type QueueState =
  | { state: "queued" }
  | { state: "analysing"; done: number; total: number }
  | { state: "paused"; done: number; total: number };

interface Job {
  id: number;
  path: string;
  /** The hash the file had when queued (null: the worker computes it). */
  sha256: string | null;
}

export interface QueueOptions {
  files: FileStorage;
  store: AnalysisStore;
  bus: Bus;
  settings: SettingsStore;
  /** Whether any printer is printing (for onlyWhenIdle). */
  printing: () => boolean;
  /** The printer's machine limits stored analyses are planned with (the default printer's), if any. */
  limits?: () => MachineLimitsPatch | undefined;
}

export class AnalysisQueue {
  private readonly queue: Job[] = [];
  private current: (Job & { done: number; total: number }) | null = null;
  private worker: Worker | null = null;
  private nextId = 1;
  private paused = false;
  private stopped = false;
  /** Files whose analysis failed before a hash was known (unreadable), by path. */
  private readonly failures = new Map<string, AnalysisProblem>();
  private readonly unsubscribe: (() => void)[] = [];
  private cachedSettings: AnalysisSettings | null = null;
  /** The Worker for re-plans, their callers by job id, and finished re-plans by file and limits. */
  private planWorker: Worker | null = null;
  private readonly planning = new Map<number, { key: string | null; resolve: (r: AnalysisResult | undefined) => void }>();
  private readonly plans = new Map<string, AnalysisResult>();

  constructor(private readonly options: QueueOptions) {
    const { bus } = options;
    const onFiles = () => this.scan();
    const onStatus = () => this.pump();
    bus.on("files.changed", onFiles);
    bus.on("printer.status", onStatus);
    // Another default printer, or new limits in a profile: analyses planned with others are redone.
    bus.on("printers.changed", onFiles);
    bus.on("printer.profile", onFiles);
    this.unsubscribe.push(
      () => bus.off("files.changed", onFiles),
      () => bus.off("printer.status", onStatus),
      () => bus.off("printers.changed", onFiles),
      () => bus.off("printer.profile", onFiles),
    );
  }

  /** The limits stored analyses are planned with now. */
  private limits(): MachineLimitsPatch | undefined {
    return this.options.limits?.();
  }

  /** A finished re-plan of this content with these limits, if one is kept. */
  planned(sha256: string, limits: MachineLimitsPatch | undefined): AnalysisResult | undefined {
    return this.plans.get(`${sha256} ${limitsKey(limits)}`);
  }

  /**
   * The file at `path` planned with `limits` (a printer's own), not stored: for a job on a
   * printer whose limits are not the ones of the stored analysis. Undefined if it fails.
   */
  replan(path: string, limits: MachineLimitsPatch | undefined): Promise<AnalysisResult | undefined> {
    const file = this.options.files.get(path);
    if (!file || this.stopped) return Promise.resolve(undefined);
    const key = file.sha256 ? `${file.sha256} ${limitsKey(limits)}` : null;
    const kept = key ? this.plans.get(key) : undefined;
    if (kept) return Promise.resolve(kept);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.planning.set(id, { key, resolve });
      if (!this.planWorker) {
        this.planWorker = new Worker(workerUrl("analysis/analysis-worker.ts"));
        this.planWorker.onmessage = (e: MessageEvent<FromAnalyser>) => this.planReceived(e.data);
        this.planWorker.onerror = () => this.planCrashed();
      }
      this.planWorker.postMessage({ type: "analyse", id, path: this.options.files.absolute(file.path), hash: false, limits } satisfies ToAnalyser);
    });
  }

  private planReceived(msg: FromAnalyser): void {
    if (msg.type === "progress") return;
    const job = this.planning.get(msg.id);
    if (!job) return;
    this.planning.delete(msg.id);
    if (msg.type === "error") return job.resolve(undefined);
    if (job.key) {
      this.plans.delete(job.key);
      this.plans.set(job.key, msg.result);
      // The oldest go first (a Map keeps insertion order).
      for (const old of this.plans.keys()) if (this.plans.size > PLANS_KEPT) this.plans.delete(old);
    }
    job.resolve(msg.result);
  }

  private planCrashed(): void {
    this.planWorker?.terminate();
    this.planWorker = null;
    for (const job of this.planning.values()) job.resolve(undefined);
    this.planning.clear();
  }

  settings(): AnalysisSettings {
    // Cached: pump() runs on every printer status change.
    this.cachedSettings ??= this.options.settings.get(SETTINGS_KEY, AnalysisSettingsSchema, DEFAULT_SETTINGS);
    return this.cachedSettings;
  }

  updateSettings(patch: Partial<AnalysisSettings>): AnalysisSettings {
    const next = v.parse(AnalysisSettingsSchema, { ...this.settings(), ...patch });
    this.options.settings.set(SETTINGS_KEY, next);
    this.cachedSettings = next;
    this.pump();
    return next;
  }

  /** Queues every file that has no current analysis (or one planned with other limits). */
  scan(): void {
    if (this.stopped) return;
    const files = this.options.files.list();
    const present = new Set(files.map((f) => f.path));
    for (let i = this.queue.length - 1; i >= 0; i--) if (!present.has(this.queue[i]!.path)) this.queue.splice(i, 1);
    for (const path of this.failures.keys()) if (!present.has(path)) this.failures.delete(path);
    const limits = limitsKey(this.limits());
    for (const f of files) if (this.needs(f, limits)) this.add(f);
    // Analyses of content no file has any more (deleted or replaced) go too.
    this.options.store.prune();
    this.pump();
  }

  /** Queues one file again, even if it has an analysis (e.g. after the printer profile changed). */
  reanalyse(path: string): void {
    const file = this.options.files.get(path);
    if (!file) return;
    this.failures.delete(file.path);
    this.add(file, true);
    this.pump();
  }

  /** Where a file stands in the queue, or undefined when it is not queued or running. */
  stateOf(path: string): QueueState | undefined {
    if (this.current?.path === path) return { state: this.paused ? "paused" : "analysing", done: this.current.done, total: this.current.total };
    return this.queue.some((j) => j.path === path) ? { state: "queued" } : undefined;
  }

  /** An analysis failure not stored by hash (the file could not be read at all). */
  failureOf(path: string): AnalysisProblem | undefined {
    return this.failures.get(path);
  }

  overview(): { running: { path: string; done: number; total: number } | null; queued: string[]; paused: boolean; settings: AnalysisSettings } {
    return {
      running: this.current ? { path: this.current.path, done: this.current.done, total: this.current.total } : null,
      queued: this.queue.map((j) => j.path),
      paused: this.paused,
      settings: this.settings(),
    };
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.current || this.queue.length > 0) {
      if (Date.now() > deadline) throw new Error("analysis did not finish in time");
      await Bun.sleep(20);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.unsubscribe) off();
    this.planCrashed();
    this.worker?.terminate();
    this.worker = null;
    this.queue.length = 0;
    this.current = null;
  }

  private needs(f: StoredFile, limits: string): boolean {
    if (this.current?.path === f.path || this.queue.some((j) => j.path === f.path)) return false;
    if (f.sha256 === null) return !this.failures.has(f.path);
    const state = this.options.store.state(f.sha256);
    return state === undefined || (state.status === "done" && limitsKey(state.summary.printerLimits) !== limits);
  }

  private add(f: StoredFile, force = false): void {
    if (!force && (this.current?.path === f.path || this.queue.some((j) => j.path === f.path))) return;
    this.queue.push({ id: this.nextId++, path: f.path, sha256: f.sha256 });
    this.options.bus.emit("analysis.progress", { path: f.path, state: "queued", done: 0, total: f.size });
  }

  /** Starts the next job, or pauses / resumes the current one for onlyWhenIdle. */
  private pump(): void {
    if (this.stopped) return;
    const hold = this.settings().onlyWhenIdle && this.options.printing();
    if (this.current) {
      if (hold !== this.paused) {
        this.paused = hold;
        this.post({ type: hold ? "pause" : "resume" });
        this.options.bus.emit("analysis.progress", { path: this.current.path, state: hold ? "paused" : "analysing", done: this.current.done, total: this.current.total });
      }
      return;
    }
    if (hold || this.queue.length === 0) return;
    const job = this.queue.shift()!;
    const file = this.options.files.get(job.path);
    if (!file) return this.pump();
    this.current = { ...job, sha256: file.sha256, done: 0, total: file.size };
    this.paused = false;
    this.post({ type: "analyse", id: job.id, path: this.options.files.absolute(job.path), hash: file.sha256 === null, limits: this.limits() });
    this.options.bus.emit("analysis.progress", { path: job.path, state: "analysing", done: 0, total: file.size });
  }

  private post(msg: ToAnalyser): void {
    if (!this.worker) {
      this.worker = new Worker(workerUrl("analysis/analysis-worker.ts"));
      this.worker.onmessage = (e: MessageEvent<FromAnalyser>) => this.receive(e.data);
      this.worker.onerror = (e) => this.crashed(e.message);
    }
    this.worker.postMessage(msg);
  }

  private receive(msg: FromAnalyser): void {
    const job = this.current;
    if (!job || msg.id !== job.id) return;
    if (msg.type === "progress") {
      job.done = msg.done;
      job.total = msg.total;
      this.options.bus.emit("analysis.progress", { path: job.path, state: this.paused ? "paused" : "analysing", done: msg.done, total: msg.total });
      return;
    }
    const now = Date.now();
    const sha256 = msg.sha256 ?? job.sha256;
    if (msg.sha256 && this.options.files.get(job.path)) this.options.files.setHash(job.path, msg.sha256, msg.size, msg.mtime);
    if (msg.type === "result" && sha256) this.options.store.saveResult(sha256, msg.result, msg.thumbnails, now);
    else if (msg.type === "error" && sha256) this.options.store.saveError(sha256, msg.error, now);
    else if (msg.type === "error") this.failures.set(job.path, msg.error);
    this.current = null;
    this.options.bus.emit("analysis.finished", { path: job.path, ok: msg.type === "result", error: msg.type === "error" ? msg.error.message : undefined });
    this.pump();
  }

  private crashed(message: string): void {
    const job = this.current;
    this.worker?.terminate();
    this.worker = null;
    this.current = null;
    if (job) {
      const error = { code: "crashed", message: `The analyser stopped unexpectedly: ${message}`, hint: "This is a bug; the file itself can still be printed." };
      this.failures.set(job.path, error);
      this.options.bus.emit("analysis.finished", { path: job.path, ok: false, error: error.message });
    }
    this.pump();
  }
}
