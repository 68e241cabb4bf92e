/**
 * Checks of Layerline itself, pure: its version and where updates stand (the last check, how the
 * last update ended), plugins the host disabled and why, safe mode and the crashes behind it,
 * and printer threads that had to be restarted.
 */
import { describeCheck } from "../update/check.ts";
import type { CheckRecord, ResultRecord } from "../update/settings.ts";
import { finding, type Finding } from "./finding.ts";

export interface LayerlineFacts {
  version: string;
  /** The host serving this data folder (null: none runs; `layerline doctor` on its own). */
  host: { pid: number; url: string; startedAt: number | null } | null;
  update: {
    channel: string;
    url: string | null;
    checkHours: number;
    /** The last check as it stands now (its verdict updated for this version), null: never. */
    lastCheck: CheckRecord | null;
    lastResult: ResultRecord | null;
  } | null;
  /** Safe mode of the running host; null: no host runs. */
  safeMode: { safe: boolean; reason: string | null; automatic: boolean } | null;
  /** Starts in a row that ended before Layerline had run for a minute (plugin-starts.json), and the plugins named. */
  crashedStarts: { count: number; suspects: string[] } | null;
  /** Plugins that are not running: disabled by the host after faults, failed to load, incompatible; null: unknown. */
  plugins: { id: string; state: string; reason: string | null; faults: number }[] | null;
  /** Printer threads restarted (stopped answering) or crashed since the host started; null: no host. */
  restarts: { printer: string; at: number; kind: "restarted" | "crashed"; message: string }[] | null;
  /** Nice values of the web's (main) thread and of each printer's thread (null: unknown); null: no host. */
  priorities?: { web: number | null; printers: { printer: string; nice: number | null }[] } | null;
  /** `layerline doctor` on its own: the database it looked for when there is none, or why it could not be read. */
  databaseMissing?: string | null;
  databaseError?: string | null;
}

const when = (at: number) => `${new Date(at).toISOString().slice(0, 16).replace("T", " ")} UTC`;

export function layerlineFindings(f: LayerlineFacts): Finding[] {
  const database = f.databaseError
    ? [finding("layerline.database", "layerline", "problem", "The database", `The database of this data folder could not be read: ${f.databaseError}. Printers, settings and plugins below are unknown.`, "Run this command as the user Layerline runs as (e.g. sudo -u layerline layerline doctor), with the same --data-dir.")]
    : f.databaseMissing
      ? [finding("layerline.database", "layerline", "warning", "The database", `There is no database at ${f.databaseMissing}: Layerline has not run with this data folder yet, so no printer or setting is known.`, "Give the data folder Layerline uses with --data-dir (a service installed with `layerline service install` uses /var/lib/layerline).", ["layerline doctor --data-dir /var/lib/layerline"])]
      : [];
  return [versionFinding(f), ...database, updateFinding(f), ...safeModeFindings(f), ...pluginFindings(f), restartFinding(f), ...priorityFindings(f)];
}

function versionFinding(f: LayerlineFacts): Finding {
  const running = f.host ? `running as pid ${f.host.pid} at ${f.host.url}${f.host.startedAt ? ` since ${when(f.host.startedAt)}` : ""}` : "not running on this data folder now";
  return finding("layerline.version", "layerline", "ok", "Version", `Layerline ${f.version}, ${running}.`);
}

function updateFinding(f: LayerlineFacts): Finding {
  const title = "Updates";
  const u = f.update;
  if (!u) return finding("layerline.update", "layerline", "unknown", title, "The update settings could not be read.");
  const result = u.lastResult;
  if (result && result.outcome === "rolled-back" && !result.dismissed) {
    return finding("layerline.update", "layerline", "warning", title, `The update from ${result.from} to ${result.to} was undone on ${when(result.at)}: ${result.reason ?? "the new version failed its self-test"}. Layerline ${f.version} runs.`, "Nothing to do now; that version is not offered again. Send a support bundle to the developers if you want it fixed.");
  }
  if (!u.url) return finding("layerline.update", "layerline", "ok", title, `Layerline ${f.version}, ${u.channel} channel; no update source is configured, so updates are not checked.`);
  const schedule = u.checkHours > 0 ? `checked every ${u.checkHours} hours` : "automatic checks off";
  const check = u.lastCheck;
  if (!check) return finding("layerline.update", "layerline", "ok", title, `${u.channel} channel, ${schedule}; not checked yet.`);
  const said = describeCheck(check, f.version).split("\n")[0]!;
  if (check.error) return finding("layerline.update", "layerline", "warning", title, `The last check (${when(check.at)}) failed: ${check.error.message}`, check.error.hint || null);
  if (check.verdict === "update") return finding("layerline.update", "layerline", "ok", title, `${said} (checked ${when(check.at)}).`, "Install it from Settings → Updates, or run `layerline update`.", ["layerline update"]);
  if (check.verdict === "unsupported" || check.verdict === "too-old") return finding("layerline.update", "layerline", "warning", title, `${said} (checked ${when(check.at)}).`);
  return finding("layerline.update", "layerline", "ok", title, `${said} Checked ${when(check.at)}, ${schedule}.`);
}

function safeModeFindings(f: LayerlineFacts): Finding[] {
  const out: Finding[] = [];
  if (f.safeMode?.safe) {
    out.push(
      finding(
        "layerline.safe-mode",
        "layerline",
        f.safeMode.automatic ? "problem" : "warning",
        "Safe mode",
        f.safeMode.reason ?? "Layerline runs in safe mode: third-party plugins are not loaded.",
        f.safeMode.automatic ? "Disable or uninstall the plugin named (Plugins page), then restart Layerline." : "Start Layerline without --safe to load the plugins again.",
      ),
    );
  } else if (f.safeMode) {
    out.push(finding("layerline.safe-mode", "layerline", "ok", "Safe mode", "Off: plugins are loaded."));
  }
  // Without a host, the start record tells whether the last starts crashed.
  if (!f.host && f.crashedStarts && f.crashedStarts.count > 0) {
    const n = f.crashedStarts.count;
    const named = f.crashedStarts.suspects.length ? ` The plugins running then: ${f.crashedStarts.suspects.join(", ")}.` : "";
    out.push(
      finding(
        "layerline.crashed-starts",
        "layerline",
        "problem",
        "Starts that crashed",
        `The last ${n === 1 ? "start" : `${n} starts`} of Layerline on this data folder ended before it had run for a minute, without stopping cleanly (a crash, or the power went).${named}${n >= 3 ? " The next start is in safe mode by itself." : ""}`,
        "Start Layerline in a terminal to see what it says, or start it with --safe and disable the plugin named.",
        ["layerline --safe"],
      ),
    );
  }
  return out;
}

function pluginFindings(f: LayerlineFacts): Finding[] {
  if (f.plugins === null) return [finding("layerline.plugins", "layerline", "unknown", "Plugins", "The plugins' states could not be read.")];
  const down = f.plugins.filter((p) => p.state === "failed" || (p.state === "disabled" && p.reason) || p.state === "incompatible");
  const faulty = f.plugins.filter((p) => p.state === "enabled" && p.faults > 0);
  const out = down.map((p) =>
    finding(
      `layerline.plugin.${p.id}`,
      "layerline",
      "warning",
      `Plugin ${p.id}`,
      `${p.state === "failed" ? "Failed to load" : p.state === "incompatible" ? "Incompatible with this Layerline" : "Disabled by Layerline"}: ${p.reason ?? "no reason recorded"}.`,
      p.state === "incompatible" ? "Update the plugin, or uninstall it (Plugins page)." : "Update the plugin or tell its author (its page lists the faults and its log); enable it again on the Plugins page once fixed.",
    ),
  );
  for (const p of faulty) out.push(finding(`layerline.plugin.${p.id}`, "layerline", "warning", `Plugin ${p.id}`, `Running, but it faulted ${p.faults} time${p.faults === 1 ? "" : "s"} since it loaded (three faults disable it).`, "Its page on the Plugins page lists the faults."));
  if (out.length === 0) out.push(finding("layerline.plugins", "layerline", "ok", "Plugins", f.plugins.length ? `${f.plugins.length} plugin${f.plugins.length === 1 ? "" : "s"}; none disabled by Layerline, failed or faulting.` : "No plugin disabled by Layerline."));
  return out;
}

function restartFinding(f: LayerlineFacts): Finding {
  const title = "Printer threads";
  if (f.restarts === null) return finding("layerline.restarts", "layerline", "unknown", title, "Restarts of printer threads are recorded by the running host; Layerline is not running.");
  if (f.restarts.length === 0) return finding("layerline.restarts", "layerline", "ok", title, "No printer thread had to be restarted or crashed since Layerline started.");
  const list = f.restarts.slice(-5).map((r) => `${when(r.at)}, ${r.printer}: ${r.message}`).join(" ");
  const crashed = f.restarts.some((r) => r.kind === "crashed");
  return finding("layerline.restarts", "layerline", "warning", title, `${f.restarts.length} printer thread ${f.restarts.length === 1 ? "restart" : "restarts"} since Layerline started. ${list}`, crashed ? "A crash of a printer's thread is a bug in Layerline: send a support bundle to the developers." : "A plugin that never returns is disabled by itself; if it repeats without one, send a support bundle to the developers.");
}

/** Whether the printers' threads come before the web's (src/printers/priority.ts). */
function priorityFindings(f: LayerlineFacts): Finding[] {
  const p = f.priorities;
  const known = p?.printers.filter((x): x is { printer: string; nice: number } => x.nice !== null) ?? [];
  if (!p || p.web === null || known.length === 0) return [];
  const title = "Scheduling priority";
  const web = p.web;
  const behind = known.filter((x) => x.nice >= web);
  if (behind.length) {
    return [
      finding(
        "layerline.priority",
        "layerline",
        "warning",
        title,
        `The thread of ${behind.map((x) => x.printer).join(", ")} runs at the web's priority (nice ${web}), not before it: many web clients at once can slow its print. A printer added after Layerline started inherits the web's priority when Layerline may not raise it.`,
        "Restart Layerline (the printers it starts with come before the web), or let it raise its printers' threads: run it as the service `layerline service install` writes (LimitNICE=-10), or as root.",
        ["layerline service install"],
      ),
    ];
  }
  const nices = [...new Set(known.map((x) => x.nice))].sort((a, b) => a - b).join(", ");
  const raised = known.every((x) => x.nice < 0);
  return [
    finding(
      "layerline.priority",
      "layerline",
      "ok",
      title,
      `The printers' threads run before the web (nice ${nices} against the web's ${web})${raised ? " and before the machine's other programs" : "; Layerline may not raise them above the machine's other programs, as the service `layerline service install` writes allows"}.`,
    ),
  ];
}
