/**
 * Fault injection, decided deterministically from the options and the seed. Each fault kind has
 * its own trigger and random generator, so enabling one kind never shifts the decisions of
 * another. Line faults apply to numbered lines only (an unnumbered line carries no checksum, so
 * damaging it would silently run a different command).
 */
import { emergencyCommand } from "./emergency.ts";
import type { FaultTrigger, Faults } from "./options.ts";
import { SeededRandom } from "./random.ts";

// One trigger's bookkeeping: which listed line numbers were already hit.
class Trigger {
  private readonly pendingLines: Set<number>;
  /** Times it fired. */
  fired = 0;

  constructor(
    private readonly spec: FaultTrigger,
    private readonly random: SeededRandom,
  ) {
    this.pendingLines = new Set(spec.lines);
  }

  get active(): boolean {
    return this.pendingLines.size > 0 || this.spec.every > 0 || this.spec.probability > 0;
  }

  /** Whether the `count`-th event, about line `n` (if any), is hit. */
  fires(n: number | undefined, count: number): boolean {
    let hit = false;
    if (n !== undefined && this.pendingLines.delete(n)) hit = true;
    if (this.spec.every > 0 && count % this.spec.every === 0) hit = true;
    // Always draw when a probability is set, so decisions do not depend on the other rules.
    if (this.spec.probability > 0 && this.random.next() < this.spec.probability) hit = true;
    if (hit) this.fired++;
    return hit;
  }
}

// Where the command part of a numbered line starts: after `N<digits>` and spaces.
function commandStart(line: string): number {
  let i = line.indexOf("N") + 1;
  if (line[i] === "-") i++;
  while (i < line.length && line.charCodeAt(i) >= 48 && line.charCodeAt(i) <= 57) i++;
  while (i < line.length && line.charCodeAt(i) === 32) i++;
  return i;
}

/** The line number of a numbered line, or undefined for an unnumbered one. */
export function lineNumberOf(line: string): number | undefined {
  let i = 0;
  while (i < line.length && line.charCodeAt(i) === 32) i++;
  if (line.charCodeAt(i) !== 78 /* N */) return undefined;
  const n = Number.parseInt(line.slice(i + 1, i + 12), 10);
  return Number.isNaN(n) ? undefined : n;
}

/** What becomes of a received line. */
export type LineFault = "none" | "drop" | "corrupt" | "spuriousResend" | "reset" | "silence" | "busyHeater";

/** Applies the configured faults, in arrival order. */
export class FaultInjector {
  private numbered = 0;
  private replies = 0;
  private resends = 0;
  private readonly t: Record<keyof Faults, Trigger>;
  private readonly bits: SeededRandom;
  private readonly lineActive: boolean;
  private readonly replyActive: boolean;

  constructor(private readonly faults: Faults, seed: number) {
    const make = (kind: keyof Faults, salt: number) => new Trigger(faults[kind], new SeededRandom(seed + salt));
    this.t = {
      corrupt: make("corrupt", 0x1001),
      drop: make("drop", 0x2002),
      corruptReply: make("corruptReply", 0x4004),
      dropReply: make("dropReply", 0x5005),
      missingOkAfterResend: make("missingOkAfterResend", 0x6006),
      spuriousResend: make("spuriousResend", 0x7007),
      reset: make("reset", 0x8008),
      silence: make("silence", 0x9009),
      busyHeater: make("busyHeater", 0xa00a),
    };
    this.bits = new SeededRandom(seed + 0x3003);
    const t = this.t;
    this.lineActive = [t.corrupt, t.drop, t.spuriousResend, t.reset, t.silence, t.busyHeater].some((x) => x.active);
    this.replyActive = t.corruptReply.active || t.dropReply.active;
  }

  /** Lines damaged on the way in so far (for tests and logs). */
  get corrupted(): number {
    return this.t.corrupt.fired;
  }

  /** Lines lost on the way in so far. */
  get dropped(): number {
    return this.t.drop.fired;
  }

  /** How often each kind fired. */
  counts(): Record<keyof Faults, number> {
    return Object.fromEntries(Object.entries(this.t).map(([k, t]) => [k, t.fired])) as Record<keyof Faults, number>;
  }

  /** How long `silence` and `busyHeater` last. */
  durationMs(kind: "silence" | "busyHeater"): number {
    return this.faults[kind].ms;
  }

  /**
   * What happens to a received line on the wire (`drop`, `corrupt` → `line` is the damaged text)
   * or in the firmware (the other kinds). Only one fault per line: the first that fires wins.
   */
  onLine(raw: string): { fault: LineFault; line: string } {
    if (!this.lineActive) return { fault: "none", line: raw };
    const n = lineNumberOf(raw);
    if (n === undefined) return { fault: "none", line: raw };
    const count = ++this.numbered;
    const t = this.t;
    // Every trigger is asked, so each keeps its own sequence of decisions.
    const drop = t.drop.fires(n, count);
    const corrupt = t.corrupt.fires(n, count);
    const spurious = t.spuriousResend.fires(n, count);
    const reset = t.reset.fires(n, count);
    const silence = t.silence.fires(n, count);
    const busy = t.busyHeater.fires(n, count);
    if (drop) return { fault: "drop", line: raw };
    if (corrupt) return { fault: "corrupt", line: this.flipBit(raw, commandStart(raw)) };
    if (reset) return { fault: "reset", line: raw };
    if (spurious) return { fault: "spuriousResend", line: raw };
    if (silence) return { fault: "silence", line: raw };
    if (busy) return { fault: "busyHeater", line: raw };
    return { fault: "none", line: raw };
  }

  /** A line the firmware sends: as it arrives, or undefined when lost. */
  onReply(line: string): string | undefined {
    if (!this.replyActive || line.length === 0) return line;
    const count = ++this.replies;
    const lose = this.t.dropReply.fires(undefined, count);
    const damage = this.t.corruptReply.fires(undefined, count);
    if (lose) return undefined;
    return damage ? this.flipBit(line, 0) : line;
  }

  /** Whether the ok after this resend request goes missing. */
  okGoesMissing(): boolean {
    if (!this.t.missingOkAfterResend.active) return false;
    return this.t.missingOkAfterResend.fires(undefined, ++this.resends);
  }

  // Flips one low bit of one byte at or after `from` (before a `*` checksum): printable stays
  // printable, no line breaks appear, and a checksum is guaranteed to fail. A flip that would
  // turn the line into an emergency command (M113 → M112) is retried elsewhere.
  private flipBit(line: string, from: number): string {
    const star = line.lastIndexOf("*");
    const to = star >= from ? star : line.length;
    const before = emergencyCommand(line);
    for (let attempt = 0; to > from && attempt < 64; attempt++) {
      const at = from + this.bits.below(to - from);
      const damaged = flipAt(line, at, 1 << this.bits.below(4));
      if (emergencyCommand(damaged) === before && damaged.charCodeAt(at) >= 32 && damaged.charCodeAt(at) < 127) return damaged;
    }
    // No command text to damage safely (e.g. a bare `M112`): damage the checksum digits instead.
    if (star < 0 || star + 1 >= line.length) return line;
    return flipAt(line, line.length - 1, 1); // bit 0 keeps a digit a digit
  }
}

function flipAt(line: string, at: number, bit: number): string {
  return line.slice(0, at) + String.fromCharCode(line.charCodeAt(at) ^ bit) + line.slice(at + 1);
}
