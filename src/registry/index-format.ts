/**
 * The repository index the build writes (`plugins.json`) and its notices (`notices.json`), as
 * agreed in docs/plugins.md: OctoPrint's field names where the meaning is the same, plus
 * Layerline's. The schema documents the writer's output and lets tests hold the build to it.
 */
import * as v from "valibot";

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));
/** Jekyll's time format, as OctoPrint's index: `2021-05-07 18:18:53 +0000`. */
const JekyllTime = v.pipe(v.string(), v.regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}$/));

export const SourceHealthSchema = v.object({
  latest_release: v.optional(v.object({ name: v.string(), date: JekyllTime, tag: v.string() })),
  releases: v.optional(Count),
  last_push: v.optional(JekyllTime),
  stars: Count,
  issues: v.object({ open: Count, closed: Count }),
});
export type SourceHealth = v.InferOutput<typeof SourceHealthSchema>;

export const IndexStatsSchema = v.object({
  instances_month: Count,
  install_events_month: Count,
  instances_week: Count,
  install_events_week: Count,
  likes: Count,
});
export type IndexStats = v.InferOutput<typeof IndexStatsSchema>;

export const ReleaseSchema = v.object({
  version: v.string(),
  date: v.string(),
  archive: v.string(),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  size: Count,
  layerline: v.optional(v.string()),
});
export type Release = v.InferOutput<typeof ReleaseSchema>;

export const IndexEntrySchema = v.object({
  id: v.string(),
  title: v.string(),
  description: v.string(),
  author: v.string(),
  license: v.string(),
  homepage: v.string(),
  page: v.string(),
  published: JekyllTime,
  archive: v.string(),
  image: v.optional(v.string()),
  tags: v.array(v.string()),
  attributes: v.array(v.string()),
  abandoned: v.boolean(),
  disabled: v.optional(v.string()),
  follow_dependency_links: v.optional(v.boolean()),
  privacypolicy: v.optional(v.string()),
  compatibility: v.object({
    octoprint: v.optional(v.array(v.string())),
    os: v.array(v.string()),
    python: v.optional(v.string()),
    layerline: v.optional(v.string()),
  }),
  github: v.optional(SourceHealthSchema),
  stats: IndexStatsSchema,
  // Layerline plugins only (entries that declare `compatibility.layerline`):
  version: v.optional(v.string()),
  sha256: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/))),
  size: v.optional(Count),
  permissions: v.optional(v.array(v.string())),
  releases: v.optional(v.array(ReleaseSchema)),
  compatibility_check: v.optional(
    v.object({
      declared: v.nullable(v.string()),
      found: v.nullable(v.string()),
      corrected: v.boolean(),
    }),
  ),
});
export type IndexEntry = v.InferOutput<typeof IndexEntrySchema>;

export const NoticeSchema = v.object({
  plugin: v.string(),
  date: v.string(),
  text: v.string(),
  versions: v.nullable(v.array(v.string())),
  link: v.nullable(v.string()),
  kind: v.picklist(["info", "warning", "compatibility"]),
});
export type Notice = v.InferOutput<typeof NoticeSchema>;

/** `2021-05-07T18:18:53Z` → `2021-05-07 18:18:53 +0000` (the index's time format). */
export function jekyllTime(iso: string | number | Date): string {
  return new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, " +0000");
}
