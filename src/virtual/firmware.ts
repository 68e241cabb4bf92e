/**
 * The virtual printer's firmware: a deterministic Marlin 2.1 simulation with no I/O, no timers and
 * no clock of its own. The shell feeds it bytes and the time, takes its output, and sleeps until
 * `nextWakeAt()`. Same options, same inputs at the same times → byte-identical output.
 *
 * Serial handling follows Marlin's main loop: lines are read into a small command queue (and
 * checked: line number, checksum, M110) only while no command is blocking; the emergency parser
 * sees every line the moment it arrives; `ok` follows each command once it is processed.
 */
import { unframe } from "../protocol/framing.ts";
import { execute } from "./commands.ts";
import { emergencyCommand, type EmergencyCommand } from "./emergency.ts";
import { FaultInjector } from "./faults.ts";
import { parseCommand } from "./gcode.ts";
import { LineSplitter } from "./lines.ts";
import { Machine } from "./machine.ts";
import { parseVirtualPrinterOptions, type VirtualPrinterOptions, type VirtualPrinterOptionsInput } from "./options.ts";
import type { Vec4 } from "./planner.ts";
import { bootBanner, positionReport, temperatureReport, type ResetCause } from "./reports.ts";
import { PlannerSpaceWait, type Blocking } from "./waits.ts";

export type { ExecutedLine } from "./options.ts";

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
  /** Fault injection counters. */
  faults: { corrupted: number; dropped: number };
}

interface QueuedCommand {
  n: number | undefined;
  command: string;
}

// A bug guard: this many events at one instant means something never consumes its wake time.
const MAX_EVENTS_PER_INSTANT = 100_000;

/** The simulated Marlin. Example: `fw.receive("N0 M110 N0*125\n", t); fw.takeOutput() === "ok\n"`. */
export class VirtualFirmware {
  /** The validated options, defaults filled in. */
  readonly options: VirtualPrinterOptions;
  private m: Machine;
  private readonly splitter = new LineSplitter();
  private readonly faults: FaultInjector;
  // Received lines not yet read by the main loop (Marlin's RX buffer), consumed from `rxHead`.
  private rx: string[] = [];
  private rxHead = 0;
  // Marlin's command queue (BUFSIZE): accepted lines read ahead of execution.
  private queue: QueuedCommand[] = [];
  private op: Blocking | undefined;
  private opCommand: string | undefined;
  private nextBusyAt = 0;
  private now: number;

  constructor(options: VirtualPrinterOptionsInput, now: number) {
    this.options = parseVirtualPrinterOptions(options);
    this.now = now;
    this.m = new Machine(this.options, now);
    this.faults = new FaultInjector(this.options.faults, this.options.seed);
  }

  /** Starts (or restarts) the board: state back to power-on defaults, then the boot banner. */
  boot(now: number, cause: ResetCause = "power-up"): void {
    this.runTo(now);
    this.m.reboot();
    this.splitter.clear();
    this.rx = [];
    this.rxHead = 0;
    this.queue = [];
    this.op = undefined;
    this.opCommand = undefined;
    for (const line of bootBanner(cause, this.options.plannerBlocks)) this.m.print(line);
  }

  /** Bytes from the host (one char per byte), in any chunking. */
  receive(bytes: string, now: number): void {
    this.runTo(now);
    if (this.m.halted) return;
    this.splitter.push(bytes, (line) => this.onLine(line));
  }

  /** Lets simulated time pass up to `now` (ms, monotonic). */
  advance(now: number): void {
    this.runTo(now);
  }

  /** Everything printed since the last call, as `\n`-terminated lines ("" when nothing). */
  takeOutput(): string {
    return this.m.takeOutput();
  }

  /**
   * The earliest time at which `advance` would print something or change state, or undefined when
   * only new input can. Heater temperatures drift toward their targets lazily and are not wake
   * times by themselves (except while a heating wait watches them).
   */
  nextWakeAt(): number | undefined {
    if (this.m.halted) return undefined;
    let t: number | undefined;
    const consider = (x: number | undefined) => {
      if (x !== undefined && (t === undefined || x < t)) t = x;
    };
    consider(this.m.planner.nextEndAt());
    if (this.op !== undefined) {
      consider(this.op.wakeAt());
      if (this.m.keepaliveSeconds > 0) consider(this.nextBusyAt);
    }
    consider(this.m.temperatureReporter.nextAt);
    consider(this.m.positionReporter.nextAt);
    consider(this.m.sdReporter.nextAt);
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
      blockedOn: this.opCommand,
      lastLineNumber: m.sequencer.lastN,
      halted: m.halted,
      faults: { corrupted: this.faults.corrupted, dropped: this.faults.dropped },
    };
  }

  // One complete line off the wire: faults, emergency parser, RX buffer, then the main loop.
  private onLine(raw: string): void {
    if (this.m.halted) return;
    const line = this.faults.apply(raw);
    if (line === undefined) return;
    if (this.options.emergencyParser) {
      const e = emergencyCommand(line);
      if (e !== undefined) this.emergency(e, line);
      if (this.m.halted) return;
    }
    this.rx.push(line);
    this.pump(this.now);
  }

  private emergency(e: EmergencyCommand, line: string): void {
    switch (e) {
      case "M108":
        this.m.waitForHeatup = false;
        break;
      case "M112": {
        const parts = unframe(line);
        this.options.onExecute?.({ n: parts.lineNumber, command: parts.command });
        this.halt();
        break;
      }
      case "M410":
        this.quickStop();
        break;
    }
  }

  private halt(): void {
    this.m.kill();
    this.op = undefined;
    this.opCommand = undefined;
    this.rx = [];
    this.rxHead = 0;
    this.queue = [];
  }

  // M410: drop every queued move (and a move waiting for room); the position becomes where the
  // tool is right now.
  private quickStop(): void {
    const live: Vec4 | undefined = this.m.planner.positionAt(this.now);
    this.m.planner.clear();
    if (this.op instanceof PlannerSpaceWait) this.op.discard();
    if (live !== undefined) this.m.motion.position = live;
  }

  // Marlin's loop at one instant: finish the blocking command if it can, read lines into the
  // command queue, run the next command; stop when blocked or out of input.
  private pump(now: number): void {
    const m = this.m;
    for (;;) {
      if (m.halted) return;
      if (this.op !== undefined) {
        if (!this.op.poll(now)) return;
        this.op = undefined;
        this.opCommand = undefined;
        m.print("ok");
      }
      this.fill();
      if (m.halted) return;
      const next = this.queue.shift();
      if (next === undefined) return;
      this.options.onExecute?.({ n: next.n, command: next.command });
      const outcome = execute(m, parseCommand(next.command), now);
      if (outcome === "ok") m.print("ok");
      else if (outcome === "own-ok") {
        if (m.halted) this.halt();
      } else {
        this.op = outcome;
        this.opCommand = next.command;
        this.nextBusyAt = now + m.keepaliveSeconds * 1000;
      }
    }
  }

  // Reads received lines into the command queue, checking each (errors are answered right here).
  private fill(): void {
    const m = this.m;
    while (this.queue.length < this.options.commandBuffer && this.rxHead < this.rx.length) {
      const raw = this.rx[this.rxHead++]!;
      const verdict = m.sequencer.check(raw);
      if (verdict.kind === "rejected") {
        for (const line of verdict.reply) m.print(line);
      } else if (verdict.kind === "accepted") {
        if (!this.options.emergencyParser) {
          // Without the emergency parser Marlin still acts on these as it reads them.
          const e = emergencyCommand(verdict.command);
          if (e !== undefined) {
            this.emergency(e, raw);
            if (m.halted) return;
          }
        }
        this.queue.push({ n: verdict.n, command: verdict.command });
      }
    }
    if (this.rxHead === this.rx.length) {
      this.rx = [];
      this.rxHead = 0;
    } else if (this.rxHead > 1024) {
      this.rx = this.rx.slice(this.rxHead);
      this.rxHead = 0;
    }
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

  // Everything that happens at one instant, in Marlin's order: moves finish, the blocking command
  // (e.g. a heat-wait line) and the queue run, then idle(): busy keep-alive and auto-reports.
  private step(t: number): void {
    const m = this.m;
    this.now = t;
    if (m.halted) return;
    m.heaters.advanceTo(t);
    m.planner.complete(t);
    this.pump(t);
    if (m.halted) return;
    if (this.op !== undefined && m.keepaliveSeconds > 0 && t >= this.nextBusyAt) {
      m.print("echo:busy: processing");
      this.nextBusyAt = t + m.keepaliveSeconds * 1000;
    }
    if (m.temperatureReporter.due(t)) m.print(temperatureReport(m.heaters, m.extruders, m.tool));
    if (m.positionReporter.due(t)) m.print(positionReport(m.motion, false));
    if (m.sdReporter.due(t)) m.print(m.sd.status());
  }
}
