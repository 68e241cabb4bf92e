/**
 * Where the repository index comes from: its URL (setting `plugins.repositoryUrl`, else the one
 * a release build was stamped with), a copy cached in the data folder (so the browser works
 * offline and right after start), and a refresh on a schedule (`plugins.refreshHours`). A failed
 * refresh keeps the previous copy and says why. `notices.json` beside the index is read too.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import type { SettingsStore } from "../../db/settings.ts";
import { fetchBytes } from "../fetch-bytes.ts";
import { describe } from "../guard.ts";
import { parseIndex, type IndexEntry, type IndexProblem } from "./entry.ts";

declare const LAYERLINE_PLUGIN_INDEX_URL: string | undefined;

/** The index a release build uses unless configured otherwise (`bun run release --plugin-index-url`). */
export const BUILT_IN_INDEX_URL: string | null = typeof LAYERLINE_PLUGIN_INDEX_URL === "string" && LAYERLINE_PLUGIN_INDEX_URL ? LAYERLINE_PLUGIN_INDEX_URL : null;

export const IndexUrlSchema = v.pipe(v.string(), v.trim(), v.check((s) => /^https?:\/\//.test(s) && URL.canParse(s), "must be an http(s) URL"));
export const RepositorySettingsSchema = v.object({
  /** The index URL; null = the built-in one. */
  url: v.optional(v.nullable(IndexUrlSchema)),
  /** Hours between refreshes; 0 = only on demand. */
  refreshHours: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(24 * 30))),
});

const KEY = { url: "plugins.repositoryUrl", refreshHours: "plugins.refreshHours" } as const;
const CACHE_FILE = "plugin-repository.json";
/** An index larger than this is refused (the real OctoPrint index is 0.4 MB). */
const MAX_INDEX_BYTES = 16 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

export const NoticeSchema = v.object({
  plugin: v.string(),
  date: v.fallback(v.optional(v.string(), ""), ""),
  text: v.string(),
  versions: v.fallback(v.optional(v.nullable(v.array(v.string())), null), null),
  link: v.fallback(v.optional(v.nullable(v.string()), null), null),
  kind: v.fallback(v.optional(v.picklist(["info", "warning", "compatibility"]), "info"), "info"),
});
export type RepositoryNotice = v.InferOutput<typeof NoticeSchema>;

const CacheSchema = v.object({ url: v.string(), fetchedAt: v.number(), index: v.unknown(), notices: v.optional(v.array(v.unknown()), []) });

export interface RepositoryStatus {
  /** Where the index is fetched from (the setting, else the built-in URL). */
  url: string | null;
  refreshHours: number;
  /** Where and when the index in use was fetched: it may be a cached copy from an earlier URL. */
  source: string | null;
  fetchedAt: number | null;
  entries: number;
  problems: IndexProblem[];
  error: string | null;
}

export class PluginRepository {
  private entries: IndexEntry[] = [];
  private problems: IndexProblem[] = [];
  private notices: RepositoryNotice[] = [];
  private fetchedAt: number | null = null;
  private fetchedUrl: string | null = null;
  private error: string | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<void> | undefined;
  /** Bumped whenever the entries change, so callers can rebuild what they derive from them. */
  version = 0;

  constructor(
    private readonly options: { dataDir: string; settings: SettingsStore; log: (line: string) => void; onChange?: () => void },
  ) {
    this.loadCache();
  }

  url(): string | null {
    return this.options.settings.get(KEY.url, v.nullable(IndexUrlSchema), null) ?? BUILT_IN_INDEX_URL;
  }

  refreshHours(): number {
    return this.options.settings.get(KEY.refreshHours, v.number(), 24);
  }

  status(): RepositoryStatus {
    return { url: this.url(), refreshHours: this.refreshHours(), source: this.fetchedUrl, fetchedAt: this.fetchedAt, entries: this.entries.length, problems: this.problems, error: this.error };
  }

  list(): readonly IndexEntry[] {
    return this.entries;
  }

  /** Notices for `plugin` at `version` (all versions when the notice names none). */
  noticesFor(plugin: string, version: string | null): RepositoryNotice[] {
    return this.notices.filter((n) => n.plugin === plugin && (n.versions === null || (version !== null && n.versions.includes(version))));
  }

  changeSettings(change: v.InferOutput<typeof RepositorySettingsSchema>): void {
    if (change.url !== undefined) {
      if (change.url === null) this.options.settings.delete(KEY.url);
      else this.options.settings.set(KEY.url, change.url);
    }
    if (change.refreshHours !== undefined) this.options.settings.set(KEY.refreshHours, change.refreshHours);
    this.schedule(0);
  }

  /** Refreshes now if the cached copy is older than the schedule (or from another URL), then on schedule. */
  start(): void {
    const url = this.url();
    const hours = this.refreshHours();
    const stale = url !== null && (this.fetchedUrl !== url || this.fetchedAt === null || (hours > 0 && Date.now() - this.fetchedAt > hours * 3_600_000));
    this.schedule(stale ? 0 : hours > 0 && this.fetchedAt !== null ? Math.max(0, this.fetchedAt + hours * 3_600_000 - Date.now()) : -1);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Downloads the index (and notices) now; concurrent calls share one download. */
  refresh(): Promise<void> {
    this.refreshing ??= this.download().finally(() => {
      this.refreshing = undefined;
      const hours = this.refreshHours();
      if (hours > 0) this.schedule(hours * 3_600_000);
    });
    return this.refreshing;
  }

  private schedule(ms: number): void {
    this.stop();
    if (ms < 0 || this.url() === null) return;
    this.timer = setTimeout(() => void this.refresh(), Math.min(ms, 2 ** 31 - 1));
    this.timer.unref?.();
  }

  private async download(): Promise<void> {
    const url = this.url();
    if (!url) {
      this.error = "No plugin repository is configured.";
      return;
    }
    try {
      const json = parseJson(await fetchText(url));
      const { entries, problems } = parseIndex(json);
      let notices: unknown[] = [];
      try {
        notices = JSON.parse(await fetchText(new URL("notices.json", url).href));
        if (!Array.isArray(notices)) notices = [];
      } catch {
        // notices.json is optional
      }
      this.use(url, Date.now(), entries, problems, notices);
      this.error = null;
      this.saveCache(url, json, notices);
      if (problems.length) this.options.log(`plugin repository ${url}: ${problems.length} entries skipped (first: #${problems[0]!.index} ${problems[0]!.message})`);
    } catch (e) {
      this.error = `Could not refresh the plugin repository from ${url}: ${describe(e)}`;
      this.options.log(`warning: ${this.error}`);
    }
  }

  private use(url: string, fetchedAt: number, entries: IndexEntry[], problems: IndexProblem[], notices: unknown[]): void {
    this.entries = entries;
    this.problems = problems;
    this.notices = notices.flatMap((n) => {
      const parsed = v.safeParse(NoticeSchema, n);
      return parsed.success ? [parsed.output] : [];
    });
    this.fetchedAt = fetchedAt;
    this.fetchedUrl = url;
    this.version++;
    this.options.onChange?.();
  }

  private loadCache(): void {
    try {
      const parsed = v.safeParse(CacheSchema, JSON.parse(readFileSync(join(this.options.dataDir, "cache", CACHE_FILE), "utf8")));
      if (!parsed.success) return;
      const { entries, problems } = parseIndex(parsed.output.index);
      this.use(parsed.output.url, parsed.output.fetchedAt, entries, problems, parsed.output.notices);
    } catch {
      // no cache yet, or unreadable: the first refresh writes one
    }
  }

  private saveCache(url: string, index: unknown, notices: unknown[]): void {
    const dir = join(this.options.dataDir, "cache");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, CACHE_FILE);
    writeFileSync(`${path}.tmp`, JSON.stringify({ url, fetchedAt: this.fetchedAt, index, notices }));
    renameSync(`${path}.tmp`, path);
  }
}

/** The index's JSON, or an error in words: a web page (a login portal, a wrong URL) says so. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const start = text.trim().slice(0, 60).replace(/\s+/g, " ");
    const page = /^</.test(start) ? "a web page, not a plugin index — is the URL the index's plugins.json?" : "not a plugin index (JSON)";
    throw new Error(start ? `its answer is ${page} It begins: ${JSON.stringify(start)}` : "its answer is empty");
  }
}

const fetchText = async (url: string) => new TextDecoder().decode(await fetchBytes(url, { maxBytes: MAX_INDEX_BYTES, timeoutMs: FETCH_TIMEOUT_MS }));
