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
import { IN_PLUGIN_WHAT, type SerialPluginReport, type SerialPluginSpec } from "../plugins/serial/protocol.ts";
import { releaseTty } from "../transport/binding.ts";
import { workerUrl } from "../worker-url.ts";
import type { QuirksSource } from "../protocol/quirks-library.ts";
import type { VirtualPrinterOptionsInput } from "../virtual/options.ts";
import type { LogLine, Result } from "./controller.ts";
import type { PrinterRecord } from "./record.ts";
import { initialStatus, isJobRunning, type Interrupted, type Job, type PrinterStatus } from "./status.ts";
import type { ControllerMethod, FromWorker, ToWorker } from "./worker-protocol.ts";
import { IDLE, noted } from "./streaming-flags.ts";

const TERMINAL_KEEP = 300;
/** How often the watchdog asks the printer's Worker whether its thread is free. */
const PING_MS = 1000;
/**
 * Unanswered asks before the Worker counts as stuck: its thread never blocks for more than a few
 * milliseconds (the serial path waits at most 10 ms at a time), so this is code in an endless
 * loop — in practice a plugin's hook.
 */
const STUCK_AFTER_PINGS = 5;
/** The same while a plugin's modules load: compiling a large plugin takes a while on a small board. */
const STUCK_LOADING_PINGS = 30;
/** How long a stopped thread may take to exit before its replacement starts anyway. */
const EXIT_WAIT_MS = 2000;
/** Restarts and crashes of the thread remembered for the diagnosis. */
const RESTARTS_KEEP = 10;

export interface SessionOptions {
  record: PrinterRecord;
  quirks: QuirksSource[];
  filesDir: string;
  bus: Bus;
  virtual?: VirtualPrinterOptionsInput;
  traceDir?: string;
  /** Terminals offered as serial ports besides the system's, e.g. /dev/printer* (see listSerialPorts). */
  extraPorts?: readonly string[];
  /** Plugins with serial hooks to run in this printer's Worker from the start. */
  plugins?: SerialPluginSpec[];
  /** What the Worker reports about them (faults, load failures, log lines). */
  onPluginReport?: (printer: string, report: SerialPluginReport) => void;
  /** The jobs side: job plans, checkpoints (src/jobs/service.ts). */
  jobs?: JobLink;
  /** The host's streaming flags and this printer's slot in them (see WorkerInit). */
  streaming: { flags: Int32Array; slot: number };
}

export class PrinterSession {
  record: PrinterRecord;
  status: PrinterStatus;
  /** The latest terminal lines, oldest first. */
  terminal: LogLine[] = [];
  private worker!: Worker;
  private readonly pending = new Map<number, (r: Result<unknown>) => void>();
  private nextId = 1;
  private disposed: (() => void) | undefined;
  /** The SD print whose file the jobs side was asked about. */
  private planned: string | undefined;
  /** The plugins with serial hooks the Worker should run, as last told. */
  private specs: SerialPluginSpec[];
  /** Plugins by tag (index + 1), for the watchdog to name the one whose code was running. */
  private readonly pluginTags: string[] = [];
  /** Plugin versions (`id@generation`) that got stuck here: never run again by this session. */
  private readonly stuck = new Set<string>();
  /** Shared with the Worker: which plugin's code runs now (see IN_PLUGIN_WHAT). */
  private readonly inPlugin = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  private readonly watchdog: ReturnType<typeof setInterval>;
  private unanswered = 0;
  /** While a stuck thread is replaced: settles once the new one runs (calls wait for it). */
  private restarting: Promise<void> | undefined;
  /** The thread's restarts (it stopped answering) and crashes since the host started, the latest few (for the diagnosis). */
  readonly restarts: { at: number; kind: "restarted" | "crashed"; message: string }[] = [];

  constructor(private readonly options: SessionOptions) {
    this.record = options.record;
    this.status = initialStatus(options.record.id);
    this.specs = options.plugins ?? [];
    this.startWorker();
    this.watchdog = setInterval(() => this.checkWorker(), PING_MS);
    this.watchdog.unref?.();
  }

  /** Tells the Worker which plugins with serial hooks to run (the whole set). */
  setPlugins(specs: SerialPluginSpec[]): void {
    this.specs = specs;
    if (!this.restarting) this.worker.postMessage({ type: "plugins", specs: this.runnable() } satisfies ToWorker);
  }

  /** The plugins to run, tagged for the watchdog, without the ones that got stuck here. */
  private runnable(): SerialPluginSpec[] {
    return this.specs
      .filter((s) => !this.stuck.has(`${s.id}@${s.generation}`))
      .map((s) => {
        let tag = this.pluginTags.indexOf(s.id) + 1;
        if (tag === 0) tag = this.pluginTags.push(s.id);
        return { ...s, tag };
      });
  }

  private startWorker(): void {
    // A new thread streams nothing yet (the one before may have been stopped mid-print).
    Atomics.store(this.options.streaming.flags, this.options.streaming.slot, IDLE);
    const worker = new Worker(workerUrl("printers/worker.ts"));
    this.worker = worker;
    this.unanswered = 0;
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      if (this.worker === worker) this.onMessage(e.data);
    };
    worker.onerror = (e) => {
      // A crash in the worker must be visible, and must fail outstanding calls rather than hang them.
      console.error(`printer ${this.record.id}: worker error: ${e.message}`);
      this.noteRestart("crashed", `its thread failed: ${e.message}`);
      this.failPending(e.message, "Reconnect the printer.");
    };
    const options = this.options;
    const init: ToWorker = {
      type: "init",
      record: this.record,
      quirks: options.quirks,
      filesDir: options.filesDir,
      virtual: options.virtual,
      traceDir: options.traceDir,
      extraPorts: options.extraPorts,
      inPlugin: this.inPlugin,
      streaming: options.streaming,
    };
    worker.postMessage(init);
    const specs = this.runnable();
    if (specs.length) worker.postMessage({ type: "plugins", specs } satisfies ToWorker);
  }

  /** Disposed: its Worker is gone, nothing it is asked gets an answer. */
  private ended = false;

  private failPending(message: string, hint: string): void {
    for (const resolve of this.pending.values()) resolve({ ok: false, error: { code: "internal", message, hint } });
    this.pending.clear();
  }

  /** The watchdog's tick: asks the Worker; one that leaves {@link STUCK_AFTER_PINGS} asks unanswered (while not loading a plugin) is stuck. */
  private checkWorker(): void {
    if (this.restarting) return;
    const loading = Atomics.load(this.inPlugin, 0) === 0 && Atomics.load(this.inPlugin, 2) !== 0;
    if (this.unanswered >= (loading ? STUCK_LOADING_PINGS : STUCK_AFTER_PINGS)) return this.restartStuckWorker();
    this.unanswered++;
    this.worker.postMessage({ type: "ping" } satisfies ToWorker);
  }

  /**
   * The printer's thread stopped answering: stops it and starts it again, without the plugin whose
   * code was running (which is disabled across the host, with a notice). A print it was streaming is
   * interrupted and offered for resuming, as after a crash; a link that was up is opened again.
   */
  private restartStuckWorker(): void {
    const hookTag = Atomics.load(this.inPlugin, 0);
    const tag = hookTag || Atomics.load(this.inPlugin, 2);
    const what = hookTag ? IN_PLUGIN_WHAT[Atomics.load(this.inPlugin, 1)] : "code at load";
    const plugin = tag ? this.pluginTags[tag - 1] : undefined;
    const spec = plugin ? this.specs.find((s) => s.id === plugin) : undefined;
    const stopped = this.worker;
    const exited = new Promise<void>((resolve) => stopped.addEventListener("close", () => resolve(), { once: true }));
    stopped.terminate();
    this.inPlugin.fill(0);
    const port = this.status.connection?.port ?? this.record.port;
    const printing = !!this.status.job && isJobRunning(this.status.job.state);
    const wasUp = this.status.state !== "closed" && this.status.state !== "error";
    const seconds = (PING_MS * this.unanswered) / 1000;
    const culprit = spec ? `the plugin ${spec.id} (its ${what})` : "code on it";
    const message = `The printer's thread stopped answering for ${seconds} s — ${culprit} never returned — and was restarted${printing ? "; the print was interrupted" : ""}.`;
    console.error(`printer ${this.record.id}: ${message}`);
    this.noteRestart("restarted", message);
    this.failPending(message, "Try again.");
    if (spec) {
      this.stuck.add(`${spec.id}@${spec.generation}`);
      this.options.onPluginReport?.(this.id, { kind: "hung", plugin: spec.id, message: `its ${what} never returned (for ${seconds} s) on printer ${this.record.id}, whose thread was restarted without it${printing ? "; the print there was interrupted" : ""}` });
    }
    const line: LogLine = { t: Date.now(), dir: "info", text: message };
    this.terminal.push(line);
    this.options.bus.emit("printer.log", { id: this.id, lines: [line] });
    // The stopped thread can no longer end its print: it ends here, so its history row, its queue
    // and the clients see it failed (why: the hung hook), and resuming it is a print of its own.
    const job = this.status.job;
    if (printing && job) {
      const failed = { ...job, state: "failed" as const, endedAt: Date.now(), reason: message };
      this.options.bus.emit("printer.event", { id: this.id, event: { type: "job", state: "failed", file: job.file, reason: message, job: failed, progress: this.status.progress } });
    }
    this.status = { ...initialStatus(this.record.id), problem: { code: "printer_thread_restarted", message, hint: printing ? "Resume the print from the banner, or discard it." : wasUp ? "The printer is being connected again." : "Nothing else was affected." } };
    this.options.bus.emit("printer.status", { id: this.id, status: this.status });
    // The new thread starts once the stopped one has exited: its teardown closes descriptors, and
    // one whose number the new thread's tty had taken meanwhile would be closed under it (EBADF).
    this.restarting = Promise.race([exited, Bun.sleep(EXIT_WAIT_MS)]).then(() => {
      // What the stopped thread left open on the tty is the process's: close it, or the port stays busy.
      if (this.record.transport === "serial") releaseTty(port);
      this.restarting = undefined;
      this.startWorker();
      // Its scripts and profile, and the interrupted print from its last checkpoint.
      this.options.jobs?.opened(this);
      if (wasUp) void this.connect();
    });
  }

  private noteRestart(kind: "restarted" | "crashed", message: string): void {
    this.restarts.push({ at: Date.now(), kind, message });
    if (this.restarts.length > RESTARTS_KEEP) this.restarts.shift();
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
  startJob = (file: string, from?: ResumeFrom): Promise<Result<null>> => {
    const refused = this.options.jobs?.unprintable(file);
    if (refused) return Promise.resolve({ ok: false, error: refused });
    return this.call<null>("startJob", file, this.options.jobs?.planFor(this.id, file, (plan) => void this.call("replan", file, plan)), from);
  };
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
    const refused = this.options.jobs?.unprintable(file);
    if (refused) return { ok: false, error: refused } as const;
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
    clearInterval(this.watchdog);
    await this.restarting;
    const done = new Promise<void>((resolve) => (this.disposed = resolve));
    this.worker.postMessage({ type: "dispose" } satisfies ToWorker);
    await Promise.race([done, Bun.sleep(3000)]);
    this.worker.terminate();
    this.ended = true;
    // Calls the Worker never answered (a start racing the printer's removal) must not wait for ever.
    this.failPending("The printer was removed, or Layerline stopped, before it answered.", "Try again (on a printer that is still there).");
    Atomics.store(this.options.streaming.flags, this.options.streaming.slot, IDLE);
  }

  /** An SD print started (here or on the printer): what the host knows of its file goes to the Worker. */
  private planSdPrint(job: Job): void {
    this.planned = job.id;
    const card = this.status.sd.files.find((f) => f.name === job.file || f.longName === job.file) ?? { name: job.file, size: job.size };
    const plan = this.options.jobs?.sdPlanFor(this.id, card);
    if (plan) void this.call<null>("adoptPlan", job.id, plan);
  }

  private call<T>(method: ControllerMethod, ...args: unknown[]): Promise<Result<T>> {
    if (this.ended) return Promise.resolve({ ok: false, error: { code: "internal", message: "The printer was removed, or Layerline is stopping.", hint: "Try again (on a printer that is still there)." } });
    if (this.restarting) return this.restarting.then(() => this.call<T>(method, ...args));
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
        noted(this.options.streaming.flags, this.options.streaming.slot, msg.status);
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
      case "pong":
        this.unanswered = 0;
        return;
      case "disposed":
        this.disposed?.();
        return;
    }
  }
}
