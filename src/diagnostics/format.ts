/**
 * A report as text for a terminal (`layerline doctor`) and the support bundle: problems first,
 * each finding with what was found, the fix and the commands to type.
 */
import { AREA_TITLE, type Finding, type Report, type Status } from "./finding.ts";

const HEADING: Record<Status, string> = {
  problem: "PROBLEMS",
  warning: "WARNINGS",
  unknown: "COULD NOT BE CHECKED",
  ok: "OK",
  "not-applicable": "DOES NOT APPLY HERE",
};
const MARK: Record<Status, string> = { problem: "✗", warning: "!", unknown: "?", ok: "✓", "not-applicable": "-" };

/** Wraps `text` at `width` columns, each line after the first indented by `indent`. */
function wrap(text: string, width: number, indent: string): string {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.join(`\n${indent}`);
}

function findingText(f: Finding, verbose: boolean, width: number): string {
  const lines = [`  ${MARK[f.status]} ${f.title} [${AREA_TITLE[f.area]}]`];
  if (verbose || f.status !== "ok") lines.push(`      ${wrap(f.found, width - 6, "      ")}`);
  if (f.fix && f.status !== "ok") lines.push(`      Fix: ${wrap(f.fix, width - 11, "           ")}`);
  if (f.fix && f.status === "ok" && verbose) lines.push(`      ${wrap(f.fix, width - 6, "      ")}`);
  for (const c of f.commands) if (f.status !== "ok" || verbose) lines.push(`        $ ${c}`);
  return lines.join("\n");
}

/**
 * The report as text. `verbose` also says what every `ok` finding found.
 * Example: `formatReport(report)` → "Layerline 1.2.0 — 2 problems, 1 warning …".
 */
export function formatReport(report: Report, options: { verbose?: boolean; width?: number; hostRunning?: boolean } = {}): string {
  const width = Math.max(60, Math.min(options.width ?? 100, 140));
  const c = report.counts;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const head = `Layerline ${report.version} — diagnosis of ${new Date(report.at).toISOString().slice(0, 19).replace("T", " ")} UTC${report.source === "doctor" ? (options.hostRunning ? " (checked by layerline doctor itself, not by the running host)" : " (no host running: checked by layerline doctor)") : ""}`;
  const summary = c.problem + c.warning === 0 ? "Nothing wrong found." : `${plural(c.problem, "problem")}, ${plural(c.warning, "warning")}.`;
  const sections: string[] = [head, summary];
  for (const status of ["problem", "warning", "unknown", "ok", "not-applicable"] as const) {
    const group = report.findings.filter((f) => f.status === status);
    if (group.length === 0) continue;
    sections.push(`${HEADING[status]}\n${group.map((f) => findingText(f, options.verbose ?? false, width)).join("\n")}`);
  }
  return `${sections.join("\n\n")}\n`;
}
