/**
 * The protocol engine (design principle 1): a deterministic state machine with no I/O, no timers
 * and no clock of its own. The shell feeds it received lines and the time, asks it for lines to
 * write and for events, and calls `tick` at `nextDeadline()`. Transcripts replay through it.
 *
 * Accounting rule that makes resends and windowing exact: firmware answers every line it reads
 * with exactly one `ok` (executed or rejected). So `inFlight` is a FIFO of what we sent; each ok
 * pops the oldest entry. A resend request marks entries from the requested line on as rejected
 * (their oks will come but mean nothing) and re-queues the history from that line (§1.7).
 */
import { clean, frame } from "./framing.ts";
import type { FirmwareInfo } from "./firmware-info.ts";
import type { Position } from "./position.ts";
import type { Quirks } from "./quirks.ts";
import type { QuirksLibrary } from "./quirks-library.ts";
import { classify, compileGrammar, type ErrorClass, type Grammar, type Received } from "./responses.ts";
import type { TemperatureReport } from "./temperature.ts";

/** The link's condition as the user sees it. */
export type LinkState = "closed" | "handshake" | "operational" | "error";

/** A problem in words (design principle 6): a stable code, a sentence and a hint for the fix. */
export interface LinkProblem {
  code: string;
  message: string;
  hint: string;
}

export type EngineEvent =
  | { type: "state"; state: LinkState; problem?: LinkProblem }
  | { type: "sent"; line: string }
  | { type: "received"; line: string }
  | { type: "acked"; tag: number }
  | { type: "temperature"; report: TemperatureReport }
  | { type: "position"; position: Position }
  | { type: "firmware"; name: string; profile: string; info: FirmwareInfo; capabilities: Record<string, boolean> }
  | { type: "busy"; reason: string }
  | { type: "action"; name: string; params: string }
  | { type: "firmwareError"; errorClass: ErrorClass; text: string }
  | { type: "reset" }
  | { type: "notice"; level: "info" | "warning"; message: string };

export interface EngineOptions {
  /** The starting profile; replaced when the firmware identifies itself and `library` knows it. */
  quirks: Quirks;
  library?: QuirksLibrary;
  /** Maximum lines in flight. 1 is ping-pong (§2.5 strategy 1). */
  window?: number;
}

/** Counters for the link statistics shown to the user. */
export interface LinkStats {
  linesSent: number;
  linesResent: number;
  resendRequests: number;
  timeouts: number;
}

interface Sent {
  n: number;
  tag: number;
  command: string;
  rejected: boolean;
  longRunning: boolean;
}

interface Pending {
  command: string;
  tag: number;
}

const NO_TAG = -1;
/** How long to let answers to repeated hellos drain before the first real command. */
const SETTLE_MS = 300;
/** A generous limit for commands that block on purpose when the firmware sends no keep-alives. */
const LONG_RUNNING_LIMIT_MS = 15 * 60_000;

export class ProtocolEngine {
  state: LinkState = "closed";
  readonly stats: LinkStats = { linesSent: 0, linesResent: 0, resendRequests: 0, timeouts: 0 };
  capabilities: Record<string, boolean> = {};
  firmwareInfo: FirmwareInfo = {};
  currentTool = 0;

  private quirks: Quirks;
  private grammar: Grammar;
  private readonly library: QuirksLibrary | undefined;
  private readonly window: number;

  private nextN = 1;
  private readonly historyText: string[];
  private readonly historyTag: number[];
  private readonly historyCommand: string[];
  private readonly inFlight: Sent[] = [];
  private queue: Pending[] = [];
  private queueHead = 0;
  /** Line numbers still to retransmit after a resend request: [resendFrom, resendTo). */
  private resendFrom = 0;
  private resendTo = 0;
  private resendOkDeadline: number | undefined;
  private lastResendN = -1;
  private consecutiveResends = 0;

  private out: string[] = [];
  private events: EngineEvent[] = [];

  private openedAt = 0;
  private helloAt = 0;
  private lastReceivedAt = 0;
  private consecutiveTimeouts = 0;
  private silentSince = 0;
  private busySeen = false;
  private identifying = false;
  /** Hellos sent since the link opened; each may still be answered. */
  private hellosSent = 0;
  /** After several hellos, oks still on their way are absorbed until this time. */
  private settleUntil: number | undefined;
  private autoreportTemperature = false;
  private nextPollAt = 0;

  constructor(options: EngineOptions) {
    this.quirks = options.quirks;
    this.grammar = compileGrammar(options.quirks);
    this.library = options.library;
    this.window = Math.max(1, options.window ?? 1);
    const size = this.quirks.resend.historySize;
    this.historyText = new Array<string>(size);
    this.historyTag = new Array<number>(size).fill(NO_TAG);
    this.historyCommand = new Array<string>(size);
  }

  /** The profile in force (changes when the firmware is identified). */
  get profile(): Quirks {
    return this.quirks;
  }

  /** Starts the handshake on a freshly opened link (§3.3). */
  open(now: number): void {
    this.resetLink(now);
    this.openedAt = now;
    this.setState("handshake");
    this.sendHello(now);
  }

  /** The link was closed by us or went away; forget everything in flight. */
  close(): void {
    this.inFlight.length = 0;
    this.clearQueue();
    this.resendFrom = this.resendTo = 0;
    this.setState("closed");
  }

  /**
   * Queues a command for the firmware. Comments and whitespace are stripped; an empty result is
   * dropped. `tag` comes back in an `acked` event once the firmware has acknowledged the line.
   * Returns false (with a notice) when the command is refused.
   */
  enqueue(command: string, now: number, tag = NO_TAG): boolean {
    const cmd = toAscii(clean(command));
    if (cmd === "") return false;
    const code = commandCode(cmd);
    if (this.quirks.commands.blocked.includes(code)) {
      this.notice("warning", `${code} was not sent: it blocks the serial line until someone presses the printer's button.`);
      return false;
    }
    if (this.state !== "operational" && this.state !== "handshake") {
      this.notice("warning", `"${cmd}" was not sent: the printer is not connected.`);
      return false;
    }
    const outOfBand =
      this.quirks.commands.emergency.includes(code) &&
      this.capabilities[this.quirks.commands.emergencyCapability] === true &&
      this.state === "operational";
    if (outOfBand) {
      // The emergency parser acts on it at once; it still gets its ok, so it takes a FIFO slot.
      this.transmitNew(cmd, tag, now);
      return true;
    }
    this.queue.push({ command: cmd, tag });
    this.pump(now);
    return true;
  }

  /** M112 (§7): written at once, bare and numbered, bypassing every queue; the link is then dead. */
  emergencyStop(now: number): void {
    if (this.state === "closed") return;
    this.write("M112");
    this.transmitNew("M112", NO_TAG, now);
    this.clearQueue();
    this.fail({
      code: "emergency_stop",
      message: "Emergency stop: M112 was sent and the printer has halted.",
      hint: "Check the printer, then reset or power-cycle it and connect again.",
    });
  }

  /** How many more lines could be taken right now without queueing behind others. */
  capacity(): number {
    if (this.state !== "operational" || this.identifying) return 0;
    const pending = this.queue.length - this.queueHead + (this.resendTo - this.resendFrom);
    return Math.max(0, this.window - this.inFlight.length - pending);
  }

  /** Lines in flight plus lines queued: zero when the firmware has everything we meant to send. */
  outstanding(): number {
    return this.inFlight.length + this.queue.length - this.queueHead + (this.resendTo - this.resendFrom);
  }

  /** Feeds one received line (without its line ending). */
  receive(raw: string, now: number): void {
    const line = raw.indexOf("\0") >= 0 ? raw.replaceAll("\0", "").trim() : raw.trim();
    this.lastReceivedAt = now;
    this.consecutiveTimeouts = 0;
    this.events.push({ type: "received", line });
    if (this.state === "closed" || this.state === "error") return;
    if (this.library && this.state === "operational" && !this.firmwareInfo.FIRMWARE_NAME) {
      const byLine = this.library.detectByLine(line);
      if (byLine && byLine !== this.quirks.id) this.useProfile(byLine);
    }
    this.handle(classify(line, this.grammar, this.currentTool), now);
  }

  /** Advances timers: handshake retries, resend-ok detection, communication timeouts, polling. */
  tick(now: number): void {
    if (this.state === "handshake") {
      if (now - this.openedAt >= this.quirks.handshake.timeoutMs) {
        this.fail({
          code: "no_response",
          message: `The printer did not answer within ${Math.round(this.quirks.handshake.timeoutMs / 1000)} s of connecting.`,
          hint: "Check that it is powered on and that the baud rate is right (most printers use 115200 or 250000).",
        });
      } else if (now - this.helloAt >= this.quirks.handshake.retryMs) {
        this.sendHello(now);
      }
      return;
    }
    if (this.state !== "operational") return;
    if (this.settleUntil !== undefined) {
      if (now < this.settleUntil) return;
      this.settleUntil = undefined;
      this.lastReceivedAt = now;
      this.enqueueSystem("M115", now);
    }
    if (this.resendOkDeadline !== undefined && now >= this.resendOkDeadline) {
      // The firmware sent no ok after its resend request (some Marlin 2.0.x builds): simulate it.
      this.resendOkDeadline = undefined;
      this.popAck(now);
    }
    if (this.inFlight.length > 0) {
      if (now - this.lastReceivedAt >= this.timeoutFor(this.inFlight[0]!)) this.onTimeout(now);
    } else if (now - this.lastReceivedAt >= this.communicationLimit()) {
      // Nothing in flight and nothing heard: probe, so real silence becomes a timeout.
      this.lastReceivedAt = now;
      this.enqueueSystem("M105", now);
    }
    this.pollTemperature(now);
    this.pump(now);
  }

  /** M105 at the poll interval when the firmware does not auto-report temperatures. */
  private pollTemperature(now: number): void {
    if (this.autoreportTemperature || this.identifying || now < this.nextPollAt) return;
    this.nextPollAt = now + this.quirks.timeouts.temperaturePollMs;
    // Not while a blocking command runs: the firmware is not reading, and it reports on its own.
    if (!this.hasPending("M105") && !this.longRunningInFlight()) this.enqueueSystem("M105", now);
  }

  /** When `tick` next has something to do; undefined when nothing is timed. */
  nextDeadline(): number | undefined {
    if (this.state === "handshake") {
      return Math.min(this.openedAt + this.quirks.handshake.timeoutMs, this.helloAt + this.quirks.handshake.retryMs);
    }
    if (this.state !== "operational") return undefined;
    if (this.settleUntil !== undefined) return this.settleUntil;
    let at =
      this.inFlight.length > 0
        ? this.lastReceivedAt + this.timeoutFor(this.inFlight[0]!)
        : this.lastReceivedAt + this.communicationLimit();
    if (this.resendOkDeadline !== undefined) at = Math.min(at, this.resendOkDeadline);
    if (!this.autoreportTemperature && !this.identifying) at = Math.min(at, this.nextPollAt);
    return at;
  }

  /** Lines to write, in order, without line endings; empties the outbox. */
  takeOutgoing(): string[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Events since the last call; empties the list. */
  takeEvents(): EngineEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  /** Drops queued (not yet sent) commands, e.g. when a job is cancelled. Lines in flight stay. */
  clearQueue(): void {
    this.queue = [];
    this.queueHead = 0;
  }

  // ---- received lines -------------------------------------------------------------------------

  private handle(msg: Received, now: number): void {
    switch (msg.kind) {
      case "ok":
        if (msg.report) this.handle(msg.report, now);
        this.onOk(now);
        return;
      case "resend":
        this.onResend(msg.lineNumber, now);
        return;
      case "start":
        this.onStart(now);
        return;
      case "wait":
        // Repetier/Marlin NO_TIMEOUTS: "idle and waiting", i.e. an ok went missing (§2.3).
        if (this.quirks.wait.meaning === "idle" && this.state === "operational" && this.inFlight.length > 0) {
          this.popAck(now);
        }
        return;
      case "busy":
        if (!this.busySeen) {
          this.busySeen = true;
          if (this.quirks.busy.intervalCommand) this.enqueueSystem(this.quirks.busy.intervalCommand, now);
        }
        this.events.push({ type: "busy", reason: msg.reason });
        return;
      case "action":
        this.events.push({ type: "action", name: msg.name, params: msg.params });
        return;
      case "error":
        this.onError(msg.errorClass, msg.text, now);
        return;
      case "capability":
        this.capabilities[msg.name] = msg.enabled;
        return;
      case "firmware":
        this.firmwareInfo = msg.info;
        return;
      case "position":
        this.events.push({ type: "position", position: msg.position });
        return;
      case "temperature":
        this.events.push({ type: "temperature", report: msg.report });
        return;
      case "text":
        return;
    }
  }

  private onOk(now: number): void {
    if (this.state === "handshake") {
      // Any ok answers the hello. If several hellos went out (a retry, or a `start` banner from a
      // board that had in fact read the first one), more oks may follow: let them arrive while
      // nothing else is in flight, so none is mistaken for the ack of a real command.
      this.inFlight.length = 0;
      this.setState("operational");
      this.identifying = true;
      if (this.hellosSent > 1) this.settleUntil = now + SETTLE_MS;
      else this.enqueueSystem("M115", now);
      return;
    }
    this.resendOkDeadline = undefined;
    this.popAck(now);
  }

  private popAck(now: number): void {
    const entry = this.inFlight.shift();
    if (entry) {
      if (!entry.rejected) {
        if (entry.tag !== NO_TAG) this.events.push({ type: "acked", tag: entry.tag });
        if (entry.command === "M115" && this.identifying) this.finishIdentification(now);
      }
    }
    this.pump(now);
  }

  private onResend(k: number, now: number): void {
    if (this.state !== "operational") return;
    this.stats.resendRequests++;
    const echo = this.inFlight.some((e) => e.rejected && e.n >= k);
    if (echo) {
      // A line that was in flight when the firmware flushed its buffer asks for k again (§1.7 step 2).
      if (this.quirks.ack.okAfterResend === "never") this.popAck(now);
      return;
    }
    this.consecutiveResends = k === this.lastResendN ? this.consecutiveResends + 1 : 1;
    this.lastResendN = k;
    if (this.consecutiveResends > this.quirks.resend.maxConsecutive) {
      this.fail({
        code: "resend_loop",
        message: `The printer asked for line ${k} ${this.consecutiveResends} times in a row; the link is stuck.`,
        hint: "The line may be damaged on every try: check the USB cable and its shielding, or try a lower baud rate.",
      });
      return;
    }
    const size = this.historyText.length;
    if (k >= this.nextN) return; // asks for a line we have not sent yet: nothing to repeat
    if (k < this.nextN - size || k < 0) {
      this.fail({
        code: "resend_out_of_history",
        message: `The printer asked for line ${k}, which is older than the ${size} lines kept for resending.`,
        hint: "The print cannot continue safely. Restart it; if this repeats, check the cable and baud rate.",
      });
      return;
    }
    for (const e of this.inFlight) if (e.n >= k) e.rejected = true;
    this.resendFrom = k;
    this.resendTo = this.nextN;
    this.notice("info", `Printer asked to resend line ${k}.`);
    if (this.quirks.ack.okAfterResend === "never") this.popAck(now);
    else if (this.quirks.ack.okAfterResend === "detect") this.resendOkDeadline = now + this.quirks.ack.resendOkMs;
  }

  private onStart(now: number): void {
    if (this.state === "handshake") {
      // The board has just booted (DTR reset): greet it now rather than after the retry delay.
      this.sendHello(now);
      return;
    }
    // Operational and the printer rebooted behind our back (§3.1): whatever was queued is void.
    this.events.push({ type: "reset" });
    this.notice("warning", "The printer restarted unexpectedly; reconnecting the link.");
    this.resetLink(now);
    this.openedAt = now;
    this.setState("handshake");
    this.sendHello(now);
  }

  private onError(errorClass: ErrorClass, text: string, now: number): void {
    this.events.push({ type: "firmwareError", errorClass, text });
    switch (errorClass) {
      case "fatal":
        this.fail({
          code: "firmware_fatal",
          message: `The printer stopped with an error: "${text}".`,
          hint: "Read the printer's display, fix the cause (e.g. a loose thermistor or heater), then power-cycle it and connect again.",
        });
        return;
      case "halted":
        this.fail({
          code: "firmware_halted",
          message: `The printer halted: "${text}".`,
          hint: "Fix the cause, then send M999 or reset the printer and connect again.",
        });
        return;
      case "fakeOk":
        this.popAck(now);
        return;
      default:
        return;
    }
  }

  // ---- identification --------------------------------------------------------------------------

  private finishIdentification(now: number): void {
    this.identifying = false;
    const name = this.firmwareInfo.FIRMWARE_NAME ?? this.firmwareInfo.NAME ?? "";
    const detected = name && this.library ? this.library.detectByName(name) : undefined;
    if (detected && detected !== this.quirks.id) this.useProfile(detected);
    this.events.push({
      type: "firmware",
      name: name || "unknown firmware",
      profile: this.quirks.id,
      info: this.firmwareInfo,
      capabilities: { ...this.capabilities },
    });
    const temp = this.quirks.autoreport.temperature;
    if (this.capabilities[temp.capability]) {
      this.autoreportTemperature = true;
      this.enqueueSystem(temp.command, now);
    } else {
      this.nextPollAt = now;
      this.pollTemperature(now);
    }
    const pos = this.quirks.autoreport.position;
    if (this.capabilities[pos.capability]) this.enqueueSystem(pos.command, now);
    this.pump(now);
  }

  private useProfile(id: string): void {
    if (!this.library) return;
    this.quirks = this.library.get(id);
    this.grammar = compileGrammar(this.quirks);
  }

  // ---- sending -----------------------------------------------------------------------------------

  private pump(now: number): void {
    if (this.state !== "operational" || this.settleUntil !== undefined) return;
    while (this.inFlight.length < this.window) {
      if (this.resendOkDeadline !== undefined) return; // wait for the resend's ok before repeating
      if (this.resendFrom < this.resendTo) {
        const n = this.resendFrom++;
        const slot = n % this.historyText.length;
        this.write(this.historyText[slot]!);
        this.inFlight.push({
          n,
          tag: this.historyTag[slot]!,
          command: this.historyCommand[slot]!,
          rejected: false,
          longRunning: this.isLongRunning(this.historyCommand[slot]!),
        });
        this.stats.linesResent++;
        continue;
      }
      if (this.queueHead >= this.queue.length) break;
      const next = this.queue[this.queueHead++]!;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      this.transmitNew(next.command, next.tag, now);
    }
  }

  private transmitNew(command: string, tag: number, _now: number): void {
    const n = this.nextN++;
    const text = frame(n, command);
    const slot = n % this.historyText.length;
    this.historyText[slot] = text;
    this.historyTag[slot] = tag;
    this.historyCommand[slot] = command;
    this.inFlight.push({ n, tag, command, rejected: false, longRunning: this.isLongRunning(command) });
    if (command.charCodeAt(0) === 84 /* T */) {
      const tool = Number(command.slice(1));
      if (Number.isInteger(tool)) this.currentTool = tool;
    }
    this.write(text);
  }

  private sendHello(now: number): void {
    // Replace, not add: a hello eaten by a booting board must not leave an ok owed forever.
    this.inFlight.length = 0;
    this.helloAt = now;
    this.hellosSent++;
    this.nextN = 0;
    this.transmitNew(this.quirks.handshake.hello, NO_TAG, now);
  }

  private write(text: string): void {
    this.out.push(text);
    this.stats.linesSent++;
    this.events.push({ type: "sent", line: text });
  }

  private enqueueSystem(command: string, now: number): void {
    this.queue.push({ command, tag: NO_TAG });
    this.pump(now);
  }

  private hasPending(command: string): boolean {
    for (let i = this.queueHead; i < this.queue.length; i++) if (this.queue[i]!.command === command) return true;
    return this.inFlight.some((e) => e.command === command);
  }

  // ---- timeouts ------------------------------------------------------------------------------------

  private communicationLimit(): number {
    return this.busySeen ? this.quirks.timeouts.communicationBusyMs : this.quirks.timeouts.communicationMs;
  }

  private timeoutFor(oldest: Sent): number {
    // Without keep-alives a long-running command is legitimately silent; with them, silence is real.
    if (oldest.longRunning && !this.busySeen) return Math.max(LONG_RUNNING_LIMIT_MS, this.communicationLimit());
    return this.communicationLimit();
  }

  private onTimeout(now: number): void {
    this.stats.timeouts++;
    if (this.consecutiveTimeouts++ === 0) this.silentSince = this.lastReceivedAt;
    const waitingFor = this.inFlight[0]!.command;
    if (this.consecutiveTimeouts > this.quirks.timeouts.maxConsecutive) {
      this.fail({
        code: "timeout",
        message: `The printer stopped answering: nothing received for ${Math.round((now - this.silentSince) / 1000)} s while waiting for "${waitingFor}".`,
        hint: "Check that the printer is on and the USB cable is connected, then connect again. If it restarted, the print cannot resume.",
      });
      return;
    }
    this.notice("warning", `No answer to "${waitingFor}" in ${Math.round(this.communicationLimit() / 1000)} s; assuming a lost ok.`);
    // OctoPrint's ladder (§2.6): during a resend, the repeat goes out again; otherwise treat the
    // oldest line as acknowledged and provoke a reply, so a dead link keeps counting timeouts.
    this.lastReceivedAt = now;
    const resending = this.resendFrom < this.resendTo || this.inFlight[0]!.rejected;
    this.popAck(now);
    if (!resending && !this.hasPending("M105")) this.enqueueSystem("M105", now);
  }

  private longRunningInFlight(): boolean {
    return this.inFlight.some((e) => e.longRunning);
  }

  private isLongRunning(command: string): boolean {
    return this.quirks.commands.longRunning.includes(commandCode(command));
  }

  // ---- state -----------------------------------------------------------------------------------------

  private resetLink(now: number): void {
    this.inFlight.length = 0;
    this.clearQueue();
    this.resendFrom = this.resendTo = 0;
    this.resendOkDeadline = undefined;
    this.consecutiveResends = 0;
    this.lastResendN = -1;
    this.consecutiveTimeouts = 0;
    this.lastReceivedAt = now;
    this.busySeen = false;
    this.identifying = false;
    this.hellosSent = 0;
    this.settleUntil = undefined;
    this.autoreportTemperature = false;
    this.capabilities = {};
    this.firmwareInfo = {};
  }

  private fail(problem: LinkProblem): void {
    this.inFlight.length = 0;
    this.clearQueue();
    this.resendFrom = this.resendTo = 0;
    this.resendOkDeadline = undefined;
    this.setState("error", problem);
  }

  private setState(state: LinkState, problem?: LinkProblem): void {
    this.state = state;
    this.events.push(problem ? { type: "state", state, problem } : { type: "state", state });
  }

  private notice(level: "info" | "warning", message: string): void {
    this.events.push({ type: "notice", level, message });
  }
}

/** The command word of a line: `G1 X1` → `G1`, `M109 S200` → `M109`, `T1` → `T1`. */
export function commandCode(command: string): string {
  const space = command.indexOf(" ");
  return (space < 0 ? command : command.slice(0, space)).toUpperCase();
}

/** Firmware reads bytes, and checksums are over bytes: anything outside ASCII becomes `?`. */
function toAscii(command: string): string {
  for (let i = 0; i < command.length; i++) {
    if (command.charCodeAt(i) > 126) return command.replace(/[^\x20-\x7e]/g, "?");
  }
  return command;
}
