/**
 * How a file's move lines move the machine, one rule for the analyser (which plans and measures
 * them) and the layer viewer (which draws them), so what is drawn is what was measured: the
 * position and E in mm, G90/G91, M82/M83 (E is relative with either M83 or G91), G20/G21 and the
 * tool. Subclasses read the lines; this holds the state and the arithmetic.
 * Example: after `restore({ ...start, x: 10 })` in G91, `target(line)` of "G1 X5" sets `tx` to 15.
 */
import { planArc, type ArcPlan } from "./arcs.ts";
import { I_BIT, J_BIT, R_BIT, X_BIT, Y_BIT, Z_BIT, type LexedLine } from "./lexer.ts";
import type { LayerStart } from "./result.ts";

const INCH = 25.4;

export class MoveState {
  x = 0;
  y = 0;
  z = 0;
  e = 0;
  /** G90 (true) or G91. */
  absolute = true;
  /** M83 (true) or M82. */
  relativeE = false;
  /** Millimetres per unit of the file's numbers: 1, or 25.4 after G20. */
  units = 1;
  tool = 0;
  /** Where the latest move line's X/Y/Z words lead (`target`). */
  tx = 0;
  ty = 0;
  tz = 0;

  /** The state at one point of the file (a layer's start). */
  state(): LayerStart {
    return { x: this.x, y: this.y, z: this.z, e: this.e, absolute: this.absolute, relativeE: this.relativeE, inches: this.units !== 1, tool: this.tool };
  }

  /** Takes up a state recorded earlier (to read a layer on its own). */
  restore(s: LayerStart): void {
    this.x = s.x;
    this.y = s.y;
    this.z = s.z;
    this.e = s.e;
    this.absolute = s.absolute;
    this.relativeE = s.relativeE;
    this.units = s.inches ? INCH : 1;
    this.tool = s.tool;
  }

  /** G20 / G21. */
  inches(on: boolean): void {
    this.units = on ? INCH : 1;
  }

  /** Where a G0–G3 line's X, Y and Z words lead from the current position, into `tx`, `ty`, `tz`. */
  target(line: LexedLine): void {
    const mask = line.mask;
    const v = line.values;
    const u = this.units;
    const abs = this.absolute;
    this.tx = (mask & X_BIT) !== 0 ? (abs ? v[23]! * u : this.x + v[23]! * u) : this.x;
    this.ty = (mask & Y_BIT) !== 0 ? (abs ? v[24]! * u : this.y + v[24]! * u) : this.y;
    this.tz = (mask & Z_BIT) !== 0 ? (abs ? v[25]! * u : this.z + v[25]! * u) : this.z;
  }

  /** The arc of a G2 (clockwise) or G3 line from the current position to its `target`, or null: a straight move. */
  arcTo(line: LexedLine, clockwise: boolean): ArcPlan | null {
    const mask = line.mask;
    const v = line.values;
    const u = this.units;
    return planArc(this.x, this.y, this.tx, this.ty, (mask & I_BIT) !== 0 ? v[8]! * u : NaN, (mask & J_BIT) !== 0 ? v[9]! * u : NaN, (mask & R_BIT) !== 0 ? v[17]! * u : NaN, clockwise);
  }

  /** The filament an E word of `ev` mm pushes (relative, or absolute against the current E), updating E. */
  extrusion(ev: number): number {
    if (this.relativeE || !this.absolute) {
      this.e += ev;
      return ev;
    }
    const de = ev - this.e;
    this.e = ev;
    return de;
  }
}
