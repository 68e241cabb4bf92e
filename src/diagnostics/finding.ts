/**
 * What the self-diagnosis reports: findings, each one thing looked at, what was found in plain
 * words and how to fix it. The checks (one module per area) turn facts into findings; this module
 * is the shape they share, the order they are shown in, and the schema of the API's answer.
 */
import * as v from "valibot";

export const AREAS = ["serial", "storage", "power", "system", "connectivity", "layerline"] as const;
export const AreaSchema = v.picklist(AREAS);
export type Area = v.InferOutput<typeof AreaSchema>;

/** What each area is about, as the page and the command name it. */
export const AREA_TITLE: Record<Area, string> = {
  serial: "Printers and serial ports",
  storage: "Storage",
  power: "Power supply",
  system: "System",
  connectivity: "Internet connection",
  layerline: "Layerline",
};

/**
 * `problem`: something is broken and needs a person; `warning`: worth a look; `ok`: checked and
 * fine; `unknown`: could not be read on this machine (never guessed); `not-applicable`: the check
 * does not apply here (no Raspberry Pi, no serial printer).
 */
export const STATUSES = ["problem", "warning", "unknown", "ok", "not-applicable"] as const;
export const StatusSchema = v.picklist(STATUSES);
export type Status = v.InferOutput<typeof StatusSchema>;

export const FindingSchema = v.object({
  /** Stable, e.g. `serial.ender-3.permission`: scripts and support can refer to it. */
  id: v.string(),
  area: AreaSchema,
  status: StatusSchema,
  /** What was looked at, short: "Permission to open /dev/ttyUSB0". */
  title: v.string(),
  /** What was found, in plain words. */
  found: v.string(),
  /** How to fix it (null when there is nothing to do). */
  fix: v.nullable(v.string()),
  /** Commands to run for the fix, one per entry, as they would be typed. */
  commands: v.array(v.string()),
});
export type Finding = v.InferOutput<typeof FindingSchema>;

export const ReportSchema = v.object({
  /** ms since 1970 when the checks ran. */
  at: v.number(),
  /** How long they took, ms. */
  tookMs: v.number(),
  version: v.string(),
  /** Who ran them: the running host, or `layerline doctor` on the data folder with no host running. */
  source: v.picklist(["host", "doctor"]),
  counts: v.object({ problem: v.number(), warning: v.number(), unknown: v.number(), ok: v.number(), "not-applicable": v.number() }),
  /** Problems first, then warnings, unknowns, ok and not applicable; within a status by area. */
  findings: v.array(FindingSchema),
});
export type Report = v.InferOutput<typeof ReportSchema>;

/** A finding with no fix and no commands (the usual `ok`). */
export function finding(id: string, area: Area, status: Status, title: string, found: string, fix: string | null = null, commands: string[] = []): Finding {
  return { id, area, status, title, found, fix, commands };
}

/** Findings in the order people read them: problems first. Stable within a status and area. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const rank = (f: Finding) => STATUSES.indexOf(f.status) * AREAS.length + AREAS.indexOf(f.area);
  return findings.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
}

export function countStatuses(findings: readonly Finding[]): Report["counts"] {
  const counts = { problem: 0, warning: 0, unknown: 0, ok: 0, "not-applicable": 0 };
  for (const f of findings) counts[f.status]++;
  return counts;
}

/** A report of `findings` (sorted and counted). */
export function makeReport(findings: readonly Finding[], meta: { at: number; tookMs: number; version: string; source: Report["source"] }): Report {
  const sorted = sortFindings(findings);
  return { ...meta, counts: countStatuses(sorted), findings: sorted };
}

/**
 * A check that could not run at all (its adapter threw: an unreadable /proc, a missing tool) is a
 * finding too, never a crash of the whole diagnosis.
 */
export function checkFailed(area: Area, what: string, error: unknown): Finding {
  const message = error instanceof Error ? error.message : String(error);
  return finding(`${area}.check-failed`, area, "unknown", what, `This check could not run: ${message}`, null);
}

/** "1.2 GB" and the like, for the findings' sentences. */
export function bytes(n: number): string {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let i = 0;
  let x = n;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${x < 10 ? x.toFixed(1) : Math.round(x)} ${units[i]}`;
}
