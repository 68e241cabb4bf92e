/**
 * Positioning state and move geometry, following Marlin's motion.cpp/planner.cpp rules: absolute
 * and relative modes (G90/G91, M82/M83), the G92 workspace offset, feedrate in mm/min that
 * persists, per-axis speed limits, homing, and arcs. Durations are in simulated seconds; the
 * firmware turns them into wall-clock time with the time scale.
 *
 * The machine limits (`limits`) are the ones M503 reports and M201/M203/M204/M205 change. Moves
 * run at their speed within the per-axis maximum feed rates, without acceleration: the
 * accelerations and jerk are kept and reported but not simulated.
 */
import { applyLimits, defaultLimits, limitsFromCommand, type MachineLimits } from "../analysis/limits.ts";
import type { GcodeCommand } from "./gcode.ts";
import type { Vec4 } from "./planner.ts";

const AXES = ["X", "Y", "Z", "E"] as const;

/** Marlin defaults (Configuration.h) for a Cartesian printer; the machine limits are `defaultLimits()`. */
export const MACHINE = {
  /** DEFAULT_AXIS_STEPS_PER_UNIT */
  stepsPerMm: [80, 80, 400, 500] as const,
  /** HOMING_FEEDRATE_MM_M converted to mm/s */
  homingFeedrate: [50, 50, 4] as const,
  /** HOMING_BUMP_MM and HOMING_BUMP_DIVISOR */
  homingBump: [5, 5, 2] as const,
  homingBumpDivisor: [2, 2, 4] as const,
  /** Default feedrate before any F word: 1500 mm/min. */
  defaultFeedrate: 25,
} as const;

/** How E coordinates are read: with the XYZ mode (after G90/G91), or forced by M82/M83. */
export type ExtruderMode = "follow" | "absolute" | "relative";

/** The printer's notion of where it is and how coordinates are read. */
export class Motion {
  /** Machine (native) position after the last queued move, mm. */
  position: Vec4 = [0, 0, 0, 0];
  /** G92 workspace offset of X, Y, Z: logical = native + offset. */
  offset: [number, number, number] = [0, 0, 0];
  relative = false;
  extruderMode: ExtruderMode = "follow";
  /** Current feedrate, mm/s. */
  feedrate: number = MACHINE.defaultFeedrate;
  /** M220 speed factor, percent. */
  feedratePercent = 100;
  homed: [boolean, boolean, boolean] = [false, false, false];
  /** Max feed rates (mm/s), accelerations and jerk: Marlin 2's defaults until M201/M203/M204/M205. */
  limits: MachineLimits = defaultLimits();

  /** M201, M203, M204 or M205: sets the limits it names (Marlin's units). */
  setLimits(code: number, cmd: GcodeCommand): void {
    this.limits = applyLimits(this.limits, limitsFromCommand(code, (letter) => cmd.value(letter)));
  }

  /** Whether E coordinates are relative right now. */
  get relativeE(): boolean {
    return this.extruderMode === "follow" ? this.relative : this.extruderMode === "relative";
  }

  /** Position in the user's coordinates (what M114 prints). */
  logical(): Vec4 {
    const p = this.position;
    return [p[0] + this.offset[0], p[1] + this.offset[1], p[2] + this.offset[2], p[3]];
  }

  /** Position in whole motor steps (the `Count` part of M114). */
  steps(): [number, number, number] {
    const p = this.position;
    return [0, 1, 2].map((i) => Math.round(p[i]! * MACHINE.stepsPerMm[i]!)) as [number, number, number];
  }

  /** Reads an `F` word (mm/min) the way G0/G1/G2/G3 do: F0 and missing F keep the old one. */
  takeFeedrate(cmd: GcodeCommand): void {
    const f = cmd.value("F");
    if (f !== undefined && f > 0) this.feedrate = f / 60;
  }

  /** The native target of a G0/G1/G2/G3 from its X/Y/Z/E words. */
  target(cmd: GcodeCommand): Vec4 {
    const to: Vec4 = [...this.position];
    for (let i = 0; i < 4; i++) {
      const v = cmd.value(AXES[i]!);
      if (v === undefined) continue;
      const rel = i === 3 ? this.relativeE : this.relative;
      if (rel) to[i] = this.position[i]! + v;
      else to[i] = i === 3 ? v : v - this.offset[i]!;
    }
    return to;
  }

  /** Duration of a straight move at the current feedrate, within each axis' speed limit. */
  linearSeconds(from: Vec4, to: Vec4): number {
    const d = [0, 1, 2, 3].map((i) => Math.abs(to[i]! - from[i]!));
    const xyz = Math.hypot(d[0]!, d[1]!, d[2]!);
    const mm = xyz > 0 ? xyz : d[3]!;
    if (mm === 0) return 0;
    let speed = (this.feedrate * this.feedratePercent) / 100;
    // Slow the whole move so no axis exceeds its maximum (as Marlin's planner does; 0 = no limit).
    const max = this.limits.maxFeedrate;
    const limit = [max.x, max.y, max.z, max.e];
    for (let i = 0; i < 4; i++) {
      const axisSpeed = (d[i]! / mm) * speed;
      if (limit[i]! > 0 && axisSpeed > limit[i]!) speed *= limit[i]! / axisSpeed;
    }
    return mm / speed;
  }

  /** Works out G2 (clockwise) / G3 from I/J (centre offset) or R (radius), Marlin's way. */
  arcSeconds(from: Vec4, to: Vec4, cmd: GcodeCommand, clockwise: boolean): number {
    let ox = cmd.value("I") ?? 0;
    let oy = cmd.value("J") ?? 0;
    const r = cmd.value("R");
    if (r !== undefined && r !== 0) {
      const hx = (to[0] - from[0]) / 2;
      const hy = (to[1] - from[1]) / 2;
      const dist = Math.hypot(hx, hy);
      if (dist > 0) {
        const h2 = (r - dist) * (r + dist);
        const h = h2 >= 0 ? Math.sqrt(h2) : 0;
        const e = clockwise !== r < 0 ? -1 : 1;
        ox = hx + (-hy / dist) * e * h;
        oy = hy + (hx / dist) * e * h;
      }
    }
    const radius = Math.hypot(ox, oy);
    const cx = from[0] + ox;
    const cy = from[1] + oy;
    const ax = -ox;
    const ay = -oy;
    const bx = to[0] - cx;
    const by = to[1] - cy;
    let angle = Math.atan2(ax * by - ay * bx, ax * bx + ay * by);
    if (angle < 0) angle += 2 * Math.PI;
    if (clockwise) angle -= 2 * Math.PI;
    if (angle === 0 && from[0] === to[0] && from[1] === to[1]) angle = 2 * Math.PI;
    const mm = Math.hypot(Math.abs(angle) * radius, to[2] - from[2]);
    const de = Math.abs(to[3] - from[3]);
    const length = mm > 0 ? mm : de;
    if (length === 0) return 0;
    return length / ((this.feedrate * this.feedratePercent) / 100);
  }

  /** G92: makes the current position read as the given coordinates (XYZ via the offset, E directly). */
  setPosition(cmd: GcodeCommand): void {
    for (let i = 0; i < 4; i++) {
      const v = cmd.value(AXES[i]!);
      if (v === undefined) continue;
      if (i === 3) this.position[3] = v;
      else this.offset[i as 0 | 1 | 2] = v - this.position[i]!;
    }
  }

  /** Which axes a G28 homes: the named ones, or all when none (or all three) are named. */
  homingAxes(cmd: GcodeCommand): [boolean, boolean, boolean] {
    const named: [boolean, boolean, boolean] = [cmd.has("X"), cmd.has("Y"), cmd.has("Z")];
    return named.some(Boolean) ? named : [true, true, true];
  }

  /** Simulated seconds to home the axes: travel to the endstop, then the slow bump. */
  homingSeconds(axes: [boolean, boolean, boolean]): number {
    let s = 0;
    for (let i = 0; i < 3; i++) {
      if (!axes[i]) continue;
      const fr = MACHINE.homingFeedrate[i]!;
      const bump = MACHINE.homingBump[i]!;
      s += Math.max(this.position[i]!, 0) / fr + bump / fr + bump / (fr / MACHINE.homingBumpDivisor[i]!);
    }
    return s;
  }

  /** Finishes homing: the axes are at 0 and their G92 offset is cleared. */
  home(axes: [boolean, boolean, boolean]): void {
    for (let i = 0; i < 3; i++) {
      if (!axes[i]) continue;
      this.position[i] = 0;
      this.offset[i] = 0;
      this.homed[i] = true;
    }
  }
}
