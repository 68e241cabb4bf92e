/**
 * The job's figures from the analysis (pure): OctoPrint's estimatedPrintTime and filament, and the
 * time left from the planner's timeline at the printer's file position.
 */
import { describe, expect, test } from "bun:test";
import type { OctoPrintFileAnalysis } from "../../src/analysis/octoprint.ts";
import { elapsedAt } from "../../src/analysis/result.ts";
import { initialStatus, type PrinterStatus } from "../../src/printers/status.ts";
import { jobPayload, progressPayload, type JobContext } from "../../src/server/compat/octoprint/state.ts";

describe("elapsedAt", () => {
  const result = { timeline: [[0, 0], [1000, 60], [1000, 60], [3000, 100]] as [number, number][] };
  test("is linear between rows, 0 before the first and the total at the end", () => {
    expect(elapsedAt(result, 0)).toBe(0);
    expect(elapsedAt(result, 500)).toBe(30);
    expect(elapsedAt(result, 1000)).toBe(60);
    expect(elapsedAt(result, 2000)).toBe(80);
    expect(elapsedAt(result, 3000)).toBe(100);
    expect(elapsedAt(result, 5000)).toBe(100);
    expect(elapsedAt({ timeline: [] }, 10)).toBe(0);
  });
});

describe("progress with an analysis", () => {
  const file = { path: "part.gcode", name: "part.gcode", size: 3000, date: 1_700_000_000_000, sha256: "a".repeat(64) };
  const analysis: OctoPrintFileAnalysis = {
    gcodeAnalysis: { estimatedPrintTime: 100, filament: { tool0: { length: 500, volume: 1.2 } } },
    elapsedAt: (offset) => elapsedAt({ timeline: [[0, 0], [3000, 100]] }, offset),
  };
  const printing = (bytesSent: number, printTime: number): PrinterStatus => ({
    ...initialStatus("p"),
    state: "printing",
    job: { id: "j1", file: "part.gcode", source: "host", size: 3000, state: "printing", startedAt: 0, endedAt: null, reason: null, sha256: null, layer: null, objects: [], pause: null, resumedFrom: null },
    progress: { completion: (bytesSent / 3000) * 100, bytesSent, bytesTotal: 3000, linesSent: 0, line: 0, lines: null, printTime, timeLeft: null, timeLeftOrigin: null, filament: 0 },
  });
  const ctx = (a: OctoPrintFileAnalysis | undefined): JobContext => ({ file, analysis: a, user: "admin", everSelected: true });

  test("the job carries the analysis' time and filament", () => {
    const job = jobPayload(printing(0, 0), ctx(analysis));
    expect(job.estimatedPrintTime).toBe(100);
    expect(job.filament).toEqual({ tool0: { length: 500, volume: 1.2 } });
  });

  test("before the first byte: the analysis' total less the time so far; then the planner's time for the rest", () => {
    expect(progressPayload(printing(0, 20), ctx(analysis))).toMatchObject({ printTimeLeft: 80, printTimeLeftOrigin: "analysis" });
    // A third of the bytes read: two thirds of the planned time remain, whatever heating took.
    expect(progressPayload(printing(1000, 50), ctx(analysis))).toMatchObject({ printTimeLeft: 67, printTimeLeftOrigin: "estimate" });
    expect(progressPayload(printing(3000, 150), ctx(analysis))).toMatchObject({ printTimeLeft: 0, printTimeLeftOrigin: "estimate" });
  });

  test("without an analysis, a linear extrapolation", () => {
    expect(progressPayload(printing(1000, 50), ctx(undefined))).toMatchObject({ printTimeLeft: 100, printTimeLeftOrigin: "linear" });
  });
});
