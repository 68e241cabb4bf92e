/**
 * The protocol engine and the virtual printer on one simulated clock: what the engine writes
 * reaches the firmware (over the emulated wire when a baud rate is set), what the firmware prints
 * reaches the engine, and time jumps from one deadline to the next. Deterministic and fast: a
 * million lines with faults run in seconds, silences and timeouts cost nothing. Used by the soak
 * and fuzz tests, `layerline replay`, and the planner-underrun benchmark.
 */
import { ProtocolEngine, type EngineEvent } from "../protocol/engine.ts";
import type { Quirks } from "../protocol/quirks.ts";
import type { QuirksLibrary } from "../protocol/quirks-library.ts";
import { VirtualFirmware } from "./firmware.ts";
import type { ExecutedLine, VirtualPrinterOptionsInput } from "./options.ts";

export interface LinkSimulationOptions {
  printer: VirtualPrinterOptionsInput;
  /** The host's starting profile and library (as the controller builds them). */
  quirks: Quirks;
  library?: QuirksLibrary;
  /** Lines in flight the host allows (1 = ping-pong). */
  window?: number;
  /** Every engine event, as it happens (the simulation keeps none, so long runs stay small). */
  onEvent?: (event: EngineEvent, now: number) => void;
  /** Every command the firmware runs. */
  onExecute?: (line: ExecutedLine) => void;
  /** What the host receives for each line the firmware sent (default: the line); for noise tests. */
  deliver?: (line: string) => string[];
}

/** A stream of job lines for {@link LinkSimulation.stream}; each gets its index as tag. */
export type JobLines = Iterator<string>;

export class LinkSimulation {
  now = 0;
  readonly engine: ProtocolEngine;
  readonly firmware: VirtualFirmware;
  /** Job lines handed to the engine, and acknowledged. */
  queued = 0;
  acked = 0;
  private job: JobLines | undefined;
  private jobDone = true;
  private partial = "";
  private readonly onEvent: LinkSimulationOptions["onEvent"];
  private readonly deliver: LinkSimulationOptions["deliver"];

  constructor(options: LinkSimulationOptions) {
    this.onEvent = options.onEvent;
    this.deliver = options.deliver;
    const user = options.printer.onExecute;
    this.firmware = new VirtualFirmware(
      {
        ...options.printer,
        onExecute: (line) => {
          options.onExecute?.(line);
          user?.(line);
        },
      },
      0,
    );
    this.engine = new ProtocolEngine({ quirks: options.quirks, library: options.library, window: options.window ?? 1 });
  }

  /** Powers the printer on and opens the link (the handshake starts). */
  open(): this {
    this.firmware.boot(this.now);
    this.engine.open(this.now);
    this.settle();
    return this;
  }

  /** Queues a command as a user would (not part of the job). */
  send(command: string): this {
    this.engine.enqueue(command, this.now);
    this.settle();
    return this;
  }

  /** Streams `lines` as a job: each is handed to the engine when the send window has room. */
  stream(lines: JobLines): this {
    this.job = lines;
    this.jobDone = false;
    this.settle();
    return this;
  }

  /** Whether every job line was handed over and acknowledged. */
  get jobFinished(): boolean {
    return this.jobDone && this.acked >= this.queued;
  }

  /**
   * Runs until `until()` holds or simulated time passes `limitMs` (from now), jumping between
   * deadlines. Returns whether `until` held.
   */
  run(until: () => boolean, limitMs: number): boolean {
    const end = this.now + limitMs;
    while (!until()) {
      const next = this.nextTime();
      if (next === undefined || next > end) {
        this.now = end;
        this.advanceTo(end);
        return until();
      }
      this.advanceTo(Math.max(next, this.now));
    }
    return true;
  }

  /** Lets `ms` of simulated time pass. */
  wait(ms: number): this {
    this.run(() => false, ms);
    return this;
  }

  private nextTime(): number | undefined {
    const a = this.engine.nextDeadline();
    const b = this.firmware.nextWakeAt();
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Math.min(a, b);
  }

  private advanceTo(t: number): void {
    this.now = t;
    this.firmware.advance(t);
    this.engine.tick(t);
    this.settle();
  }

  // Moves lines both ways at the current instant until nothing changes.
  private settle(): void {
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      const text = this.firmware.takeOutput();
      if (text) {
        moved = true;
        const all = this.partial + text;
        let start = 0;
        for (let nl = all.indexOf("\n"); nl >= 0; nl = all.indexOf("\n", start)) {
          const line = all.slice(start, nl);
          if (this.deliver) for (const l of this.deliver(line)) this.engine.receive(l, this.now);
          else this.engine.receive(line, this.now);
          start = nl + 1;
        }
        this.partial = all.slice(start);
      }
      for (const e of this.engine.takeEvents()) {
        if (e.type === "acked") this.acked++;
        this.onEvent?.(e, this.now);
      }
      this.feed();
      const out = this.engine.takeOutgoing();
      if (out.length) {
        moved = true;
        this.firmware.receive(`${out.join("\n")}\n`, this.now);
      }
      if (!moved) return;
    }
    throw new Error(`link simulation: no rest at ${this.now}`);
  }

  private feed(): void {
    const job = this.job;
    if (!job || this.jobDone) return;
    while (this.engine.capacity() > 0) {
      const r = job.next();
      if (r.done) {
        this.jobDone = true;
        return;
      }
      if (this.engine.enqueue(r.value, this.now, this.queued)) this.queued++;
    }
  }
}
