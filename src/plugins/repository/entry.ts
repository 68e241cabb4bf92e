/**
 * Reading the repository index (`plugins.json`, format in docs/plugins.md): a JSON array of
 * entries. Only `id` and `title` are required; every other field falls back to "absent" when it
 * is malformed, so one odd field never hides a plugin, and a malformed entry is skipped and
 * reported rather than failing the whole index. Unknown fields are ignored.
 */
import * as v from "valibot";

const opt = <S extends v.GenericSchema>(schema: S) => v.optional(v.fallback(v.optional(schema), undefined));
const count = v.pipe(v.number(), v.minValue(0));
const Sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
const Size = v.pipe(v.number(), v.integer(), v.minValue(1));
const HttpUrl = v.pipe(v.string(), v.check((s) => /^https?:\/\//.test(s) && URL.canParse(s)));

const ReleaseSchema = v.object({
  version: v.string(),
  date: opt(v.string()),
  archive: HttpUrl,
  sha256: Sha256,
  size: Size,
  layerline: opt(v.string()),
});

export const EntrySchema = v.object({
  id: v.pipe(v.string("must be text"), v.trim(), v.minLength(1, "is empty")),
  title: v.pipe(v.string("must be text"), v.trim()),
  description: v.fallback(v.optional(v.string(), ""), ""),
  author: v.fallback(v.optional(v.string(), ""), ""),
  license: opt(v.string()),
  homepage: opt(HttpUrl),
  page: opt(HttpUrl),
  published: opt(v.string()),
  archive: opt(HttpUrl),
  image: opt(HttpUrl),
  tags: v.fallback(v.optional(v.array(v.string()), []), []),
  attributes: v.fallback(v.optional(v.array(v.string()), []), []),
  abandoned: v.fallback(v.optional(v.union([v.boolean(), v.string()]), false), false),
  disabled: opt(v.string()),
  compatibility: v.fallback(
    v.optional(
      v.object({
        os: v.fallback(v.optional(v.array(v.string()), []), []),
        layerline: opt(v.string()),
      }),
      { os: [] },
    ),
    { os: [] },
  ),
  github: opt(
    v.object({
      latest_release: opt(v.object({ name: opt(v.string()), date: opt(v.string()), tag: opt(v.string()) })),
      releases: opt(count),
      last_push: opt(v.string()),
      stars: opt(count),
      issues: opt(v.object({ open: opt(count), closed: opt(count) })),
    }),
  ),
  stats: v.fallback(
    v.optional(
      v.object({
        instances_month: opt(count),
        install_events_month: opt(count),
        instances_week: opt(count),
        install_events_week: opt(count),
        likes: opt(count),
      }),
      {},
    ),
    {},
  ),
  version: opt(v.string()),
  sha256: opt(Sha256),
  size: opt(Size),
  permissions: v.fallback(v.optional(v.array(v.string()), []), []),
  releases: v.fallback(v.optional(v.array(ReleaseSchema), []), []),
});
export type IndexEntry = v.InferOutput<typeof EntrySchema>;

export interface IndexProblem {
  /** Position in the array. */
  index: number;
  id: string | null;
  message: string;
}

/**
 * Entries read from an index at most. OctoPrint's has a few hundred; a hostile one of hundreds of
 * thousands of tiny entries would hold the main thread for seconds at every hourly refresh.
 */
export const MAX_INDEX_ENTRIES = 10_000;

/** Parses the index; throws only when it is not a JSON array at all. */
export function parseIndex(json: unknown): { entries: IndexEntry[]; problems: IndexProblem[] } {
  if (!Array.isArray(json)) throw new Error("The plugin index is not a JSON array of entries.");
  const entries: IndexEntry[] = [];
  const problems: IndexProblem[] = [];
  const seen = new Set<string>();
  if (json.length > MAX_INDEX_ENTRIES) {
    problems.push({ index: MAX_INDEX_ENTRIES, id: null, message: `the index has ${json.length} entries; only the first ${MAX_INDEX_ENTRIES} are read` });
  }
  json.slice(0, MAX_INDEX_ENTRIES).forEach((raw, index) => {
    const id = raw && typeof raw === "object" && typeof (raw as { id?: unknown }).id === "string" ? (raw as { id: string }).id : null;
    const parsed = v.safeParse(EntrySchema, raw);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      const path = v.getDotPath(issue);
      const message = !path ? "is not an entry (an object with id and title)" : `${path}: ${issue.input === undefined ? "is missing" : issue.message}`;
      problems.push({ index, id, message });
      return;
    }
    if (seen.has(parsed.output.id)) {
      problems.push({ index, id, message: "the id appears more than once (the first entry is used)" });
      return;
    }
    seen.add(parsed.output.id);
    entries.push(parsed.output);
  });
  return { entries, problems };
}

/**
 * Milliseconds since the epoch of the index's dates: "2021-05-07 18:18:53 +0000", ISO-8601, or
 * a bare "2021-05-07". NaN when unreadable.
 */
export function parseIndexDate(text: string | undefined): number {
  if (!text) return NaN;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(?:(Z)|([+-])(\d{2}):?(\d{2}))?$/.exec(text.trim());
  if (!m) return NaN;
  const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  const offset = m[8] ? (m[8] === "-" ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) : 0;
  return utc - offset * 60_000;
}

/** The plugin's latest release date (ms), from the source host or the index's own releases. */
export function latestReleaseDate(e: IndexEntry): number {
  const fromGithub = parseIndexDate(e.github?.latest_release?.date);
  return Number.isNaN(fromGithub) ? parseIndexDate(e.releases[0]?.date) : fromGithub;
}
