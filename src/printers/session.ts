/**
 * The main thread's handle on one printer: it starts the printer's Worker, forwards commands to
 * it and keeps the latest status and terminal lines for the views. The worker is the authority;
 * this is its mirror.
 */
import type { Bus } from "../events.ts";
import type { JobLink } from "../jobs/service.ts";
import type { ResumeFrom } from "../jobs/plan.ts";
import type { Scripts } from "../jobs/scripts.ts";
import type { PrinterProfile } from "./profile.ts";
import type { SerialPluginReport, SerialPluginSpec } from "../plugins/serial/protocol.ts";
import { workerUrl } from "../worker-url.ts";
import type { QuirksSource } from "../protocol/quirks-library.ts";
import type { VirtualPrinterOptionsInput } from "../virtual/options.ts";
import type { LogLine, Result } from "./controller.ts";
import type { PrinterRecord } from "./record.ts";
import { initialStatus, isJobRunning, type Interrupted, type Job, type PrinterStatus } from "./status.ts";
import type { ControllerMethod, FromWorker, ToWorker } from "./worker-protocol.ts";

const TERMINAL_KEEP = 300;

export interface SessionOptions {
  record: PrinterRecord;
  quirks: QuirksSource[];
  filesDir: string;
  bus: Bus;
  virtual?: VirtualPrinterOptionsInput;
  traceDir?: string;
  /** Plugins with serial hooks to run in this printer's Worker from the start. */
  plugins?: SerialPluginSpec[];
  /** What the Worker reports about them (faults, load failures, log lines). */
  onPluginReport?: (printer: string, report: SerialPluginReport) => void;
  /** The jobs side: job plans, checkpoints (src/jobs/service.ts). */
  jobs?: JobLink;
}

export class PrinterSession {
  record: PrinterRecord;
  status: PrinterStatus;
  /** The latest terminal lines, oldest first. */
  terminal: LogLine[] = [];
  private readonly worker: Worker;
  private readonly pending = new Map<number, (r: Result<unknown>) => void>();
  private nextId = 1;
  private disposed: (() => void) | undefined;
  /** The SD print whose file the jobs side was asked about. */
  private planned: string | undefined;

  constructor(private readonly options: SessionOptions) {
    this.record = options.record;
    this.status = initialStatus(options.record.id);
    this.worker = new Worker(workerUrl("printers/worker.ts"));
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => this.onMessage(e.data);
    this.worker.onerror = (e) => {
      // A crash in the worker must be visible, and must fail outstanding calls rather than hang them.
      console.error(`printer ${this.record.id}: worker error: ${e.message}`);
      for (const resolve of this.pending.values()) {
        resolve({ ok: false, error: { code: "internal", message: e.message, hint: "Reconnect the printer." } });
      }
      this.pending.clear();
    };
    const init: ToWorker = {
      type: "init",
      record: options.record,
      quirks: options.quirks,
      filesDir: options.filesDir,
      virtual: options.virtual,
      traceDir: options.traceDir,
    };
    this.worker.postMessage(init);
    if (options.plugins?.length) this.setPlugins(options.plugins);
  }

  /** Tells the Worker which plugins with serial hooks to run (the whole set). */
  setPlugins(specs: SerialPluginSpec[]): void {
    this.worker.postMessage({ type: "plugins", specs } satisfies ToWorker);
  }

  get id(): string {
    return this.record.id;
  }

  connect = () => this.call<null>("connect");
  disconnect = () => this.call<null>("disconnect");
  send = (commands: string[]) => this.call<{ queued: number }>("send", commands);
  emergencyStop = () => this.call<null>("emergencyStop");
  /**
   * Prints `file` with what the host knows about it; `from` resumes an interrupted print part-way.
   * A plan re-made for this printer's own machine limits follows when it is ready.
   */
  startJob = (file: string, from?: ResumeFrom) =>
    this.call<null>("startJob", file, this.options.jobs?.planFor(this.id, file, (plan) => void this.call("replan", file, plan)), from);
  pauseJob = () => this.call<null>("pauseJob");
  resumeJob = () => this.call<null>("resumeJob");
  cancelJob = () => this.call<null>("cancelJob");
  restartJob = () => this.call<null>("restartJob");
  cancelObject = (name: string) => this.call<{ cancelled: string[] }>("cancelObject", name);
  setScripts = (scripts: Partial<Scripts>, profile: PrinterProfile) => this.call<null>("setScripts", scripts, profile);
  setInterrupted = (interrupted: Interrupted | null) => this.call<null>("setInterrupted", interrupted);
  sdRefresh = () => this.call<null>("sdRefresh");
  sdPrint = (name: string) => this.call<null>("sdPrint", name);
  sdDelete = (name: string) => this.call<null>("sdDelete", name);
  /** Copies a host file to the card; an SD print of it then knows the file's analysis. */
  sdUpload = async (file: string, name?: string) => {
    const result = await this.call<{ name: string }>("sdUpload", file, name);
    if (result.ok) this.options.jobs?.sdCopied(this.id, result.value.name, file);
    return result;
  };
  answerPrompt = (choice: number) => this.call<null>("answerPrompt", choice);
  setWindow = (window: number) => this.call<null>("setWindow", window);
  /** Asks the firmware for its machine limits again (where it can report them); they come in the status. */
  queryLimits = () => this.call<null>("queryLimits");
  /** The flight recorder's latest lines as JSONL. */
  trace = () => this.call<string>("trace");

  /** Stops the link and the worker. */
  async dispose(): Promise<void> {
    const done = new Promise<void>((resolve) => (this.disposed = resolve));
    this.worker.postMessage({ type: "dispose" } satisfies ToWorker);
    await Promise.race([done, Bun.sleep(3000)]);
    this.worker.terminate();
  }

  /** An SD print started (here or on the printer): what the host knows of its file goes to the Worker. */
  private planSdPrint(job: Job): void {
    this.planned = job.id;
    const card = this.status.sd.files.find((f) => f.name === job.file || f.longName === job.file) ?? { name: job.file, size: job.size };
    const plan = this.options.jobs?.sdPlanFor(this.id, card);
    if (plan) void this.call<null>("adoptPlan", job.id, plan);
  }

  private call<T>(method: ControllerMethod, ...args: unknown[]): Promise<Result<T>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve as (r: Result<unknown>) => void);
      this.worker.postMessage({ type: "call", id, method, args } satisfies ToWorker);
    });
  }

  private onMessage(msg: FromWorker): void {
    const bus = this.options.bus;
    switch (msg.type) {
      case "status":
        this.status = msg.status;
        if (msg.status.job?.source === "sd" && msg.status.job.id !== this.planned && isJobRunning(msg.status.job.state)) this.planSdPrint(msg.status.job);
        bus.emit("printer.status", { id: this.id, status: msg.status });
        return;
      case "log":
        this.terminal.push(...msg.lines);
        if (this.terminal.length > TERMINAL_KEEP) this.terminal.splice(0, this.terminal.length - TERMINAL_KEEP);
        bus.emit("printer.log", { id: this.id, lines: msg.lines });
        return;
      case "event":
        bus.emit("printer.event", { id: this.id, event: msg.event });
        return;
      case "checkpoint":
        this.options.jobs?.checkpoint(this.id, msg.checkpoint);
        return;
      case "reply": {
        const resolve = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        resolve?.(msg.result);
        return;
      }
      case "plugin":
        this.options.onPluginReport?.(this.id, msg.report);
        return;
      case "disposed":
        this.disposed?.();
        return;
    }
  }
}
