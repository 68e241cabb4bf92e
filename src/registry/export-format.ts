/**
 * The usage-statistics export files, in the format of OctoPrint's data.octoprint.org exports
 * (../shared/docs/plugin-registry.md §C): `plugin_stats_{7d,30d}.json` keyed by lower-cased plugin
 * id, plus Layerline's `plugin_likes.json` (stars, one per instance) and
 * `instance_stats_{7d,30d}.json`. The registry service writes them; the registry build reads them.
 */
import * as v from "valibot";
import type { IndexStats } from "./index-format.ts";

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));
const Versions = v.record(v.string(), v.object({ instances: Count }));

export const PluginStatsExportSchema = v.object({
  _since: v.optional(v.string()),
  _generated: v.optional(v.string()),
  plugins: v.record(
    v.string(),
    v.object({
      /** Distinct instances reporting the plugin in the window. */
      instances: Count,
      versions: v.optional(Versions, {}),
      /** Distinct instances that installed it in the window. */
      install_events: v.optional(Count, 0),
      uninstall_events: v.optional(Count, 0),
    }),
  ),
});
export type PluginStatsExport = v.InferOutput<typeof PluginStatsExportSchema>;

export const PluginLikesExportSchema = v.object({
  _generated: v.optional(v.string()),
  plugins: v.record(v.string(), v.object({ likes: Count })),
});
export type PluginLikesExport = v.InferOutput<typeof PluginLikesExportSchema>;

/** Host instances in the window: how many, and what they run. */
export const InstanceStatsExportSchema = v.object({
  _since: v.string(),
  _generated: v.string(),
  instances: Count,
  versions: Versions,
  /** By `os-arch`, e.g. `linux-arm64`. */
  platforms: Versions,
  /** By firmware family (the quirks profile the host detected). */
  firmware: Versions,
  prints: v.object({ started: Count, finished: Count }),
});
export type InstanceStatsExport = v.InferOutput<typeof InstanceStatsExportSchema>;

export const EXPORT_FILES = {
  plugins7d: "plugin_stats_7d.json",
  plugins30d: "plugin_stats_30d.json",
  instances7d: "instance_stats_7d.json",
  instances30d: "instance_stats_30d.json",
  likes: "plugin_likes.json",
} as const;

/** Reads one export file through its schema; a problem in words when it is missing or malformed. */
export async function readExport<S extends v.GenericSchema>(path: string, schema: S): Promise<{ ok: true; data: v.InferOutput<S> } | { ok: false; message: string }> {
  let json: unknown;
  try {
    json = JSON.parse(await Bun.file(path).text());
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, message: code === "ENOENT" ? "does not exist" : `is not valid JSON: ${(e as Error).message}` };
  }
  const parsed = v.safeParse(schema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    return { ok: false, message: `is not in the export format: ${v.getDotPath(issue) ?? "(top level)"}: ${issue.message}` };
  }
  return { ok: true, data: parsed.output };
}

/** The index's `stats` block for one plugin (missing plugin = 0, as OctoPrint's build does). */
export function indexStats(id: string, week: PluginStatsExport | null, month: PluginStatsExport | null, likes: PluginLikesExport | null): IndexStats {
  const key = id.toLowerCase();
  const w = week?.plugins[key];
  const m = month?.plugins[key];
  return {
    instances_month: m?.instances ?? 0,
    install_events_month: m?.install_events ?? 0,
    instances_week: w?.instances ?? 0,
    install_events_week: w?.install_events ?? 0,
    likes: likes?.plugins[key]?.likes ?? 0,
  };
}
