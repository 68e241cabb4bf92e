/**
 * A registry entry: the front-matter schema of the OctoPrint repository's `_plugins/<id>.md`
 * (see ../shared/docs/plugin-registry.md) plus Layerline's `compatibility.layerline` semver range
 * of the plugin API. Every entry passes this schema; all problems are reported with file and
 * field, and a bad entry is left out of the index without stopping the build.
 */
import { basename } from "node:path";
import * as v from "valibot";
import { parseFrontMatter } from "./front-matter.ts";
import { isRange as isSemverRange } from "../plugins/semver.ts";

/** What is wrong with an entry (or the build's inputs), for the person who maintains it. */
export interface Problem {
  file: string;
  field: string;
  message: string;
  /** An error leaves the entry out of the index; a warning does not. */
  severity: "error" | "warning";
}

/** Ids name folders on the website, so they are restricted to safe characters. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Layerline plugins: the id is the manifest's (npm-style) name. */
export const LAYERLINE_ID = /^[a-z0-9][a-z0-9._-]{0,99}$/;

const text = (max: number) => v.pipe(v.string("must be text"), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(max, `must be at most ${max} characters`));
const httpUrl = v.pipe(
  v.string("must be a URL"),
  v.trim(),
  v.maxLength(2000, "is too long"),
  v.check((s) => /^https?:\/\//i.test(s) && URL.canParse(s), "must be an http(s) URL"),
);
/** A picture: an absolute http(s) URL or a path on the registry site (`/assets/img/…`). */
const imageUrl = v.union([httpUrl, v.pipe(v.string(), v.trim(), v.regex(/^\/[^\s"'<>\\]*$/, "must be an http(s) URL or a path starting with /"))], "must be an http(s) URL or a path starting with /");
/** YAML turns `- 1.4` into a number; a version list means the text. */
const versionText = v.pipe(v.union([v.string(), v.number()], "must be a version"), v.transform(String), v.trim(), v.maxLength(100));
const textList = (max: number) =>
  v.pipe(v.array(v.pipe(v.union([v.string(), v.number()], "must be text"), v.transform(String), v.trim(), v.maxLength(max)), "must be a list"), v.maxLength(100, "has too many items"));

export const OS_VALUES = ["windows", "linux", "macos", "freebsd", "posix", "nix", "disabled"] as const;
export const ATTRIBUTES = ["cloud", "commercial", "free-tier", "ai-developed"] as const;

export const EntrySchema = v.object({
  layout: v.optional(v.literal("plugin", 'must be "plugin"')),
  id: v.pipe(v.string("must be text"), v.regex(ID, "must be letters, digits, . _ - (starting with a letter or digit), at most 100")),
  title: text(200),
  description: text(2000),
  author: v.optional(text(300)),
  authors: v.optional(v.pipe(v.array(text(200), "must be a list of names"), v.minLength(1, "must name someone"), v.maxLength(50))),
  license: text(200),
  date: v.pipe(
    v.string("must be a date YYYY-MM-DD"),
    v.regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD"),
    v.check((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), "is not a real date"),
  ),
  homepage: httpUrl,
  source: httpUrl,
  archive: httpUrl,
  follow_dependency_links: v.optional(v.boolean("must be true or false")),
  tags: v.optional(v.nullable(textList(60))),
  screenshots: v.optional(
    v.nullable(
      v.pipe(
        v.array(v.object({ url: imageUrl, alt: v.optional(v.pipe(v.string(), v.maxLength(300))), caption: v.optional(v.pipe(v.string(), v.maxLength(500))) }), "must be a list of {url, alt, caption}"),
        v.maxLength(30, "has too many screenshots"),
      ),
    ),
  ),
  featuredimage: v.optional(imageUrl),
  compatibility: v.optional(
    v.nullable(
      v.object({
        octoprint: v.optional(v.nullable(v.pipe(v.array(versionText, "must be a list of versions"), v.maxLength(50)))),
        os: v.optional(v.nullable(v.array(v.picklist(OS_VALUES, `must be one of ${OS_VALUES.join(", ")}`), "must be a list"))),
        python: v.optional(v.pipe(v.string("must be a version specifier"), v.maxLength(100))),
        layerline: v.optional(v.pipe(v.string("must be a semver range such as ^1.0.0"), v.trim(), v.check(isSemverRange, "must be a semver range such as ^1.0.0 or >=1.2.0 <2.0.0"))),
      }),
    ),
  ),
  disabled: v.optional(text(5000)),
  abandoned: v.optional(v.union([v.boolean(), text(5000)], "must be true or a text saying why")),
  up_for_adoption: v.optional(httpUrl),
  redirect_from: v.optional(v.union([v.string(), v.array(v.string())], "must be a path or a list of paths")),
  privacypolicy: v.optional(httpUrl),
  attributes: v.optional(v.nullable(v.array(v.picklist(ATTRIBUTES, `must be one of ${ATTRIBUTES.join(", ")}`), "must be a list"))),
});
export type EntryData = v.InferOutput<typeof EntrySchema>;

const KNOWN_FIELDS = new Set([...Object.keys(EntrySchema.entries)]);

/** A valid entry: its data, its Markdown body, and the file it came from. */
export interface Entry {
  file: string;
  data: EntryData;
  body: string;
}

export type EntryResult = { entry: Entry | null; problems: Problem[] };

/**
 * Parses and validates one entry file. `entry` is null when it has errors; warnings (unknown
 * fields, a file name that differs from the id) are reported but keep the entry.
 */
export function readEntry(file: string, text: string): EntryResult {
  const problem = (field: string, message: string, severity: Problem["severity"] = "error"): Problem => ({ file, field, message, severity });
  const fm = parseFrontMatter(text);
  if (!fm.ok) return { entry: null, problems: [problem(fm.problem.field, fm.problem.message)] };
  const problems: Problem[] = fm.duplicates.map((key) => problem(key, "is given more than once (the last one counts)", "warning"));
  for (const key of Object.keys(fm.data)) {
    if (key === "stats" || key === "github") problems.push(problem(key, "is computed by the registry build; the value in the entry is ignored", "warning"));
    else if (!KNOWN_FIELDS.has(key)) problems.push(problem(key, "is not a known field (ignored)", "warning"));
  }
  const parsed = v.safeParse(EntrySchema, fm.data);
  if (!parsed.success) {
    for (const issue of parsed.issues) problems.push(problem(v.getDotPath(issue) ?? "(front matter)", issue.input === undefined ? "is required" : issue.message));
    return { entry: null, problems };
  }
  const data = parsed.output;
  if (!data.author && !data.authors) problems.push(problem("author", "is missing: name the author (author: …) or authors (authors: [...])", "warning"));
  if (data.compatibility?.layerline !== undefined && !LAYERLINE_ID.test(data.id)) {
    problems.push(problem("id", "must be lower case (a-z, 0-9, . _ -) for a Layerline plugin: it is the name in the plugin's package.json"));
    return { entry: null, problems };
  }
  const stem = basename(file).replace(/\.md$/i, "");
  if (stem !== data.id) problems.push(problem("id", `"${data.id}" differs from the file name "${basename(file)}" (expected ${data.id}.md)`, "warning"));
  return { entry: { file, data, body: fm.body }, problems };
}

/** "A, B" from `author` or `authors`, as the index's `author`. */
export function authorOf(data: EntryData): string {
  return data.authors?.join(", ") ?? data.author ?? "";
}
