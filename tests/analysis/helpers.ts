/** Shared helpers for the analyser tests: fixtures (gunzipped where stored compressed) and a one-call analysis. */
import { analyseBytes, type AnalysisOptions } from "../../src/analysis/analysis.ts";
import { GcodeAnalyser, type AnalyserOptions } from "../../src/analysis/analyser.ts";
import { defaultLimits, type MachineLimits } from "../../src/analysis/limits.ts";

export const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

/** A fixture's bytes; `.gz` fixtures are decompressed. */
export async function fixture(name: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(await Bun.file(FIXTURES + name).arrayBuffer());
  return name.endsWith(".gz") ? Bun.gunzipSync(bytes) : bytes;
}

/** The motion pass alone over G-code text, fed in chunks of `chunk` bytes. */
export function motion(gcode: string, limits: Partial<MachineLimits> = {}, chunk = 1 << 20, options: Omit<AnalyserOptions, "limits"> = {}) {
  const bytes = new TextEncoder().encode(gcode);
  const a = new GcodeAnalyser({ ...options, limits: { ...defaultLimits(), ...limits } });
  for (let i = 0; i < bytes.length; i += chunk) a.push(bytes.subarray(i, i + chunk));
  return a.finish();
}

/** The whole analysis of G-code text. */
export function analyseText(gcode: string, options: AnalysisOptions = {}) {
  return analyseBytes(new TextEncoder().encode(gcode), options);
}
