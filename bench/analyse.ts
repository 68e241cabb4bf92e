/**
 * G-code analysis: throughput and accuracy on the real slicer files in ../shared/data/gcode/.
 * For each file: MB/s of the analysis in memory (best of 3 runs) and of the Worker reading the
 * file from disk (one Worker for all files in turn, as the host keeps one; the first files pay
 * for the JIT warming up), and our estimated time, filament and layer count beside the slicer's own
 * figures from manifest.json.
 *
 * PrusaSlicer counts filament only in the print's features (not the custom start/end G-code), so
 * "filament per tool as slicer" is ours without the custom G-code (`length - custom`, one figure
 * per tool) and its "Δ" the worst tool's difference; "total" is everything the file extrudes.
 * Goals (issue #4): ≥ 100 MB/s on the 66 MB file, time within ±3 %, filament within ±0.5 % on
 * every tool, layer counts exact.
 *
 *   bun bench/analyse.ts [substring of a file name]
 */
import { join } from "node:path";
import { analyseBytes } from "../src/analysis/analysis.ts";
import type { FromAnalyser } from "../src/analysis/worker-protocol.ts";
import { sharedGcode } from "./shared-data.ts";

const DIR = process.env.LAYERLINE_GCODE_DIR ?? sharedGcode();
interface ManifestEntry {
  name: string;
  size_bytes: number;
  estimated_time_normal_s: number | null;
  summary: Record<string, string>;
  layer_change_markers: number;
  distinct_extrusion_z: number;
}
const manifest = (await Bun.file(join(DIR, "manifest.json")).json()) as ManifestEntry[];
const only = Bun.argv[2];

/** The analysis through the real Worker reading the file from disk; one Worker for all files, as the host keeps one. */
const worker = new Worker(new URL("../src/analysis/analysis-worker.ts", import.meta.url).href);
let jobId = 0;
async function viaWorker(path: string): Promise<number> {
  const started = performance.now();
  const id = ++jobId;
  await new Promise<void>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<FromAnalyser>) => {
      if (e.data.id !== id) return;
      if (e.data.type === "result") resolve();
      else if (e.data.type === "error") reject(new Error(e.data.error.message));
    };
    worker.postMessage({ type: "analyse", id, path, hash: false });
  });
  return performance.now() - started;
}

const pct = (ours: number, theirs: number) => `${ours >= theirs ? "+" : ""}${((ours / theirs - 1) * 100).toFixed(2)}%`;
const hms = (s: number) => `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
const rows: string[][] = [["file", "MB", "MB/s mem", "MB/s worker", "time ours", "time slicer", "Δ", "filament per tool as slicer / total (mm)", "slicer (mm)", "Δ worst tool", "layers ours/slicer"]];

for (const entry of manifest) {
  if (only && !entry.name.includes(only)) continue;
  const path = join(DIR, entry.name);
  const bytes = new Uint8Array(await Bun.file(path).arrayBuffer());
  const mb = bytes.length / 1e6;
  let best = Infinity;
  let result!: ReturnType<typeof analyseBytes>["result"];
  for (let run = 0; run < 3; run++) {
    const started = performance.now();
    result = analyseBytes(bytes).result;
    best = Math.min(best, performance.now() - started);
  }
  const workerMs = await viaWorker(path);
  const total = result.filament.reduce((n, f) => n + f.length, 0);
  const comparable = result.filament.map((f) => f.length - f.custom);
  const theirs = (entry.summary["filament used [mm]"] ?? entry.summary["filament used"] ?? "").split(",").map((s) => Number.parseFloat(s)).filter(Number.isFinite);
  const deltas = theirs.map((t, i) => (comparable[i] ?? 0) / t - 1);
  const worst = deltas.reduce((w, d) => (Math.abs(d) > Math.abs(w) ? d : w), 0);
  const layersRef = entry.layer_change_markers || entry.distinct_extrusion_z;
  const ref = entry.estimated_time_normal_s;
  rows.push([
    entry.name.replace(/\.gcode$/, ""),
    mb.toFixed(1),
    (mb / (best / 1000)).toFixed(0),
    (mb / (workerMs / 1000)).toFixed(0),
    hms(result.estimatedTime),
    ref === null ? "—" : hms(ref),
    ref === null ? "" : pct(result.estimatedTime, ref),
    `${comparable.map((c) => c.toFixed(1)).join(", ")} / ${total.toFixed(1)}`,
    theirs.length > 0 ? theirs.map((t) => t.toFixed(1)).join(", ") : "—",
    theirs.length > 0 ? pct(1 + worst, 1) : "",
    `${result.layerCount}/${layersRef}${result.layerCount === layersRef ? " ✓" : " ✗"}`,
  ]);
}

worker.terminate();
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
