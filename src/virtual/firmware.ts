/**
 * The virtual printer's firmware: a deterministic simulation with no I/O, no timers and no clock
 * of its own. The shell feeds it bytes and the time, takes its output, and sleeps until
 * `nextWakeAt()`. Same options, same inputs at the same times → byte-identical output.
 *
 * Serial handling follows Marlin's main loop: lines are read into a small command queue (and
 * checked: line number, checksum, M110) only while no command is blocking; the emergency parser
 * sees every line the moment it arrives; `ok` follows each command once it is processed (or when
 * it is accepted, for firmware that acks on receipt). The personality decides the words and the
 * wire behaviour. With a baud rate, bytes take their time on the wire both ways and the receive
 * buffer can overrun; the planner counts the times it ran dry while fed (underruns).
 */
import { unframe } from "../protocol/framing.ts";
import { builtInQuirksLibrary } from "../printers/quirks-sources.ts";
import { execute, sdStatus } from "./commands.ts";
import { emergencyCommand, type EmergencyCommand } from "./emergency.ts";
import { FaultInjector } from "./faults.ts";
import { parseCommand } from "./gcode.ts";
import { LineSplitter } from "./lines.ts";
import { Machine } from "./machine.ts";
import { parseVirtualPrinterOptions, type Faults, type VirtualPrinterOptions, type VirtualPrinterOptionsInput } from "./options.ts";
import { personality as makePersonality, type Personality, type ResetCause } from "./personalities.ts";
import type { Vec4 } from "./planner.ts";
import { PlannerSpaceWait, TimedWait, type Blocking } from "./waits.ts";
import { Wire } from "./wire.ts";

export type { ExecutedLine } from "./options.ts";
export type { ResetCause } from "./personalities.ts";

/** One heater in a {@link VirtualPrinterState}. */
export interface HeaterState {
  /** What the sensor reads, °C. */
  temperature: number;
  target: number;
  /** Power as Marlin reports it after `@:`, 0…127. */
  power: number;
}

/** A snapshot for tests and status views. */
export interface VirtualPrinterState {
  hotends: HeaterState[];
  bed: HeaterState;
  /** Logical position after the last queued move (what M114 prints). */
  position: { x: number; y: number; z: number; e: number };
  tool: number;
  fanSpeed: number;
  /** Blocks in the planner (queued or executing). */
  plannerLength: number;
  /** Lines received but not yet read into the command queue, plus commands read ahead. */
  pendingLines: number;
  /** The command currently blocking (withholding its `ok`), if any. */
  blockedOn: string | undefined;
  lastLineNumber: number;
  halted: boolean;
  /** Fault injection counters: the original two, and every kind. */
  faults: { corrupted: number; dropped: number } & Record<keyof Faults, number>;
  /** Bytes lost because the receive buffer was full. */
  overruns: number;
  /** Times the planner ran dry between fed moves, and the time it stood still. */
  underruns: number;
  starvedMs: number;
  sd: { files: number; selected: string | undefined; printing: boolean; pos: number };
}

interface QueuedCommand {
  n: number | undefined;
  command: string;
  source: "serial" | "sd";
  /** The `busyHeater` fault: wait this long (busy) before running the command. */
  delayMs?: number;
}

interface Received {
  line: string;
  /** The `spuriousResend` fault: refuse this intact line. */
  refuse?: boolean;
  delayMs?: number;
}

// A bug guard: this many events at one instant means something never consumes its wake time.
const MAX_EVENTS_PER_INSTANT = 100_000;
// Prusa reboots itself this long after kill() (§3.1); Repetier's M112 resets the board at once.
const REBOOT_AFTER_KILL_MS = 1000;
// Repetier prints `wait` after this much idle silence, and then every so often (§2.3).
const IDLE_WAIT_MS = 1000;

/** The simulated firmware. Example: `fw.receive("N0 M110 N0*125\n", t); fw.takeOutput() === "ok\n"`. */
export class VirtualFirmware {
  /** The validated options, defaults filled in. */
  readonly options: VirtualPrinterOptions;
  readonly personality: Personality;
  private m: Machine;
  private readonly splitter = new LineSplitter();
  private readonly faults: FaultInjector;
  private readonly inWire: Wire;
  private readonly outWire: Wire;
  private readonly commandBuffer: number;
  private readonly emergencyParser: boolean | "M112";
  // Lines on their way in (with the wire's arrival times), and out.
  private arriving: { at: number; line: string }[] = [];
  private arrivingHead = 0;
  private leaving: { at: number; text: string }[] = [];
  private leavingHead = 0;
  // Received lines not yet read by the main loop (the RX buffer), consumed from `rxHead`.
  private rx: Received[] = [];
  private rxHead = 0;
  private rxBytes = 0;
  private overruns = 0;
  // The command queue (BUFSIZE): accepted lines read ahead of execution.
  private queue: QueuedCommand[] = [];
  private op: Blocking | undefined;
  private opCommand: QueuedCommand | undefined;
  /** After a `busyHeater` wait: the command to run then. */
  private opFollow: QueuedCommand | undefined;
  private nextBusyAt = 0;
  private silentUntil = 0;
  private rebootAt: number | undefined;
  private lastInputAt = 0;
  private nextIdleWaitAt: number | undefined;
  private now: number;

  constructor(options: VirtualPrinterOptionsInput, now: number) {
    this.options = parseVirtualPrinterOptions(options);
    this.now = now;
    this.lastInputAt = now;
    this.personality = makePersonality(this.options.personality, builtInQuirksLibrary());
    this.commandBuffer = this.options.commandBuffer ?? this.personality.commandBuffer;
    const ep = this.personality.emergencyParser;
    this.emergencyParser = ep === true ? this.options.emergencyParser : ep;
    this.m = new Machine({ ...this.options, emergencyParser: this.emergencyParser === true }, this.personality, now);
    this.faults = new FaultInjector(this.options.faults, this.options.seed);
    this.inWire = new Wire(this.options.baudRate);
    this.outWire = new Wire(this.options.baudRate);
  }

  /** Starts (or restarts) the board: state back to power-on defaults, then the boot banner. */
  boot(now: number, cause: ResetCause = "power-up"): void {
    this.runTo(now);
    // What it printed while the port was closed is lost; the new session starts with the banner.
    this.m.takeLines();
    this.leaving = [];
    this.leavingHead = 0;
    this.restart(cause);
    this.flushOut(now);
  }

  /** Bytes from the host (one char per byte), in any chunking. */
  receive(bytes: string, now: number): void {
    this.runTo(now);
    if (this.m.halted) return;
    if (this.inWire.instant) {
      this.splitter.push(bytes, (line) => this.onLine(line));
    } else {
      // Each line reaches the firmware when its last byte has crossed the wire.
      const lines: [string, number][] = [];
      this.splitter.push(bytes, (line, end) => lines.push([line, end]));
      const at = this.inWire.send(bytes.length, now, lines.map(([, end]) => end));
      for (let i = 0; i < lines.length; i++) this.arriving.push({ at: at[i]!, line: lines[i]![0] });
      this.runTo(now);
    }
    this.flushOut(this.now);
  }

  /** Lets simulated time pass up to `now` (ms, monotonic). */
  advance(now: number): void {
    this.runTo(now);
  }

  /** Everything that has reached the host by now, as `\n`-terminated lines ("" when nothing). */
  takeOutput(): string {
    const out = this.leaving;
    let i = this.leavingHead;
    let text = "";
    while (i < out.length && out[i]!.at <= this.now) text += out[i++]!.text;
    if (i === out.length) {
      this.leaving = [];
      this.leavingHead = 0;
    } else {
      this.leavingHead = i;
    }
    return text;
  }

  /**
   * The earliest time at which `advance` would print something or change state, or undefined when
   * only new input can. Heater temperatures drift toward their targets lazily and are not wake
   * times by themselves (except while a heating wait watches them).
   */
  nextWakeAt(): number | undefined {
    let t: number | undefined;
    const consider = (x: number | undefined) => {
      if (x !== undefined && (t === undefined || x < t)) t = x;
    };
    // Output still on the wire: the shell wakes when it arrives (what has arrived waits for takeOutput).
    for (let i = this.leavingHead; i < this.leaving.length; i++) {
      const at = this.leaving[i]!.at;
      if (at > this.now) {
        consider(at);
        break;
      }
    }
    consider(this.rebootAt);
    if (this.m.halted) return t;
    if (this.arrivingHead < this.arriving.length) consider(this.arriving[this.arrivingHead]!.at);
    consider(this.m.planner.nextEndAt());
    if (this.now < this.silentUntil) {
      consider(this.silentUntil);
      return t;
    }
    if (this.op !== undefined) {
      consider(this.op.wakeAt());
      if (this.m.keepaliveSeconds > 0 && this.personality.busyLines) consider(this.nextBusyAt);
    }
    consider(this.m.temperatureReporter.nextAt);
    consider(this.m.positionReporter.nextAt);
    consider(this.m.sdReporter.nextAt);
    consider(this.nextIdleWaitAt);
    return t;
  }

  /** A snapshot of the printer, as of the last `receive`/`advance`. */
  get state(): VirtualPrinterState {
    const m = this.m;
    const heater = (i: number): HeaterState => ({
      temperature: m.heaters.reading(i),
      target: m.heaters.heaters[i]!.target,
      power: m.heaters.power127(i),
    });
    const p = m.motion.logical();
    const hotends: HeaterState[] = [];
    for (let e = 0; e < m.extruders; e++) hotends.push(heater(e));
    return {
      hotends,
      bed: heater(m.bed),
      position: { x: p[0], y: p[1], z: p[2], e: p[3] },
      tool: m.tool,
      fanSpeed: m.fanSpeed,
      plannerLength: m.planner.length,
      pendingLines: this.rx.length - this.rxHead + this.queue.length,
      blockedOn: this.opCommand?.command,
      lastLineNumber: m.sequencer.lastN,
      halted: m.halted,
      faults: { corrupted: this.faults.corrupted, dropped: this.faults.dropped, ...this.faults.counts() },
      overruns: this.overruns,
      underruns: m.underruns,
      starvedMs: m.starvedMs,
      sd: { files: m.sd.list().length, selected: m.sd.selected?.long, printing: m.sd.printing, pos: m.sd.pos },
    };
  }

  private restart(cause: ResetCause): void {
    this.m.reboot();
    this.splitter.clear();
    this.arriving = [];
    this.arrivingHead = 0;
    this.rx = [];
    this.rxHead = 0;
    this.rxBytes = 0;
    this.queue = [];
    this.op = undefined;
    this.opCommand = undefined;
    this.opFollow = undefined;
    this.rebootAt = undefined;
    this.silentUntil = 0;
    this.lastInputAt = this.now;
    for (const line of this.personality.banner(cause, this.options.plannerBlocks)) this.m.print(line);
    this.scheduleIdleWait();
  }

  // One complete line off the wire: faults, emergency parser, RX buffer, then the main loop.
  private onLine(raw: string): void {
    if (this.m.halted) return;
    this.lastInputAt = this.now;
    this.nextIdleWaitAt = undefined;
    const { fault, line } = this.faults.onLine(raw);
    switch (fault) {
      case "drop":
        return;
      case "reset":
        // A brown-out or watchdog: the line is gone with everything else.
        this.restart("watchdog");
        return;
      case "silence":
        this.silentUntil = this.now + this.faults.durationMs("silence");
        break;
    }
    const ep = this.emergencyParser;
    if (ep !== false && !(this.m.sd.isWriting && ep === true)) {
      const e = emergencyCommand(line);
      if (e !== undefined && (ep === true || e === "M112")) {
        this.emergency(e, line);
        if (this.m.halted) return;
      }
    }
    const entry: Received = { line };
    if (fault === "spuriousResend") entry.refuse = true;
    if (fault === "busyHeater") entry.delayMs = this.faults.durationMs("busyHeater");
    const limit = this.options.rxBufferBytes;
    if (limit > 0) {
      // Marlin's RX ring drops what does not fit; the cut line then fails its checksum.
      const room = limit - this.rxBytes;
      if (line.length + 1 > room) {
        this.overruns += line.length + 1 - Math.max(0, room);
        if (room <= 1) return;
        entry.line = line.slice(0, room - 1);
      }
    }
    this.rxBytes += entry.line.length + 1;
    this.rx.push(entry);
    if (this.now >= this.silentUntil) this.pump(this.now);
  }

  private emergency(e: EmergencyCommand, line: string): void {
    switch (e) {
      case "M108":
        this.m.waitForHeatup = false;
        this.m.waitForUser = false;
        break;
      case "M112": {
        const parts = unframe(line);
        this.options.onExecute?.({ n: parts.lineNumber, command: parts.command, source: "serial" });
        this.m.kill();
        this.afterKill();
        break;
      }
      case "M410":
        this.quickStop();
        break;
      case "M876":
        if (/S\d/.test(line)) this.m.waitForUser = false;
        break;
      case "M524":
        this.m.sd.abort();
        break;
    }
  }

  /** What follows kill(): Marlin falls silent; Prusa and Repetier reboot; Klipper/Smoothie keep answering. */
  private afterKill(): void {
    if (this.m.halted) {
      this.op = undefined;
      this.opCommand = undefined;
      this.opFollow = undefined;
      this.rx = [];
      this.rxHead = 0;
      this.rxBytes = 0;
      this.queue = [];
      this.arriving = [];
      this.arrivingHead = 0;
      if (this.personality.afterKill === "reboot") this.rebootAt = this.now + REBOOT_AFTER_KILL_MS;
    } else {
      // Klipper/Smoothie: the blocking command ends, answered as every line is (Klipper acks a
      // command whatever became of it); later commands get the shutdown words.
      const cut = this.opCommand;
      this.op = undefined;
      this.opCommand = undefined;
      this.opFollow = undefined;
      if (cut?.source === "serial" && !this.personality.ackOnReceipt && this.personality.whileHalted("").acked) this.m.print(this.okFor(cut.n));
    }
  }

  // M410: drop every queued move (and a move waiting for room); the position becomes where the
  // tool is right now.
  private quickStop(): void {
    const live: Vec4 | undefined = this.m.planner.positionAt(this.now);
    this.m.planner.clear();
    if (this.op instanceof PlannerSpaceWait) this.op.discard();
    if (live !== undefined) this.m.motion.position = live;
  }

  private okFor(n: number | undefined): string {
    const m = this.m;
    const p = this.personality;
    const advanced = this.options.advancedOk && p.advancedOk;
    const plannerFree = Math.max(0, m.planner.capacity - m.planner.length);
    const bufferFree = Math.max(0, this.commandBuffer - this.queue.length - 1);
    return p.ok(n, plannerFree, bufferFree, advanced);
  }

  // The main loop at one instant: finish the blocking command if it can, read lines into the
  // command queue, run the next command; stop when blocked or out of input.
  private pump(now: number): void {
    const m = this.m;
    const p = this.personality;
    for (;;) {
      if (m.halted) return;
      if (this.op !== undefined) {
        if (!this.op.poll(now)) return;
        const done = this.opCommand!;
        this.op = undefined;
        this.opCommand = undefined;
        const follow = this.opFollow;
        this.opFollow = undefined;
        if (follow) {
          this.run(follow, now);
          continue;
        }
        if (done.source === "serial" && !p.ackOnReceipt) m.print(this.okFor(done.n));
      }
      this.fill();
      if (m.halted) return;
      const next = this.queue.shift();
      if (next === undefined) {
        this.finishSdPrint();
        this.scheduleIdleWait();
        return;
      }
      if (next.delayMs !== undefined) {
        this.op = new TimedWait(now + next.delayMs);
        this.opCommand = next;
        this.opFollow = { ...next, delayMs: undefined };
        this.nextBusyAt = now + m.keepaliveSeconds * 1000;
        return;
      }
      this.run(next, now);
    }
  }

  private run(next: QueuedCommand, now: number): void {
    const m = this.m;
    const cmd = parseCommand(next.command);
    const skipped = m.objects.skipping && cmd.letter === "G" && cmd.code <= 3 && cmd.subcode === undefined;
    this.options.onExecute?.({ n: next.n, command: next.command, source: next.source, ...(skipped ? { skipped } : {}) });
    const outcome = execute(m, cmd, now);
    if (outcome === "ok") {
      if (next.source === "serial" && !this.personality.ackOnReceipt) m.print(this.okFor(next.n));
    } else if (outcome === "own-ok") {
      if (m.halted || m.shutdown) this.afterKill();
    } else {
      this.op = outcome;
      this.opCommand = next;
      this.nextBusyAt = now + m.keepaliveSeconds * 1000;
    }
  }

  // Reads received lines into the command queue, checking each (errors are answered right here),
  // then tops the queue up from the card while an SD print runs.
  private fill(): void {
    const m = this.m;
    const p = this.personality;
    while (this.queue.length < this.commandBuffer && this.rxHead < this.rx.length) {
      const entry = this.rx[this.rxHead++]!;
      this.rxBytes -= entry.line.length + 1;
      const raw = entry.line;
      const verdict = entry.refuse && p.tracksLineNumbers && raw.trimStart().startsWith("N") ? m.sequencer.reject("checksum") : m.sequencer.check(raw);
      switch (verdict.kind) {
        case "rejected":
          for (const line of verdict.reply) m.print(line);
          if (p.okAfterResend && !this.faults.okGoesMissing()) m.print("ok");
          continue;
        case "duplicate":
          for (const line of verdict.reply) m.print(line);
          continue;
        case "empty":
          if (p.emptyLinesAcked) m.print("ok");
          continue;
        case "accepted":
          break;
      }
      const command = verdict.command;
      if (m.sd.isWriting) {
        // M28 mode: every line but M29 goes into the file, acknowledged but not run.
        if (/^M29\b/i.test(command)) {
          m.sd.endWrite();
          for (const line of p.sd.saved()) m.print(line);
        } else {
          m.sd.write(command);
          this.options.onCardWrite?.(command);
        }
        m.print(this.okFor(verdict.n));
        continue;
      }
      if (p.consoleLines.length && p.consoleLines.some((r) => r.test(command))) {
        // A console command (Smoothie): answered, never acknowledged.
        for (const line of p.extended(command, m) ?? []) m.print(line);
        continue;
      }
      if (this.emergencyParser !== true) {
        // Without the emergency parser Marlin still acts on these as it reads them.
        const e = emergencyCommand(command);
        if (e !== undefined && e !== "M876") {
          this.emergency(e, raw);
          if (m.halted) return;
        }
      }
      if (p.ackOnReceipt) m.print(this.okFor(command.startsWith("M110") ? undefined : verdict.n)); // Repetier: plain ok for M110
      const queued: QueuedCommand = { n: verdict.n, command, source: "serial" };
      if (entry.delayMs !== undefined) queued.delayMs = entry.delayMs;
      this.queue.push(queued);
    }
    if (this.rxHead === this.rx.length) {
      this.rx = [];
      this.rxHead = 0;
    } else if (this.rxHead > 1024) {
      this.rx = this.rx.slice(this.rxHead);
      this.rxHead = 0;
    }
    if (!m.sd.printing || m.sd.isWriting) return;
    while (this.queue.length < this.commandBuffer) {
      const line = m.sd.nextLine();
      if (line === undefined) break;
      this.queue.push({ n: undefined, command: line, source: "sd" });
    }
  }

  // The last command read from the card has run: the print is over (Marlin M1001).
  private finishSdPrint(): void {
    const m = this.m;
    if (!m.sd.printing || !m.sd.atEnd || this.op !== undefined) return;
    m.sd.abort();
    for (const line of this.personality.sd.done()) m.print(line);
  }

  private scheduleIdleWait(): void {
    if (!this.personality.idleWait) return;
    const idle = this.op === undefined && this.queue.length === 0 && this.rxHead === this.rx.length && !this.m.sd.printing;
    if (!idle) this.nextIdleWaitAt = undefined;
    else this.nextIdleWaitAt ??= Math.max(this.now, this.lastInputAt) + IDLE_WAIT_MS;
  }

  // Processes every event up to `target` in time order, then settles at `target`.
  private runTo(target: number): void {
    if (target < this.now) target = this.now;
    let last = Number.NaN;
    let sameInstant = 0;
    for (;;) {
      const t = this.nextWakeAt();
      if (t === undefined || t > target) break;
      if (t === last) {
        if (++sameInstant > MAX_EVENTS_PER_INSTANT) throw new Error(`virtual firmware: event loop stuck at ${t}`);
      } else {
        last = t;
        sameInstant = 0;
      }
      this.step(Math.max(t, this.now));
    }
    this.step(target);
  }

  // Everything that happens at one instant, in Marlin's order: lines arrive, moves finish, the
  // blocking command (e.g. a heat-wait line) and the queue run, then idle(): busy keep-alive and
  // auto-reports.
  private step(t: number): void {
    const m = this.m;
    this.now = t;
    if (this.rebootAt !== undefined && t >= this.rebootAt) {
      this.rebootAt = undefined;
      this.restart("software");
    }
    if (m.halted) {
      this.flushOut(t);
      return;
    }
    while (this.arrivingHead < this.arriving.length && this.arriving[this.arrivingHead]!.at <= t) {
      const { line } = this.arriving[this.arrivingHead++]!;
      this.onLine(line);
      if (m.halted) break;
    }
    if (this.arrivingHead === this.arriving.length) {
      this.arriving = [];
      this.arrivingHead = 0;
    }
    m.heaters.advanceTo(t);
    m.planner.complete(t);
    if (t < this.silentUntil || m.halted) {
      this.flushOut(t);
      return;
    }
    this.pump(t);
    if (!m.halted) {
      if (this.op !== undefined && m.keepaliveSeconds > 0 && this.personality.busyLines && t >= this.nextBusyAt) {
        m.print(this.personality.busy(this.op.busyReason));
        this.nextBusyAt = t + m.keepaliveSeconds * 1000;
      }
      if (m.temperatureReporter.due(t)) m.print(this.personality.temperatures({ bank: m.heaters, extruders: m.extruders, tool: m.tool }));
      if (m.positionReporter.due(t)) m.print(this.personality.position(m.motion, false));
      if (m.sdReporter.due(t)) m.print(sdStatus(m));
      if (this.nextIdleWaitAt !== undefined && t >= this.nextIdleWaitAt) {
        m.print("wait");
        this.nextIdleWaitAt = t + IDLE_WAIT_MS;
      }
    }
    this.flushOut(t);
  }

  // Moves what the firmware printed onto the wire to the host (through the reply faults).
  private flushOut(t: number): void {
    const lines = this.m.takeLines();
    for (const line of lines) {
      const sent = this.faults.onReply(line);
      if (sent === undefined) continue;
      const text = `${sent}\n`;
      const at = this.outWire.instant ? t : this.outWire.send(text.length, t, [text.length - 1])[0]!;
      this.leaving.push({ at, text });
    }
  }
}
