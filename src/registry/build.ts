/**
 * `layerline registry build`: entries in, a publishable folder out — `plugins.json` (the index the
 * host's browser reads), `notices.json`, `rankings.json`, `build-report.json` and the static
 * website. Every entry is validated (all problems reported, a bad entry only drops itself), then
 * enriched with usage statistics (export files), source health (batched GraphQL, cached between
 * builds) and, for Layerline plugins, what the release archive says (downloaded, hashed, read
 * statically). The imperative shell around the pure parts in this folder.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import * as v from "valibot";
import { detachedSignature, keyId, SIGNATURE_SUFFIX } from "../signing/ed25519.ts";
import { loadCache, saveCache, type BuildCache } from "./build-cache.ts";
import { renderDescription } from "./description.ts";
import { readEntry, type Entry, type Problem } from "./entry.ts";
import { indexStats, PluginLikesExportSchema, PluginStatsExportSchema, readExport } from "./export-format.ts";
import { MAX_ENTRY_BYTES } from "./front-matter.ts";
import { composeIndexEntry } from "./index-entry.ts";
import { IndexEntrySchema, type IndexEntry, type Notice, type SourceHealth } from "./index-format.ts";
import { downloadArchive, inspectArchive, type ArchiveInspection } from "./plugin-archive.ts";
import { computeRankings, type Rankings } from "./rankings.ts";
import { renderSite, type SitePlugin } from "./site.ts";
import { fetchSourceHealth, repoKey, repoOf, type Repo } from "./source-host.ts";

export const DEFAULT_SOURCE_API = "https://api.github.com/graphql";
/** The files the host reads, signed when the build has a key. */
export const SIGNED_FILES = ["plugins.json", "notices.json"] as const;
/** A marker the build leaves in its output folder: only such a folder is ever replaced. */
const MARKER = ".layerline-registry";

export interface BuildOptions {
  entriesDir: string;
  outDir: string;
  stats7d?: string;
  stats30d?: string;
  /** `plugin_likes.json` from the registry service. */
  likes?: string;
  /** GraphQL endpoint of the source host; source health is fetched when this or a token is given. */
  sourceApi?: string;
  sourceTokenFile?: string;
  /** Source health younger than this is taken from the cache. */
  sourceMaxAgeMs?: number;
  /** The longest a rate limit is waited out. */
  sourceMaxWaitMs?: number;
  /** Where the cache lives (default: `.registry-cache` beside the output folder). */
  cacheDir?: string;
  /** The website's public URL, for absolute `page` and image links (default: relative). */
  baseUrl?: string;
  /** A folder copied to `<out>/assets/` (pictures entries refer to as `/assets/…`). */
  assetsDir?: string;
  /** Archives downloaded at once. */
  archiveConcurrency?: number;
  /** Ed25519 private key: plugins.json and notices.json get a detached signature beside them (`.sig`). */
  signKey?: KeyObject;
  fetch?: typeof fetch;
  now?: () => number;
  log?: (line: string) => void;
}

export interface BuildResult {
  entries: number;
  indexed: number;
  rejected: number;
  problems: Problem[];
  notices: Notice[];
  rankings: Rankings;
  index: IndexEntry[];
  /** The id of the key that signed plugins.json and notices.json, or null when unsigned. */
  signedBy: string | null;
  sourceQueries: number;
  archivesDownloaded: number;
}

export class BuildError extends Error {}

export async function buildRegistry(options: BuildOptions): Promise<BuildResult> {
  const now = (options.now ?? Date.now)();
  const log = options.log ?? (() => {});
  const http = options.fetch ?? fetch;
  const outDir = resolve(options.outDir);
  const cacheDir = resolve(options.cacheDir ?? join(dirname(outDir), ".registry-cache"));
  const baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
  checkOutDir(outDir);
  if (options.assetsDir && !existsSync(options.assetsDir)) throw new BuildError(`--assets ${options.assetsDir} does not exist.`);

  // 1. Entries: each validated on its own.
  const problems: Problem[] = [];
  const { entries, files: entryFiles } = readEntries(resolve(options.entriesDir), problems);

  // 2. Usage statistics.
  const readStats = async <S extends v.GenericSchema>(path: string | undefined, schema: S): Promise<v.InferOutput<S> | null> => {
    if (!path) return null;
    const result = await readExport(path, schema);
    if (result.ok) return result.data;
    problems.push({ file: path, field: "(file)", message: `${result.message}; its statistics count as 0`, severity: "error" });
    return null;
  };
  const week = await readStats(options.stats7d, PluginStatsExportSchema);
  const month = await readStats(options.stats30d, PluginStatsExportSchema);
  const likes = await readStats(options.likes, PluginLikesExportSchema);

  const { cache, problem: cacheProblem } = await loadCache(cacheDir);
  if (cacheProblem) log(`note: ${cacheProblem}`);

  // 3. Source health, batched, from the cache where fresh enough.
  const { health, queries } = await sourceHealth(entries, cache, options, now, problems);

  // 4. Archives of Layerline plugins.
  const { inspections, downloaded } = await inspectArchives(entries, cache, options.archiveConcurrency ?? 4, http, now, problems);

  // 5. Compose the index.
  const previous = readPreviousIndex(outDir);
  const index: IndexEntry[] = [];
  const notices: Notice[] = [];
  const site: SitePlugin[] = [];
  for (const entry of entries) {
    const d = entry.data;
    const repo = repoOf(d.source) ?? repoOf(d.homepage);
    const composed = composeIndexEntry(entry, {
      stats: indexStats(d.id, week, month, likes),
      health: repo ? (health.get(repoKey(repo)) ?? null) : null,
      inspection: d.compatibility?.layerline !== undefined ? (inspections.get(d.archive) ?? null) : null,
      previous: previous.get(d.id.toLowerCase()) ?? null,
      baseUrl,
      now,
    });
    for (const w of composed.warnings) problems.push({ file: entry.file, field: "archive", message: w, severity: "warning" });
    index.push(composed.record);
    notices.push(...composed.notices);
    const versions = Object.entries(month?.plugins[d.id.toLowerCase()]?.versions ?? {})
      .map(([version, x]) => [version, x.instances] as [string, number])
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1));
    site.push({
      record: composed.record,
      descriptionHtml: renderDescription(entry.body, d),
      screenshots: (d.screenshots ?? []).map((s) => ({ ...s, url: s.url.startsWith("/") && baseUrl ? baseUrl + s.url : s.url })),
      source: d.source,
      versions,
      notices: composed.notices,
    });
  }
  index.sort((a, b) => (a.published < b.published ? -1 : a.published > b.published ? 1 : a.id < b.id ? -1 : 1));
  const rankings = computeRankings(index);

  // 6. Write everything into a fresh folder, then swap it in (a serving registry never sees half a site).
  const files = renderSite({ plugins: site, rankings, generated: now });
  files.set("plugins.json", JSON.stringify(index, null, 1));
  files.set("notices.json", JSON.stringify(notices, null, 1));
  // Signed over the exact bytes written, so hosts verify what they download before parsing it.
  if (options.signKey) for (const name of SIGNED_FILES) files.set(`${name}${SIGNATURE_SUFFIX}`, detachedSignature(Buffer.from(files.get(name)!), options.signKey));
  files.set("rankings.json", JSON.stringify({ generated: new Date(now).toISOString(), ...rankings }, null, 1));
  const rejected = entryFiles - entries.length;
  files.set("build-report.json", JSON.stringify({ generated: new Date(now).toISOString(), entries: entryFiles, indexed: index.length, rejected, problems }, null, 1));
  files.set(MARKER, "This folder is written by `layerline registry build` and replaced by each build.\n");
  await writeFolder(outDir, files, options.assetsDir);
  await saveCache(cacheDir, cache);
  return { entries: entryFiles, indexed: index.length, rejected, problems, notices, rankings, index, signedBy: options.signKey ? keyId(createPublicKey(options.signKey)) : null, sourceQueries: queries, archivesDownloaded: downloaded };
}

/** Refuses to replace a folder the build did not write (so `--out .` cannot wipe a project). */
function checkOutDir(outDir: string): void {
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory()) throw new BuildError(`--out ${outDir} is a file; choose a folder.`);
  const names = readdirSync(outDir);
  if (names.length > 0 && !names.includes(MARKER)) {
    throw new BuildError(`--out ${outDir} is not empty and was not written by the registry build; choose an empty or new folder (the build replaces its whole content).`);
  }
}

/** The valid entries, and how many entry files there were. */
function readEntries(dir: string, problems: Problem[]): { entries: Entry[]; files: number } {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.toLowerCase().endsWith(".md") && statSync(join(dir, n)).isFile())
      .sort();
  } catch (e) {
    throw new BuildError(`--entries ${dir} cannot be read: ${(e as Error).message}`);
  }
  const entries: Entry[] = [];
  const ids = new Map<string, string>();
  for (const name of names) {
    const path = join(dir, name);
    const size = statSync(path).size;
    if (size > MAX_ENTRY_BYTES) {
      problems.push({ file: name, field: "(file)", message: `is ${size} bytes; entries may be at most ${MAX_ENTRY_BYTES} bytes`, severity: "error" });
      continue;
    }
    const { entry, problems: found } = readEntry(name, readFileSync(path, "utf8"));
    problems.push(...found);
    if (!entry) continue;
    // Ids are compared case-insensitively: statistics keys are lower-cased, and so are many file systems.
    const key = entry.data.id.toLowerCase();
    const first = ids.get(key);
    if (first) {
      problems.push({ file: name, field: "id", message: `"${entry.data.id}" is already used by ${first}`, severity: "error" });
      continue;
    }
    ids.set(key, name);
    entries.push(entry);
  }
  return { entries, files: names.length };
}

async function sourceHealth(entries: Entry[], cache: BuildCache, options: BuildOptions, now: number, problems: Problem[]) {
  const health = new Map<string, SourceHealth>();
  const enabled = options.sourceApi !== undefined || options.sourceTokenFile !== undefined;
  if (!enabled) return { health, queries: 0 };
  let token: string | undefined;
  if (options.sourceTokenFile) {
    try {
      token = (await Bun.file(options.sourceTokenFile).text()).trim();
    } catch (e) {
      throw new BuildError(`--source-token-file ${options.sourceTokenFile} cannot be read: ${(e as Error).message}`);
    }
  }
  const maxAge = options.sourceMaxAgeMs ?? 6 * 3600_000;
  const repos = new Map<string, { repo: Repo; files: string[] }>();
  for (const e of entries) {
    const repo = repoOf(e.data.source) ?? repoOf(e.data.homepage);
    if (!repo) continue;
    const key = repoKey(repo);
    repos.set(key, { repo, files: [...(repos.get(key)?.files ?? []), e.file] });
  }
  const stale = [...repos.values()].filter(({ repo }) => {
    const cached = cache.sources[repoKey(repo)];
    return !cached || now - cached.fetchedAt > maxAge;
  });
  let queries = 0;
  if (stale.length > 0) {
    const fetched = await fetchSourceHealth(
      stale.map((s) => s.repo),
      { url: options.sourceApi ?? DEFAULT_SOURCE_API, token, maxWaitMs: options.sourceMaxWaitMs, fetch: options.fetch },
    );
    queries = fetched.queries;
    for (const p of fetched.problems) problems.push({ file: "(source host)", field: "github", message: p, severity: "warning" });
    for (const { repo, files } of stale) {
      const result = fetched.results.get(repoKey(repo));
      if (result?.ok) cache.sources[repoKey(repo)] = { fetchedAt: now, health: result.health };
      else if (result?.notFound) {
        cache.sources[repoKey(repo)] = { fetchedAt: now, health: null };
        for (const file of files) problems.push({ file, field: "source", message: `the repository ${repo.owner}/${repo.name} was not found on the source host`, severity: "warning" });
      } else if (result && !fetched.problems.some((p) => p.includes(result.reason))) {
        for (const file of files) problems.push({ file, field: "source", message: `source health not fetched: ${result.reason}`, severity: "warning" });
      }
    }
  }
  for (const [key] of repos) {
    const cached = cache.sources[key];
    if (cached?.health) health.set(key, cached.health);
  }
  return { health, queries };
}

async function inspectArchives(entries: Entry[], cache: BuildCache, concurrency: number, http: typeof fetch, now: number, problems: Problem[]) {
  const inspections = new Map<string, ArchiveInspection>();
  const wanted = entries.filter((e) => e.data.compatibility?.layerline !== undefined);
  let downloaded = 0;
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      const entry = wanted[next++]!;
      const url = entry.data.archive;
      if (inspections.has(url)) continue;
      const cached = cache.archives[url];
      const result = await downloadArchive(url, { fetch: http, etag: cached?.etag, lastModified: cached?.lastModified });
      if (result.status === "not-modified" && cached) {
        inspections.set(url, cached.inspection);
        cached.checkedAt = now;
        continue;
      }
      if (result.status !== "ok") {
        const reason = result.status === "failed" ? result.reason : "the server said the archive is unchanged, but it is not in the cache";
        problems.push({ file: entry.file, field: "archive", message: `${reason}${cached ? " (using what the last build found)" : ""}`, severity: "warning" });
        if (cached) inspections.set(url, cached.inspection);
        continue;
      }
      downloaded++;
      const inspection = inspectArchive(result.bytes);
      inspections.set(url, inspection);
      cache.archives[url] = { checkedAt: now, etag: result.etag, lastModified: result.lastModified, inspection };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, wanted.length)) }, worker));
  return { inspections, downloaded };
}

/** The last build's records by lower-cased id (release history is carried over from them). */
function readPreviousIndex(outDir: string): Map<string, IndexEntry> {
  const out = new Map<string, IndexEntry>();
  try {
    const json = JSON.parse(readFileSync(join(outDir, "plugins.json"), "utf8"));
    if (!Array.isArray(json)) return out;
    for (const item of json) {
      const parsed = v.safeParse(IndexEntrySchema, item);
      if (parsed.success) out.set(parsed.output.id.toLowerCase(), parsed.output);
    }
  } catch {
    // No previous build.
  }
  return out;
}

async function writeFolder(outDir: string, files: Map<string, string>, assetsDir: string | undefined): Promise<void> {
  const parent = dirname(outDir);
  mkdirSync(parent, { recursive: true });
  const fresh = join(parent, `.${basename(outDir)}.new-${process.pid}`);
  rmSync(fresh, { recursive: true, force: true });
  for (const [path, content] of files) {
    const target = join(fresh, path);
    mkdirSync(dirname(target), { recursive: true });
    await Bun.write(target, content);
  }
  // Links are not copied: the site must only ever serve the files themselves.
  if (assetsDir) cpSync(assetsDir, join(fresh, "assets"), { recursive: true, filter: (src) => !lstatSync(src).isSymbolicLink() });
  const old = join(parent, `.${basename(outDir)}.old-${process.pid}`);
  if (existsSync(outDir)) renameSync(outDir, old);
  renameSync(fresh, outDir);
  rmSync(old, { recursive: true, force: true });
}
