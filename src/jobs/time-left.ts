/**
 * Time left of a print: the file's analysis (how long each part takes at the file's own speeds
 * and accelerations, and at cruise speed without acceleration, and its waits), corrected by the
 * pace the printer actually keeps, with the slicer's `M73` figures and earlier prints of the
 * file as further sources. Pure: the caller reports progress and its clock (seconds of printing,
 * pauses and heat-up waits left out) and asks for an estimate; no timers, no I/O.
 *
 * How the pace is learnt: each time the printer is done with another row of the analysis'
 * timeline (a layer, or every 256 KiB), the seconds it took are set against the figures the
 * analysis has for that stretch — seconds of X/Y moves with acceleration, seconds of X/Y and of
 * E-only moves at cruise speed, millimetres and seconds of Z-only moves, seconds of waits — and
 * a non-negative least-squares fit says how this printer's time relates to each. A printer that
 * accelerates as the file says lands on the first; one much quicker to accelerate (or the virtual
 * printer, which has no acceleration at all) on the cruise columns; one whose Z is slower than
 * the analysis thought on the Z millimetres; an MMU that loads filament faster than the slicer
 * thought gets a smaller weight on the waits. Each coefficient is held towards the analysis as
 * it is by a prior worth what the stretches' scatter says, so a column the print has barely
 * shown cannot make a long move at the end cost an arbitrary time.
 *
 * The prior is firmer where the analysis knows the printer: when it was planned with the
 * printer's own machine limits (its profile, filled in from the firmware's report), a move of Z
 * or E alone runs at the speed those limits allow, so the time of such moves is taken as the
 * analysis says unless the print clearly shows otherwise. That is what makes a long final Z lift
 * — a few tenths of a millimetre of Z per layer before it, a minute of Z at the end — come out
 * right; without the printer's limits the analysis can only assume the slicer's.
 */

import type { TimelineParts } from "../analysis/result.ts";

/** Where the number comes from, for the UI and the APIs. */
export type TimeLeftOrigin = "analysis" | "analysis+rate" | "slicer" | "slicer+rate" | "history" | "history+rate" | "rate";

export const ORIGIN_WORDS: Record<TimeLeftOrigin, string> = {
  analysis: "from the file's analysis",
  "analysis+rate": "from the file's analysis, fitted to this printer's pace so far",
  slicer: "from the slicer's own estimate (M73)",
  "slicer+rate": "from the slicer's estimate (M73), scaled by the pace so far",
  history: "from earlier prints of this file",
  "history+rate": "from earlier prints of this file and the pace so far",
  rate: "from the progress rate so far",
};

/** The analysis' timeline in the columns the estimate weighs (see `AnalysisResult.timelineParts`). */
export interface PaceTable {
  /** Byte offset of each row, ascending; the last is the file size. */
  offsets: number[];
  /**
   * Up to each row, per column: [0] seconds of moves with acceleration as the file sets it, less
   * columns 3, 4 and 5 (so mostly X/Y moves), [1] seconds of X/Y moves at cruise speed, [2]
   * millimetres of Z-only moves, [3] seconds of E-only moves at cruise speed, [4] seconds of
   * waits (dwells, tool changes, homing), [5] seconds of Z-only moves at cruise speed.
   */
  columns: number[][];
  /** The analysis was planned with the machine limits of the printer that prints (see above). */
  printerLimits: boolean;
}

export interface TimeLeftInputs {
  pace: PaceTable | null;
  /** Seconds of printing the slicer expects in all (its first M73 R), when the file has M73. */
  slicerTotal?: number | null;
  /** Average seconds of earlier successful prints of this file on this printer (pauses excluded). */
  average?: number | null;
  /**
   * Host seconds per printer second before anything was observed: 1 for a real printer; the
   * virtual printer's 1/timeScale.
   */
  scale: number;
  /** The file size (progress by bytes). */
  size: number;
}

export interface TimeLeft {
  seconds: number;
  origin: TimeLeftOrigin;
}

/** Columns of the pace table. */
const K = 6;
/** The analysis as it is: its moves with acceleration, its E-only moves, its waits, its Z-only moves. */
const AS_ANALYSED = [1, 0, 0, 1, 1, 1];
/** The analysis at cruise speed: as if the printer accelerated at once. */
const AT_CRUISE = [0, 1, 0, 1, 1, 1];
/**
 * How far each coefficient may plausibly be from the analysis as it is, a priori: seconds per
 * second for the time columns; seconds per millimetre of Z alone (a Z axis at 5 mm/s is 0.2).
 */
const PRIOR_SPREAD = [1, 1, 0.3, 1, 1, 1];
/**
 * The same when the analysis used the printer's own limits: moves of Z or of E alone then take
 * their cruise time within about a tenth (their acceleration, a small part, is in column 0), and
 * Z needs no seconds per millimetre beyond it.
 */
const PRIOR_SPREAD_KNOWN_LIMITS = [1, 1, 0.02, 0.1, 1, 0.1];
/** Seconds: the least scatter assumed of a stretch's time (acknowledgements jitter that much). */
const MIN_SCATTER = 0.05;
/** Stretches (rows) observed per column the fit may weigh. */
const STRETCHES_PER_COLUMN = 3;
/** No column is taken to run more than this many times slower than the analysis says. */
const MAX_COEFFICIENT = 5;
/** Every non-empty subset of the columns, for an exact bounded least-squares fit by enumeration. */
const SUBSETS: number[][] = [];
for (let mask = 1; mask < 1 << K; mask++) SUBSETS.push([...Array(K).keys()].filter((k) => mask & (1 << k)));

export class TimeLeftEstimator {
  /** Sums of the fit's normal equations over the observed stretches. */
  private readonly ata = new Float64Array(K * K);
  private readonly atb = new Float64Array(K);
  private btb = 0;
  private coefficients: number[] | null = null;
  /** The last row seen acknowledged, and the printing seconds then. */
  private lastRow = -1;
  private lastSeconds = 0;
  /** Model seconds observed (with acceleration), to judge when the fit can be trusted. */
  private observed = 0;
  /** Stretches observed: the fit weighs no more columns than they can tell apart. */
  private stretches = 0;
  /** The slicer's latest `M73 R` (seconds left by its estimate) and where it was read. */
  private slicer: { left: number; offset: number } | null = null;
  private slicerFirst: { left: number; seconds: number } | null = null;
  /** Every stretch learnt from (first row, last row, seconds), to learn again from a new table. */
  private readonly learnt: [from: number, to: number, seconds: number][] = [];
  private pace: PaceTable | null;

  constructor(private readonly inputs: TimeLeftInputs) {
    this.pace = usable(inputs.pace);
  }

  /**
   * The analysis re-planned (with the printing printer's own limits): the same rows, new figures.
   * What was observed so far is learnt again against them. A table with other rows is ignored.
   */
  replacePace(pace: PaceTable | null): boolean {
    const next = usable(pace);
    const current = this.pace;
    if (!next || !current || next.offsets.length !== current.offsets.length || next.offsets.some((o, i) => o !== current.offsets[i])) return false;
    this.pace = next;
    this.ata.fill(0);
    this.atb.fill(0);
    this.btb = 0;
    this.observed = 0;
    this.stretches = 0;
    this.coefficients = null;
    for (const [from, to, seconds] of this.learnt.splice(0)) this.learn(from, to, seconds);
    return true;
  }

  /** The byte offset of the next row whose acknowledgement `rowReached` wants to hear about. */
  nextRowOffset(): number {
    const p = this.pace;
    if (!p) return Infinity;
    return p.offsets[this.lastRow + 1] ?? Infinity;
  }

  /**
   * The printer acknowledged everything up to `offset` after `seconds` of printing (pauses and
   * heat-up waits left out). Call it when `offset` reaches `nextRowOffset()`. `learn = false`:
   * the stretch since the last row says nothing of the pace (a heat-up wait or a pause in it).
   */
  rowReached(offset: number, seconds: number, learn = true): void {
    const p = this.pace;
    if (!p) return;
    let row = this.lastRow;
    while (row + 1 < p.offsets.length && p.offsets[row + 1]! <= offset) row++;
    if (row === this.lastRow) return;
    if (this.lastRow >= 0 && learn) this.learn(this.lastRow, row, seconds - this.lastSeconds);
    this.lastRow = row;
    this.lastSeconds = seconds;
  }

  /** Adds the stretch from row `from` to row `to`, which took `dt` seconds, to the fit. */
  private learn(from: number, to: number, dt: number): void {
    const p = this.pace!;
    const d = p.columns.map((c) => c[to]! - c[from]!);
    for (let i = 0; i < K; i++) {
      this.atb[i]! += d[i]! * dt;
      for (let j = 0; j < K; j++) this.ata[i * K + j]! += d[i]! * d[j]!;
    }
    this.btb += dt * dt;
    this.observed += asAnalysed(d, 0);
    this.stretches++;
    this.coefficients = null;
    this.learnt.push([from, to, dt]);
  }

  /** An `M73 P<percent> R<minutes>` line of the file reached the printer at `offset`. */
  slicerProgress(offset: number, minutesLeft: number, seconds: number): void {
    const left = minutesLeft * 60;
    this.slicer = { left, offset };
    if (!this.slicerFirst) this.slicerFirst = { left, seconds };
  }

  /** Seconds left at `offset` after `seconds` of printing. */
  estimate(offset: number, seconds: number): TimeLeft | null {
    const { scale, average } = this.inputs;
    const fit = this.fitted(offset);
    const trust = this.trust();
    const slicer = this.slicerLeft(seconds);
    // What is known before the printer's pace is: earlier prints, else the analysis and the
    // slicer's figure (their mean when both are there), scaled to host seconds.
    let prior: TimeLeft | null = null;
    if (average) prior = { seconds: Math.max(0, average - seconds), origin: "history" };
    else {
      const analysis = this.pace ? this.modelLeft(AS_ANALYSED, offset) * scale : null;
      const slicerPrior = this.slicer ? this.slicer.left * scale : this.inputs.slicerTotal ? Math.max(0, this.inputs.slicerTotal * scale - seconds) : null;
      if (analysis !== null && slicerPrior !== null) prior = { seconds: (analysis + slicerPrior) / 2, origin: "analysis" };
      else if (analysis !== null) prior = { seconds: analysis, origin: "analysis" };
      else if (slicerPrior !== null) prior = { seconds: slicerPrior, origin: "slicer" };
    }
    if (fit !== null && trust > 0) {
      const origin: TimeLeftOrigin = prior?.origin === "history" ? "history+rate" : "analysis+rate";
      const seconds = prior ? trust * fit + (1 - trust) * prior.seconds : fit;
      return { seconds: Math.max(0, seconds), origin };
    }
    if (slicer !== null) return { seconds: slicer, origin: "slicer+rate" };
    if (prior) return prior;
    // Nothing but the bytes: the rate so far.
    if (offset > 0 && seconds > 0) return { seconds: (seconds * (this.inputs.size - offset)) / offset, origin: "rate" };
    return null;
  }

  /** How far the fit is trusted (0–1): fully after a few minutes' or 2 % of the model's time. */
  private trust(): number {
    const p = this.pace;
    if (!p) return 0;
    const total = asAnalysed(p.columns, p.offsets.length - 1);
    return Math.min(1, this.observed / Math.max(1, Math.min(300, total * 0.02)));
  }

  /** The slicer's figure scaled by the pace observed against it, once it has moved. */
  private slicerLeft(seconds: number): number | null {
    const s = this.slicer;
    const first = this.slicerFirst;
    if (!s || !first) return null;
    const done = first.left - s.left;
    if (done < 60) return null;
    return (s.left * (seconds - first.seconds)) / done;
  }

  private fitted(offset: number): number | null {
    if (!this.pace || this.observed <= 0) return null;
    this.coefficients ??= this.solveWithPrior();
    return this.modelLeft(this.coefficients, offset);
  }

  /**
   * The fit, each coefficient held towards the analysis as it is by as much as the stretches'
   * scatter says one stretch is worth: a column that has shown the fit little (a few tenths of a
   * millimetre of Z per layer, against seconds of noise) keeps near its prior, so it cannot make
   * a long move at the end (a Z lift of 100 mm) cost an arbitrary time.
   */
  private solveWithPrior(): number[] {
    const n = this.stretches;
    // A handful of stretches only tells where the printer's pace is between the analysis with
    // acceleration and at cruise speed, and how much slower or quicker it is than both.
    if (n < STRETCHES_PER_COLUMN * 2) return between(this.ata, this.atb);
    const spread = this.pace!.printerLimits ? PRIOR_SPREAD_KNOWN_LIMITS : PRIOR_SPREAD;
    // The stretches' scatter around the fit without the prior, as many columns as they tell apart.
    const free = solve(this.ata, this.atb, Math.floor(n / STRETCHES_PER_COLUMN));
    const variance = Math.max(MIN_SCATTER ** 2, (this.btb + quadratic(this.ata, this.atb, free)) / Math.max(1, n));
    const ata = this.ata.slice();
    const atb = this.atb.slice();
    for (let k = 0; k < K; k++) {
      const lambda = variance / spread[k]! ** 2;
      ata[k * K + k]! += lambda;
      atb[k]! += lambda * AS_ANALYSED[k]!;
    }
    return solve(ata, atb);
  }

  /** Σ c_k × (column k at the end − column k at `offset`). */
  private modelLeft(c: number[], offset: number): number {
    const p = this.pace!;
    const o = p.offsets;
    const last = o.length - 1;
    // The row `offset` is in, and how far into it (columns are linear between rows).
    let lo = 0;
    let hi = last;
    let f = 0;
    if (offset >= o[last]!) lo = hi = last;
    else if (offset > o[0]!) {
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (o[mid]! <= offset) lo = mid;
        else hi = mid;
      }
      f = (offset - o[lo]!) / (o[hi]! - o[lo]!);
    } else hi = 0;
    let left = 0;
    for (let k = 0; k < K; k++) {
      if (!c[k]) continue;
      const col = p.columns[k]!;
      left += c[k]! * (col[last]! - (col[lo]! + (col[hi]! - col[lo]!) * f));
    }
    return Math.max(0, left);
  }
}

/**
 * Non-negative least squares for K columns from the normal equations: the best of the
 * unconstrained solutions over every subset of at most `most` columns whose coefficients are all
 * ≥ 0 (and not absurdly large).
 */
export function solve(ata: Float64Array, atb: Float64Array, most = K): number[] {
  let best: number[] = between(ata, atb);
  let bestValue = Infinity;
  for (const subset of SUBSETS) {
    if (subset.length > most) continue;
    const x = solveSubset(ata, atb, subset);
    if (!x || x.some((c) => c < 0 || c > MAX_COEFFICIENT)) continue;
    const c: number[] = new Array(K).fill(0);
    subset.forEach((k, i) => (c[k] = x[i]!));
    const value = quadratic(ata, atb, c);
    if (value < bestValue - 1e-12) {
      bestValue = value;
      best = c;
    }
  }
  return best;
}

/** ‖Ac − b‖² − ‖b‖² = cᵀAᵀAc − 2cᵀAᵀb. */
function quadratic(ata: Float64Array, atb: Float64Array, c: number[]): number {
  let value = 0;
  for (let i = 0; i < K; i++) {
    value -= 2 * c[i]! * atb[i]!;
    for (let j = 0; j < K; j++) value += c[i]! * ata[i * K + j]! * c[j]!;
  }
  return value;
}

/** The analysis' own seconds of a row of columns (`row[k]` a number, or a column's row `at`). */
function asAnalysed(row: number[] | number[][], at: number): number {
  let sum = 0;
  for (let k = 0; k < K; k++) {
    const x = row[k]!;
    sum += AS_ANALYSED[k]! * (typeof x === "number" ? x : x[at]!);
  }
  return sum;
}

/**
 * The fit on two columns, the analysis as it is and at cruise speed (a · as analysed + b · at
 * cruise, a, b ≥ 0): what a few stretches can tell. Without any, the analysis as it is.
 */
function between(ata: Float64Array, atb: Float64Array): number[] {
  const models = [AS_ANALYSED, AT_CRUISE];
  // The normal equations of the two combined columns.
  const m = [0, 0, 0, 0];
  const r = [0, 0];
  for (let a = 0; a < 2; a++) {
    for (let i = 0; i < K; i++) {
      r[a]! += models[a]![i]! * atb[i]!;
      for (let b = 0; b < 2; b++) for (let j = 0; j < K; j++) m[a * 2 + b]! += models[a]![i]! * models[b]![j]! * ata[i * K + j]!;
    }
  }
  const candidates: [number, number][] = [];
  if (m[0]! > 0) candidates.push([r[0]! / m[0]!, 0]);
  if (m[3]! > 0) candidates.push([0, r[1]! / m[3]!]);
  const det = m[0]! * m[3]! - m[1]! * m[2]!;
  if (Math.abs(det) > 1e-9 * Math.max(1, m[0]! * m[3]!)) candidates.push([(r[0]! * m[3]! - r[1]! * m[1]!) / det, (m[0]! * r[1]! - m[2]! * r[0]!) / det]);
  let best: [number, number] = [1, 0];
  let bestValue = Infinity;
  for (const [a, b] of candidates) {
    if (a < 0 || b < 0 || a > MAX_COEFFICIENT || b > MAX_COEFFICIENT) continue;
    const value = a * a * m[0]! + 2 * a * b * m[1]! + b * b * m[3]! - 2 * (a * r[0]! + b * r[1]!);
    if (value < bestValue) {
      bestValue = value;
      best = [a, b];
    }
  }
  return AS_ANALYSED.map((c, k) => best[0] * c + best[1] * AT_CRUISE[k]!);
}

function solveSubset(ata: Float64Array, atb: Float64Array, subset: number[]): number[] | null {
  const n = subset.length;
  const m = subset.map((i) => [...subset.map((j) => ata[i * K + j]!), atb[i]!]);
  for (let i = 0; i < n; i++) {
    let p = i;
    for (let r = i + 1; r < n; r++) if (Math.abs(m[r]![i]!) > Math.abs(m[p]![i]!)) p = r;
    [m[i], m[p]] = [m[p]!, m[i]!];
    const pivot = m[i]![i]!;
    if (Math.abs(pivot) < 1e-9) return null;
    for (let r = 0; r < n; r++) {
      if (r === i) continue;
      const f = m[r]![i]! / pivot;
      for (let c = i; c <= n; c++) m[r]![c]! -= f * m[i]![c]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

/** A table the estimate can use (two rows at least), or null. */
function usable(pace: PaceTable | null | undefined): PaceTable | null {
  return pace && pace.offsets.length > 1 ? pace : null;
}

/**
 * The pace table of an analysis' timeline (`timeline` and `timelineParts` of its result);
 * `printerLimits`: it was planned with the printing printer's own machine limits.
 */
export function paceTable(timeline: [number, number][], parts: TimelineParts[], printerLimits = false): PaceTable | null {
  if (timeline.length < 2 || parts.length !== timeline.length) return null;
  const [xy, zMm, e, waits, z] = [0, 1, 2, 3, 4].map((k) => parts.map((p) => p[k]!));
  return {
    offsets: timeline.map(([o]) => o),
    columns: [timeline.map(([, t], r) => t - waits![r]! - z![r]! - e![r]!), xy!, zMm!, e!, waits!, z!],
    printerLimits,
  };
}
