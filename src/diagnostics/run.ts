/**
 * One diagnosis: gathers the facts of every area (each on its own, so one that cannot be read is
 * an "unknown" finding, never the end of the others) and turns them into a sorted report. The
 * running host and `layerline doctor` both come here, with their own sources of facts.
 */
import { connectivityFindings, type ConnectivityFacts } from "./connectivity.ts";
import { checkFailed, makeReport, type Area, type Finding, type Report } from "./finding.ts";
import { gatherPowerFacts } from "./gather/power.ts";
import { gatherSerialFacts, type PrinterInput } from "./gather/serial.ts";
import { gatherStorageFacts } from "./gather/storage.ts";
import { gatherSystemFacts } from "./gather/system.ts";
import { layerlineFindings, type LayerlineFacts } from "./layerline.ts";
import { powerFindings } from "./power.ts";
import { serialFindings } from "./serial.ts";
import { storageFindings } from "./storage.ts";
import { systemFindings } from "./system.ts";
import { currentIdentity } from "./gather/proc.ts";

export interface DiagnosticsSources {
  dataDir: string;
  version: string;
  source: Report["source"];
  /** A time the clock cannot be before (this build's time). */
  notBefore: number;
  printers(): PrinterInput[];
  /** Processes that are Layerline (their holding a printer's port is expected). */
  selfPids(): number[];
  /** The largest stored G-code file, bytes (null: none or unknown). */
  largestFile(): number | null;
  layerline(): LayerlineFacts;
  /** The reachability of the servers Layerline uses (asked now, or a recent answer). */
  connectivity(): Promise<ConnectivityFacts>;
}

/** `area`'s findings, or one "unknown" finding saying why they could not be made. */
async function guarded(area: Area, what: string, run: () => Finding[] | Promise<Finding[]>): Promise<Finding[]> {
  try {
    return await run();
  } catch (e) {
    return [checkFailed(area, what, e)];
  }
}

export async function runDiagnostics(s: DiagnosticsSources): Promise<Report> {
  const started = performance.now();
  const at = Date.now();
  const areas = await Promise.all([
    guarded("serial", "Serial ports", async () => serialFindings(await gatherSerialFacts(s.printers(), { selfPids: s.selfPids() }))),
    guarded("storage", "Storage", () => storageFindings(gatherStorageFacts(s.dataDir, s.largestFile(), currentIdentity().user))),
    guarded("power", "Power supply", async () => powerFindings(await gatherPowerFacts())),
    guarded("system", "System", async () => systemFindings(await gatherSystemFacts(at, s.notBefore))),
    guarded("connectivity", "Internet connection", async () => connectivityFindings(await s.connectivity())),
    guarded("layerline", "Layerline", () => layerlineFindings(s.layerline())),
  ]);
  return makeReport(areas.flat(), { at, tookMs: Math.round(performance.now() - started), version: s.version, source: s.source });
}
