/**
 * Takes a printer's timelapse frames while it prints (webcam.md §4.4). The printer's Worker posts
 * job and layer events and never waits for this: captures run here on the main thread, one after
 * the other per printer, each with a timeout, at most a few waiting (more are dropped and counted:
 * a slow camera must not pile work up). A failed capture is counted in the set and its number is
 * used by the next one; the print never notices. When the print ends, a last frame is taken and
 * the set is queued for rendering as the printer's settings say.
 */
import type { SettingsStore } from "../db/settings.ts";
import { subscribe, type Bus } from "../events.ts";
import type { PrinterEvent } from "../printers/controller.ts";
import { hasCamera } from "../webcam/camera.ts";
import type { WebcamService } from "../webcam/service.ts";
import { readTimelapseConfig, rendersAfter, type TimelapseConfig } from "./config.ts";
import type { Renderer } from "./render.ts";
import type { TimelapseStore } from "./store.ts";

/** A print being recorded. */
interface Recording {
  set: string;
  config: TimelapseConfig;
  /** Frames written so far (the next one is `frames + 1`). */
  frames: number;
  failed: number;
  waiting: number;
  /** When the last capture was asked for (minDelay). */
  lastAt: number;
  timer: ReturnType<typeof setInterval> | null;
  /** The captures, in order. */
  chain: Promise<void>;
}

/** Frames stop below this much free disk. */
export const MIN_FREE_BYTES = 256 * 1024 * 1024;

export interface RecorderOptions {
  bus: Bus;
  settings: SettingsStore;
  store: TimelapseStore;
  webcam: WebcamService;
  renderer: Renderer;
  /** A capture slower than this fails. */
  captureTimeoutMs?: number;
  /** Captures waiting for the camera beyond this many are dropped (counted as failed). */
  maxWaiting?: number;
  /** No frame is written when the disk has less free space than this (the files and prints need it more). */
  minFreeBytes?: number;
  log?: (line: string) => void;
}

export class TimelapseRecorder {
  private recordings = new Map<string, Recording>();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly options: RecorderOptions) {}

  start(): void {
    this.unsubscribe = subscribe(this.options.bus, { "printer.event": ({ id, event }) => this.onEvent(id, event) });
  }

  stop(): void {
    this.unsubscribe?.();
    for (const r of this.recordings.values()) if (r.timer) clearInterval(r.timer);
    this.recordings.clear();
  }

  /** The set a printer is recording now, or null. */
  recording(printerId: string): string | null {
    return this.recordings.get(printerId)?.set ?? null;
  }

  /** Resolves when the printer's queued captures are done (tests, and ending a print). */
  async settled(printerId: string): Promise<void> {
    await this.recordings.get(printerId)?.chain;
  }

  private onEvent(id: string, event: PrinterEvent): void {
    if (event.type === "layer") {
      const r = this.recordings.get(id);
      if (r?.config.mode === "layer" && Date.now() - r.lastAt >= r.config.minDelay * 1000) this.capture(id, r);
      return;
    }
    if (event.type !== "job") return;
    if (event.state === "started" || (event.state === "resumed" && !this.recordings.has(id))) this.begin(id, event.file);
    else if (event.state === "done" || event.state === "cancelled" || event.state === "failed") void this.end(id, event.state);
  }

  private begin(id: string, file: string): void {
    const config = readTimelapseConfig(this.options.settings, id);
    if (config.mode === "off") return;
    const camera = this.options.webcam.camera(id);
    if (!hasCamera(camera)) {
      this.options.log?.(`timelapse: printer ${id} has no camera set up; no timelapse of ${file}`);
      return;
    }
    const old = this.recordings.get(id);
    if (old?.timer) clearInterval(old.timer);
    const set = this.options.store.createSet({ printer: id, file, startedAt: Date.now(), fps: config.fps, postRoll: config.postRoll, flipH: camera.flipH, flipV: camera.flipV, rotate: camera.rotate });
    const r: Recording = { set, config, frames: 0, failed: 0, waiting: 0, lastAt: 0, timer: null, chain: Promise.resolve() };
    this.recordings.set(id, r);
    if (config.mode === "timed") {
      this.capture(id, r);
      r.timer = setInterval(() => this.capture(id, r), config.interval * 1000);
    }
  }

  private capture(id: string, r: Recording): void {
    r.lastAt = Date.now();
    if (r.waiting >= (this.options.maxWaiting ?? 5)) {
      this.failed(r, "The camera was too slow: a capture was dropped.");
      return;
    }
    r.waiting++;
    r.chain = r.chain.then(async () => {
      try {
        const minFree = this.options.minFreeBytes ?? MIN_FREE_BYTES;
        if (this.options.store.freeBytes() < minFree) throw new Error(`The disk has less than ${Math.round(minFree / 1024 / 1024)} MB free: no frame was stored. Delete old timelapses or files.`);
        const shot = await withTimeout(this.options.webcam.snapshot(id), this.options.captureTimeoutMs ?? 10_000);
        this.options.store.writeFrame(r.set, r.frames + 1, shot.jpeg);
        r.frames++;
        this.options.store.updateMeta(r.set, () => ({ frames: r.frames }));
        this.options.bus.emit("timelapse.event", { printer: id, set: r.set, kind: "captured", frame: r.frames });
      } catch (e) {
        this.failed(r, (e as Error).message);
        this.options.bus.emit("timelapse.event", { printer: id, set: r.set, kind: "capture-failed", frame: r.frames + 1, error: (e as Error).message });
      } finally {
        r.waiting--;
      }
    });
  }

  private failed(r: Recording, message: string): void {
    r.failed++;
    this.options.store.updateMeta(r.set, () => ({ failed: r.failed, lastError: message }));
  }

  private async end(id: string, state: "done" | "cancelled" | "failed"): Promise<void> {
    const r = this.recordings.get(id);
    if (!r) return;
    if (r.timer) clearInterval(r.timer);
    r.timer = null;
    // The finished print, as the last frame (the post-roll shows it longer).
    this.capture(id, r);
    await r.chain;
    if (this.recordings.get(id) === r) this.recordings.delete(id);
    this.options.store.updateMeta(r.set, () => ({ result: state, endedAt: Date.now() }));
    if (rendersAfter(r.config.renderAfterPrint, state)) this.options.renderer.enqueue(r.set);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`The camera gave no picture within ${ms / 1000} s.`)), ms)))]).finally(() => clearTimeout(timer));
}
