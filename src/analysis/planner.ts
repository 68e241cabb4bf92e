/**
 * The motion planner behind the time estimate: every move becomes a block with a trapezoidal
 * speed profile (accelerate, cruise, decelerate) under the machine's limits; junction speeds
 * between blocks follow classic jerk (or Marlin 2's junction deviation); look-ahead runs a
 * reverse and a forward pass over the queue as the firmware does, planning in batches the way
 * PrusaSlicer's estimator does (re-plan past 256 queued blocks, keep the newest 64), so our figure
 * is comparable to the slicer's own. Pure: moves in, seconds out.
 *
 * Speeds are mm/s, accelerations mm/s², distances mm.
 */
import type { MachineLimits } from "./limits.ts";

/** Kinds of moves; each takes its acceleration from a different M204 value. */
export const MOVE_PRINT = 0;
export const MOVE_TRAVEL = 1;
export const MOVE_RETRACT = 2;

/**
 * Columns of `parts`: cruise seconds of X/Y moves, millimetres of Z-only moves, cruise seconds of
 * E-only moves, seconds of waits, cruise seconds of Z-only moves.
 */
export const PART_XY = 0;
export const PART_Z = 1;
export const PART_E = 2;
export const PART_WAIT = 3;
export const PART_Z_TIME = 4;
const PARTS = 5;

const QUEUE_KEEP = 64;
const REFRESH_AT = QUEUE_KEEP * 4;
const CAPACITY = REFRESH_AT + 2;
const PREVIOUS_FEEDRATE_THRESHOLD = 0.0001;
const MINIMUM_PLANNER_SPEED = 0.05;

/**
 * One axis of the classic-jerk junction: the factor (≤ `factor`) that keeps the jump from the
 * previous move's axis speed `vExit` to this one's `vEntry` within `maxJerk`, both speeds
 * judged at the reduction found so far. Coasting (same direction) costs the difference; a
 * reversal costs the larger of the two.
 */
function limitAxis(vExit: number, vEntry: number, factor: number, maxJerk: number): number {
  const a = vExit * factor;
  const b = vEntry * factor;
  const jerk = a > b ? (b > 0 || a < 0 ? a - b : Math.max(a, -b)) : b < 0 || a > 0 ? b - a : Math.max(-a, b);
  return jerk > maxJerk ? factor * (maxJerk / jerk) : factor;
}

/** max speed at the start of `distance` so that `acceleration` (negative: braking) reaches `target`. */
function maxAllowableSpeed(acceleration: number, target: number, distance: number): number {
  return Math.sqrt(Math.max(0, target * target - 2 * acceleration * distance));
}

export class MotionPlanner {
  // Limits (mutable: the file's M201/M203/M204/M205 change them while planning).
  readonly maxFeedrate = new Float64Array(4);
  readonly maxAxisAcceleration = new Float64Array(4);
  readonly maxJerk = new Float64Array(4);
  maxPrintAcceleration: number;
  maxRetractAcceleration: number;
  maxTravelAcceleration: number;
  printAcceleration: number;
  retractAcceleration: number;
  travelAcceleration: number;
  minExtrudingRate: number;
  minTravelRate: number;
  junctionDeviation: number;
  /** M220 feed rate factor and M221 flow factor (the flow factor matters for E's limits). */
  speedFactor = 1;
  savedSpeedFactor = 1;
  extrudeFactor = 1;

  /** Planned seconds so far (blocks that left the queue plus waits). */
  time = 0;
  /**
   * What `time` is made of: seconds had every move run at its cruise speed from end to end (no
   * acceleration) for moves in X/Y, of E alone and of Z alone, millimetres of Z alone (printers
   * differ most in Z speed and nearly always move Z alone at their own top speed, whatever the
   * file asks), and seconds of waits (dwells, tool changes, homing). A printer's real pace relates differently to
   * each — quicker to accelerate than the file says, a slower Z or extruder than the slicer's
   * profile — and the time-left estimate learns how (src/jobs/time-left.ts).
   */
  readonly parts = new Float64Array(PARTS);

  // The previous move's state, for junction speeds: its commanded and safe speed, its axis
  // speeds and its direction.
  private prevFeedrate = 0;
  private prevSafe = 0;
  private pvx = 0;
  private pvy = 0;
  private pvz = 0;
  private pve = 0;
  private pux = 0;
  private puy = 0;
  private puz = 0;
  private pue = 0;

  // The queue, as parallel arrays.
  private count = 0;
  private readonly distance = new Float64Array(CAPACITY);
  private readonly accel = new Float64Array(CAPACITY);
  private readonly entry = new Float64Array(CAPACITY);
  private readonly cruise = new Float64Array(CAPACITY);
  private readonly safe = new Float64Array(CAPACITY);
  private readonly maxEntry = new Float64Array(CAPACITY);
  private readonly nominalLength = new Uint8Array(CAPACITY);
  private readonly recalc = new Uint8Array(CAPACITY);
  /** Which cruise column of `parts` each block counts in. */
  private readonly part = new Uint8Array(CAPACITY);
  private readonly accelUntil = new Float64Array(CAPACITY);
  private readonly decelAfter = new Float64Array(CAPACITY);
  private readonly trapCruise = new Float64Array(CAPACITY);
  private readonly offset = new Float64Array(CAPACITY);

  // Marks: byte offsets whose elapsed time is wanted (layer starts, the progress table).
  private readonly markOffsets: number[] = [];
  /** Elapsed seconds at each mark, in the order `mark` was called, and `parts` then. */
  readonly markTimes: number[] = [];
  readonly markParts: Float64Array[] = [];

  constructor(limits: MachineLimits) {
    const axes = ["x", "y", "z", "e"] as const;
    axes.forEach((a, i) => {
      this.maxFeedrate[i] = limits.maxFeedrate[a];
      this.maxAxisAcceleration[i] = limits.maxAcceleration[a];
      this.maxJerk[i] = limits.maxJerk[a];
    });
    this.maxPrintAcceleration = limits.maxPrintAcceleration;
    this.maxRetractAcceleration = limits.maxRetractAcceleration;
    this.maxTravelAcceleration = limits.maxTravelAcceleration;
    this.printAcceleration = limits.printAcceleration;
    this.retractAcceleration = limits.retractAcceleration;
    this.travelAcceleration = limits.travelAcceleration;
    this.minExtrudingRate = limits.minExtrudingRate;
    this.minTravelRate = limits.minTravelRate;
    this.junctionDeviation = limits.junctionDeviation;
  }

  /** M204 P / S: print acceleration, clamped to the machine's maximum. */
  setPrintAcceleration(value: number): void {
    this.printAcceleration = this.maxPrintAcceleration > 0 ? Math.min(value, this.maxPrintAcceleration) : value;
  }
  setTravelAcceleration(value: number): void {
    this.travelAcceleration = this.maxTravelAcceleration > 0 ? Math.min(value, this.maxTravelAcceleration) : value;
  }
  setRetractAcceleration(value: number): void {
    this.retractAcceleration = this.maxRetractAcceleration > 0 ? Math.min(value, this.maxRetractAcceleration) : value;
  }

  /**
   * Queues one straight move. `feedrate` is the commanded speed in mm/s, `kind` one of MOVE_*,
   * `at` the byte offset of its line (for marks). Hot path: scalars only, no allocation.
   */
  move(dx: number, dy: number, dz: number, de: number, feedrate: number, kind: number, at: number): void {
    const sqXyz = dx * dx + dy * dy + dz * dz;
    const distance = sqXyz > 0 ? Math.sqrt(sqXyz) : Math.abs(de);
    if (distance === 0) return;
    const inv = 1 / distance;
    let fr = feedrate * this.speedFactor;
    fr = de === 0 ? Math.max(fr, this.minTravelRate) : Math.max(fr, this.minExtrudingRate);

    const ux = dx * inv;
    const uy = dy * inv;
    const uz = dz * inv;
    const ue = de * inv;
    let vx = fr * ux;
    let vy = fr * uy;
    let vz = fr * uz;
    let ve = fr * ue * this.extrudeFactor;
    const maxFeed = this.maxFeedrate;
    let factor = 1;
    if (vx !== 0 && maxFeed[0] !== 0) factor = Math.min(factor, maxFeed[0]! / Math.abs(vx));
    if (vy !== 0 && maxFeed[1] !== 0) factor = Math.min(factor, maxFeed[1]! / Math.abs(vy));
    if (vz !== 0 && maxFeed[2] !== 0) factor = Math.min(factor, maxFeed[2]! / Math.abs(vz));
    if (ve !== 0 && maxFeed[3] !== 0) factor = Math.min(factor, maxFeed[3]! / Math.abs(ve));
    const cruise = factor * fr;
    if (factor < 1) {
      vx *= factor;
      vy *= factor;
      vz *= factor;
      ve *= factor;
    }

    let acceleration = kind === MOVE_TRAVEL ? this.travelAcceleration : kind === MOVE_RETRACT ? this.retractAcceleration : this.printAcceleration;
    const maxAcc = this.maxAxisAcceleration;
    if (acceleration * Math.abs(ux) > maxAcc[0]!) acceleration = maxAcc[0]!;
    if (acceleration * Math.abs(uy) > maxAcc[1]!) acceleration = maxAcc[1]!;
    if (acceleration * Math.abs(uz) > maxAcc[2]!) acceleration = maxAcc[2]!;
    if (acceleration * Math.abs(ue) > maxAcc[3]!) acceleration = maxAcc[3]!;

    // The speed this block may start and end at from standstill (the jerk limit).
    const jerk = this.maxJerk;
    let safe = cruise;
    if (Math.abs(vx) > jerk[0]!) safe = Math.min(safe, jerk[0]!);
    if (Math.abs(vy) > jerk[1]!) safe = Math.min(safe, jerk[1]!);
    if (Math.abs(vz) > jerk[2]!) safe = Math.min(safe, jerk[2]!);
    if (Math.abs(ve) > jerk[3]!) safe = Math.min(safe, jerk[3]!);

    let vmaxJunction = safe;
    if (this.count > 0 && this.prevFeedrate > PREVIOUS_FEEDRATE_THRESHOLD) {
      vmaxJunction =
        this.junctionDeviation > 0 ? this.deviationJunction(ux, uy, uz, ue, cruise, acceleration) : this.jerkJunction(vx, vy, vz, ve, cruise, safe);
    }
    const allowable = maxAllowableSpeed(-acceleration, safe, distance);

    const i = this.count++;
    this.distance[i] = distance;
    this.accel[i] = acceleration;
    this.cruise[i] = cruise;
    this.safe[i] = safe;
    this.entry[i] = Math.min(vmaxJunction, allowable);
    this.maxEntry[i] = vmaxJunction;
    this.nominalLength[i] = cruise <= allowable ? 1 : 0;
    this.recalc[i] = 1; // its trapezoid is computed when the queue is planned
    this.offset[i] = at;
    this.part[i] = dx !== 0 || dy !== 0 ? PART_XY : dz !== 0 ? PART_Z : PART_E;

    this.prevFeedrate = fr;
    this.prevSafe = safe;
    this.pvx = vx;
    this.pvy = vy;
    this.pvz = vz;
    this.pve = ve;
    this.pux = ux;
    this.puy = uy;
    this.puz = uz;
    this.pue = ue;

    if (this.count > REFRESH_AT) this.plan(QUEUE_KEEP);
  }

  /** Classic jerk: the largest junction speed whose per-axis speed jump stays within the jerk. */
  private jerkJunction(vx: number, vy: number, vz: number, ve: number, cruise: number, safe: number): number {
    const prevFeedrate = this.prevFeedrate;
    const prevLarger = prevFeedrate > cruise;
    const smallerFactor = prevLarger ? cruise / prevFeedrate : prevFeedrate / cruise;
    const exitScale = prevLarger ? smallerFactor : 1;
    let vmax = prevLarger ? cruise : prevFeedrate;
    const jerk = this.maxJerk;
    // Axes in order; once one limits, the following ones are judged at the reduced speed.
    let f = 1;
    f = limitAxis(this.pvx * exitScale, vx, f, jerk[0]!);
    f = limitAxis(this.pvy * exitScale, vy, f, jerk[1]!);
    f = limitAxis(this.pvz * exitScale, vz, f, jerk[2]!);
    f = limitAxis(this.pve * exitScale, ve, f, jerk[3]!);
    if (f < 1) vmax *= f;
    // Not coasting: the machine stops and starts anyway, so start from the safe speed.
    const threshold = vmax * 0.99;
    if (this.prevSafe > threshold && safe > threshold) vmax = safe;
    return vmax;
  }

  /** Marlin 2 junction deviation: the corner speed a centripetal acceleration allows. */
  private deviationJunction(ux: number, uy: number, uz: number, ue: number, cruise: number, acceleration: number): number {
    const cosTheta = -(this.pux * ux + this.puy * uy + this.puz * uz + this.pue * ue);
    const nominal = Math.min(cruise, this.prevFeedrate);
    if (cosTheta > 0.999999) return MINIMUM_PLANNER_SPEED;
    if (cosTheta < -0.999999) return nominal;
    const sinThetaD2 = Math.sqrt(0.5 * (1 - cosTheta));
    const v = Math.sqrt((acceleration * this.junctionDeviation * sinThetaD2) / (1 - sinThetaD2));
    return Math.min(v, nominal);
  }

  /** A wait with the queue drained (G4, tool change, M400): plans everything, then waits. */
  synchronize(seconds = 0): void {
    this.plan(0);
    this.time += seconds;
    this.parts[PART_WAIT]! += seconds;
  }

  /** Asks for the elapsed time at byte `at` (resolved when the block at or after it is planned). */
  mark(at: number): void {
    this.markOffsets.push(at);
  }

  /** Plans and times everything still queued; resolves the remaining marks. Returns the total. */
  finish(): number {
    this.plan(0);
    while (this.markTimes.length < this.markOffsets.length) {
      this.markTimes.push(this.time);
      this.markParts.push(this.parts.slice());
    }
    return this.time;
  }

  /** Look-ahead over the queue, then times all but the newest `keep` blocks. */
  private plan(keep: number): void {
    const n = this.count;
    if (n === 0) return;
    const entry = this.entry;
    const maxEntry = this.maxEntry;
    const nominal = this.nominalLength;
    const accel = this.accel;
    const dist = this.distance;
    const recalc = this.recalc;
    // Reverse pass: raise entry speeds as far as the next block's entry allows.
    for (let i = n - 1; i > 0; i--) {
      const c = i - 1;
      if (entry[c] !== maxEntry[c]) {
        if (!nominal[c] && maxEntry[c]! > entry[i]!) entry[c] = Math.min(maxEntry[c]!, maxAllowableSpeed(-accel[c]!, entry[i]!, dist[c]!));
        else entry[c] = maxEntry[c]!;
        recalc[c] = 1;
      }
    }
    // Forward pass: an accelerating block may not reach the next block's entry speed.
    for (let i = 0; i + 1 < n; i++) {
      if (!nominal[i] && entry[i]! < entry[i + 1]!) {
        const speed = Math.min(entry[i + 1]!, maxAllowableSpeed(-accel[i]!, entry[i]!, dist[i]!));
        if (entry[i + 1] !== speed) {
          entry[i + 1] = speed;
          recalc[i + 1] = 1;
        }
      }
    }
    for (let i = 0; i + 1 < n; i++) {
      if (recalc[i] || recalc[i + 1]) {
        this.trapezoid(i, entry[i]!, entry[i + 1]!);
        recalc[i] = 0;
      }
    }
    this.trapezoid(n - 1, entry[n - 1]!, this.safe[n - 1]!);
    recalc[n - 1] = 0;

    const done = n - keep;
    const marks = this.markOffsets;
    const times = this.markTimes;
    const parts = this.parts;
    let time = this.time;
    for (let i = 0; i < done; i++) {
      const at = this.offset[i]!;
      while (times.length < marks.length && marks[times.length]! <= at) {
        times.push(time);
        this.markParts.push(parts.slice());
      }
      time += this.blockTime(i);
      const part = this.part[i]!;
      const cruise = this.cruise[i]!;
      if (part === PART_Z) {
        parts[PART_Z]! += this.distance[i]!;
        if (cruise > 0) parts[PART_Z_TIME]! += this.distance[i]! / cruise;
      } else if (cruise > 0) parts[part]! += this.distance[i]! / cruise;
    }
    this.time = time;
    if (keep > 0 && done > 0) {
      for (const arr of [this.distance, this.accel, this.entry, this.cruise, this.safe, this.maxEntry, this.accelUntil, this.decelAfter, this.trapCruise, this.offset]) arr.copyWithin(0, done, n);
      this.nominalLength.copyWithin(0, done, n);
      this.recalc.copyWithin(0, done, n);
      this.part.copyWithin(0, done, n);
    }
    this.count = n - done;
  }

  /** The trapezoid of block `i` for the given entry and exit speeds. */
  private trapezoid(i: number, entry: number, exit: number): void {
    const a = this.accel[i]!;
    const d = this.distance[i]!;
    const cruise = this.cruise[i]!;
    let accelDist = a === 0 ? 0 : Math.max(0, (cruise * cruise - entry * entry) / (2 * a));
    const decelDist = a === 0 ? 0 : Math.max(0, (exit * exit - cruise * cruise) / (-2 * a));
    let cruiseDist = d - accelDist - decelDist;
    let cruiseSpeed = cruise;
    if (cruiseDist < 0) {
      // Too short to reach cruise speed: accelerate until the braking point, then brake.
      accelDist = a === 0 ? 0 : Math.min(Math.max((2 * a * d - entry * entry + exit * exit) / (4 * a), 0), d);
      cruiseDist = 0;
      cruiseSpeed = Math.sqrt(Math.max(0, entry * entry + 2 * a * accelDist));
    }
    this.accelUntil[i] = accelDist;
    this.decelAfter[i] = accelDist + cruiseDist;
    this.trapCruise[i] = cruiseSpeed;
  }

  private blockTime(i: number): number {
    const a = this.accel[i]!;
    const entry = this.entry[i]!;
    const v = this.trapCruise[i]!;
    const accelUntil = this.accelUntil[i]!;
    const decelAfter = this.decelAfter[i]!;
    const d = this.distance[i]!;
    if (a === 0) return v !== 0 ? d / v : 0;
    const accelTime = (Math.sqrt(Math.max(0, entry * entry + 2 * a * accelUntil)) - entry) / a;
    const cruiseTime = v !== 0 ? (decelAfter - accelUntil) / v : 0;
    const decelTime = (Math.sqrt(Math.max(0, v * v - 2 * a * (d - decelAfter))) - v) / -a;
    return accelTime + cruiseTime + decelTime;
  }
}
