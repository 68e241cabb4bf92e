/**
 * The time-left estimate (src/jobs/time-left.ts): where its number comes from before and after
 * the printer's pace is known, the fit converging on a printer slower than the analysis, a long
 * final Z lift when the analysis knows the printer's own limits, a re-planned analysis swapped in
 * mid-print, and (through the job's bookkeeping, `JobRun`) pauses and heat-up waits left out of
 * the pace.
 */
import { describe, expect, test } from "bun:test";
import type { JobPlan } from "../../src/jobs/plan.ts";
import { EMPTY_PLAN } from "../../src/jobs/plan.ts";
import { TimeLeftEstimator, type PaceTable } from "../../src/jobs/time-left.ts";
import { JobRun } from "../../src/printers/job-run.ts";

/**
 * A synthetic analysis: `rows` rows of 1000 bytes; each row's seconds are made of X/Y moves
 * (with acceleration, and at cruise speed), Z-only moves, E-only moves and waits in proportions
 * that vary from row to row, as layers do.
 */
function pace(rows: number): { table: PaceTable; rowSeconds: number[] } {
  const columns: number[][] = [[0], [0], [0], [0], [0], [0]];
  const rowSeconds = [0];
  for (let r = 1; r <= rows; r++) {
    const xyCruise = 20 + 10 * Math.sin(r);
    const xyAccel = xyCruise * (1.2 + 0.1 * Math.cos(r * 1.7));
    const zMm = 0.2 + (r % 5 === 0 ? 2 : 0);
    const zCruise = zMm / 10;
    const eCruise = 1 + (r % 3);
    const waits = r % 7 === 0 ? 15 : 0;
    const row = [xyAccel, xyCruise, zMm, eCruise, waits, zCruise];
    row.forEach((x, k) => columns[k]!.push(columns[k]!.at(-1)! + x));
    // The analysis' own seconds of the row: X/Y moves with acceleration, E-only moves, waits, Z-only moves.
    rowSeconds.push(row[0]! + row[3]! + row[4]! + row[5]!);
  }
  return { table: { offsets: columns[0]!.map((_, r) => r * 1000), columns, printerLimits: false }, rowSeconds };
}

const ROWS = 100;
const SIZE = ROWS * 1000;

/** Rows 0…`last` done, row r taking `rowTime(r)` seconds; returns the printing seconds then. */
function observe(e: TimeLeftEstimator, rowTime: (r: number) => number, last: number): number {
  let t = 0;
  for (let r = 0; r <= last; r++) {
    t += rowTime(r);
    e.rowReached(r * 1000, t);
  }
  return t;
}

/** Seconds of rows `first`…`last`. */
function rowsTime(rowTime: (r: number) => number, first: number, last: number): number {
  let sum = 0;
  for (let r = first; r <= last; r++) sum += rowTime(r);
  return sum;
}
const { table, rowSeconds } = pace(ROWS);
const analysisTotal = rowSeconds.reduce((a, b) => a + b, 0);
const analysisLeft = (row: number) => rowSeconds.slice(row + 1).reduce((a, b) => a + b, 0);

describe("time left: where the number comes from", () => {
  test("the analysis, before anything was observed (scaled to host seconds)", () => {
    const e = new TimeLeftEstimator({ pace: table, scale: 1, size: SIZE });
    const left = e.estimate(0, 0)!;
    expect(left.origin).toBe("analysis");
    expect(left.seconds).toBeCloseTo(analysisTotal, 6);
    // A virtual printer running 10 times faster than real time.
    expect(new TimeLeftEstimator({ pace: table, scale: 0.1, size: SIZE }).estimate(0, 0)!.seconds).toBeCloseTo(analysisTotal / 10, 6);
  });

  test("the slicer's M73, when the file has it and there is no analysis; scaled by the pace once it has moved", () => {
    const e = new TimeLeftEstimator({ pace: null, slicerTotal: 3600, scale: 1, size: SIZE });
    expect(e.estimate(0, 0)).toEqual({ seconds: 3600, origin: "slicer" });
    e.slicerProgress(100, 60, 0); // M73 P0 R60
    expect(e.estimate(100, 0)).toEqual({ seconds: 3600, origin: "slicer" });
    // The printer took 1200 s for what the slicer thought 600 s: twice as slow.
    e.slicerProgress(50_000, 50, 1200); // M73 P17 R50
    expect(e.estimate(50_000, 1200)).toEqual({ seconds: 6000, origin: "slicer+rate" });
  });

  test("earlier prints of the file, before the pace is known, then blended with it", () => {
    const e = new TimeLeftEstimator({ pace: table, average: 5000, scale: 1, size: SIZE });
    expect(e.estimate(0, 0)).toEqual({ seconds: 5000, origin: "history" });
    expect(e.estimate(0, 1000)).toEqual({ seconds: 4000, origin: "history" });
    let t = 0;
    for (let r = 0; r <= 30; r++) {
      t += rowSeconds[r]!;
      e.rowReached(r * 1000, t);
    }
    expect(e.estimate(30_000, t)!.origin).toBe("history+rate");
  });

  test("the progress rate alone, with nothing known of the file", () => {
    const e = new TimeLeftEstimator({ pace: null, scale: 1, size: SIZE });
    expect(e.estimate(0, 0)).toBeNull();
    expect(e.estimate(25_000, 300)).toEqual({ seconds: 900, origin: "rate" });
  });
});

describe("time left: the fit", () => {
  test("converges on a printer 1.3 times slower than the analysis", () => {
    const e = new TimeLeftEstimator({ pace: table, scale: 1, size: SIZE });
    let t = 0;
    for (let r = 0; r <= ROWS; r++) {
      t += 1.3 * rowSeconds[r]!;
      e.rowReached(r * 1000, t);
      if (r === 10 || r === 50 || r === 90) {
        const left = e.estimate(r * 1000, t)!;
        expect(left.origin).toBe("analysis+rate");
        expect(Math.abs(left.seconds / (1.3 * analysisLeft(r)) - 1)).toBeLessThan(0.01);
      }
    }
  });

  test("learns a Z axis slower than the file says from the Z-only moves", () => {
    // Z-only moves take 0.5 s/mm on this printer (the analysis says 0.1 s/mm); the rest is as analysed.
    const e = new TimeLeftEstimator({ pace: table, scale: 1, size: SIZE });
    const zMm = table.columns[2]!;
    const zCruise = table.columns[5]!;
    const actual = (r: number) => rowSeconds[r]! + (r > 0 ? 0.5 * (zMm[r]! - zMm[r - 1]!) - (zCruise[r]! - zCruise[r - 1]!) : 0);
    const t = observe(e, actual, 60);
    expect(Math.abs(e.estimate(60_000, t)!.seconds / rowsTime(actual, 61, ROWS) - 1)).toBeLessThan(0.02);
  });
});

describe("time left through the job's bookkeeping", () => {
  const plan: JobPlan = { ...EMPTY_PLAN, pace: table };
  /** A run fed one 1000-byte row per line: a move, and a heat-up wait at row 40. */
  function run() {
    const r = new JobRun(plan, { size: SIZE, scale: 1, now: 0 });
    for (let i = 1; i <= ROWS; i++) r.fed({ command: i === 40 ? "M109 S215" : `G1 X${i} E0.1`, end: i * 1000, line: i });
    return r;
  }

  test("time paused and time spent heating do not count as the printer's pace", () => {
    const plain = run();
    const interrupted = run();
    let now = 0;
    let later = 0;
    for (let i = 1; i <= 70; i++) {
      now += 1300 * rowSeconds[i]!;
      later += 1300 * rowSeconds[i]!;
      if (i === 40) later += 600_000; // ten minutes of heating before the M109 is acknowledged
      if (i === 55) {
        interrupted.pause(later);
        later += 1_800_000; // half an hour paused
        interrupted.resume(later);
      }
      plain.acked(i * 1000, now);
      interrupted.acked(i * 1000, later);
    }
    const a = plain.progress(70_000, SIZE, 70, now);
    const b = interrupted.progress(70_000, SIZE, 70, later);
    expect(b.printTime).toBe(Math.round((later - 1_800_000) / 1000));
    expect(b.timeLeftOrigin).toBe("analysis+rate");
    expect(Math.abs(b.timeLeft! / a.timeLeft! - 1)).toBeLessThan(0.02);
  });
});

/**
 * A print like a small Ender-3 part: layers of X/Y moves (with acceleration in the analysis), a
 * few E-only retractions, each with a Z hop, a 0.2 mm layer change, and at the very end a
 * 140 mm Z lift; Z moves alone at 5 mm/s. The printer accelerates at once (it takes each move's
 * cruise time, as the virtual printer does), with a few hundredths of a second of jitter.
 */
function liftAtTheEnd(rows: number) {
  const columns: number[][] = [[0], [0], [0], [0], [0], [0]];
  const actual = [0];
  for (let r = 1; r <= rows; r++) {
    const last = r === rows;
    const xyCruise = last ? 2 : 15 + 3 * Math.sin(r);
    const xyAccel = xyCruise * (1.3 + 0.2 * Math.cos(1.3 * r));
    const hops = last ? 0 : r % 4;
    const eCruise = 0.3 * hops;
    const zMm = last ? 140 : 0.2 + 0.4 * hops;
    const zCruise = zMm / 5;
    [xyAccel, xyCruise, zMm, eCruise, 0, zCruise].forEach((x, k) => columns[k]!.push(columns[k]!.at(-1)! + x));
    actual.push(xyCruise + eCruise + zCruise + 0.05 * Math.sin(7.3 * r));
  }
  const offsets = columns[0]!.map((_, r) => r * 1000);
  return { offsets, columns, actual };
}

describe("time left: a long Z lift at the end", () => {
  const ROWS_LIFT = 60;
  const { offsets, columns, actual } = liftAtTheEnd(ROWS_LIFT);
  const at = 54; // 90 % of the rows
  const left = rowsTime((r) => actual[r]!, at + 1, ROWS_LIFT);
  function estimateAt(printerLimits: boolean): number {
    const e = new TimeLeftEstimator({ pace: { offsets, columns, printerLimits }, scale: 1, size: ROWS_LIFT * 1000 });
    return e.estimate(at * 1000, observe(e, (r) => actual[r]!, at))!.seconds;
  }

  test("is estimated right when the analysis used the printer's own limits", () => {
    expect(Math.abs(estimateAt(true) / left - 1)).toBeLessThan(0.02);
  });

  test("without them, the Z the print barely showed is only as good as the jitter allows", () => {
    // The fit reads a coefficient for Z from a few hundredths of a second per layer: far off.
    expect(Math.abs(estimateAt(false) / left - 1)).toBeGreaterThan(0.1);
  });
});

describe("time left: the analysis re-planned mid-print", () => {
  const { offsets, columns, actual } = liftAtTheEnd(60);
  // The same file planned without the printer's limits: Z at 10 mm/s, as a slicer profile says.
  const slicerZ = columns.map((c, k) => (k === 5 ? c.map((x) => x / 2) : c));
  const printTo = (e: TimeLeftEstimator, row: number) => observe(e, (r) => actual[r]!, row);

  test("learns what it observed again against the new figures: as if it had them from the start", () => {
    const replanned = new TimeLeftEstimator({ pace: { offsets, columns: slicerZ, printerLimits: false }, scale: 1, size: 60_000 });
    const t = printTo(replanned, 30);
    expect(replanned.replacePace({ offsets, columns, printerLimits: true })).toBe(true);
    const fromStart = new TimeLeftEstimator({ pace: { offsets, columns, printerLimits: true }, scale: 1, size: 60_000 });
    printTo(fromStart, 30);
    expect(replanned.estimate(30_000, t)).toEqual(fromStart.estimate(30_000, t));
  });

  test("a table with other rows (another file) is refused", () => {
    const e = new TimeLeftEstimator({ pace: { offsets, columns, printerLimits: false }, scale: 1, size: 60_000 });
    const t = printTo(e, 20);
    const before = e.estimate(20_000, t);
    expect(e.replacePace({ offsets: offsets.map((o) => o * 2), columns, printerLimits: true })).toBe(false);
    expect(e.estimate(20_000, t)).toEqual(before);
  });
});

describe("time left: the first few stretches", () => {
  test("tell a printer that takes every move at cruise speed from one that accelerates as analysed", () => {
    // Rows whose share of acceleration differs (short and long moves), as layers' do.
    const delta = (k: number, r: number) => table.columns[k]![r]! - table.columns[k]![r - 1]!;
    for (const cruise of [true, false]) {
      const e = new TimeLeftEstimator({ pace: table, scale: 1, size: SIZE });
      // At cruise speed: X/Y and E-only moves at cruise, waits, Z-only moves at cruise.
      const rowTime = (r: number) => (r === 0 ? 0 : cruise ? delta(1, r) + delta(3, r) + delta(4, r) + delta(5, r) : rowSeconds[r]!);
      const t = observe(e, rowTime, 3);
      expect(Math.abs(e.estimate(3000, t)!.seconds / rowsTime(rowTime, 4, ROWS) - 1)).toBeLessThan(0.01);
    }
  });
});
