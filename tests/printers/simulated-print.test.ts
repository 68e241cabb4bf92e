/**
 * A whole real slicer file printed on the virtual printer in realistic timing mode, on the
 * simulated clock, with the job's bookkeeping (`JobRun`) told every line fed and acknowledged as
 * the controller tells it: the time left shown half-way is checked against the time the print
 * really had left. Deterministic (the clock is simulated), so the tolerance is a correctness
 * bound, not a timing one; `bun bench/timeleft.ts` measures every shared file.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { analyseBytes } from "../../src/analysis/analysis.ts";
import { simulatePrint, sourceLines } from "../../src/printers/simulated-print.ts";
import { builtInLibrary } from "../helpers/quirks.ts";

const FIXTURE = join(import.meta.dir, "../fixtures/ps25_ender3_torus_0.20normal_pla.gcode");

describe("time left over a simulated print", () => {
  test("half-way through the Ender-3 torus the time left is within 5 % of the time the print had left", async () => {
    const bytes = new Uint8Array(await Bun.file(FIXTURE).arrayBuffer());
    const analysis = analyseBytes(bytes).result;
    const library = await builtInLibrary();
    let half: { now: number; timeLeft: number | null; origin: string | null } | undefined;
    const { run, startMs, endMs } = simulatePrint({
      bytes,
      analysis,
      library,
      onAck: (r, offset, now) => {
        if (half || offset < bytes.length / 2) return;
        const p = r.progress(offset, bytes.length, 0, now);
        half = { now, timeLeft: p.timeLeft, origin: p.timeLeftOrigin };
      },
    });
    expect(half).toBeDefined();
    expect(half!.origin).toBe("analysis+rate");
    const actual = (endMs - half!.now) / 1000;
    expect(Math.abs(half!.timeLeft! / actual - 1)).toBeLessThan(0.05);
    // The print took minutes of simulated time (heating included), not an instant.
    expect((endMs - startMs) / 1000).toBeGreaterThan(600);
    // Every line was acknowledged: the last one is the file's last command line.
    const last = [...sourceLines(bytes)].at(-1)!;
    expect(run.ackedLine).toBe(last.line);
    expect(run.progress(bytes.length, bytes.length, 0, endMs, true).timeLeft).toBe(0);
  }, 60_000);
});
