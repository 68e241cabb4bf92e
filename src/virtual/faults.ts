/**
 * Fault injection on the wire from host to firmware: corrupt or lose received lines, decided
 * deterministically from the options and the seed. Each fault kind has its own generator, so
 * enabling one kind never shifts the decisions of another.
 */
import { emergencyCommand } from "./emergency.ts";
import type { FaultTrigger, VirtualPrinterOptions } from "./options.ts";
import { SeededRandom } from "./random.ts";

// One trigger's bookkeeping: which listed line numbers were already hit.
class Trigger {
  private readonly pendingLines: Set<number>;

  constructor(
    private readonly spec: FaultTrigger,
    private readonly random: SeededRandom,
  ) {
    this.pendingLines = new Set(spec.lines);
  }

  get active(): boolean {
    return this.pendingLines.size > 0 || this.spec.every > 0 || this.spec.probability > 0;
  }

  /** Whether the `count`-th numbered line received, numbered `n`, is hit. */
  fires(n: number, count: number): boolean {
    let hit = false;
    if (this.pendingLines.delete(n)) hit = true;
    if (this.spec.every > 0 && count % this.spec.every === 0) hit = true;
    // Always draw when a probability is set, so decisions do not depend on the other rules.
    if (this.spec.probability > 0 && this.random.next() < this.spec.probability) hit = true;
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

// The line number of a numbered line, or undefined for an unnumbered one.
function lineNumberOf(line: string): number | undefined {
  let i = 0;
  while (i < line.length && line.charCodeAt(i) === 32) i++;
  if (line.charCodeAt(i) !== 78 /* N */) return undefined;
  const n = Number.parseInt(line.slice(i + 1, i + 12), 10);
  return Number.isNaN(n) ? undefined : n;
}

/** Applies the configured faults to received lines, in arrival order. */
export class FaultInjector {
  private numbered = 0;
  private readonly corrupt: Trigger;
  private readonly drop: Trigger;
  private readonly bits: SeededRandom;
  /** Lines damaged so far (for tests and logs). */
  corrupted = 0;
  /** Lines lost so far. */
  dropped = 0;

  constructor(faults: VirtualPrinterOptions["faults"], seed: number) {
    this.corrupt = new Trigger(faults.corrupt, new SeededRandom(seed + 0x1001));
    this.drop = new Trigger(faults.drop, new SeededRandom(seed + 0x2002));
    this.bits = new SeededRandom(seed + 0x3003);
  }

  /** The line as the firmware receives it, or undefined when it is lost on the wire. */
  apply(line: string): string | undefined {
    if (!this.corrupt.active && !this.drop.active) return line;
    const n = lineNumberOf(line);
    if (n === undefined) return line;
    this.numbered++;
    const lose = this.drop.fires(n, this.numbered);
    const damage = this.corrupt.fires(n, this.numbered);
    if (lose) {
      this.dropped++;
      return undefined;
    }
    if (!damage) return line;
    this.corrupted++;
    return this.flipBit(line);
  }

  // Flips one low bit of one byte of the command part: printable stays printable, no line breaks
  // appear, and the checksum is guaranteed to fail. A flip that would turn the line into an
  // emergency command (M113 → M112) is retried elsewhere, since that would be a different test.
  private flipBit(line: string): string {
    const from = commandStart(line);
    const star = line.lastIndexOf("*");
    const to = star >= from ? star : line.length;
    const before = emergencyCommand(line);
    for (let attempt = 0; to > from && attempt < 64; attempt++) {
      const at = from + this.bits.below(to - from);
      const damaged = flipAt(line, at, 1 << this.bits.below(4));
      if (emergencyCommand(damaged) === before) return damaged;
    }
    // No command text to damage safely (e.g. a bare `M112`): damage the checksum digits instead.
    if (star < 0 || star + 1 >= line.length) return line;
    return flipAt(line, line.length - 1, 1); // bit 0 keeps a digit a digit
  }
}

function flipAt(line: string, at: number, bit: number): string {
  return line.slice(0, at) + String.fromCharCode(line.charCodeAt(at) ^ bit) + line.slice(at + 1);
}
