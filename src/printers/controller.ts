/**
 * The imperative shell around one printer's protocol engine: it owns the transport, the clock,
 * one timer and the job's file source, and keeps the printer's status. It runs inside the
 * printer's Worker (`worker.ts`) so HTTP load, analysis and plugins never delay the next line.
 */
import { LinePipeline, type LineHooks } from "../plugins/serial/pipeline.ts";
import { ProtocolEngine, type EngineEvent, type LinkProblem } from "../protocol/engine.ts";
import type { QuirksLibrary } from "../protocol/quirks-library.ts";
import { BASE_PROFILE } from "../protocol/quirks-library.ts";
import { SerialTransport } from "../transport/serial.ts";
import { TransportError, type Transport } from "../transport/transport.ts";
import { VirtualTransport } from "../virtual/transport.ts";
import type { VirtualPrinterOptionsInput } from "../virtual/options.ts";
import { GcodeSource } from "./gcode-source.ts";
import type { PrinterRecord } from "./record.ts";
import { initialStatus, type PrinterStatus, type Problem } from "./status.ts";

/** One line of the terminal: what was sent or received, or a note from the host. */
export interface LogLine {
  t: number;
  dir: "send" | "recv" | "info";
  text: string;
}

/** Things worth telling beyond the status: job transitions and notices. */
export type PrinterEvent =
  | { type: "job"; state: "started" | "paused" | "resumed" | "done" | "cancelled" | "failed"; file: string; reason?: string }
  | { type: "notice"; level: "info" | "warning" | "error"; message: string }
  | { type: "firmwareError"; text: string };

/** What the controller publishes; the worker posts these to the main thread as they are. */
export type ControllerOutput =
  | { type: "status"; status: PrinterStatus }
  | { type: "log"; lines: LogLine[] }
  | { type: "event"; event: PrinterEvent };

/** Either a value or a problem in words; commands never throw across the worker boundary. */
export type Result<T = null> = { ok: true; value: T } | { ok: false, error: Problem };

export interface ControllerOptions {
  record: PrinterRecord;
  library: QuirksLibrary;
  /** Root of the files folder; job paths are relative to it. */
  filesDir: string;
  /** Options for the built-in virtual printer (time scale, faults). */
  virtual?: VirtualPrinterOptionsInput;
  /** Lines in flight (1 = ping-pong). */
  window?: number;
  /** Plugins' serial-path hooks (loaded in this Worker); see src/plugins/serial/. */
  hooks?: LineHooks;
  publish(output: ControllerOutput): void;
}

interface ActiveJob {
  file: string;
  source: GcodeSource;
  /** End offset of the last line handed to the engine. */
  queuedTo: number;
  /** End offset of the last line the firmware acknowledged. */
  ackedTo: number;
  linesSent: number;
  pausedSince: number | undefined;
  pausedTotal: number;
}

const PUBLISH_MS = 200;
const LOG_KEEP = 200;
const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = (code: string, message: string, hint: string): Result<never> => ({ ok: false, error: { code, message, hint } });

export class PrinterController {
  readonly status: PrinterStatus;
  private transport: Transport | undefined;
  private engine: ProtocolEngine | undefined;
  private job: ActiveJob | undefined;
  private decoder = new TextDecoder();
  private partial = "";
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private log: LogLine[] = [];
  private publishTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly encoder = new TextEncoder();
  private writeChain: Promise<void> = Promise.resolve();
  /** Plugin stages out (commands, job lines, scripts → engine) and in (received lines → engine). */
  private readonly outgoing: LinePipeline;
  private readonly incoming: LinePipeline;
  private accepted = 0;

  constructor(private readonly options: ControllerOptions) {
    this.status = initialStatus(options.record.id);
    const resume = () => this.flush();
    this.outgoing = new LinePipeline(options.hooks, ["queue", "send"], (line, tag) => this.enqueueLine(line, tag), resume);
    this.incoming = new LinePipeline(options.hooks, ["receive"], (line) => this.engine?.receive(line, performance.now()), resume);
  }

  /** Opens the transport and starts the handshake; resolves once the port is open. */
  async connect(): Promise<Result> {
    if (this.transport) return fail("already_connected", "The printer is already connected.", "Disconnect first to change the connection.");
    this.setState("connecting", null);
    const transport = this.makeTransport();
    this.transport = transport;
    this.note(`Connecting to ${transport.description}`);
    try {
      await transport.open({
        data: (chunk) => this.onData(chunk),
        closed: (error) => this.onTransportClosed(error),
      });
    } catch (e) {
      this.transport = undefined;
      const problem =
        e instanceof TransportError
          ? { code: e.code, message: e.message, hint: e.hint }
          : { code: "io", message: `Could not open ${transport.description}: ${(e as Error).message}`, hint: "Check the connection settings." };
      this.setState("error", problem);
      return { ok: false, error: problem };
    }
    const profile = this.options.library.get(BASE_PROFILE);
    this.engine = new ProtocolEngine({ quirks: profile, library: this.options.library, window: this.options.window ?? 1 });
    this.engine.open(performance.now());
    this.flush();
    return ok(null);
  }

  /** Closes the link; a running job ends as cancelled. */
  async disconnect(): Promise<Result> {
    if (this.job && this.isJobActive()) this.endJob("cancelled", "The printer was disconnected.");
    await this.shutdownLink();
    this.setState("closed", null);
    return ok(null);
  }

  /** Sends commands typed by the user (terminal, API). */
  send(commands: string[]): Result<{ queued: number }> {
    const engine = this.engine;
    if (!engine || (this.status.state !== "operational" && this.status.state !== "printing" && this.status.state !== "paused")) {
      return fail("not_operational", "The printer is not connected.", "Connect it first.");
    }
    const before = this.accepted;
    for (const c of commands) {
      if (c.trim().toUpperCase() === "M112") {
        this.emergencyStop();
        return ok({ queued: this.accepted - before + 1 });
      }
      this.outgoing.push(c, -1, "command");
    }
    this.flush();
    return ok({ queued: this.accepted - before });
  }

  /** M112 now, bypassing every queue; the job (if any) fails. */
  emergencyStop(): Result {
    if (!this.engine) return fail("not_operational", "The printer is not connected.", "Connect it first.");
    if (this.job && this.isJobActive()) this.endJob("failed", "Emergency stop.");
    this.engine.emergencyStop(performance.now());
    this.flush();
    return ok(null);
  }

  /** Starts printing `file` (relative to the files folder) from the host. */
  async startJob(file: string): Promise<Result> {
    if (this.status.state !== "operational") {
      return this.status.state === "printing" || this.status.state === "paused"
        ? fail("busy", "A print is already running.", "Cancel it or wait until it ends.")
        : fail("not_operational", "The printer is not connected.", "Connect it first.");
    }
    const path = `${this.options.filesDir}/${file}`;
    const handle = Bun.file(path);
    if (!(await handle.exists())) return fail("file_not_found", `There is no file "${file}".`, "Upload it first, or check the name.");
    const source = new GcodeSource(path, handle.size);
    await source.fill();
    if (source.error) return fail("file_unreadable", `"${file}" could not be read: ${source.error.message}`, "Upload it again.");
    this.job = { file, source, queuedTo: 0, ackedTo: 0, linesSent: 0, pausedSince: undefined, pausedTotal: 0 };
    this.status.job = { file, size: handle.size, state: "printing", startedAt: Date.now(), endedAt: null, reason: null };
    this.setState("printing", null);
    this.emit({ type: "job", state: "started", file });
    this.outgoing.pushScript("beforePrintStarted");
    this.flush();
    return ok(null);
  }

  /** Stops feeding the job; what is already in the firmware's buffer still runs. */
  pauseJob(): Result {
    const job = this.job;
    if (!job || this.status.state !== "printing") return fail("not_printing", "Nothing is printing.", "Start a print first.");
    job.pausedSince = performance.now();
    this.status.job!.state = "paused";
    this.setState("paused", null);
    this.emit({ type: "job", state: "paused", file: job.file });
    this.outgoing.pushScript("afterPrintPaused");
    this.flush();
    return ok(null);
  }

  resumeJob(): Result {
    const job = this.job;
    if (!job || this.status.state !== "paused") return fail("not_paused", "The print is not paused.", "Pause it first.");
    job.pausedTotal += performance.now() - (job.pausedSince ?? performance.now());
    job.pausedSince = undefined;
    this.status.job!.state = "printing";
    this.setState("printing", null);
    this.emit({ type: "job", state: "resumed", file: job.file });
    this.outgoing.pushScript("beforePrintResumed");
    this.flush();
    return ok(null);
  }

  /** Stops the job and switches the heaters and fan off. */
  cancelJob(): Result {
    if (!this.job || !this.isJobActive()) return fail("not_printing", "Nothing is printing.", "Start a print first.");
    this.endJob("cancelled", "Cancelled by the user.");
    this.engine?.clearQueue();
    this.send(["M104 S0", "M140 S0", "M107"]);
    this.outgoing.pushScript("afterPrintCancelled");
    this.flush();
    return ok(null);
  }

  /** Stops the link and timers; used when the worker ends. */
  async dispose(): Promise<void> {
    await this.shutdownLink();
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.publishNow();
  }

  // ---- the serial path ---------------------------------------------------------------------------

  private onData(chunk: Uint8Array): void {
    const engine = this.engine;
    if (!engine) return;
    const text = this.partial + this.decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.incoming.push(text.slice(start, end), -1, "firmware");
      start = nl + 1;
    }
    this.partial = text.slice(start);
    this.flush();
  }

  /** Feeds job lines into free slots, writes what the engine wants sent, handles its events. */
  private flush(): void {
    const engine = this.engine;
    if (!engine) return;
    // Handling events can free slots or queue lines (acks, notices); loop until it settles.
    for (let round = 0; round < 100; round++) {
      this.feedJob();
      const out = engine.takeOutgoing();
      if (out.length) this.write(out.length === 1 ? `${out[0]}\n` : `${out.join("\n")}\n`);
      const events = engine.takeEvents();
      if (events.length === 0) break;
      for (const e of events) this.onEngineEvent(e);
      if (!this.engine) return;
    }
    this.armTimer(engine.nextDeadline());
  }

  private feedJob(): void {
    const job = this.job;
    const engine = this.engine!;
    if (!job || this.status.state !== "printing") return;
    // Plugins may pause the job from a line (`@pause`) or hold lines back (async hooks).
    while (engine.capacity() > 0 && !this.outgoing.busy && this.status.state === "printing") {
      const line = job.source.next();
      if (!line) break;
      this.outgoing.push(line.command, line.end, "job");
      job.linesSent++;
    }
    if (job.source.error) {
      this.endJob("failed", `The file could not be read: ${job.source.error.message}`);
      return;
    }
    if (job.source.wantsFill()) {
      void job.source.fill().then(() => this.flush());
    }
    this.checkJobFinished();
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
    if (!this.engine?.enqueue(line, performance.now(), tag)) return;
    this.accepted++;
    if (tag >= 0 && this.job) this.job.queuedTo = tag;
  }

  private write(text: string): void {
    const transport = this.transport;
    if (!transport) return;
    const bytes = this.encoder.encode(text);
    this.writeChain = this.writeChain.then(
      () => transport.write(bytes),
    ).catch((e: Error) => {
      this.note(`Write failed: ${e.message}`);
    });
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

  private onEngineEvent(e: EngineEvent): void {
    switch (e.type) {
      case "sent":
        this.status.busy = null;
        this.pushLog("send", e.line);
        return;
      case "received":
        this.pushLog("recv", e.line);
        return;
      case "acked":
        if (this.job) {
          this.job.ackedTo = e.tag;
          this.markDirty();
        }
        return;
      case "temperature":
        for (const [name, r] of Object.entries(e.report)) {
          const prev = this.status.temperatures[name];
          this.status.temperatures[name] = { actual: r.actual, target: r.target ?? prev?.target ?? null };
        }
        this.markDirty();
        return;
      case "position":
        this.status.position = { x: e.position.x, y: e.position.y, z: e.position.z, e: e.position.e ?? null };
        this.markDirty();
        return;
      case "firmware":
        this.status.firmware = { name: e.name, profile: e.profile, capabilities: e.capabilities };
        this.note(`Firmware: ${e.name} (profile ${e.profile})`);
        this.markDirty();
        return;
      case "busy":
        this.status.busy = e.reason;
        this.markDirty();
        return;
      case "action":
        this.onAction(e.name);
        return;
      case "firmwareError":
        this.emit({ type: "firmwareError", text: e.text });
        return;
      case "reset":
        if (this.job && this.isJobActive()) this.endJob("failed", "The printer restarted during the print, so its state was lost.");
        return;
      case "notice":
        this.note(e.message);
        this.emit({ type: "notice", level: e.level, message: e.message });
        return;
      case "state":
        this.onLinkState(e.state, e.problem);
        return;
    }
  }

  private onLinkState(state: ProtocolEngine["state"], problem: LinkProblem | undefined): void {
    switch (state) {
      case "handshake":
        this.setState("connecting", null);
        return;
      case "operational":
        if (this.status.state === "connecting") this.outgoing.pushScript("afterConnected");
        this.setState(this.job && this.isJobActive() ? (this.job.pausedSince ? "paused" : "printing") : "operational", null);
        return;
      case "error":
        if (this.job && this.isJobActive()) this.endJob("failed", problem?.message ?? "The link failed.");
        this.setState("error", problem ?? null);
        this.note(problem ? `${problem.message} ${problem.hint}` : "The link failed.");
        void this.shutdownLink();
        return;
      case "closed":
        return;
    }
  }

  /** `//action:` lines from the printer (protocol.md §5). */
  private onAction(name: string): void {
    if (name === "pause" && this.status.state === "printing") this.pauseJob();
    else if (name === "resume" && this.status.state === "paused") this.resumeJob();
    else if (name === "cancel" && this.job && this.isJobActive()) this.cancelJob();
  }

  private onTransportClosed(error: TransportError): void {
    this.transport = undefined;
    this.engine?.close();
    this.engine = undefined;
    if (this.job && this.isJobActive()) this.endJob("failed", `The connection was lost: ${error.message}`);
    this.setState("error", { code: error.code, message: error.message, hint: error.hint });
  }

  private async shutdownLink(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    const transport = this.transport;
    this.transport = undefined;
    this.engine?.close();
    this.engine = undefined;
    this.partial = "";
    this.outgoing.reset();
    this.incoming.reset();
    if (transport) {
      await this.writeChain;
      await transport.close().catch(() => undefined);
    }
  }

  private makeTransport(): Transport {
    const r = this.options.record;
    if (r.transport === "virtual") return new VirtualTransport(this.options.virtual ?? {});
    return new SerialTransport({ path: r.port ?? "", baudRate: r.baud });
  }

  // ---- job bookkeeping -----------------------------------------------------------------------------

  private isJobActive(): boolean {
    const s = this.status.job?.state;
    return s === "printing" || s === "paused";
  }

  private checkJobFinished(): void {
    const job = this.job;
    if (!job || !job.source.done || job.ackedTo < job.queuedTo || this.outgoing.busy) return;
    if (this.status.state !== "printing") return;
    job.ackedTo = job.source.size; // trailing comments count as done too
    this.endJob("done", null);
    this.outgoing.pushScript("afterPrintDone");
  }

  private endJob(state: "done" | "cancelled" | "failed", reason: string | null): void {
    const job = this.job;
    if (!job || !this.status.job) return;
    this.outgoing.dropTagged();
    this.updateProgress();
    this.status.job = { ...this.status.job, state, endedAt: Date.now(), reason };
    this.job = undefined;
    if (this.status.state === "printing" || this.status.state === "paused") this.setState("operational", null);
    this.emit({ type: "job", state, file: job.file, ...(reason ? { reason } : {}) });
    this.note(`Job ${state}: ${job.file}${reason ? ` (${reason})` : ""}`);
  }

  private updateProgress(): void {
    const job = this.job;
    if (!job) return;
    const total = job.source.size;
    const now = performance.now();
    const paused = job.pausedTotal + (job.pausedSince !== undefined ? now - job.pausedSince : 0);
    const started = this.status.job!.startedAt;
    this.status.progress = {
      completion: total > 0 ? Math.min(100, (job.ackedTo / total) * 100) : 100,
      bytesSent: job.ackedTo,
      bytesTotal: total,
      linesSent: job.linesSent,
      printTime: Math.max(0, Math.round((Date.now() - started - paused) / 1000)),
    };
  }

  // ---- publishing ------------------------------------------------------------------------------------

  private setState(state: PrinterStatus["state"], problem: Problem | null): void {
    const changed = this.status.state !== state || this.status.problem !== problem;
    this.status.state = state;
    this.status.problem = problem;
    if (changed) this.publishNow();
  }

  private pushLog(dir: LogLine["dir"], text: string): void {
    this.log.push({ t: Date.now(), dir, text });
    if (this.log.length > LOG_KEEP * 2) this.log = this.log.slice(-LOG_KEEP);
    this.markDirty();
  }

  private note(text: string): void {
    this.pushLog("info", text);
  }

  private emit(event: PrinterEvent): void {
    this.publishNow();
    this.options.publish({ type: "event", event });
  }

  private markDirty(): void {
    if (!this.publishTimer) this.publishTimer = setTimeout(() => this.publishNow(), PUBLISH_MS);
  }

  /** Sends the status (and the log lines since last time) now; bursts collapse into one message. */
  private publishNow(): void {
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    this.updateProgress();
    if (this.engine) this.status.link = { ...this.engine.stats };
    if (this.log.length) {
      // A fast print produces thousands of lines a second; the terminal shows the latest.
      this.options.publish({ type: "log", lines: this.log.length > LOG_KEEP ? this.log.slice(-LOG_KEEP) : this.log });
      this.log = [];
    }
    this.options.publish({ type: "status", status: structuredClone(this.status) });
  }
}
