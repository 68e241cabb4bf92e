/**
 * The host's timelapses: each printer's settings, the recorder that takes frames while it prints,
 * the one renderer, and what the API and pages list (videos, and frame sets not rendered).
 */
import type { SettingsStore } from "../db/settings.ts";
import type { Bus } from "../events.ts";
import { isJobRunning } from "../printers/status.ts";
import type { WebcamService } from "../webcam/service.ts";
import { readTimelapseConfig, rendersAfter, writeTimelapseConfig, type TimelapseConfig, type TimelapsePatch } from "./config.ts";
import { TimelapseRecorder } from "./recorder.ts";
import { Renderer, type RenderStatus } from "./render.ts";
import { TimelapseStore, type SetEntry, type VideoEntry } from "./store.ts";

export interface UnrenderedSet extends SetEntry {
  recording: boolean;
  rendering: boolean;
}

export interface TimelapseListing {
  files: VideoEntry[];
  unrendered: UnrenderedSet[];
  render: RenderStatus;
}

export interface TimelapseServiceOptions {
  dataDir: string;
  bus: Bus;
  settings: SettingsStore;
  webcam: WebcamService;
  /** The printers' states (rendering waits while one prints) and ids. */
  printers: { list(): { id: string; status: { job: { state: Parameters<typeof isJobRunning>[0] } | null } }[] };
  /** ffmpeg's path (default: found on PATH); null = none (tests of its absence). */
  ffmpeg?: string | null;
  log?: (line: string) => void;
}

/** Frame sets not rendered this long after their print are deleted (as OctoPrint's cleanTmpAfterDays). */
export const KEEP_UNRENDERED_MS = 7 * 24 * 3600_000;

/** Why a set cannot be rendered or deleted now. */
/** Why a set that was recording when Layerline stopped ended. */
const INTERRUPTED = "Layerline stopped while this print was being recorded.";

export type SetRefusal = "missing" | "recording";

export class TimelapseService {
  readonly store: TimelapseStore;
  readonly renderer: Renderer;
  readonly recorder: TimelapseRecorder;
  private cleaner: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly options: TimelapseServiceOptions) {
    this.store = new TimelapseStore(options.dataDir);
    const printing = () => options.printers.list().some((p) => isJobRunning(p.status.job?.state));
    this.renderer = new Renderer({
      store: this.store,
      ffmpeg: options.ffmpeg,
      log: options.log,
      bus: options.bus,
      postponed: (meta) => readTimelapseConfig(options.settings, meta.printer).postponeWhilePrinting && printing(),
    });
    this.recorder = new TimelapseRecorder({ bus: options.bus, settings: options.settings, store: this.store, webcam: options.webcam, renderer: this.renderer, log: options.log });
  }

  start(): void {
    this.recorder.start();
    // Nothing renders yet: a render the last run did not finish left only its temporary file.
    this.store.removeLeftovers();
    this.clean();
    // Renders are queued in memory: those the last run did not get to (postponed, or cut short by its stop) are queued again.
    for (const s of this.store.sets()) {
      // Nothing records yet: a set still "recording" is of a print the last run's stop cut short (a crash, a power cut).
      let result = s.result;
      if (result === "recording") {
        result = "failed";
        this.store.updateMeta(s.name, () => ({ result: "failed", endedAt: Date.now(), lastError: INTERRUPTED }));
      }
      if (s.renderError === null && rendersAfter(this.config(s.printer).renderAfterPrint, result)) this.renderer.enqueue(s.name);
    }
    this.cleaner = setInterval(() => this.clean(), 6 * 3600_000);
  }

  stop(): void {
    if (this.cleaner) clearInterval(this.cleaner);
    this.recorder.stop();
    this.renderer.stop();
  }

  config(printerId: string): TimelapseConfig {
    return readTimelapseConfig(this.options.settings, printerId);
  }

  configure(printerId: string, patch: TimelapsePatch): TimelapseConfig {
    return writeTimelapseConfig(this.options.settings, printerId, patch);
  }

  /** Videos and frame sets, those of printers `visible` may see (a removed printer's: everyone who sees all). */
  list(visible: (printerId: string | null) => boolean): TimelapseListing {
    const ids = this.options.printers.list().map((p) => p.id);
    const recording = new Set(ids.map((id) => this.recorder.recording(id)));
    return {
      files: this.store.videos(ids).filter((f) => visible(f.printer)),
      unrendered: this.store
        .sets()
        .filter((s) => visible(s.printer))
        .map((s) => ({ ...s, recording: recording.has(s.name), rendering: this.renderer.busyWith(s.name) })),
      render: this.renderStatus(visible),
    };
  }

  /** What the renderer does, naming only sets `visible` may see (a set's name carries its printer and file). */
  private renderStatus(visible: (printerId: string | null) => boolean): RenderStatus {
    const status = this.renderer.status();
    const seen = (set: string) => visible(this.store.meta(set)?.printer ?? null);
    return { ...status, current: status.current && seen(status.current.set) ? status.current : null, queued: status.queued.filter(seen) };
  }

  /** Queues a frame set for rendering (again). */
  render(set: string): SetRefusal | null {
    const refusal = this.refusal(set);
    if (refusal) return refusal;
    this.store.updateMeta(set, () => ({ renderError: null }));
    this.renderer.enqueue(set);
    return null;
  }

  deleteSet(set: string): SetRefusal | null {
    const refusal = this.refusal(set);
    if (refusal) return refusal;
    this.renderer.forget(set);
    this.store.deleteSet(set);
    return null;
  }

  /** Deletes frame sets left unrendered for a week (not one being recorded or rendered); returns their names. */
  clean(now = Date.now()): string[] {
    const old = this.store.sets().filter((s) => now - (s.endedAt ?? s.startedAt) > KEEP_UNRENDERED_MS && !this.renderer.busyWith(s.name) && this.refusal(s.name) === null);
    for (const s of old) this.store.deleteSet(s.name);
    return old.map((s) => s.name);
  }

  private refusal(set: string): SetRefusal | null {
    const meta = this.store.meta(set);
    if (!meta) return "missing";
    return this.recorder.recording(meta.printer) === set ? "recording" : null;
  }
}
