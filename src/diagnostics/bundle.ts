/**
 * The support bundle: one .tar.gz to send to whoever helps, with the findings, the version and
 * system facts, the recent log, each printer's recent flight-recorder trace, its profile and the
 * quirks in use, the host's settings and the plugins' states — every part passed through the
 * redactor first (passwords, tokens, keys and URL credentials never leave). Written with Bun's
 * own tar writer (src/archive/ only reads archives).
 */
import { formatReport } from "./format.ts";
import type { Report } from "./finding.ts";
import { redactText, redactValue, secretsIn } from "./redact.ts";

export interface BundlePrinter {
  id: string;
  /** The configured printer and what the host shows of it. */
  printer: unknown;
  profile: unknown;
  /** The firmware family and overlays detected, and the merged quirks they make. */
  quirks: unknown;
  /** The flight recorder's recent lines, JSONL (empty when none). */
  trace: string;
}

export interface BundleSources {
  report: Report;
  system: Record<string, unknown>;
  /** The recent log, one line each. */
  log: string;
  printers: BundlePrinter[];
  /** The host settings, by key. */
  settings: Record<string, unknown>;
  plugins: unknown;
  /** The user's own firmware-quirks files, by name. */
  userQuirks: Record<string, string>;
  /** Secrets known by value that must not appear anywhere (besides those found in `settings`). */
  secrets?: string[];
}

const README = (folder: string) => `Layerline support bundle

Made to help someone find out what is wrong with this Layerline host. Passwords, API keys, tokens,
the MQTT password and camera URL credentials were removed ("[redacted]") before it was written.
Look through it before sending it if in doubt: it holds the printers' recent serial traffic.

${folder}/findings.txt      what \`layerline doctor\` says (findings.json: the same as JSON)
${folder}/system.json       version, system, data folder, uptime
${folder}/log.txt           the host's recent log
${folder}/settings.json     the host's settings, secrets removed
${folder}/plugins.json      the plugins, their states and faults
${folder}/printers/<id>/    each printer: printer.json, profile.json, quirks.json, trace.jsonl
${folder}/firmware-quirks/  the user's own firmware-quirks files, if any
`;

/** A folder name for the bundle: `layerline-support-<time>`. */
export function bundleName(at: number): string {
  return `layerline-support-${new Date(at).toISOString().replace(/[:.]/g, "-").slice(0, 19)}`;
}

/** The bundle's files (path → text), redacted. Pure. */
export function bundleFiles(s: BundleSources): Record<string, string> {
  const folder = bundleName(s.report.at);
  const known = [...secretsIn(s.settings), ...secretsIn(s.printers.map((p) => p.printer)), ...(s.secrets ?? [])].filter((x) => x.length >= 4);
  // Longest first, so a secret containing another is taken out whole.
  known.sort((a, b) => b.length - a.length);
  const json = (value: unknown) => `${JSON.stringify(redactValue(value, known), null, 2)}\n`;
  const text = (value: string) => redactText(value, known);
  const files: Record<string, string> = {
    "README.txt": README(folder),
    "findings.txt": text(formatReport(s.report, { verbose: true })),
    "findings.json": json(s.report),
    "system.json": json(s.system),
    "log.txt": `${text(s.log)}\n`,
    "settings.json": json(s.settings),
    "plugins.json": json(s.plugins),
  };
  for (const p of s.printers) {
    const dir = `printers/${p.id}`;
    files[`${dir}/printer.json`] = json(p.printer);
    files[`${dir}/profile.json`] = json(p.profile);
    files[`${dir}/quirks.json`] = json(p.quirks);
    files[`${dir}/trace.jsonl`] = p.trace
      .split("\n")
      .map((l) => text(l))
      .join("\n");
  }
  for (const [name, content] of Object.entries(s.userQuirks)) files[`firmware-quirks/${name}`] = text(content);
  return Object.fromEntries(Object.entries(files).map(([path, content]) => [`${folder}/${path}`, content]));
}

/** The bundle as .tar.gz bytes. */
export async function buildBundle(s: BundleSources): Promise<Uint8Array<ArrayBuffer>> {
  return new Bun.Archive(bundleFiles(s), { compress: "gzip" }).bytes();
}
