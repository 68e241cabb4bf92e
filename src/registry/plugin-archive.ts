/**
 * What a plugin's archive says about itself, read statically — never executed: its size and
 * sha256, the manifest (`package.json`: `name`, `version`, `layerline.api`, entry file,
 * permissions) and a syntax-level look at the entry file (Bun's transpiler lists its imports and
 * exports without running it). The registry build compares this with what the entry declares.
 */
import { createHash } from "node:crypto";
import * as v from "valibot";
import { ArchiveError, checkArchive, commonRoot, openArchive } from "../archive/archive.ts";
import { isRange as isSemverRange, normaliseRange } from "../plugins/semver.ts";

/** The largest archive the build downloads. */
export const MAX_ARCHIVE_BYTES = 32 * 1024 * 1024;

/** The manifest fields the registry reads; everything else in package.json is the plugin's business. */
export const ManifestSchema = v.looseObject({
  name: v.pipe(v.string("must be the plugin id"), v.regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, "must be the plugin id (a-z, 0-9, . _ -)")),
  version: v.pipe(v.string("must be a version"), v.check((s) => Bun.semver.order(s, "0.0.0") !== undefined && /^\d+\.\d+\.\d+(?:[-+].*)?$/.test(s), "must be a semver version such as 1.2.0")),
  main: v.optional(v.string()),
  module: v.optional(v.string()),
  layerline: v.looseObject({
    api: v.pipe(v.string("must be a semver range such as ^1.0.0"), v.check(isSemverRange, "must be a semver range such as ^1.0.0")),
    entry: v.optional(v.string()),
    permissions: v.optional(v.array(v.pipe(v.string(), v.maxLength(100)))),
  }),
});

export const ArchiveInspectionSchema = v.object({
  sha256: v.string(),
  size: v.number(),
  /** The manifest's values when it is usable; null when the archive is not a Layerline plugin. */
  manifest: v.nullable(
    v.object({
      name: v.string(),
      version: v.string(),
      api: v.string(),
      permissions: v.array(v.string()),
      entry: v.string(),
    }),
  ),
  /** Why the archive is not (fully) usable, in words. */
  problems: v.array(v.string()),
});
export type ArchiveInspection = v.InferOutput<typeof ArchiveInspectionSchema>;

const transpiler = new Bun.Transpiler({ loader: "ts" });

/** Example: `inspectArchive(tgzBytes).manifest?.api === "^1.0.0"`. Pure. */
export function inspectArchive(bytes: Uint8Array): ArchiveInspection {
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const base = { sha256, size: bytes.length };
  const fail = (problem: string): ArchiveInspection => ({ ...base, manifest: null, problems: [problem] });
  let files: Set<string>;
  let archive;
  let root: string;
  try {
    archive = openArchive(bytes);
    const entries = checkArchive(archive);
    root = commonRoot(entries);
    files = new Set(entries.filter((e) => e.type === "file").map((e) => e.path));
  } catch (e) {
    return fail(e instanceof ArchiveError ? `the archive is unusable: ${e.message}` : `the archive could not be read: ${(e as Error).message}`);
  }
  const inRoot = (p: string) => (root ? `${root}/${p}` : p);
  if (!files.has(inRoot("package.json"))) return fail(`the archive has no package.json${root ? ` in ${root}/` : ""}: it is not a Layerline plugin`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(archive.read(inRoot("package.json"))));
  } catch (e) {
    return fail(`package.json is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = v.safeParse(ManifestSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = v.getDotPath(issue);
    return fail(`package.json: ${path ?? "(top level)"}: ${issue.input === undefined ? "is missing" : issue.message}`);
  }
  const m = parsed.output;
  const entry = (m.layerline.entry ?? m.module ?? m.main ?? "index.ts").replace(/^\.\//, "");
  const problems: string[] = [];
  if (!files.has(inRoot(entry))) problems.push(`the entry file "${entry}" named by package.json is not in the archive`);
  else {
    try {
      const scan = transpiler.scan(new TextDecoder().decode(archive.read(inRoot(entry))));
      if (!scan.exports.includes("default")) problems.push(`the entry file "${entry}" has no default export (the plugin definition)`);
    } catch (e) {
      problems.push(`the entry file "${entry}" does not parse: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  return {
    ...base,
    manifest: problems.length ? null : { name: m.name, version: m.version, api: normaliseRange(m.layerline.api), permissions: m.layerline.permissions ?? [], entry },
    problems,
  };
}

export type Download =
  | { status: "ok"; bytes: Uint8Array; etag: string | null; lastModified: string | null }
  | { status: "not-modified" }
  | { status: "failed"; reason: string };

/**
 * Downloads an archive (at most `maxBytes`), conditionally when the cache knows its ETag or
 * Last-Modified, so an unchanged archive costs one small request per build.
 */
export async function downloadArchive(
  url: string,
  options: { fetch?: typeof fetch; etag?: string | null; lastModified?: string | null; maxBytes?: number; timeoutMs?: number } = {},
): Promise<Download> {
  const max = options.maxBytes ?? MAX_ARCHIVE_BYTES;
  const headers: Record<string, string> = { "user-agent": "layerline-registry" };
  if (options.etag) headers["if-none-match"] = options.etag;
  if (options.lastModified) headers["if-modified-since"] = options.lastModified;
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, { headers, redirect: "follow", signal: AbortSignal.timeout(options.timeoutMs ?? 60_000) });
  } catch (e) {
    return { status: "failed", reason: `the archive could not be downloaded: ${(e as Error).message}` };
  }
  if (response.status === 304) return { status: "not-modified" };
  if (!response.ok) {
    await response.body?.cancel();
    return { status: "failed", reason: `downloading the archive failed: ${response.status} ${response.statusText}`.trim() };
  }
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel();
    return { status: "failed", reason: `the archive is ${declared} bytes; the registry accepts at most ${max}` };
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (!response.body) return { status: "failed", reason: "the archive download was empty" };
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        await reader.cancel().catch(() => {});
        return { status: "failed", reason: `the archive is larger than ${max} bytes, the most the registry accepts` };
      }
      chunks.push(value);
    }
  } catch (e) {
    return { status: "failed", reason: `the archive download broke off: ${(e as Error).message}` };
  }
  return { status: "ok", bytes: Buffer.concat(chunks), etag: response.headers.get("etag"), lastModified: response.headers.get("last-modified") };
}
