/**
 * The main thread's watchdog. A plugin's code on the host's main thread (its module at load, its
 * setup, event handlers, periodic tasks, routes, page slots) that never returns stops the web
 * interface and the API — prints go on in their printers' threads, but nothing on the main thread
 * can notice. So the main thread beats a shared counter every second and marks whose code it runs;
 * a watchdog Worker (main-watchdog-worker.ts) reads both. When the beat stops for `stuckMs` while
 * a plugin's code runs, the watchdog writes down the plugin (the next start disables it and says
 * why), waits until no printer streams a print or an upload, and starts Layerline again in place
 * (execve: same process id, same arguments, so a service manager sees one service). Stuck outside
 * plugin code, it only reports. Only the CLI's `serve` turns it on: a host started inside another
 * program (the tests) must never replace that program.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { ENDED, type EndedState } from "../printers/streaming-flags.ts";
import { readJson, writeJsonAtomic } from "../update/handover.ts";
import type { Command } from "../update/process-control.ts";
import { workerUrl } from "../worker-url.ts";
import { inPlugin } from "./scope.ts";

/** What of a plugin the main thread runs (index shared with the watchdog). */
export const MAIN_WHAT = ["", "module code at load", "setup", "dispose function", "event handler", "periodic task", "route", "page slot", "settings handler", "settings schema"] as const;
export type MainWhat = Exclude<(typeof MAIN_WHAT)[number], "">;

/** Written by the watchdog, read (and removed) by the next start. */
export const HUNG_RECORD_FILE = "plugin-hung.json";
export const HungRecordSchema = v.object({
  plugin: v.string(),
  what: v.string(),
  seconds: v.number(),
  at: v.number(),
  /** Prints that ended while the main thread was stuck (it never took note): how. */
  ended: v.optional(v.array(v.object({ printer: v.string(), state: v.picklist(Object.keys(ENDED) as EndedState[]) })), []),
});
export type HungRecord = v.InferOutput<typeof HungRecordSchema>;

/** How long the main thread may not beat, inside a plugin's code, before the watchdog acts. */
export const DEFAULT_STUCK_MS = 30_000;
const BEAT_MS = 1000;

// The shared words: the beat, 1 + the index of the plugin whose code runs (0: none), what of it.
export const BEAT = 0;
export const PLUGIN = 1;
export const WHAT = 2;

/** Messages to the watchdog Worker. */
export type ToWatchdog =
  | { type: "init"; shared: Int32Array; streaming: Int32Array; dataDir: string; stuckMs: number; restart: Command | null }
  | { type: "plugins"; ids: string[] }
  | { type: "printers"; slots: (string | null)[] };

export class MainThreadWatch {
  readonly shared = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  private readonly ids: string[] = [];
  private slots: (string | null)[] = [];
  private worker: Worker | undefined;
  private beat: ReturnType<typeof setInterval> | undefined;

  /**
   * Runs `fn` marked as `plugin`'s `what` (its synchronous part: a loop that never ends can only
   * be there), in its scope (see scope.ts). Nested runs (a handler that emits an event another
   * plugin handles) restore the mark.
   */
  run<T>(plugin: string, what: MainWhat, fn: () => T): T {
    const restore = this.mark(plugin, what);
    try {
      return inPlugin(plugin, fn);
    } finally {
      restore();
    }
  }

  /** The plugin whose code runs now, within {@link run} (a module's load is not: other code runs while it is pending). */
  runningNow(): string | undefined {
    const index = this.shared[PLUGIN]!;
    return index && this.shared[WHAT] !== MAIN_WHAT.indexOf("module code at load") ? this.ids[index - 1] : undefined;
  }

  /** Marks `plugin`'s `what` until `work` settles (a module's code runs during its import, not within the call). */
  async during<T>(plugin: string, what: MainWhat, work: Promise<T>): Promise<T> {
    const restore = this.mark(plugin, what);
    try {
      return await work;
    } finally {
      restore();
    }
  }

  /** Sets the marks; the function returned puts back the ones before. */
  private mark(plugin: string, what: MainWhat): () => void {
    let index = this.ids.indexOf(plugin);
    if (index < 0) {
      index = this.ids.push(plugin) - 1;
      this.worker?.postMessage({ type: "plugins", ids: this.ids } satisfies ToWatchdog);
    }
    const before = this.shared[PLUGIN]!;
    const beforeWhat = this.shared[WHAT]!;
    this.shared[WHAT] = MAIN_WHAT.indexOf(what);
    this.shared[PLUGIN] = index + 1;
    return () => {
      this.shared[PLUGIN] = before;
      this.shared[WHAT] = beforeWhat;
    };
  }

  /** Starts beating and the watchdog Worker; `streaming` holds one flag per printer (1: a print or upload streams). */
  start(options: { dataDir: string; stuckMs?: number; streaming: Int32Array; restart: Command | null }): void {
    if (this.worker) return;
    this.beat = setInterval(() => Atomics.add(this.shared, BEAT, 1), BEAT_MS);
    this.beat.unref?.();
    const worker = new Worker(workerUrl("plugins/main-watchdog-worker.ts"));
    worker.postMessage({
      type: "init",
      shared: this.shared,
      streaming: options.streaming,
      dataDir: options.dataDir,
      stuckMs: options.stuckMs ?? DEFAULT_STUCK_MS,
      restart: options.restart,
    } satisfies ToWatchdog);
    worker.postMessage({ type: "plugins", ids: this.ids } satisfies ToWatchdog);
    worker.postMessage({ type: "printers", slots: this.slots } satisfies ToWatchdog);
    this.worker = worker;
  }

  /** Which printer has which word of the streaming flags (see src/printers/streaming-flags.ts). */
  printers(slots: (string | null)[]): void {
    this.slots = slots;
    this.worker?.postMessage({ type: "printers", slots } satisfies ToWatchdog);
  }

  stop(): void {
    if (this.beat) clearInterval(this.beat);
    this.worker?.terminate();
    this.worker = undefined;
  }
}

/** The watchdog's record, for the next start. */
export function writeHungRecord(dataDir: string, record: HungRecord): void {
  writeJsonAtomic(join(dataDir, HUNG_RECORD_FILE), record);
}

/** The record of a plugin that stopped the main thread before this start, removed once read. */
export function takeHungRecord(dataDir: string): HungRecord | null {
  const path = join(dataDir, HUNG_RECORD_FILE);
  const record = readJson(path, HungRecordSchema);
  rmSync(path, { force: true });
  return record;
}
