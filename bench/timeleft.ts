/**
 * Time left: how close the estimate a print shows is to the time the print really has left.
 * Each shared slicer file (../shared/data/gcode/) is analysed and printed whole on the virtual
 * printer in realistic timing mode (115200 baud, Marlin's 128-byte receive buffer, moves, dwells,
 * homing and heating in real time) on the simulated clock, with the real estimator path: a
 * `JobRun` told every line fed and every acknowledgement, as the printer controller tells it.
 * When progress (bytes) first reaches 10 %, 50 % and 90 %, the time left it reports is set
 * against the simulated time from then until the printer finished its last move. The slicer's
 * own figure is the peer: its latest `M73 R` where the file has M73, else its total estimate less
 * the time printed so far. Goal (issue #5): within ±5 % from 10 % onwards.
 *
 * Each file is planned as the host plans a job: with the machine limits the printer reports on
 * connecting (Marlin's M503; the host keeps them in the printer's profile). With
 * `--without-printer-limits` it is planned with the file's and the default limits only, as for a
 * printer that reports none and has none in its profile.
 *
 *   bun bench/timeleft.ts [--without-printer-limits] [substring of a file name]
 */
import { join } from "node:path";
import { analyseBytes } from "../src/analysis/analysis.ts";
import type { TimeLeftOrigin } from "../src/jobs/time-left.ts";
import { loadQuirkSources } from "../src/printers/quirks-sources.ts";
import { simulatePrint, sourceLines } from "../src/printers/simulated-print.ts";
import { QuirksLibrary } from "../src/protocol/quirks-library.ts";
import { sharedGcode } from "./shared-data.ts";

const DIR = process.env.LAYERLINE_GCODE_DIR ?? sharedGcode();
const GOAL = 5;
const POINTS = [0.1, 0.5, 0.9];
const manifest = (await Bun.file(join(DIR, "manifest.json")).json()) as { name: string }[];
const args = Bun.argv.slice(2);
const withoutPrinterLimits = args.includes("--without-printer-limits");
const only = args.find((a) => !a.startsWith("--"));
const library = new QuirksLibrary((await loadQuirkSources(undefined)).sources);

const hms = (s: number) => `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}%`;

interface Sample {
  offset: number;
  now: number;
  printTime: number;
  timeLeft: number | null;
  origin: TimeLeftOrigin | null;
}

const header = ["file", "actual", ...POINTS.flatMap((p) => [`ours@${p * 100}%`, "err"]), "origin", ...POINTS.map((p) => `slicer err@${p * 100}%`), "goal"];
const rows: string[][] = [header];
let allMet = true;
let met = 0;
let files = 0;

for (const { name } of manifest) {
  if (only && !name.includes(only)) continue;
  const bytes = new Uint8Array(await Bun.file(join(DIR, name)).arrayBuffer());
  const started = performance.now();
  // Planned as the host plans a job: with the machine limits the printer reports (its profile's).
  let analysis = analyseBytes(bytes).result;
  // The slicer's M73 R marks (minutes left) by the byte where each line ends.
  const m73: [number, number][] = [];
  for (const line of sourceLines(bytes)) {
    const m = /^M73\b.*?\bR(\d+(?:\.\d+)?)/i.exec(line.command);
    if (m) m73.push([line.end, Number(m[1])]);
  }
  const samples: Sample[] = [];
  const { startMs, endMs } = simulatePrint({
    bytes,
    analysis: withoutPrinterLimits ? analysis : (limits) => (analysis = analyseBytes(bytes, { limits: limits ?? undefined }).result),
    library,
    onAck: (run, offset, now) => {
      const next = POINTS[samples.length];
      if (next === undefined || offset < next * bytes.length) return;
      const p = run.progress(offset, bytes.length, 0, now);
      samples.push({ offset, now, printTime: p.printTime, timeLeft: p.timeLeft, origin: p.timeLeftOrigin });
    },
  });
  const total = (endMs - startMs) / 1000;
  const ours: number[] = [];
  const slicer: string[] = [];
  for (const s of samples) {
    const actual = (endMs - s.now) / 1000;
    ours.push(s.timeLeft === null ? NaN : (s.timeLeft / actual - 1) * 100);
    const mark = m73.findLast(([end]) => end <= s.offset);
    const theirs = mark ? mark[1] * 60 : analysis.slicer.estimatedTime !== null ? Math.max(0, analysis.slicer.estimatedTime - s.printTime) : null;
    slicer.push(theirs === null ? "—" : `${signed((theirs / actual - 1) * 100)}${mark ? "" : "*"}`);
  }
  const ok = ours.length === POINTS.length && ours.every((e) => Math.abs(e) <= GOAL);
  files++;
  if (ok) met++;
  else allMet = false;
  rows.push([
    name.replace(/\.gcode$/, ""),
    hms(total),
    ...samples.flatMap((s, i) => [s.timeLeft === null ? "—" : hms(s.timeLeft), signed(ours[i]!)]),
    [...new Set(samples.map((s) => s.origin ?? "none"))].join(","),
    ...slicer,
    ok ? "✓" : "✗",
  ]);
  console.error(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s to simulate ${hms(total)} of printing`);
}

const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
console.log(`\nerr: (estimate / actual time left − 1); actual = simulated time from that point until the printer finished its last move.`);
console.log(`slicer: its latest M73 R; * = no M73, its total estimate less the time printed so far (heating included).`);
console.log(`Planned with ${withoutPrinterLimits ? "the file's and the default machine limits only" : "the machine limits the printer reported (M503)"}.`);
console.log(`Goal ±${GOAL}% at 10/50/90 %: met on ${met} of ${files} files${allMet ? " (all)" : ""}.`);
