/**
 * Cancelling one object of a print: the file's labelled sections of that object (byte ranges
 * from the analysis) are not printed from then on, while everything else goes on.
 *
 * Inside a cancelled section, moves in X/Y are left out (its extrusions and its travels), but
 * what the rest of the print relies on is kept: Z changes (as Z-only moves), retractions and
 * their recoveries, every non-move command (temperatures, fan, tool, modes, G92). With absolute
 * E (M82) the printer's E then lags the file's by what was left out, so before the next line
 * that uses E a `G92 E<the file's E>` puts them level again; the feed rate the skipped moves set
 * is set again on leaving the section, and a relative (G91) stretch's travel is made up in one
 * move. Pure: lines in, lines out; the caller tracks the machine state (`MachineTracker`).
 */
import type { MachineTracker } from "./machine-state.ts";

export interface LabelledObject {
  name: string;
  /** Byte ranges [start, end) of its labelled sections. */
  ranges: [number, number][];
}

/** A number as G-code writes it: at most 5 decimals, no exponent. */
export function gcodeNumber(n: number): string {
  return String(Number(n.toFixed(5)));
}

export class ObjectFilter {
  private readonly cancelledNames = new Set<string>();
  /** Sorted, merged ranges of the cancelled objects, and the first that may still matter. */
  private ranges: [number, number][] = [];
  private cursor = 0;
  /** Inside a cancelled section now. */
  private skipping = false;
  /** The printer's E is behind the file's (absolute E, extrusions left out). */
  private drift = false;
  /** A feed rate the skipped moves set (NaN: none). */
  private pendingF = NaN;
  /** Travel of skipped relative (G91) moves. */
  private dx = 0;
  private dy = 0;

  constructor(private readonly objects: LabelledObject[]) {}

  /** Whether any object is cancelled (else `filter` need not be called). */
  get active(): boolean {
    return this.ranges.length > 0;
  }

  get cancelled(): string[] {
    return [...this.cancelledNames];
  }

  /** Cancels the object called `name` from byte `from` on; false when the file has no such object. */
  cancel(name: string, from: number): boolean {
    const object = this.objects.find((o) => o.name === name);
    if (!object) return false;
    this.cancelledNames.add(name);
    const all = this.objects.filter((o) => this.cancelledNames.has(o.name)).flatMap((o) => o.ranges.map(([a, b]) => [a, b] as [number, number]));
    all.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const r of all) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push(r);
    }
    this.ranges = merged;
    this.cursor = 0;
    while (this.cursor < merged.length && merged[this.cursor]![1] < from) this.cursor++;
    return true;
  }

  /**
   * The lines to send in place of the file's line `command`, which ends at byte `end` and which
   * `t` has just read; `null` sends it as it is.
   */
  filter(command: string, end: number, t: MachineTracker): string[] | null {
    const ranges = this.ranges;
    while (this.cursor < ranges.length && ranges[this.cursor]![1] < end) this.cursor++;
    const range = ranges[this.cursor];
    const inside = range !== undefined && range[0] < end && end <= range[1];
    if (!inside) {
      if (!this.skipping && !this.drift) return null;
      const out = this.skipping ? this.leave(t) : [];
      this.syncE(t, out);
      out.push(command);
      return out;
    }
    this.skipping = true;
    if (!t.motion) {
      if (t.setsE) this.drift = false;
      return null;
    }
    if (!t.planar) {
      // Lifts, retractions and their recoveries stay; with the feed rate the file meant for them.
      const out: string[] = [];
      this.syncE(t, out);
      if (!Number.isNaN(this.pendingF) && Number.isNaN(t.fWord)) out.push(`G1 F${gcodeNumber(this.pendingF)}`);
      this.pendingF = NaN;
      out.push(command);
      return out;
    }
    // A move in the plane inside a cancelled object: left out, except its Z and any retraction.
    if (!Number.isNaN(t.fWord)) this.pendingF = t.fWord;
    const out: string[] = [];
    if (!Number.isNaN(t.zWord)) out.push(`G1 Z${gcodeNumber(t.zWord)}`);
    if (t.relative) {
      this.dx += t.dx;
      this.dy += t.dy;
    }
    if (t.hasE && t.de < 0) {
      // Retracting while wiping: the retraction stays, so the recovery after it is right.
      if (t.relativeE) out.push(`G1 E${gcodeNumber(t.de)}`);
      else {
        this.syncE(t, out);
        out.push(`G1 E${gcodeNumber(t.e)}`);
      }
    } else if (t.hasE && t.de !== 0 && !t.relativeE) this.drift = true;
    return out;
  }

  /** Before a line that uses absolute E: the printer's E set to the file's, if they differ. */
  private syncE(t: MachineTracker, out: string[]): void {
    if (!this.drift) return;
    if (t.setsE) this.drift = false;
    else if (t.hasE && !t.relativeE) {
      out.push(`G92 E${gcodeNumber(t.eBefore)}`);
      this.drift = false;
    }
  }

  /** Leaving a cancelled section: what the skipped moves changed that the rest relies on. */
  private leave(t: MachineTracker): string[] {
    this.skipping = false;
    const out: string[] = [];
    if (this.dx !== 0 || this.dy !== 0) {
      out.push("G91", `G0 X${gcodeNumber(this.dx)} Y${gcodeNumber(this.dy)}`);
      if (!t.relative) out.push("G90");
      this.dx = this.dy = 0;
    }
    if (!Number.isNaN(this.pendingF)) out.push(`G1 F${gcodeNumber(this.pendingF)}`);
    this.pendingF = NaN;
    return out;
  }
}
