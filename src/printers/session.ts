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
import { duplicateFd } from "../transport/termios.ts";
import { workerUrl } from "../worker-url.ts";
import type { QuirksSource } from "../protocol/quirks-library.ts";
import type { VirtualPrinterOptionsInput } from "../virtual/options.ts";
import type { LinkTakeover, LogLine, Result } from "./controller.ts";
import { sentLines, takeover, type Takeover } from "./continuation.ts";
import { handoffBuffer, HandoffWriter, readHandoff } from "./handoff.ts";
import type { PrinterRecord } from "./record.ts";
import { initialStatus, isJobRunning, type Interrupted, type Job, type PrinterStatus } from "./status.ts";
import { wentOnNote as wentOn } from "./continuation.ts";
import type { ControllerMethod, FromWorker, ToWorker } from "./worker-protocol.ts";
import { IDLE, noted } from "./streaming-flags.ts";

const TERMINAL_KEEP = 300;
/** How often the watchdog asks the printer's Worker whether its thread is free. */
const PING_MS = 250;
/**
 * How long the Worker may leave the asks unanswered before it counts as stuck: its thread never
 * blocks for more than a few milliseconds (the serial path waits at most 10 ms at a time), so
 * this is code in an endless loop — in practice a plugin's hook. Counted in asks, not by the
 * clock, so a main thread that was busy itself never takes its own delay for the Worker's.
 */
const STUCK_MS = 5000;
/**
 * The same while a host print streams: then the thread never blocks for more than ~10 ms (a
 * receive slice) or a hook's budget (50 ms), so 1.5 s of silence is 30 budgets and no hiccup
 * (GC, a busy machine) — while the printer's planner holds only about a second of moves, after
 * which the nozzle sits on the part until the print goes on: every second counts there.
 */
const STUCK_PRINTING_MS = 1500;
/** The same while a plugin's modules load: compiling a large plugin takes a while on a small board. */
const STUCK_LOADING_MS = 30_000;
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
  /** Shared with the Worker: the link's state, for the thread that replaces a stuck one (handoff.ts). */
  private readonly handoff = handoffBuffer();
  private readonly watchdog: ReturnType<typeof setInterval>;
  private unanswered = 0;
  /** The Worker has not answered an ask yet (it is starting): the long limit holds until it has. */
  private fresh = true;
  /** What the thread took over from a stopped one, until it has (the printer answered that thread's lines) or could not. */
  private takingOver: LinkTakeover | undefined;
  /** While a stuck thread is replaced: settles once the new one runs (calls wait for it). */
  private restarting: Promise<void> | undefined;
  /** The thread's restarts (it stopped answering) and crashes since the host started, the latest few (for the diagnosis). */
  readonly restarts: { at: number; kind: "restarted" | "crashed"; message: string }[] = [];
  /** The nice value of the printer's thread (src/printers/priority.ts); null: not known yet or not a Worker. */
  threadNice: number | null = null;

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
    new HandoffWriter(this.handoff).clear();
    const worker = new Worker(workerUrl("printers/worker.ts"));
    this.worker = worker;
    this.unanswered = 0;
    this.fresh = true;
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
      handoff: this.handoff,
    };
    worker.postMessage(init);
    const specs = this.runnable();
    if (specs.length) worker.postMessage({ type: "plugins", specs } satisfies ToWorker);
  }

  /** Disposed: its Worker is gone, nothing it is asked gets an answer. */
  private ended = false;

  private failPending(message: string, hint: string, code = "internal"): void {
    for (const resolve of this.pending.values()) resolve({ ok: false, error: { code, message, hint } });
    this.pending.clear();
  }

  /** The watchdog's tick: asks the Worker; one that leaves the asks of {@link STUCK_MS} (or the other limits) unanswered is stuck. */
  private checkWorker(): void {
    if (this.restarting) return;
    const loading = Atomics.load(this.inPlugin, 0) === 0 && Atomics.load(this.inPlugin, 2) !== 0;
    const job = this.status.job;
    const limit = loading ? STUCK_LOADING_MS : !this.fresh && job?.source === "host" && isJobRunning(job.state) ? STUCK_PRINTING_MS : STUCK_MS;
    if (this.unanswered * PING_MS >= limit) return this.restartStuckWorker();
    this.unanswered++;
    this.worker.postMessage({ type: "ping" } satisfies ToWorker);
  }

  /**
   * The printer's thread stopped answering: stops it and starts it again, without the plugin whose
   * code was running (which is disabled across the host, with a notice). A serial link that was up
   * is taken over as it is — its tty stays open (reopening a USB port drops DTR, which resets many
   * printers) — and a print goes on as the same job from where it was (continuation.ts); where that
   * cannot be done safely the print is interrupted and offered for resuming, saying why.
   */
  private restartStuckWorker(): void {
    const hookTag = Atomics.load(this.inPlugin, 0);
    const tag = hookTag || Atomics.load(this.inPlugin, 2);
    const what = hookTag ? IN_PLUGIN_WHAT[Atomics.load(this.inPlugin, 1)] : "code at load";
    const plugin = tag ? this.pluginTags[tag - 1] : undefined;
    const spec = plugin ? this.specs.find((s) => s.id === plugin) : undefined;
    const seconds = (PING_MS * this.unanswered) / 1000;
    const hungAt = Date.now() - seconds * 1000;
    const culprit = spec ? `the plugin ${spec.id} (its ${what})` : "code on it";
    const status = this.status;
    const job = status.job && isJobRunning(status.job.state) ? status.job : null;
    const port = status.connection?.port ?? this.record.port;
    const wasUp = status.state !== "closed" && status.state !== "error";
    // What the thread left on the link, read while it can still change nothing.
    const handoff = readHandoff(this.handoff);
    const checkpoint = job ? this.options.jobs?.interrupted(this.id) : undefined;
    let plan = takeover({
      transport: this.record.transport,
      linkUp: status.firmware !== null && (status.state === "operational" || status.state === "printing" || status.state === "paused"),
      job: job && { id: job.id, state: job.state, source: job.source, resumed: job.resumedFrom !== null },
      handoff,
      checkpoint: checkpoint && { jobId: checkpoint.jobId, offset: checkpoint.offset, layer: checkpoint.layer },
    });
    // The tty's descriptor, taken before the thread is stopped and kept after. (Bun 1.4's teardown
    // of a Worker closes the descriptor its file stream reads through, but was seen to leave the
    // one node:fs opened; a copy of our own does not depend on that, and releaseTty below closes
    // whatever the thread left but this copy.)
    let fd = -1;
    if (plan.keepLink) {
      try {
        fd = duplicateFd(handoff.fd);
      } catch (e) {
        plan = { keepLink: false, job: job ? { go: "end", why: `its serial port could not be kept open (${(e as Error).message})` } : null };
      }
    }
    const stopped = this.worker;
    const exited = new Promise<void>((resolve) => stopped.addEventListener("close", () => resolve(), { once: true }));
    stopped.terminate();
    this.inPlugin.fill(0);
    const goesOn = plan.job !== null && plan.job.go !== "end";
    const endsWhy = plan.job?.go === "end" ? plan.job.why : null;
    const outcome = goesOn ? "; the print goes on" : endsWhy ? `; the print was interrupted: it could not go on because ${endsWhy}` : "";
    const message = `The printer's thread stopped answering for ${seconds} s — ${culprit} never returned — and was restarted${outcome}.`;
    console.error(`printer ${this.record.id}: ${message}`);
    this.noteRestart("restarted", message);
    // Not the caller's fault nor a bug: the thread that had the call was stopped (a plugin's code stuck in it).
    this.failPending(message, "Try again.", "printer_thread_restarted");
    if (spec) {
      this.stuck.add(`${spec.id}@${spec.generation}`);
      const there = goesOn ? "; the print there went on" : endsWhy ? "; the print there was interrupted" : "";
      const print = goesOn ? ("went on" as const) : endsWhy ? ("interrupted" as const) : undefined;
      this.options.onPluginReport?.(this.id, { kind: "hung", plugin: spec.id, message: `its ${what} never returned (for ${seconds} s) on printer ${this.record.id}, whose thread was restarted without it${there}`, ...(print ? { print } : {}) });
    }
    this.log(message);
    // A print that cannot go on ends here, so its history row, its queue and the clients see it
    // failed (why: the hung hook), and resuming it is a print of its own.
    if (job && !goesOn) this.endJobHere(job, message);
    const taking = fd >= 0 && port ? this.takeoverFor(fd, port, plan, handoff, what === "receive hook", culprit, hungAt, seconds) : undefined;
    this.takingOver = undefined;
    const hint = goesOn ? "The print goes on once the new thread has taken the link over." : job ? "Resume the print from the banner, or discard it." : wasUp ? "The printer is being connected again." : "Nothing else was affected.";
    this.status = taking ? { ...status, problem: { code: "printer_thread_restarted", message, hint } } : { ...initialStatus(this.record.id), problem: { code: "printer_thread_restarted", message, hint } };
    if (job && !goesOn) this.status = { ...this.status, job: { ...job, state: "failed", endedAt: Date.now(), reason: message } };
    this.options.bus.emit("printer.status", { id: this.id, status: this.status });
    // The new thread starts once the stopped one has exited: its teardown closes descriptors, and
    // one whose number the new thread's tty had taken meanwhile would be closed under it (EBADF).
    this.restarting = Promise.race([exited, Bun.sleep(EXIT_WAIT_MS)]).then(() => {
      // What the stopped thread left open on the tty is the process's: closed (but the copy taken
      // over), or the port stays busy.
      if (this.record.transport === "serial") releaseTty(port, fd);
      this.restarting = undefined;
      this.startWorker();
      if (taking) this.inheritRecord(taking, handoff);
      // Its scripts and profile; the interrupted print (from its last checkpoint) unless it goes on.
      this.options.jobs?.opened(this, !goesOn);
      if (taking) void this.takeOver(taking, job, taking.port);
      else if (wasUp) void this.connect();
    });
  }

  /** What the new thread gets to take the link (and the print) over. */
  private takeoverFor(fd: number, port: string, plan: Takeover, handoff: ReturnType<typeof readHandoff>, receiving: boolean, culprit: string, hungAt: number, seconds: number): LinkTakeover {
    const s = this.status;
    const f = s.firmware!;
    const { missing: _, again, ...sent } = sentLines(handoff);
    const t: LinkTakeover = {
      fd,
      port,
      baud: s.connection?.baud ?? this.record.baud,
      link: { profile: f.profile, overlays: f.overlays, capabilities: f.capabilities, firmwareName: f.name, ...sent },
      again,
      // Stuck in a receive hook, it had read past the line it was taking: where the next read starts is not known.
      partial: receiving ? null : handoff.partial,
      temperatures: s.temperatures,
      sd: s.sd,
      limits: s.limits,
      // Or an earlier takeover's print had ended, and the thread stopped before running that script.
      failed: plan.job?.go === "end" || this.takingOver?.failed === true,
    };
    const job = s.job;
    if (job && (plan.job?.go === "host" || plan.job?.go === "sd")) {
      const printedBefore = (s.progress?.printTime ?? 0) + seconds;
      t.job = { job, progress: s.progress, printedBefore, culprit, hungAt };
      // The thread stopped while it still took the print over from another: that one's hang is told too once the print goes on.
      const before = this.takingOver?.job;
      if (before?.job.id === job.id) t.job.earlier = [...(before.earlier ?? []), { culprit: before.culprit, hungAt: before.hungAt }];
      if (plan.job.go === "sd") t.job.sd = { pos: s.progress?.bytesSent ?? 0 };
      else t.job.host = { offset: handoff.offset, checkpoint: this.options.jobs!.interrupted(this.id)!, plan: this.options.jobs!.planFor(this.id, job.file) };
    }
    return t;
  }

  /**
   * The new thread's record starts as the stopped thread left its own, before the new thread runs
   * anything: stopped in turn before the printer has answered the lines it took over (a second
   * plugin that hangs), it leaves them — the bytes written, the lines owed, where the file stands
   * — and what it wrote since, for the thread after it to take over from there.
   */
  private inheritRecord(t: LinkTakeover, left: ReturnType<typeof readHandoff>): void {
    const record = new HandoffWriter(this.handoff);
    record.tty(t.fd);
    record.inherit(left.sent, left.sentWhole);
    record.acked(t.link.lastAcked, 0);
    // Its engine counts from 0 the lines it takes over: those are owed.
    record.written(t.link.lastWritten, t.job?.host ? t.job.host.offset : -1, t.link.inFlight.length);
    if (t.link.busy) record.busy();
    record.continuable(t.job?.host !== undefined);
  }

  /** The new thread takes the link over; a print that could not go on after all is offered for resuming. */
  private async takeOver(t: LinkTakeover, job: Job | null, port: string): Promise<void> {
    // An SD print's plan is asked for again by the new thread's first status.
    this.planned = undefined;
    this.takingOver = t;
    const result = await this.call<{ ms: number }>("adopt", t);
    // This thread was stopped too while it took over (another hung plugin): the one replacing it takes over from there.
    if (!result.ok && result.error.code === "printer_thread_restarted") return;
    if (this.takingOver === t) this.takingOver = undefined;
    if (result.ok) {
      if (t.job) for (const h of [...(t.job.earlier ?? []), t.job]) this.notice("warning", wentOn(h.culprit, (Date.now() - h.hungAt) / 1000));
      return;
    }
    this.log(result.error.message);
    if (job && t.job) {
      // Ended by the new thread (its checkpoint kept), unless it never took the job up.
      if (this.status.job?.id !== job.id) this.endJobHere(job, `${result.error.message}`);
      this.options.jobs?.opened(this);
      this.notice("error", `The print of ${job.file} was interrupted: ${result.error.message}`);
    }
    if (this.status.state === "error" || this.status.state === "closed") {
      // The descriptor could not be taken up: open the port afresh, as after any restart.
      releaseTty(port);
      void this.connect();
    }
  }

  /** Ends a job the stopped thread can no longer end: its row, its queue and the clients see it failed. */
  private endJobHere(job: Job, reason: string): void {
    const failed = { ...job, state: "failed" as const, endedAt: Date.now(), reason };
    this.options.bus.emit("printer.event", { id: this.id, event: { type: "job", state: "failed", file: job.file, reason, job: failed, progress: this.status.progress } });
  }

  private log(text: string): void {
    const line: LogLine = { t: Date.now(), dir: "info", text };
    this.terminal.push(line);
    this.options.bus.emit("printer.log", { id: this.id, lines: [line] });
  }

  private notice(level: "info" | "warning" | "error", message: string): void {
    this.log(message);
    this.options.bus.emit("printer.event", { id: this.id, event: { type: "notice", level, message } });
  }

  /** Remembers a restart or crash of the thread for the diagnosis. */
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
        this.fresh = false;
        return;
      case "priority":
        this.threadNice = msg.nice;
        return;
      case "disposed":
        this.disposed?.();
        return;
    }
  }
}
