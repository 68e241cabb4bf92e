/**
 * The imperative shell around one printer's protocol engine: it owns the transport, the clock,
 * one timer and the job's file source, and keeps the printer's status. It runs inside the
 * printer's Worker (`worker.ts`) so HTTP load, analysis and plugins never delay the next line.
 *
 * A job is either streamed from the host's files (`host`) or printed by the firmware from its SD
 * card (`sd`); an upload streams a file into the card between M28 and M29. Every line sent and
 * received goes to the flight recorder.
 *
 * Plugins' serial hooks sit on the path (`LinePipeline`): everything the host asks the printer to
 * run — typed commands, job lines, SD commands, scripts — passes their queue and send stages, and
 * every received line their receive stage, before the engine. The engine's own traffic (handshake,
 * polls, resends, M112) and the bytes of a file copied to the SD card (stored, not run) do not.
 */
import { machineView } from "../plugins/serial/machine-view.ts";
import { LinePipeline, type LineHooks } from "../plugins/serial/pipeline.ts";
import type { MachineState } from "../plugins/sdk.ts";
import { commandCode, ProtocolEngine, type AdoptedLink, type EngineEvent, type LinkProblem } from "../protocol/engine.ts";
import type { QuirksLibrary } from "../protocol/quirks-library.ts";
import { terminalKind, type TerminalKind } from "../protocol/terminal-kind.ts";
import { BASE_PROFILE } from "../protocol/quirks-library.ts";
import { LineSplitter } from "../protocol/line-splitter.ts";
import { isPrintableListing, shortName, type SdMessage } from "../protocol/sd.ts";
import { detectPrinter } from "../transport/detect.ts";
import { SerialTransport } from "../transport/serial.ts";
import { WRITTEN } from "../transport/binding.ts";
import { MachineTracker } from "../jobs/machine-state.ts";
import { HandoffWriter } from "./handoff.ts";
import { lineNumberAt, stoppedThread, wentOnNote } from "./continuation.ts";
import { TransportError, type Transport } from "../transport/transport.ts";
import { VirtualTransport } from "../virtual/transport.ts";
import type { VirtualPrinterOptionsInput } from "../virtual/options.ts";
import { EMPTY_PLAN, firstTooLong, lineTooLongProblem, type Checkpoint, type JobPlan, type ResumeFrom } from "../jobs/plan.ts";
import { refusedUnhomed, unhomedReason } from "../jobs/recovery.ts";
import { DEFAULT_SCRIPTS, checkScript, pluginsHave, type ScriptName, type Scripts } from "../jobs/scripts.ts";
import { DEFAULT_PROFILE, type PrinterProfile } from "./profile.ts";
import { render, type Value } from "../jobs/template.ts";
import { CardObjects, OBJECT_TAG } from "./card-objects.ts";
import { FlightRecorder, type TraceDirection } from "./flight-recorder.ts";
import { GcodeSource, type SourceLine } from "./gcode-source.ts";
import { JobRun } from "./job-run.ts";
import { LinkStats } from "./link-stats.ts";
import { PromptTracker } from "./prompt.ts";
import type { PrinterRecord } from "./record.ts";
import { initialStatus, isJobRunning, type Interrupted, type Job, type PrinterStatus, type Problem, type Progress } from "./status.ts";

/**
 * What a new printer thread gets to take over the link, and the print, of one the watchdog
 * stopped (see session.ts and continuation.ts): the tty's descriptor, the firmware as the link
 * knew it, and what the stopped thread left on the link (handoff.ts).
 */
export interface LinkTakeover {
  fd: number;
  port: string;
  baud: number;
  link: AdoptedLink;
  /** How many lines in flight were copies sent again at the printer's request (for what the terminal says). */
  again: number;
  /** The start of a reply the stopped thread had read without its end; null: unknown (the first line is dropped). */
  partial: Uint8Array | null;
  /** What the status knew that the new thread would have to ask again. */
  temperatures: PrinterStatus["temperatures"];
  sd: PrinterStatus["sd"];
  limits: PrinterStatus["limits"];
  /** The print that goes on as the same job, and what its record says of the restart. */
  job?: {
    job: Job;
    progress: Progress | null;
    printedBefore: number;
    /** Who hung (in words) and when (ms since 1970), for what the job's record says. */
    culprit: string;
    hungAt: number;
    /** Earlier hangs whose thread was still taking the link over when this one stopped (the print had not gone on from them yet), oldest first. */
    earlier?: { culprit: string; hungAt: number }[];
    /** A host print: the end of the last file line written whole, the job's checkpoint and plan. */
    host?: { offset: number; checkpoint: Checkpoint; plan: JobPlan };
    /** An SD print: where the firmware was in its file. */
    sd?: { pos: number };
  };
  /** A print ended with the restart: its after-failure script runs once the link is taken over. */
  failed?: boolean;
}

/** One line of the terminal: what was sent or received, or a note from the host. */
export interface LogLine {
  t: number;
  dir: "send" | "recv" | "info";
  text: string;
  /** Periodic chatter the terminal may hide (temperature, SD status, position, wait, busy). */
  kind?: TerminalKind;
}

/** Things worth telling beyond the status: job transitions and notices. */
export type PrinterEvent =
  /** A job's transition, with the job and its progress as they are then (history and the queue read them). */
  | { type: "job"; state: "started" | "paused" | "resumed" | "done" | "cancelled" | "failed"; file: string; reason?: string; job: Job; progress: Progress | null }
  | { type: "notice"; level: "info" | "warning" | "error"; message: string }
  | { type: "firmwareError"; text: string }
  /** `//action:start` (a "start host print" on the printer's screen): the printer's queue starts its next file. */
  | { type: "startRequested" }
  /** The printer began a layer of the job (acknowledged, or reached on the SD card): timelapses capture on it. */
  | { type: "layer"; file: string; current: number; count: number; z: number };

/** What the controller publishes; the worker posts these to the main thread as they are. */
export type ControllerOutput =
  | { type: "status"; status: PrinterStatus }
  | { type: "log"; lines: LogLine[] }
  | { type: "event"; event: PrinterEvent }
  /** What a crashed host needs to resume the running job (null: no job to resume any more). */
  | { type: "checkpoint"; checkpoint: Checkpoint | null };

/** Either a value or a problem in words; commands never throw across the worker boundary. */
export type Result<T = null> = { ok: true; value: T } | { ok: false, error: Problem };

export interface ControllerOptions {
  record: PrinterRecord;
  library: QuirksLibrary;
  /** Root of the files folder; job paths are relative to it. */
  filesDir: string;
  /** Options for the built-in virtual printer (time scale, faults). */
  virtual?: VirtualPrinterOptionsInput;
  /** Where the flight recorder writes its rotating log; no file without it. */
  traceDir?: string;
  /** Terminals offered as serial ports besides the system's, e.g. /dev/printer* (see listSerialPorts). */
  extraPorts?: readonly string[];
  /** Plugins' serial-path hooks (loaded in this Worker); see src/plugins/serial/. */
  hooks?: LineHooks;
  /** Where this thread leaves the link's state for a thread that may have to replace it (handoff.ts). */
  handoff?: SharedArrayBuffer;
  publish(output: ControllerOutput): void;
}

/** A file streamed through the engine: a host print, or an upload to the SD card. */
interface ActiveStream {
  kind: "print" | "upload";
  file: string;
  source: GcodeSource;
  /** End offset of the last line handed to the engine. */
  queuedTo: number;
  /** End offset of the last line the firmware acknowledged. */
  ackedTo: number;
  linesSent: number;
  /** End offset of the last line read from the file (cancelling an object applies from there). */
  fedTo: number;
  /** Upload: the name on the card, whether the firmware has opened it, and whether M29 has gone out. */
  cardName?: string;
  writing?: boolean;
  closing?: boolean;
}

/** An SD print the firmware runs: its progress comes from M27 or the auto-report. */
interface SdJob {
  name: string;
  pos: number;
  size: number;
  /** Consecutive `Not SD printing` while we believe it prints (OctoPrint ends the job after 2). */
  notPrinting: number;
  started: boolean;
}

const PUBLISH_MS = 200;
/** How often a running job's checkpoint goes to the main thread to be stored. */
const CHECKPOINT_MS = 1000;
// How long the streaming thread waits in poll(2) for an answer before it leaves it to the event
// loop, and how long it keeps taking answers that way before the loop's turn (messages, timers).
// Not shorter than the scheduler's tick (4 ms at HZ=250): a poll(2) timer due before the next tick
// reprograms the CPU's timer on every call, which cost ~20 % more CPU per line (bench/stream.ts).
const ANSWER_WAIT_MS = 10;
const RECEIVE_SLICE_MS = 10;
// Terminal lines per status push (5 a second): every line up to 250 lines/s, a real print's pace;
// beyond, the latest (every browser and app gets each push, a Pi's Wi-Fi too).
const LOG_KEEP = 50;
const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = (code: string, message: string, hint: string): Result<never> => ({ ok: false, error: { code, message, hint } });
const notConnected = () => fail("not_operational", "The printer is not connected.", "Connect it first.");

export class PrinterController {
  readonly status: PrinterStatus;
  private transport: Transport | undefined;
  private engine: ProtocolEngine | undefined;
  private stream: ActiveStream | undefined;
  private sdJob: SdJob | undefined;
  private readonly lines: LineSplitter;
  private readonly handoff: HandoffWriter | undefined;
  /** Writes the kernel has not taken whole yet: what the handoff says was written waits for them. */
  private writesPending = 0;
  /** A link taken over from a stopped thread, until its earlier lines are answered (see `adopt`). */
  private takingOver: { settle: (r: Result<{ ms: number }>) => void; since: number; culprit: string | null; hungAt: number; earlier: { culprit: string; hungAt: number }[]; offset: number; failed: boolean; why: string | null } | undefined;
  /** The stopped thread's unfinished reply was too long to keep: the first line received is its rest. */
  private dropFirstLine = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  /** The flight recorder's line count at the last publish: the terminal gets the lines after it. */
  private logSeen = 0;
  private publishTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly encoder = new TextEncoder();
  /** The last write in progress; closing waits for it. */
  private lastWrite: Promise<void> = Promise.resolve();
  private written: Promise<void> | undefined;
  // In receiveWhileStreaming(): the bytes it takes come through onData, which must not recurse.
  private receivingNow = false;
  /**
   * The time of the serial step being handled (bytes in, a flush), read once for it: a line goes
   * through several stages that each want the time, and reading the clock costs ~35 ns in a VM.
   */
  private stepAt: number | undefined;
  /** When the last bytes came in. */
  private dataAt = 0;
  private readonly recorder: FlightRecorder;
  private readonly linkStats = new LinkStats();
  private readonly prompt = new PromptTracker();
  private window: number;
  private virtualPrinter: VirtualTransport | undefined;
  /** Card names (upper case) of copies that stopped part-way: marked in the listing, never printed. */
  private readonly incomplete = new Set<string>();
  /** Card name of the last file the firmware opened (for an SD print started on its own display). */
  private lastOpened: { name: string; size: number } | undefined;
  /** Plugin stages out (commands, job lines, scripts → engine) and in (received lines → engine). */
  private readonly outgoing: LinePipeline;
  private readonly incoming: LinePipeline;
  /** Lines the engine accepted from the outgoing stages (a command may become several, or none). */
  private accepted = 0;
  /** The running job's bookkeeping (host or SD print), and the plan it started with (restart). */
  private run: JobRun | undefined;
  /** A view of the job's tracker, made once per job streamed from the host's files (see `machine`). */
  private machineState: MachineState | null = null;
  private plan: JobPlan = EMPTY_PLAN;
  /** What runs once everything sent so far is acknowledged (the next step of pausing, cancelling…). */
  private settled: (() => void) | undefined;
  private lastCheckpoint = 0;
  /** The user's scripts and the printer profile they read. */
  private scripts: Scripts = { ...DEFAULT_SCRIPTS };
  private profile: PrinterProfile = DEFAULT_PROFILE;
  /**
   * A resumed print between its lift and the rest of its prologue (no file line goes out), and
   * the interrupted print to offer again if the printer refuses the lift (src/jobs/recovery.ts).
   */
  private resuming: { restore: string[]; interrupted: Interrupted | null } | undefined;
  /** A host print's file is being opened (`startJob` awaits it): no other job may start meanwhile. */
  private opening = false;
  /** Objects cancelled in SD prints by the firmware's command. */
  private readonly cardObjects = new CardObjects({
    profile: () => this.engine?.profile.cancelObject,
    firmware: () => this.status.firmware,
    cancelled: () => this.status.job?.objects.filter((o) => o.cancelled).map((o) => o.name) ?? [],
    send: (line, tag) => {
      this.outgoing.push(line, tag, "command");
      this.flush();
    },
    mayAsk: () => this.sdJob !== undefined && this.isConnected(),
    skips: (names) => this.markCancelled(names),
    notice: (message) => this.emit({ type: "notice", level: "error", message }),
  });

  constructor(private readonly options: ControllerOptions) {
    this.status = initialStatus(options.record.id);
    this.window = options.record.window;
    this.status.link.maxWindow = this.window;
    this.recorder = new FlightRecorder({ name: options.record.id, dir: options.traceDir });
    const handoff = options.handoff ? new HandoffWriter(options.handoff) : undefined;
    this.handoff = handoff;
    this.lines = new LineSplitter(handoff ? { bytes: handoff.partialBytes, publish: (n) => handoff.partial(n) } : undefined);
    const resume = () => this.flush();
    this.outgoing = new LinePipeline(options.hooks, ["queue", "send"], (line, tag) => this.enqueueLine(line, tag), resume);
    this.incoming = new LinePipeline(options.hooks, ["receive"], (line) => this.engine?.receive(line, this.now()), resume);
  }

  /** Opens the transport and starts the handshake; resolves once the port is open. */
  async connect(): Promise<Result> {
    if (this.transport) return fail("already_connected", "The printer is already connected.", "Disconnect first to change the connection.");
    this.setState("connecting", null);
    let transport: Transport;
    try {
      transport = await this.makeTransport();
    } catch (e) {
      return this.openFailed(e, "auto");
    }
    this.transport = transport;
    this.cardObjects.missing = false;
    this.note(`Connecting to ${transport.description}`);
    try {
      await transport.open({
        data: (chunk) => this.onData(chunk),
        closed: (error) => this.onTransportClosed(error),
      });
    } catch (e) {
      this.transport = undefined;
      return this.openFailed(e, transport.description);
    }
    if (transport instanceof SerialTransport) this.handoff?.tty(transport.fd ?? -1);
    const profile = this.options.library.get(BASE_PROFILE);
    this.engine = new ProtocolEngine({ quirks: profile, library: this.options.library, window: this.window });
    this.status.limits = null;
    this.linkStats.reset();
    this.engine.open(performance.now());
    this.flush();
    return ok(null);
  }

  /**
   * Closes the link. A running job fails (as OctoPrint records it: the print did not finish, and
   * nobody chose to stop the print itself), with who disconnected in `reason`; no failure script
   * runs, as the link closes at once.
   */
  async disconnect(reason = "The printer was disconnected by the user during the print."): Promise<Result> {
    if (this.isJobActive()) this.endJob("failed", reason, false);
    this.endUpload("The printer was disconnected.");
    await this.shutdownLink();
    this.setState("closed", null);
    return ok(null);
  }

  /** Sends commands typed by the user (terminal, API). */
  send(commands: string[]): Result<{ queued: number }> {
    const engine = this.engine;
    if (!engine || !this.isConnected()) return notConnected();
    // An emergency stop acts whatever else goes on, an upload to the SD card included.
    if (commands.some((c) => commandCode(c.trim()) === "M112")) {
      this.emergencyStop();
      return ok({ queued: 1 });
    }
    if (this.stream?.kind === "upload") {
      return fail("busy", "A file is being copied to the SD card; commands now would end up in that file.", "Wait until the upload is done.");
    }
    const before = this.accepted;
    for (const c of commands) this.command(c);
    this.flush();
    return ok({ queued: this.accepted - before });
  }

  /** M112 now, bypassing every queue; the job (if any) fails. */
  emergencyStop(): Result {
    if (!this.engine) return notConnected();
    if (this.isJobActive()) this.endJob("failed", "Emergency stop.", false);
    this.endUpload("Emergency stop.", false);
    this.engine.emergencyStop(performance.now());
    this.flush();
    return ok(null);
  }

  /**
   * Starts printing `file` (relative to the files folder) from the host, with what the main
   * thread knows about it (`plan`); `from` resumes an interrupted print part-way through.
   */
  async startJob(file: string, plan: JobPlan = EMPTY_PLAN, from?: ResumeFrom): Promise<Result> {
    const busy = this.readyForJob();
    if (busy) return busy;
    const interrupted = this.status.interrupted;
    // A line the firmware cannot read whole would end the print part-way: refuse it now.
    const longLines = plan.longLines?.filter((l) => l.line >= (from?.line ?? 1));
    const over = longLines && firstTooLong(longLines, this.engine!, this.engine!.nextLineNumber);
    if (over) return { ok: false, error: lineTooLongProblem(`Line ${over.line} of ${file}`, over.length, over.limit, "The print was not started.") };
    // Opening the file takes a moment: a second start meanwhile (a double click, the queue, an
    // SD print) is refused rather than starting a second job over this one.
    this.opening = true;
    let opened: Result<GcodeSource>;
    try {
      opened = await this.openSource(file, from);
    } finally {
      this.opening = false;
    }
    if (!opened.ok) return opened;
    // The link may have closed (or a job begun another way) while the file opened.
    const gone = this.readyForJob();
    if (gone) return gone;
    const source = opened.value;
    const start = from?.offset ?? 0;
    this.stream = { kind: "print", file, source, queuedTo: start, ackedTo: start, linesSent: 0, fedTo: start };
    this.beginJob(file, "host", source.size, plan, from);
    // A resumed print gets the machine back into shape instead of the before-print script (which
    // may home Z or purge on the print): the lift first, the rest once the printer has done it.
    if (from) {
      this.resuming = { restore: from.prologue.restore, interrupted };
      this.outgoing.pushScript(null, from.prologue.lift);
      this.whenSettled(() => this.lifted());
    } else this.runScript("beforePrintStarted");
    this.noteContinuable();
    this.flush();
    return ok(null);
  }

  /** Pauses the job: a host job stops being fed, an SD job gets M25; then the pause script runs. */
  pauseJob(): Result {
    const job = this.status.job;
    // Asked again (a double click, a second client): say what is going on, not "nothing is printing".
    if (job?.state === "pausing" || job?.state === "paused") return fail("not_printing", `The print is already ${job.state}.`, "Resume it to go on.");
    if (job?.state === "resuming") return fail("busy", "The print is being resumed.", "Wait until it prints again, then pause it.");
    if (job?.state === "cancelling" || job?.state === "finishing") return fail("busy", `The print is ${job.state === "cancelling" ? "being cancelled" : "finishing"}.`, "Wait until it has ended.");
    if (!job || (job.state !== "printing" && job.state !== "starting")) return fail("not_printing", "Nothing is printing.", "Start a print first.");
    if (this.resuming) return fail("busy", "The print is being resumed: the nozzle is being lifted off the print.", "Wait until it prints again, or cancel it.");
    this.beginPause(true);
    return ok(null);
  }

  resumeJob(): Result {
    if (this.status.job?.state === "resuming") return fail("not_paused", "The print is already being resumed.", "Wait until it prints again.");
    if (this.status.job?.state === "pausing") return fail("not_paused", "The print is still pausing: the lines already sent finish, then the pause script runs.", "Resume it once it is paused.");
    if (this.status.job?.state !== "paused") return fail("not_paused", "The print is not paused.", "Pause it first.");
    this.beginResume(true);
    return ok(null);
  }

  /**
   * Pausing: the job stops, the lines in flight finish, what the head, heaters, fan and extruder
   * were is recorded, and the pause script runs (parking the head). `ours` is false when the
   * firmware paused by itself and only told us: then nothing is sent (as OctoPrint does).
   */
  private beginPause(ours: boolean): void {
    const job = this.status.job!;
    this.run?.pause(performance.now());
    this.settled = undefined;
    const paused = () => {
      job.state = "paused";
      this.setState("paused", null);
      this.emitJob("paused");
      this.sendCheckpoint(true);
    };
    if (!ours) {
      job.pause = this.pauseRecord();
      return paused();
    }
    job.state = "pausing";
    if (this.sdJob && this.engine) this.command(this.engine.profile.sd.pauseCommand);
    this.whenSettled(() => {
      job.pause = this.pauseRecord();
      this.runScript("afterPrintPaused");
      this.whenSettled(paused);
    });
    this.publishNow();
    this.flush();
  }

  /** Resuming: the resume script puts back what the pause changed, then the job goes on. */
  private beginResume(ours: boolean): void {
    const job = this.status.job!;
    this.settled = undefined;
    const resumed = () => {
      job.state = "printing";
      job.pause = null;
      this.run?.resume(performance.now());
      if (this.resuming) this.whenSettled(() => this.lifted());
      this.setState("printing", null);
      this.emitJob("resumed");
      this.flush();
    };
    if (!ours) return resumed();
    job.state = "resuming";
    this.setState("printing", null);
    this.runScript("beforePrintResumed");
    if (this.sdJob && this.engine) this.command(this.engine.profile.sd.startCommand);
    this.whenSettled(resumed);
    this.flush();
  }

  /** Stops the job: what is queued is dropped, the lines in flight finish, the cancel script runs. */
  cancelJob(reason = "Cancelled by the user."): Result {
    const job = this.status.job;
    if (!job || !isJobRunning(job.state)) return fail("not_printing", "Nothing is printing.", "Start a print first.");
    if (job.state === "cancelling") return ok(null);
    job.state = "cancelling";
    this.settled = undefined;
    this.outgoing.dropTagged();
    this.engine?.clearQueue();
    if (this.sdJob && this.engine) for (const c of this.engine.profile.sd.cancelCommands) this.command(c);
    this.runScript("afterPrintCancelled");
    this.whenSettled(() => this.endJob("cancelled", reason));
    this.publishNow();
    this.flush();
    return ok(null);
  }

  /**
   * Starts the job's file again from its first line (from the host's files, or from the card):
   * a paused print is stopped first (counted as cancelled, without the cancel script, since the
   * print goes on at once); an ended one starts anew.
   */
  async restartJob(): Promise<Result> {
    const job = this.status.job;
    if (!job) return fail("no_job", "There is no print to restart.", "Start a print first.");
    if (isJobRunning(job.state)) {
      if (job.state !== "paused") return fail("not_paused", "Pause the print before restarting it.", "Pause it first, or cancel it.");
      this.engine?.clearQueue();
      // A paused SD print is stopped on the card first (the firmware keeps its place otherwise).
      if (this.sdJob && this.engine) for (const c of this.engine.profile.sd.cancelCommands) this.command(c);
      this.endJob("cancelled", "Restarted from the beginning.");
    }
    return job.source === "sd" ? this.sdPrint(job.file) : this.startJob(job.file, this.plan);
  }

  /**
   * Stops printing the labelled object `name` (from the file's analysis), the other objects go
   * on. A host print leaves its moves out from the next line read on (whatever the firmware); an
   * SD print gets the firmware's own command, where it has one (src/jobs/firmware-objects.ts).
   */
  cancelObject(name: string): Result<{ cancelled: string[] }> | Promise<Result<{ cancelled: string[] }>> {
    const job = this.status.job;
    const run = this.run;
    if (!job || !run || !isJobRunning(job.state)) return fail("not_printing", "Nothing is printing.", "Start a print first.");
    if (run.plan.objects.length === 0) {
      return job.source === "sd"
        ? fail("no_objects", `The host does not know the objects of "${job.file}" on the card.`, "Copy the file to the card from Layerline (it then knows its analysis), or keep a file of the same name and size in the host's files.")
        : fail("no_objects", "This file has no labelled objects (or its analysis is not done yet).", "Enable object labels in the slicer (PrusaSlicer: Label objects; Cura: the default), and slice again.");
    }
    const object = run.plan.objects.find((o) => o.name === name);
    if (!object) return fail("object_not_found", `There is no object "${name}" in this file.`, `Its objects are: ${run.plan.objects.map((o) => o.name).join(", ")}.`);
    if (job.source === "sd") {
      this.note(`Asking the printer to skip ${name}`);
      return this.cardObjects.cancel(object);
    }
    if (this.stream?.kind !== "print") return fail("not_printing", "Nothing is printing.", "Start a print first.");
    run.filter.cancel(name, this.stream.fedTo);
    if (run.plan.objects.every((o) => run.filter.cancelled.includes(o.name))) {
      this.note(`Every object of ${job.file} is cancelled; the rest of the file runs without extruding them.`);
    }
    this.showCancelled(run.filter.cancelled);
    this.note(`Object cancelled: ${name}`);
    return ok({ cancelled: run.filter.cancelled });
  }

  /** Objects the firmware says it skips (asked, or cancelled on its own display): shown as cancelled. */
  private markCancelled(names: string[]): void {
    const job = this.status.job;
    const run = this.run;
    if (!job || !run) return;
    const known = new Set(job.objects.filter((o) => o.cancelled).map((o) => o.name));
    const fresh = names.filter((n) => !known.has(n) && job.objects.some((o) => o.name === n));
    if (fresh.length === 0) return;
    // In a host print the filter leaves them out too, so the moves around them stay consistent.
    if (this.stream?.kind === "print") for (const n of fresh) run.filter.cancel(n, this.stream.fedTo);
    this.showCancelled([...known, ...fresh]);
    this.note(`The printer skips: ${fresh.join(", ")}`);
  }

  /** The job's objects with these cancelled, pushed at once (every open map follows). */
  private showCancelled(cancelled: string[]): void {
    const job = this.status.job!;
    job.objects = job.objects.map((o) => ({ ...o, cancelled: cancelled.includes(o.name) }));
    this.sendCheckpoint(true);
    this.publishNow();
  }

  /**
   * What the host knows about the file an SD print runs (matched on the main thread, see
   * JobService.sdPlanFor): its objects, and its layers when the card holds the same bytes.
   */
  adoptPlan(jobId: string, plan: JobPlan): Result {
    const job = this.status.job;
    const run = this.run;
    if (!job || !run || job.id !== jobId || job.source !== "sd" || !isJobRunning(job.state)) return ok(null);
    this.plan = plan;
    run.adopt(plan);
    job.sha256 = plan.sha256;
    job.objects = plan.objects.map((o) => ({ name: o.name, cancelled: false }));
    job.layer = run.layer();
    this.cardObjects.begin(plan.objects);
    this.publishNow();
    return ok(null);
  }

  /** A line from the printer during a job: a move refused for want of homing, or its word on objects. */
  private onJobReply(line: string): void {
    const profile = this.engine?.profile;
    if (!profile) return;
    if (refusedUnhomed(profile.unhomed, line)) return this.onUnhomed(line);
    this.cardObjects.reply(line, this.plan.objects);
  }

  /**
   * The printer refused a move because an axis is not homed. Nothing more goes out (homing X and
   * Y would drag the nozzle across the print; the rest would run without moving): the job fails
   * with what happened and what to do. A refused resume lift offers the interrupted print again.
   */
  private onUnhomed(line: string): void {
    const job = this.status.job;
    if (!job || !isJobRunning(job.state) || job.state === "cancelling") return;
    const engine = this.engine!;
    const resume = this.resuming;
    const sd = this.sdJob !== undefined;
    this.outgoing.reset();
    engine.clearQueue();
    const reason = unhomedReason(engine.profile.unhomed, line, resume !== undefined);
    // Offered again before the job ends: the status the end publishes already shows it.
    if (resume) this.status.interrupted = resume.interrupted;
    this.endJob("failed", reason, false, resume !== undefined);
    if (sd) for (const c of engine.profile.sd.cancelCommands) this.command(c);
    this.runScript("afterPrintFailed");
    this.emit({ type: "notice", level: "error", message: reason });
    this.flush();
  }

  /** The resumed print's lift went through: the rest of the prologue, then the file. */
  private lifted(): void {
    const r = this.resuming;
    this.resuming = undefined;
    this.noteContinuable();
    if (r && this.isJobActive()) this.outgoing.pushScript(null, r.restore);
  }

  /** Whether a thread replacing this one could go on with the print from its next line (handoff.ts). */
  private noteContinuable(): void {
    // No link yet: the record is as the session left it (a thread about to take a print over starts with the stopped one's).
    if (!this.engine) return;
    const s = this.status.job?.state;
    this.handoff?.continuable(this.stream?.kind === "print" && (s === "printing" || s === "starting") && this.resuming === undefined);
  }

  /** The user's scripts (missing ones: the defaults) and the printer profile they read. */
  setScripts(scripts: Partial<Scripts>, profile: PrinterProfile): Result {
    this.scripts = { ...DEFAULT_SCRIPTS, ...scripts };
    this.profile = profile;
    return ok(null);
  }

  /**
   * The running job's file re-planned for this printer (the analysis with its own machine
   * limits): the time left uses it from now on, with what was observed so far learnt again.
   */
  replan(file: string, plan: JobPlan): Result {
    const job = this.status.job;
    if (!job || job.file !== file || !this.run || !isJobRunning(job.state)) return fail("not_printing", `${file} is not printing.`, "Nothing to do.");
    if (!this.run.replacePace(plan.pace)) return fail("plan_mismatch", `The new plan of ${file} does not fit the file being printed.`, "It was changed meanwhile; the estimate keeps the earlier plan.");
    this.plan = { ...this.plan, pace: plan.pace };
    this.note(`The time left of ${file} is planned with this printer's machine limits now.`);
    this.publishNow();
    return ok(null);
  }

  /** Asks the firmware for its machine limits again (M503 on Marlin); the report comes in the status. */
  queryLimits(): Result {
    const engine = this.engine;
    if (!engine || !this.isConnected()) return notConnected();
    if (this.stream?.kind === "upload") {
      return fail("busy", "A file is being copied to the SD card; the question would end up in that file.", "Ask again when the upload is done.");
    }
    if (!engine.queryLimits(performance.now())) {
      return fail("not_supported", `This firmware (profile ${engine.profile.id}) does not report its machine limits.`, "Enter them in the printer's profile instead.");
    }
    this.flush();
    return ok(null);
  }

  /** A job the host was running when it stopped (from the stored checkpoint), or none any more. */
  setInterrupted(interrupted: Interrupted | null): Result {
    this.status.interrupted = interrupted;
    this.publishNow();
    return ok(null);
  }

  // ---- SD card ------------------------------------------------------------------------------------

  /** Asks the firmware to mount the card and list it; the list arrives in the status. */
  sdRefresh(): Result {
    const engine = this.engine;
    if (!engine || !this.isConnected()) return notConnected();
    const sd = engine.profile.sd;
    if (sd.initCommand && !this.status.sd.available) this.command(sd.initCommand);
    this.command(engine.sdListCommand());
    this.flush();
    return ok(null);
  }

  /** Prints a file from the card (M23 + M24); progress comes from the firmware. */
  sdPrint(name: string): Result {
    const engine = this.engine;
    const busy = this.readyForJob();
    if (busy) return busy;
    const file = this.status.sd.files.find((f) => f.name === name || f.longName === name);
    if (!file) return fail("file_not_found", `There is no file "${name}" on the SD card.`, "Refresh the SD card list, or check the name.");
    if (file.incomplete) {
      return fail("incomplete", `"${file.longName ?? file.name}" on the SD card is incomplete: its copy to the card stopped part-way.`, "Copy the file to the card again, or delete it.");
    }
    const sd = engine!.profile.sd;
    this.sdJob = { name: file.name, pos: 0, size: file.size ?? 0, notPrinting: 0, started: false };
    this.beginJob(file.name, "sd", file.size ?? 0, EMPTY_PLAN);
    this.runScript("beforePrintStarted");
    this.command(`${sd.selectCommand} ${file.name}`);
    this.command(sd.startCommand);
    engine!.setSdPolling(true, performance.now());
    this.flush();
    return ok(null);
  }
  /** Deletes a file from the card (M30), then lists the card again. */
  sdDelete(name: string): Result {
    const engine = this.engine;
    if (!engine || !this.isConnected()) return notConnected();
    if (this.sdJob?.name === name) return fail("in_use", `"${name}" is being printed.`, "Cancel the print first.");
    const file = this.status.sd.files.find((f) => f.name === name || f.longName === name);
    if (!file) return fail("file_not_found", `There is no file "${name}" on the SD card.`, "Refresh the SD card list, or check the name.");
    this.command(`${engine.profile.sd.deleteCommand} ${file.name}`);
    this.command(engine.sdListCommand());
    this.flush();
    return ok(null);
  }

  /**
   * Copies `file` (relative to the files folder) to the card as `name` (default: its own name,
   * shortened to 8.3 when the firmware cannot write long names). Every line goes between M28
   * and M29, numbered and checksummed like a print; progress is in `status.sd.upload`.
   */
  async sdUpload(file: string, name?: string): Promise<Result<{ name: string }>> {
    const busy = this.readyForJob();
    if (busy) return busy;
    const engine = this.engine!;
    if (!this.status.sd.writable) {
      return fail("not_supported", "This printer cannot write to its SD card over the serial line.", "Copy the file to the card in a computer instead.");
    }
    if (this.outgoing.busy) {
      // They would reach the firmware after M28, into the file.
      return fail("busy", "Commands are still waiting on a plugin's hook.", "Try again in a moment.");
    }
    const base = (name ?? file.split("/").pop()!).trim();
    // A name in the card's top folder: no folders (`../`), nothing the G-code line would cut (`;`).
    if (!/^[\x21-\x7e][\x20-\x7e]*$/.test(base) || /[;/\\]/.test(base) || base.startsWith(".")) {
      return fail("invalid_path", `"${base}" cannot be a name on the SD card.`, "Use letters, digits, dashes and dots, without folders.");
    }
    const opened = await this.openSource(file);
    if (!opened.ok) return opened;
    const taken = (n: string) => this.status.sd.files.some((f) => f.name.toUpperCase() === n.toUpperCase());
    const cardName = engine.capabilities.LFN_WRITE ? base : shortName(base, taken);
    this.stream = { kind: "upload", file, source: opened.value, queuedTo: 0, ackedTo: 0, linesSent: 0, fedTo: 0, cardName };
    this.status.sd.upload = { file, name: cardName, bytes: 0, total: opened.value.size };
    engine.enqueue(`${engine.profile.sd.beginWriteCommand} ${cardName}`, performance.now());
    this.note(`Copying ${file} to the SD card as ${cardName}`);
    this.publishNow();
    this.flush();
    return ok({ name: cardName });
  }

  /** Answers the printer's dialog with button `choice` (0-based). */
  answerPrompt(choice: number): Result {
    const engine = this.engine;
    if (!engine || !this.isConnected()) return notConnected();
    const prompt = this.status.prompt;
    if (!prompt) return fail("no_prompt", "The printer is not asking anything.", "Prompts appear when the firmware shows a dialog.");
    if (!Number.isInteger(choice) || choice < 0 || choice >= Math.max(1, prompt.buttons.length)) {
      return fail("invalid_request", `Choose one of the ${prompt.buttons.length} answers (0 to ${prompt.buttons.length - 1}).`, "Pass the button's index.");
    }
    this.command(engine.promptAnswer(choice));
    this.prompt.close();
    this.status.prompt = null;
    this.publishNow();
    this.flush();
    return ok(null);
  }

  /** Lines in flight allowed (1 = ping-pong); applies at once. */
  setWindow(window: number): Result {
    this.window = window;
    this.status.link.maxWindow = window;
    this.engine?.setWindow(window, performance.now());
    this.flush();
    this.publishNow();
    return ok(null);
  }

  /**
   * The running job's machine state for plugins' hooks (`ctx.machine`): it already holds a job
   * line when the line enters the plugin stages. Null without a job streamed from the host.
   */
  get machine(): MachineState | null {
    return this.machineState;
  }

  /** The flight recorder's ring as JSONL. */
  trace(): Result<string> {
    return ok(this.recorder.jsonl());
  }

  /**
   * Takes over the link of a printer thread the watchdog stopped: its tty's descriptor as it is
   * (not reopened, not reconfigured: no DTR reset), the firmware as that link knew it, and the
   * print it ran as the same job — a host print goes on from the first file line the stopped
   * thread had not written whole, an SD print is followed on. Nothing new goes out until the
   * printer has answered the lines that thread wrote, or asked for some of them again (sent from
   * what that thread left: src/protocol/engine.ts `adopt`); if that cannot be made sure of, the
   * print ends as interrupted (offered for resuming) and the after-failure script runs. Resolves
   * then: ok, or why the print could not go on.
   */
  async adopt(t: LinkTakeover): Promise<Result<{ ms: number }>> {
    if (this.transport) return fail("already_connected", "The printer is already connected.", "Nothing to take over.");
    const since = performance.now();
    const now = since;
    // The print's bookkeeping at the first line not written, read before the link is taken (the file may be gone).
    const host = t.job?.host ? await this.prepareContinuation(t.job.job, t.job.host, t.job.printedBefore) : undefined;
    const transport = new SerialTransport({ path: t.port, baudRate: t.baud, adopt: t.fd });
    this.transport = transport;
    this.status.connection = { port: t.port, baud: t.baud };
    try {
      await transport.open({ data: (chunk) => this.onData(chunk), closed: (error) => this.onTransportClosed(error) });
    } catch (e) {
      this.transport = undefined;
      return this.openFailed(e, transport.description) as Result<never>;
    }
    this.handoff?.tty(transport.fd ?? -1);
    this.note(`Taking over ${transport.description} from the printer's stopped thread`);
    const engine = new ProtocolEngine({ quirks: this.options.library.get(BASE_PROFILE), library: this.options.library, window: this.window });
    this.engine = engine;
    this.linkStats.reset();
    const offset = host?.ok ? host.value.offset : -1;
    // Its events (the link operational, and taken over at once when no answer is owed) are handled at the flush below.
    engine.adopt(t.link, now);
    // Where the file stands, for what this thread's record says of the lines it writes (it
    // started as the stopped thread's: session.ts `inheritRecord`; this thread too may be stopped
    // before the printer has answered those lines).
    if (offset >= 0) engine.sentUpTo(offset);
    const l = t.link;
    const refused = l.inFlight.filter((e) => e.rejected).length;
    const of = [refused ? `${refused} of them copies the printer had refused` : "", t.again ? `${t.again} sent again at the printer's request` : ""].filter(Boolean).join(", ");
    this.note(
      `The stopped thread's last line was ${l.lastWritten}; ${l.inFlight.length} line(s) it had sent still owed an answer${of ? ` (${of})` : ""}` +
        `${l.resend ? `; lines ${l.resend.from} to ${l.resend.to - 1} the printer had asked for again were still to be sent` : ""}.`,
    );
    const caps = t.link.capabilities;
    this.status.firmware = { name: t.link.firmwareName || "unknown firmware", profile: engine.profile.id, overlays: engine.profile.overlays, capabilities: { ...caps } };
    this.status.temperatures = structuredClone(t.temperatures);
    this.status.sd = { ...structuredClone(t.sd), upload: null };
    this.status.limits = t.limits;
    if (t.partial) this.lines.push(t.partial, this.received);
    else this.dropFirstLine = true;
    const job = t.job;
    if (job) {
      this.plan = host?.ok ? host.value.plan : EMPTY_PLAN;
      this.settled = undefined;
      this.status.job = { ...structuredClone(job.job), state: "printing", notes: [...(job.job.notes ?? [])] };
      this.status.progress = job.progress ? { ...job.progress } : null;
      this.lastCheckpoint = 0;
      if (host?.ok) {
        const c = host.value;
        this.run = c.run;
        this.stream = { kind: "print", file: job.job.file, source: c.source, queuedTo: c.offset, ackedTo: c.acked, linesSent: job.progress?.linesSent ?? 0, fedTo: c.offset };
        this.machineState = machineView(c.run.tracker);
      } else if (job.sd) {
        this.run = new JobRun(EMPTY_PLAN, { size: job.job.size, scale: 1, now, printedBefore: job.printedBefore });
        this.sdJob = { name: job.job.file, pos: job.sd.pos, size: job.job.size, notPrinting: 0, started: true };
        engine.setSdPolling(true, now);
      }
      this.setState("printing", null);
    } else {
      this.setState("operational", null);
    }
    const why = host && !host.ok ? host.error.message : null;
    const result = new Promise<Result<{ ms: number }>>((settle) => {
      this.takingOver = { settle, since, culprit: job?.culprit ?? null, hungAt: job?.hungAt ?? 0, earlier: job?.earlier ?? [], offset, failed: t.failed === true || why !== null, why };
    });
    // The link is taken over all the same (no reset); the print ends as interrupted, offered for resuming.
    if (why !== null) this.endJob("failed", `${stoppedThread(job!.culprit)}; the print could not go on: ${why}. It can be resumed.`, false, true);
    this.publishNow();
    this.flush();
    return result;
  }

  /** The takeover's outcome: the printer answered the stopped thread's lines (reason null), or not. */
  private tookOver(reason: string | null, answered = 0): void {
    const t = this.takingOver;
    if (!t) return;
    const now = performance.now();
    const ms = Math.round(now - t.since);
    const job = this.status.job;
    if (reason === null) {
      this.note(`Took over the link: the printer answered the ${answered} line(s) the stopped thread had sent without hearing back (in ${ms} ms); going on${t.offset >= 0 ? ` from byte ${t.offset} of the file` : ""}.`);
      const s = this.stream;
      if (s?.kind === "print" && this.run && job) {
        s.ackedTo = t.offset;
        if (this.run.tookOver(t.offset, now)) this.layerBegan(job);
      }
      if (job && isJobRunning(job.state) && t.culprit) {
        const hangs = [...t.earlier, { culprit: t.culprit, hungAt: t.hungAt }];
        job.notes = [...(job.notes ?? []), ...hangs.map((h) => wentOnNote(h.culprit, (Date.now() - h.hungAt) / 1000))];
      }
      if (t.offset >= 0) this.engine?.sentUpTo(t.offset);
      if (t.failed) this.runScript("afterPrintFailed");
      this.settleTakeover(t.why === null ? ok({ ms }) : fail("not_continued", t.why, "Resume the print from the banner, or discard it."));
      this.sendCheckpoint(true);
      this.publishNow();
      return;
    }
    const why = `Whether the printer took every line the stopped thread had sent cannot be made sure of: ${reason}.`;
    this.note(why);
    if (job && isJobRunning(job.state)) this.endJob("failed", `${stoppedThread(t.culprit ?? "code on it")}; the print could not go on: ${reason}. It can be resumed.`, true, true);
    else if (t.failed) this.runScript("afterPrintFailed");
    this.settleTakeover(fail("not_continued", why, "Resume the print from the banner, or discard it."));
    this.flush();
  }

  private settleTakeover(result: Result<{ ms: number }>): void {
    const t = this.takingOver;
    this.takingOver = undefined;
    t?.settle(result);
  }

  /**
   * A host print's bookkeeping at `offset` (the end of the last file line the stopped thread
   * wrote whole): its lines from the checkpoint's layer start up to there fed again through a
   * JobRun (machine state, cancelled objects, layers — as a resumed print starts), and the file
   * source standing at the next line.
   */
  private async prepareContinuation(job: Job, c: { offset: number; checkpoint: Checkpoint; plan: JobPlan }, printedBefore: number): Promise<Result<{ run: JobRun; source: GcodeSource; offset: number; acked: number; plan: JobPlan }>> {
    const path = `${this.options.filesDir}/${job.file}`;
    const handle = Bun.file(path);
    if (!(await handle.exists())) return fail("file_not_found", `the file "${job.file}" is no longer there`, "Upload it again.");
    if (handle.size !== job.size || (c.plan.sha256 && job.sha256 && c.plan.sha256 !== job.sha256)) return fail("file_changed", `the file "${job.file}" changed during the print`, "Start it again.");
    const cp = c.checkpoint;
    const anchor = cp.layer ? cp.layer.offset : 0;
    const lo = Math.min(anchor, cp.offset);
    const hi = Math.max(anchor, cp.offset);
    const anchorLine = lineNumberAt(anchor, cp, await handle.slice(lo, hi).bytes());
    const now = performance.now();
    const cancelled = job.objects.filter((o) => o.cancelled).map((o) => o.name);
    const run = new JobRun(c.plan, {
      size: job.size,
      scale: 1,
      now,
      printedBefore,
      from: { jobId: job.id, offset: anchor, line: anchorLine, state: cp.layer?.state ?? new MachineTracker().snapshot(), layer: cp.layer?.index ?? null, prologue: { lift: [], restore: [] }, cancelled },
    });
    const source = new GcodeSource(path, job.size, anchor, anchorLine);
    for (;;) {
      const line = source.nextWithin(c.offset);
      if (line === null) break;
      if (line === undefined) {
        if (source.error) return fail("file_unreadable", `the file "${job.file}" could not be read: ${source.error.message}`, "Upload it again.");
        if (source.done) break;
        await source.fill();
        continue;
      }
      run.fed(line);
    }
    run.tookOver(cp.offset, now);
    return ok({ run, source, offset: c.offset, acked: cp.offset, plan: c.plan });
  }

  /** Stops the link and timers; used when the worker ends. */
  async dispose(): Promise<void> {
    await this.shutdownLink();
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.publishNow();
    await this.recorder.flush();
  }

  // ---- the serial path ---------------------------------------------------------------------------

  private onData(chunk: Uint8Array): void {
    const engine = this.engine;
    if (!engine) return;
    const now = performance.now();
    this.dataAt = now;
    this.stepAt = now;
    try {
      this.lines.push(chunk, this.received);
      this.flush(now);
    } finally {
      this.stepAt = undefined;
    }
    if (!this.receivingNow) this.receiveWhileStreaming();
  }

  /** The time for what is handled now: the serial step's, or the clock's outside one. */
  private now(): number {
    return this.stepAt ?? performance.now();
  }

  /**
   * While a print or upload streams and the printer answers within {@link ANSWER_WAIT_MS}, the
   * answers are taken at once, this thread waiting in poll(2) for each, instead of each costing a
   * turn of the event loop (which costs more CPU than the line itself on a fast link). At most
   * {@link RECEIVE_SLICE_MS} at a time, so messages from the host and timers wait no longer; an
   * answer that takes longer (a slow move, a heater) comes the usual way.
   */
  private receiveWhileStreaming(): void {
    const transport = this.transport;
    if (!transport?.receiveNow) return;
    this.receivingNow = true;
    try {
      const until = performance.now() + RECEIVE_SLICE_MS;
      while (this.stream && !this.stream.closing && this.transport === transport && (this.engine?.outstanding() ?? 0) > 0) {
        if (!transport.receiveNow(ANSWER_WAIT_MS) || this.dataAt >= until) return;
      }
    } finally {
      this.receivingNow = false;
    }
  }

  private readonly received = (line: string): void => {
    if (this.dropFirstLine) {
      this.dropFirstLine = false;
      return;
    }
    // Before a receive hook may run on it: the answers taken so far (this line and those after it
    // in the same read are lost if the hook never returns). Without one, flushAt records them.
    const engine = this.engine;
    if (this.handoff && engine && this.options.hooks?.hooks("receive")) this.handoff.acked(engine.lastAckedN, engine.numberedDone);
    this.incoming.push(line, -1, "firmware");
  };

  /** Feeds job lines into free slots, writes what the engine wants sent, handles its events. */
  private flush(now = this.now()): void {
    const engine = this.engine;
    if (!engine) return;
    const outer = this.stepAt;
    this.stepAt = now;
    try {
      this.flushAt(engine, now);
    } finally {
      this.stepAt = outer;
    }
  }

  private flushAt(engine: ProtocolEngine, now: number): void {
    // Before any plugin's hook may run: the answers taken so far, for a thread that may replace this one.
    this.handoff?.acked(engine.lastAckedN, engine.numberedDone);
    // Handling events can free slots or queue lines (acks, notices); loop until it settles.
    for (let round = 0; round < 100; round++) {
      this.feed(now);
      const out = engine.takeOutgoing();
      if (out.length) this.write(out.length === 1 ? `${out[0]}\n` : `${out.join("\n")}\n`);
      const events = engine.takeEvents();
      if (events.length === 0) break;
      const wall = performance.timeOrigin + now;
      for (const e of events) this.onEngineEvent(e, wall);
      if (!this.engine) return;
    }
    if (this.settled && engine.outstanding() === 0 && !this.outgoing.busy) {
      // The next step of pausing, resuming, cancelling or finishing; it may send lines of its own.
      const then = this.settled;
      this.settled = undefined;
      then();
      return this.flush(performance.now());
    }
    this.armTimer(engine.nextDeadline());
  }

  private feed(now: number): void {
    const s = this.stream;
    const engine = this.engine!;
    if (!s || s.closing) return;
    if (s.kind === "print" && !this.feeding()) return;
    // Not one line before the firmware says it writes the file: otherwise it would run them.
    if (s.kind === "upload" && !s.writing) return;
    if (s.kind === "upload") {
      // The file's bytes as they are, into the card: not run now, so not the plugins' business.
      while (engine.capacity() > 0) {
        const line = s.source.next();
        if (!line) break;
        if (this.refusesLine(s, line)) return;
        if (engine.enqueue(line.command, now, line.end)) s.queuedTo = line.end;
        s.linesSent++;
      }
    } else {
      // Plugins may pause the job from a line (`@pause`), end it, or hold lines back (async hooks).
      const run = this.run!;
      while (engine.capacity() > 0 && !this.outgoing.busy && this.stream === s && this.feeding()) {
        const line = s.source.next();
        if (!line) break;
        if (this.refusesLine(s, line)) return;
        s.fedTo = line.end;
        // Cancelled objects' moves are left out (or replaced by what keeps the rest consistent).
        const instead = run.fed(line);
        if (instead === null) this.outgoing.push(line.command, line.end, "job");
        else for (const l of instead) this.outgoing.push(l, line.end, "job");
        s.linesSent++;
      }
      if (this.stream !== s) return;
    }
    if (s.source.error) {
      if (s.kind === "print") this.endJob("failed", `The file could not be read: ${s.source.error.message}`);
      else this.endUpload(`The file could not be read: ${s.source.error.message}`);
      return;
    }
    if (s.source.wantsFill()) {
      void s.source.fill().then(() => this.flush());
    }
    this.checkStreamFinished(now);
  }

  /**
   * Stops the print or upload before a line the firmware cannot read whole (its file's analysis
   * did not say in time, or the file is being copied to the card); true when it did.
   */
  private refusesLine(s: ActiveStream, line: SourceLine): boolean {
    const engine = this.engine!;
    const over = engine.tooLong(line.command);
    if (!over || engine.skips(line.command)) return false;
    const outcome = s.kind === "print" ? "The print was stopped before that line." : "The upload was stopped before that line.";
    const p = lineTooLongProblem(`Line ${line.line} of ${s.file}`, over.length, over.limit, outcome);
    if (s.kind === "print") this.endJob("failed", `${p.message} ${p.hint}`);
    else this.endUpload(`${p.message} ${p.hint}`);
    return true;
  }

  /** A command the host wants run: through the plugins' stages, then into the engine. */
  private command(line: string): void {
    this.outgoing.push(line, -1, "command");
  }

  /** Where lines leave the plugin stages: host commands (`@pause`) are done here, the rest queued. */
  private enqueueLine(line: string, tag: number): void {
    if (line.startsWith("@")) {
      const command = line.slice(1).trim().split(/\s+/)[0]!.toLowerCase();
      if (command === "pause") {
        if (this.status.state === "printing") this.pauseJob();
      } else this.note(`Unknown host command ${line} (not sent to the printer).`);
      return;
    }
    if (!this.engine?.enqueue(line, this.now(), tag)) return;
    this.accepted++;
    // Progress counts a job line once the engine has it (a line a plugin dropped never is).
    if (tag >= 0 && this.stream?.kind === "print") this.stream.queuedTo = tag;
  }

  private write(text: string): void {
    const transport = this.transport;
    if (!transport) return;
    // The transport keeps the order of writes; a failed write also closes the link (reported there).
    const bytes = this.encoder.encode(text);
    if (this.handoff) {
      // The record keeps every line the printer may still ask for, however long (Klipper reads lines of any length).
      if (this.engine) this.handoff.keep(this.engine.owedSpan);
      this.handoff.sending(bytes);
    }
    const written = transport.write(bytes);
    if (this.handoff) this.wrote(written === WRITTEN, written);
    // A serial write the kernel took at once comes back as the same settled promise: nothing to watch.
    if (written === this.written) return;
    this.written = written;
    this.lastWrite = written.catch((e: Error) => {
      this.note(`Write failed: ${e.message}`);
    });
  }

  /**
   * For a thread that may have to replace this one: what is written whole. While a write waits
   * for room in the kernel, part of a line may be there: -2, not known, until the writes are done.
   */
  private wrote(whole: boolean, written: Promise<void>): void {
    const handoff = this.handoff!;
    if (!whole) {
      this.writesPending++;
      const done = () => {
        if (--this.writesPending === 0) this.publishWritten(handoff);
      };
      written.then(done, done);
    }
    if (this.writesPending > 0) handoff.written(-2, -1, 0);
    else this.publishWritten(handoff);
  }

  private publishWritten(handoff: HandoffWriter): void {
    const engine = this.engine;
    if (!engine) return;
    handoff.written(engine.nextLineNumber - 1, this.stream?.kind === "print" ? engine.wholeTag(this.outgoing.firstTag) : -1, engine.numberedSent);
  }

  private armTimer(at: number | undefined): void {
    if (at === undefined || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.engine?.tick(performance.now());
      this.flush();
    }, Math.max(0, at - performance.now()));
  }

  private onEngineEvent(e: EngineEvent, wall: number): void {
    switch (e.type) {
      case "sent":
        this.recorder.record("send", e.line, wall);
        if (this.status.busy !== null) this.status.busy = null;
        this.markDirty();
        return;
      case "received":
        this.recorder.record("recv", e.line, wall);
        if (this.run && !e.line.startsWith("ok")) this.onJobReply(e.line);
        this.markDirty();
        return;
      case "acked":
        if (e.tag === OBJECT_TAG) return this.cardObjects.acked();
        if (this.stream && e.tag >= 0) {
          this.stream.ackedTo = e.tag;
          if (this.stream.kind === "upload") this.status.sd.upload!.bytes = e.tag;
          else if (this.run) {
            const job = this.status.job!;
            if (this.run.acked(e.tag, this.now())) this.layerBegan(job);
            if (job.state === "starting") {
              // The before-print script is through: the file itself prints now.
              job.state = "printing";
              this.publishNow();
            }
          }
          this.markDirty();
        }
        return;
      default:
        this.onLinkEvent(e);
    }
  }

  // Everything but the per-line events, apart: the per-line path stays small for the JIT, and an
  // event that comes once a print (its end, a notice) does not throw away its optimised code.
  private onLinkEvent(e: Exclude<EngineEvent, { type: "sent" | "received" | "acked" }>): void {
    switch (e.type) {
      case "refused":
        // A job line a plugin made too long (the file's own lines are checked as they are read):
        // the plugin's fault, not the file's; that line is not sent and the print goes on.
        if (e.tag >= 0 && this.stream?.kind === "print") {
          if (this.options.hooks?.refused?.(e.command, `a line of ${e.length} characters (line number and checksum included), more than the ${e.limit} this firmware reads`)) return;
          const p = lineTooLongProblem(`A line of ${this.stream.file} (ending at byte ${e.tag})`, e.length, e.limit, "The print was stopped before that line.");
          this.endJob("failed", `${p.message} ${p.hint}`);
        }
        return;
      case "lost":
        if (this.stream?.kind === "print") {
          this.endJob("failed", `The printer did not answer line "${e.command}". This firmware drops damaged lines without asking for them again, so the line may be lost; the print was stopped rather than continued with a gap.`);
        }
        return;
      case "temperature":
        for (const [name, r] of Object.entries(e.report)) {
          const prev = this.status.temperatures[name];
          this.status.temperatures[name] = { actual: r.actual, target: r.target ?? prev?.target ?? null };
        }
        this.markDirty();
        return;
      case "target": {
        const prev = this.status.temperatures[e.heater];
        this.status.temperatures[e.heater] = { actual: prev?.actual ?? 0, target: e.target };
        this.markDirty();
        return;
      }
      case "position":
        this.status.position = { x: e.position.x, y: e.position.y, z: e.position.z, e: e.position.e ?? null };
        this.markDirty();
        return;
      case "firmware": {
        this.status.firmware = { name: e.name, profile: e.profile, overlays: e.overlays, capabilities: e.capabilities };
        const sd = this.engine!.profile.sd;
        this.status.sd.available = e.capabilities.SDCARD === true || sd.alwaysAvailable;
        this.status.sd.writable = sd.writeSupported && e.capabilities.SD_WRITE !== false;
        this.note(`Firmware: ${e.name} (profile ${[e.profile, ...e.overlays].join(" + ")})`);
        // Its machine limits, for the printer profile and the time estimates (where it reports them).
        this.engine!.queryLimits(performance.now());
        this.markDirty();
        return;
      }
      case "profile":
        if (this.status.firmware) this.status.firmware = { ...this.status.firmware, profile: e.profile, overlays: e.overlays };
        this.markDirty();
        return;
      case "busy":
        this.status.busy = e.reason;
        this.handoff?.busy();
        this.markDirty();
        return;
      case "action":
        this.onAction(e.name, e.params, e.echo);
        return;
      case "firmwareError":
        this.onFirmwareError(e.errorClass, e.text, e.policy);
        return;
      case "sd":
        this.onSd(e.message);
        return;
      case "halted":
        this.onHalted(e.reason, e.emergency);
        return;
      case "recovered":
        if (this.status.problem?.code === "emergency_stop" || this.status.problem?.code === "firmware_halted") this.status.problem = null;
        this.note(`The printer runs again (${e.text}).`);
        this.publishNow();
        return;
      case "limits":
        this.status.limits = e.limits;
        this.markDirty();
        return;
      case "reset":
        this.status.limits = null;
        if (this.isJobActive()) this.endJob("failed", "The printer restarted during the print, so its state was lost.");
        this.endUpload("The printer restarted during the upload.");
        this.prompt.close();
        this.status.prompt = null;
        return;
      case "notice":
        this.note(e.message);
        this.emit({ type: "notice", level: e.level, message: e.message });
        return;
      case "state":
        this.onLinkState(e.state, e.problem);
        return;
      case "adopted":
        this.tookOver(null, e.answered);
        return;
      case "adoptFailed":
        this.tookOver(e.reason);
        return;
      case "probe":
        this.note(`No answer came to ${e.unanswered} line(s) the printer still owed one for (it went with the stopped thread, or it is busy); asking where it is with line ${e.n}.`);
        // Nothing read since the takeover: what comes now starts a line, so the first is kept (it may be the probe's answer).
        if (this.takingOver && this.dataAt < this.takingOver.since) this.dropFirstLine = false;
        return;
    }
  }

  private onLinkState(state: ProtocolEngine["state"], problem: LinkProblem | undefined): void {
    switch (state) {
      case "handshake":
        this.setState("connecting", null);
        return;
      case "operational":
        if (this.status.state === "connecting") this.runScript("afterConnected");
        this.setState(this.isJobActive() ? (this.status.job!.state === "paused" ? "paused" : "printing") : "operational", null);
        return;
      case "error":
        if (this.isJobActive()) this.endJob("failed", problem?.message ?? "The link failed.");
        this.endUpload(problem?.message ?? "The link failed.");
        this.setState("error", problem ?? null);
        this.note(problem ? `${problem.message} ${problem.hint}` : "The link failed.");
        void this.shutdownLink();
        return;
      case "closed":
        return;
    }
  }

  /** `//action:` lines from the printer (protocol.md §5). */
  private onAction(name: string, params: string, echo: boolean): void {
    if (name.startsWith("prompt_")) {
      if (this.prompt.onAction(name, params)) {
        this.status.prompt = this.prompt.shown ? { text: this.prompt.shown.text, buttons: [...this.prompt.shown.buttons] } : null;
        this.publishNow();
      }
      return;
    }
    if (echo) return; // the firmware only mirrors our own M24/M25
    const state = this.status.state;
    switch (name) {
      case "pause":
        if (state === "printing") this.pauseJob();
        return;
      case "paused":
        // The printer paused itself (filament runout, M600): follow without sending anything.
        if (this.status.job?.state === "printing" || this.status.job?.state === "starting") this.beginPause(false);
        return;
      case "resume":
        if (state === "paused") this.resumeJob();
        return;
      case "resumed":
        if (this.status.job?.state === "paused") this.beginResume(false);
        return;
      case "cancel":
        if (this.isJobActive()) this.cancelJob("Cancelled from the printer.");
        return;
      case "start":
        if (this.isJobActive() || this.stream) this.note("The printer asked to start a print (//action:start), but one is running.");
        else this.emit({ type: "startRequested" });
        return;
      case "disconnect":
        this.note("The printer asked to be disconnected (//action:disconnect).");
        void this.disconnect("The printer asked to be disconnected (//action:disconnect) during the print.");
        return;
      case "notification":
        if (params) this.note(`Printer: ${params}`);
        return;
      case "sd_inserted":
      case "sd_updated":
        this.sdRefresh();
        return;
      case "sd_ejected":
        this.status.sd.available = false;
        this.status.sd.files = [];
        this.markDirty();
        return;
    }
  }

  private onFirmwareError(errorClass: string, text: string, policy: string): void {
    this.emit({ type: "firmwareError", text });
    if (errorClass === "sd") {
      if (this.sdJob) this.endJob("failed", `The printer could not read its SD card: "${text}".`);
      if (this.stream?.kind === "upload") this.endUpload(`The printer could not write its SD card: "${text}".`);
      return;
    }
    if (policy !== "cancelJob") return;
    if (this.isJobActive()) this.endJob("failed", `The printer reported an error: "${text}".`);
  }

  /**
   * The firmware stopped but still talks (Klipper's shutdown, Marlin's M999 state): the link stays,
   * the printer shows as halted with the reason and the command that restarts it, and no job starts
   * until then. Typed commands still go out (that is how the restart command is sent).
   */
  private onHalted(reason: string, emergency: boolean): void {
    if (this.isJobActive()) this.endJob("failed", emergency ? "Emergency stop." : `The printer stopped: "${reason}".`, false);
    this.status.problem = {
      code: emergency ? "emergency_stop" : "firmware_halted",
      message: emergency ? "Emergency stop: the printer is shut down (M112)." : `The printer has shut down: "${reason}".`,
      hint: `${emergency ? "Check the printer" : "Fix the cause"}, then send ${this.restartCommands()} in the terminal to restart it (home it before printing again), or power-cycle it.`,
    };
    this.note(`${this.status.problem.message} ${this.status.problem.hint}`);
    this.publishNow();
  }

  /** The firmware's restart commands in words: "FIRMWARE_RESTART or RESTART". */
  private restartCommands(): string {
    const list = this.engine?.profile.errors.restartCommands ?? [];
    return list.length ? list.join(" or ") : "its restart command";
  }

  private onSd(m: SdMessage): void {
    const sd = this.status.sd;
    switch (m.type) {
      case "cardOk":
        sd.available = true;
        break;
      case "cardFail":
      case "cardReleased":
        sd.available = false;
        sd.files = [];
        if (this.stream?.kind === "upload" && !this.stream.writing) this.endUpload("The printer could not open the file on its card.");
        break;
      case "list":
        sd.available = true;
        sd.files = m.files.filter(isPrintableListing).map((f) => ({ ...f }));
        this.markIncomplete(true);
        break;
      case "fileOpened":
        this.lastOpened = { name: m.name ?? this.sdJob?.name ?? "", size: m.size ?? 0 };
        if (this.sdJob && m.size) {
          this.sdJob.size = m.size;
          if (this.status.job) this.status.job.size = m.size;
        }
        break;
      case "openFailed":
        if (this.sdJob) this.endJob("failed", `The printer could not open "${this.sdJob.name}" on its SD card.`);
        if (this.stream?.kind === "upload" && !this.stream.writing) this.endUpload("The printer could not open the file on its card.");
        break;
      case "progress":
        this.onSdProgress(m.pos, m.size);
        break;
      case "notPrinting":
        // Marlin's auto-report says this every second when idle; it ends a job we believed in
        // only after a print had started and twice in a row (OctoPrint's rule).
        if (this.sdJob?.started && this.status.state === "printing" && ++this.sdJob.notPrinting > 2) {
          this.endJob("cancelled", "The printer stopped printing from its SD card (from its own display?).");
        }
        break;
      case "done":
        if (this.sdJob && this.status.job?.state !== "finishing") {
          this.sdJob.pos = this.sdJob.size;
          this.finishJob();
        }
        break;
      case "writing":
        if (this.stream?.kind === "upload") {
          this.stream.writing = true;
          queueMicrotask(() => this.flush());
        }
        break;
      case "saved":
        if (this.stream?.kind === "upload") this.finishUpload();
        break;
      default:
        break;
    }
    this.markDirty();
  }

  /**
   * Marks partial copies in the card's list. After a fresh listing (`prune`), a name no longer
   * listed is forgotten: the file was deleted, or it is another card.
   */
  private markIncomplete(prune: boolean): void {
    const files = this.status.sd.files;
    for (const name of this.incomplete) {
      const file = files.find((f) => f.name.toUpperCase() === name || f.longName?.toUpperCase() === name);
      if (file) file.incomplete = true;
      else if (prune) this.incomplete.delete(name);
    }
  }

  private onSdProgress(pos: number, size: number): void {
    let job = this.sdJob;
    if (!job && this.status.state === "operational" && pos > 0) {
      // A print started on the printer's own display: follow it.
      const name = this.lastOpened?.name || "SD card print";
      job = this.sdJob = { name, pos, size, notPrinting: 0, started: true };
      this.beginJob(name, "sd", size, EMPTY_PLAN);
      this.status.job!.state = "printing";
      this.engine?.setSdPolling(true, performance.now());
    }
    if (!job) return;
    job.pos = pos;
    if (this.run) {
      const state = this.status.job!;
      if (this.run.sdPosition(pos, performance.now())) this.layerBegan(state);
      if (state.state === "starting" && pos > 0) state.state = "printing";
    }
    job.size = size;
    job.notPrinting = 0;
    job.started = true;
    if (this.status.job) this.status.job.size = size;
  }

  private onTransportClosed(error: TransportError): void {
    this.handoff?.tty(-1);
    this.transport = undefined;
    this.engine?.close();
    this.engine = undefined;
    if (this.isJobActive()) this.endJob("failed", `The connection was lost: ${error.message}`);
    this.endUpload(`The connection was lost: ${error.message}`);
    this.settleTakeover(fail(error.code, error.message, error.hint));
    this.setState("error", { code: error.code, message: error.message, hint: error.hint });
  }

  private async shutdownLink(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    const transport = this.transport;
    this.handoff?.tty(-1);
    this.transport = undefined;
    this.engine?.close();
    this.engine = undefined;
    this.settleTakeover(fail("link_closed", "The link closed before the printer had answered the stopped thread's last lines.", "Connect again."));
    this.lines.reset();
    this.outgoing.reset();
    this.incoming.reset();
    this.prompt.close();
    this.status.prompt = null;
    // Without a link there is no card to read: its listing comes back with the next connection.
    this.status.sd.available = false;
    this.status.sd.writable = false;
    this.status.sd.files = [];
    if (transport) {
      await this.lastWrite;
      await transport.close().catch(() => undefined);
    }
  }

  private async makeTransport(): Promise<Transport> {
    const r = this.options.record;
    // The built-in printer is one machine: connecting again resets it (like DTR), its card stays.
    if (r.transport === "virtual") return (this.virtualPrinter ??= new VirtualTransport(this.options.virtual ?? {}));
    let port = r.port ?? "";
    let baud = r.baud;
    if (port === "auto") {
      this.note("Looking for the printer on the serial ports…");
      const found = await detectPrinter({ extraPorts: this.options.extraPorts });
      port = found.port;
      baud = found.baud;
      this.note(`Found a printer on ${port} at ${baud} baud`);
    }
    this.status.connection = { port, baud };
    return new SerialTransport({ path: port, baudRate: baud });
  }

  private openFailed(e: unknown, what: string): Result {
    const problem =
      e instanceof TransportError
        ? { code: e.code, message: e.message, hint: e.hint }
        : { code: "io", message: `Could not open ${what}: ${(e as Error).message}`, hint: "Check the connection settings." };
    this.setState("error", problem);
    return { ok: false, error: problem };
  }

  // ---- job bookkeeping -----------------------------------------------------------------------------

  private isConnected(): boolean {
    const s = this.status.state;
    return s === "operational" || s === "printing" || s === "paused";
  }

  private isJobActive(): boolean {
    return isJobRunning(this.status.job?.state);
  }

  /** Whether job lines may go out now: not while pausing, paused, resuming, cancelling or finishing, nor before a resumed print's lift is done. */
  private feeding(): boolean {
    const s = this.status.job?.state;
    return (s === "printing" || s === "starting") && this.resuming === undefined;
  }

  /** Why a job or upload cannot start now, or undefined when it can. */
  private readyForJob(): Result<never> | undefined {
    if (this.isJobActive()) return fail("busy", "A print is already running.", "Cancel it or wait until it ends.");
    if (this.opening) return fail("busy", "A print is being started.", "Wait a moment: it shows as printing once its file is open.");
    if (this.stream?.kind === "upload") return fail("busy", "A file is being copied to the SD card.", "Wait until the upload is done.");
    if (this.status.state !== "operational" || !this.engine) return notConnected();
    if (this.engine.isHalted) {
      return fail("halted", "The printer is shut down.", `Send ${this.restartCommands()} in the terminal to restart it first.`);
    }
    return undefined;
  }

  private async openSource(file: string, from?: ResumeFrom): Promise<Result<GcodeSource>> {
    const path = `${this.options.filesDir}/${file}`;
    const handle = Bun.file(path);
    if (!(await handle.exists())) return fail("file_not_found", `There is no file "${file}".`, "Upload it first, or check the name.");
    // Printed, it would be "done" at once and count as a print.
    if (handle.size === 0) return fail("not_printable", `"${file}" is empty (0 bytes): there is nothing in it to print.`, "Export it from the slicer again and upload that.");
    if (from && from.offset >= handle.size) return fail("invalid_request", `"${file}" is shorter than the place to resume from.`, "The file changed since the print stopped; start it again.");
    const source = new GcodeSource(path, handle.size, from?.offset ?? 0, from?.line ?? 1);
    await source.fill();
    if (source.error) return fail("file_unreadable", `"${file}" could not be read: ${source.error.message}`, "Upload it again.");
    return ok(source);
  }

  /** The job's status and bookkeeping at its start (the stream or SD job is already set). */
  private beginJob(file: string, source: "host" | "sd", size: number, plan: JobPlan, from?: ResumeFrom): void {
    const now = performance.now();
    this.engine?.forgetTags();
    this.plan = plan;
    this.settled = undefined;
    const scale = this.options.record.transport === "virtual" ? 1 / (this.options.virtual?.timeScale || 1) : 1;
    this.run = new JobRun(plan, { size, scale: Number.isFinite(scale) ? scale : 1, now, from });
    this.machineState = source === "host" ? machineView(this.run.tracker) : null;
    this.status.job = {
      id: crypto.randomUUID(),
      file,
      source,
      size,
      state: "starting",
      startedAt: Date.now(),
      endedAt: null,
      reason: null,
      sha256: plan.sha256,
      layer: this.run.layer(),
      objects: plan.objects.map((o) => ({ name: o.name, cancelled: from?.cancelled.includes(o.name) ?? false })),
      pause: null,
      resumedFrom: from ? { jobId: from.jobId, offset: from.offset, layer: from.layer } : null,
    };
    this.status.interrupted = null;
    this.lastCheckpoint = 0;
    this.setState("printing", null);
    this.emitJob("started");
  }

  private checkStreamFinished(now: number): void {
    const s = this.stream;
    if (!s || !s.source.done || s.ackedTo < s.queuedTo || this.engine!.outstanding() > 0 || this.outgoing.busy) return;
    if (s.kind === "upload") {
      if (s.closing) return;
      s.closing = true;
      this.engine!.enqueue(this.engine!.profile.sd.endWriteCommand, now);
      return;
    }
    if (!this.feeding()) return;
    s.ackedTo = s.source.size; // trailing comments count as done too
    this.finishJob();
  }

  /** The file is through: the after-print script runs, then the job is done. */
  private finishJob(): void {
    this.status.job!.state = "finishing";
    this.runScript("afterPrintDone");
    this.whenSettled(() => this.endJob("done", null));
    this.publishNow();
  }

  private finishUpload(): void {
    const s = this.stream;
    if (!s || s.kind !== "upload") return;
    this.stream = undefined;
    this.status.sd.upload = null;
    this.incomplete.delete(s.cardName!.toUpperCase());
    this.note(`Copied ${s.file} to the SD card as ${s.cardName}`);
    this.emit({ type: "notice", level: "info", message: `${s.file} is on the SD card as ${s.cardName}.` });
    const engine = this.engine;
    if (engine) engine.enqueue(engine.sdListCommand(), performance.now());
  }

  private endUpload(reason: string, closeFile = true): void {
    const s = this.stream;
    if (!s || s.kind !== "upload") return;
    this.stream = undefined;
    this.status.sd.upload = null;
    // Leave the firmware's write mode, or everything sent next would go into the file (an
    // emergency stop does that itself, ahead of the M112).
    if (s.writing && !s.closing && this.engine?.state === "operational" && closeFile) {
      this.engine.clearQueue();
      this.engine.enqueue(this.engine.profile.sd.endWriteCommand, performance.now());
      this.engine.enqueue(this.engine.sdListCommand(), performance.now());
    }
    // What was written stays on the card, closed as it is: never to be taken for the whole file.
    const partial = s.writing ? ` ${s.cardName} on the card holds only part of it: delete it or copy the file again.` : "";
    if (s.writing) {
      this.incomplete.add(s.cardName!.toUpperCase());
      this.markIncomplete(false);
    }
    this.note(`Upload of ${s.file} stopped: ${reason}${partial}`);
    this.emit({ type: "notice", level: "error", message: `The upload of ${s.file} to the SD card stopped: ${reason}${partial}` });
  }

  /**
   * Ends the job. A failure while the printer still answers runs the after-failure script
   * (heaters off by default) — not after an emergency stop, when the firmware is halted.
   */
  private endJob(state: "done" | "cancelled" | "failed", reason: string | null, failureScript = true, keepCheckpoint = false): void {
    if (!this.status.job) return;
    // Job lines still waiting on a plugin's hook are not sent after the job.
    this.outgoing.dropTagged();
    this.settled = undefined;
    this.resuming = undefined;
    this.cardObjects.end();
    this.updateProgress(state === "done");
    const file = this.status.job.file;
    this.status.job = { ...this.status.job, state, endedAt: Date.now(), reason, pause: null };
    if (this.stream?.kind === "print") this.stream = undefined;
    if (this.sdJob) {
      this.sdJob = undefined;
      this.engine?.setSdPolling(false, performance.now());
    }
    this.run = undefined;
    this.machineState = null;
    if (this.status.state === "printing" || this.status.state === "paused") this.setState("operational", null);
    this.emitJob(state, reason);
    if (!keepCheckpoint) this.options.publish({ type: "checkpoint", checkpoint: null });
    this.note(`Job ${state}: ${file}${reason ? ` (${reason})` : ""}`);
    if (state === "failed" && failureScript && this.engine?.state === "operational") {
      this.engine.clearQueue();
      this.runScript("afterPrintFailed");
      this.flush();
    }
  }

  private updateProgress(done = false): void {
    const run = this.run;
    if (!run || !this.status.job) return;
    const now = performance.now();
    const offset = this.sdJob ? this.sdJob.pos : this.stream?.kind === "print" ? this.stream.ackedTo : this.status.job.size;
    const size = this.sdJob ? this.sdJob.size : this.status.job.size;
    const linesSent = this.stream?.kind === "print" ? this.stream.linesSent : 0;
    this.status.progress = run.progress(done ? size : offset, size, linesSent, now, done);
  }

  /** Runs `then` once everything sent so far (and waiting in the plugins' stages) is acknowledged. */
  private whenSettled(then: () => void): void {
    this.settled = then;
  }

  /** The user's script for `name` with the job's variables, then the plugins' part, onto the link. */
  private runScript(name: ScriptName): void {
    const text = this.scripts[name];
    let lines: string[] = [];
    if (text.trim()) {
      const checked = checkScript(name, text);
      if (!checked.ok) this.note(`Script not run: ${checked.message}`);
      else {
        const out = render(checked.template, this.scriptVariables());
        lines = out.lines;
        if (out.skipped.length) this.note(`Script "${name}": left out ${out.skipped.length} line(s) with values not known: ${out.skipped.join(" | ")}`);
      }
    }
    this.outgoing.pushScript(pluginsHave(name) ? name : null, lines, name === "beforePrintResumed");
  }

  /** What a script can read (documented in SCRIPT_VARIABLES). */
  private scriptVariables(): Record<string, Value> {
    const st = this.status;
    const job = st.job;
    const p = this.profile;
    const temperatures: Record<string, Value> = {};
    for (const [k, r] of Object.entries(st.temperatures)) temperatures[k] = { actual: r.actual, target: r.target };
    return {
      printer: { id: this.options.record.id, name: this.options.record.name },
      profile: { width: p.volume.width, depth: p.volume.depth, height: p.volume.height, heatedBed: p.heatedBed, extruders: p.extruder.count, name: p.name, model: p.model },
      job: job
        ? { file: job.file, name: job.file.split("/").pop()!, source: job.source, layer: job.layer?.current ?? null, layers: job.layer?.count ?? null, completion: st.progress?.completion ?? 0 }
        : null,
      position: st.position ? { ...st.position } : null,
      temperatures,
      pause: job?.pause ? { ...job.pause, temperatures: { ...job.pause.temperatures } } : null,
    };
  }

  /** What the head, heaters, fan and extruder were at the pause (an SD print: what the printer last reported). */
  private pauseRecord() {
    const targets: Record<string, number> = {};
    for (const [k, r] of Object.entries(this.status.temperatures)) if (r.target !== null) targets[k] = r.target;
    if (this.stream?.kind === "print" && this.run) return this.run.pauseRecord(targets);
    const p = this.status.position;
    return {
      x: p?.x ?? null,
      y: p?.y ?? null,
      z: p?.z ?? null,
      e: p?.e ?? null,
      relativeE: null,
      relative: null,
      feedrate: null,
      fan: null,
      tool: null,
      temperatures: targets,
      toolTemperature: targets.tool0 ?? null,
    };
  }

  /** Hands the running job's checkpoint to the main thread (at most once a second unless `now`). */
  private sendCheckpoint(force = false): void {
    const run = this.run;
    const job = this.status.job;
    // A resumed print's checkpoint replaces the interrupted one only once its lift went through.
    if (!run || !job || !isJobRunning(job.state) || this.resuming) return;
    const now = performance.now();
    if (!force && now - this.lastCheckpoint < CHECKPOINT_MS) return;
    this.lastCheckpoint = now;
    const offset = this.sdJob ? this.sdJob.pos : this.stream?.kind === "print" ? this.stream.ackedTo : 0;
    const targets: Record<string, number> = {};
    for (const [k, r] of Object.entries(this.status.temperatures)) if (r.target !== null) targets[k] = r.target;
    const checkpoint = run.checkpoint(
      { id: job.id, file: job.file, sha256: job.sha256, source: job.source, size: job.size, startedAt: job.startedAt },
      offset,
      targets,
      job.state === "paused",
      now,
    );
    this.options.publish({ type: "checkpoint", checkpoint });
  }

  // ---- publishing ------------------------------------------------------------------------------------

  private setState(state: PrinterStatus["state"], problem: Problem | null): void {
    const changed = this.status.state !== state || this.status.problem !== problem;
    this.status.state = state;
    this.status.problem = problem;
    if (changed) this.publishNow();
  }

  private note(text: string): void {
    this.recorder.record("info" satisfies TraceDirection, text, performance.timeOrigin + performance.now());
    this.markDirty();
  }

  private emit(event: PrinterEvent): void {
    this.publishNow();
    this.options.publish({ type: "event", event });
  }

  /**
   * A new layer from the job's plan: in the status (sent at its usual pace), and as an event
   * (posted, never awaited). Not with the status sent at once as for job transitions: a fast print
   * of thin layers begins many a second, and every page and API listener would get each.
   */
  private layerBegan(job: Job): void {
    const before = job.layer?.current;
    job.layer = this.run!.layer();
    if (!job.layer || job.layer.current === before) return;
    this.markDirty();
    this.options.publish({ type: "event", event: { type: "layer", file: job.file, ...job.layer } });
  }

  /** A job transition, with the job and its progress as they are now. */
  private emitJob(state: Extract<PrinterEvent, { type: "job" }>["state"], reason?: string | null): void {
    const job = this.status.job!;
    this.updateProgress();
    this.emit({ type: "job", state, file: job.file, ...(reason ? { reason } : {}), job: structuredClone(job), progress: this.status.progress ? { ...this.status.progress } : null });
  }

  private markDirty(): void {
    if (!this.publishTimer) this.publishTimer = setTimeout(() => this.publishNow(), PUBLISH_MS);
  }

  /** Sends the status (and the log lines since last time) now; bursts collapse into one message. */
  private publishNow(): void {
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    this.updateProgress();
    this.sendCheckpoint();
    this.noteContinuable();
    const engine = this.engine;
    if (engine) {
      this.status.link = {
        ...this.linkStats.figures(engine.stats, engine.ackLatencies, engine.latencyCount, performance.now()),
        maxWindow: this.window,
      };
    }
    if (this.recorder.total > this.logSeen) {
      // A fast print produces thousands of lines a second; the terminal shows the latest, saying how many it leaves out.
      const lines: LogLine[] = this.recorder.since(this.logSeen, LOG_KEEP).map((e) => {
        const kind = e.dir !== "info" && engine ? terminalKind(e.dir, e.line, engine.lineGrammar) : undefined;
        return { t: Math.round(e.t), dir: e.dir, text: e.line, ...(kind ? { kind } : {}) };
      });
      const left = this.recorder.total - this.logSeen - lines.length;
      if (left > 0) lines.unshift({ t: lines[0]!.t, dir: "info", text: `… ${left.toLocaleString("en")} lines not shown (the flight recorder has every line)` });
      this.logSeen = this.recorder.total;
      this.options.publish({ type: "log", lines });
    }
    this.options.publish({ type: "status", status: structuredClone(this.status) });
  }
}
