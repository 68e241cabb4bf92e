/**
 * What one registry build keeps for the next: source health per repository (refetched when older
 * than its maximum age, and used as a fallback whenever fetching fails) and, per archive URL, its
 * ETag/Last-Modified and what the archive said (so an unchanged archive is not downloaded again).
 * One JSON file in the cache folder; a damaged file only costs a full refetch.
 */
import { mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { SourceHealthSchema } from "./index-format.ts";
import { ArchiveInspectionSchema } from "./plugin-archive.ts";

export const CacheSchema = v.object({
  version: v.literal(1),
  sources: v.record(
    v.string(),
    v.object({
      fetchedAt: v.number(),
      /** null: the repository does not exist (or is private). */
      health: v.nullable(SourceHealthSchema),
    }),
  ),
  archives: v.record(
    v.string(),
    v.object({
      checkedAt: v.number(),
      etag: v.nullable(v.string()),
      lastModified: v.nullable(v.string()),
      inspection: ArchiveInspectionSchema,
    }),
  ),
});
export type BuildCache = v.InferOutput<typeof CacheSchema>;

const FILE = "registry-cache.json";

export async function loadCache(dir: string): Promise<{ cache: BuildCache; problem: string | null }> {
  const empty: BuildCache = { version: 1, sources: {}, archives: {} };
  const file = Bun.file(join(dir, FILE));
  if (!(await file.exists())) return { cache: empty, problem: null };
  try {
    const parsed = v.safeParse(CacheSchema, JSON.parse(await file.text()));
    if (parsed.success) return { cache: parsed.output, problem: null };
  } catch {
    // fall through: a damaged cache is replaced
  }
  return { cache: empty, problem: `the cache ${join(dir, FILE)} was unreadable and is rebuilt` };
}

/** Written to a temporary file and renamed, so an interrupted build never leaves half a cache. */
export async function saveCache(dir: string, cache: BuildCache): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `${FILE}.tmp`);
  await Bun.write(tmp, JSON.stringify(cache));
  renameSync(tmp, join(dir, FILE));
}
