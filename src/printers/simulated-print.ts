/**
 * A whole print on the simulated clock: a G-code file streamed through the protocol engine to
 * the virtual printer (`LinkSimulation`), with the job's bookkeeping (`JobRun`) told every line
 * fed and every acknowledgement, as the printer controller tells it. Deterministic, and hours
 * of printing run in seconds; the time-left benchmark and tests measure the estimate with it.
 */
import { isEmptyLimits, type MachineLimitsPatch } from "../analysis/limits.ts";
import type { AnalysisResult } from "../analysis/result.ts";
import { planFrom } from "../jobs/plan.ts";
import { clean } from "../protocol/framing.ts";
import type { QuirksLibrary } from "../protocol/quirks-library.ts";
import { LinkSimulation } from "../virtual/link-simulation.ts";
import type { VirtualPrinterOptionsInput } from "../virtual/options.ts";
import type { SourceLine } from "./gcode-source.ts";
import { JobRun } from "./job-run.ts";

/** The virtual printer's realistic timing mode (`virtual-printer --realistic`). */
export const REALISTIC: VirtualPrinterOptionsInput = { timeScale: 1, baudRate: 115200, rxBufferBytes: 128, advancedOk: true };

export interface SimulatedPrintOptions {
  /** The file's bytes. */
  bytes: Uint8Array;
  /**
   * Its analysis (undefined: printed without one), or how to plan it with the machine limits the
   * printer reported once connected (null: none), as the host plans it with the printer's profile.
   */
  analysis?: AnalysisResult | ((printerLimits: MachineLimitsPatch | null) => AnalysisResult);
  /** Average seconds of earlier prints of the file (the history the estimate may use). */
  average?: number | null;
  library: QuirksLibrary;
  printer?: VirtualPrinterOptionsInput;
  window?: number;
  /** Called after `JobRun.acked` for every acknowledged job line. */
  onAck?: (run: JobRun, offset: number, now: number) => void;
}

export interface SimulatedPrint {
  run: JobRun;
  /** The machine limits the printer reported on connecting (null: none). */
  limits: MachineLimitsPatch | null;
  /** Simulated ms when the job started, and when the printer finished its last move. */
  startMs: number;
  endMs: number;
}

/** The file's commands as the controller's `GcodeSource` yields them. */
export function* sourceLines(bytes: Uint8Array): Generator<SourceLine> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let line = 1;
  for (let start = 0; start < buf.length; line++) {
    let nl = buf.indexOf(10, start);
    if (nl < 0) nl = buf.length;
    const command = clean(buf.toString("latin1", start, nl));
    start = nl + 1;
    if (command) yield { command, end: Math.min(start, buf.length), line };
  }
}

/** Prints the file from start to end; returns when the printer has stopped moving. */
export function simulatePrint(options: SimulatedPrintOptions): SimulatedPrint {
  const { bytes, library } = options;
  // Byte ends of the job lines handed to the engine and not yet acknowledged, in order.
  const ends: number[] = [];
  let head = 0;
  let run: JobRun | undefined;
  const sim = new LinkSimulation({
    printer: options.printer ?? REALISTIC,
    quirks: library.get("generic"),
    library,
    window: options.window ?? 4,
    onEvent: (e, now) => {
      if (e.type !== "acked" || e.tag < 0 || !run) return;
      const offset = ends[head++]!;
      if (head > 4096) {
        ends.splice(0, head);
        head = 0;
      }
      run.acked(offset, now);
      options.onAck?.(run, offset, now);
    },
  }).open();
  if (!sim.run(() => sim.engine.identified && sim.engine.outstanding() === 0, 60_000)) throw new Error("simulated print: the virtual printer did not connect");
  // As the controller does once the firmware is identified: ask for its machine limits.
  if (sim.engine.queryLimits(sim.now) && !sim.run(() => sim.engine.outstanding() === 0, 60_000)) throw new Error("simulated print: no machine limits report");
  const startMs = sim.now;
  const limits = sim.engine.limits;
  const analysis = typeof options.analysis === "function" ? options.analysis(limits) : options.analysis;
  const printerLimits = typeof options.analysis === "function" && !isEmptyLimits(limits);
  run = new JobRun(planFrom(null, analysis, options.average ?? null, printerLimits), { size: bytes.length, scale: 1, now: startMs });
  const job = run;
  function* commands(): Generator<string> {
    for (const line of sourceLines(bytes)) {
      const instead = job.fed(line);
      for (const command of instead ?? [line.command]) {
        ends.push(line.end);
        yield command;
      }
    }
  }
  sim.stream(commands());
  const day = 24 * 3_600_000;
  if (!sim.run(() => sim.jobFinished, 30 * day)) throw new Error("simulated print: the job did not finish");
  // The last acknowledgements come while the printer still has moves queued: M400 answers once
  // they are done.
  sim.send("M400");
  if (!sim.run(() => sim.engine.outstanding() === 0, day)) throw new Error("simulated print: the printer did not finish its moves");
  return { run: job, limits, startMs, endMs: sim.now };
}
