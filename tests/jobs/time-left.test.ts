/**
 * The time-left estimate (src/jobs/time-left.ts): where its number comes from before and after
 * the printer's pace is known, the fit converging on a printer slower than the analysis, and
 * (through the job's bookkeeping, `JobRun`) pauses and heat-up waits left out of the pace.
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
    const row = [xyAccel + eCruise, xyCruise, zMm, eCruise, waits, zCruise];
    row.forEach((x, k) => columns[k]!.push(columns[k]!.at(-1)! + x));
    // The analysis' own seconds of the row: moves with acceleration, waits, Z-only moves.
    rowSeconds.push(row[0]! + row[4]! + row[5]!);
  }
  return { table: { offsets: columns[0]!.map((_, r) => r * 1000), columns }, rowSeconds };
}

const ROWS = 100;
const SIZE = ROWS * 1000;
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
    let t = 0;
    for (let r = 0; r <= 60; r++) {
      t += actual(r);
      e.rowReached(r * 1000, t);
    }
    let left = 0;
    for (let r = 61; r <= ROWS; r++) left += actual(r);
    expect(Math.abs(e.estimate(60_000, t)!.seconds / left - 1)).toBeLessThan(0.02);
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
