/**
 * The repository browser's core, pure given the index, the host and the time: full-text search
 * (minisearch over title, description, author and tags; fuzzy and prefix), filters (installable
 * on this host, OS, attributes, abandoned), sorting (popular, trending, latest release, stars,
 * title, published, relevance), and each plugin's compatibility and health badges.
 * Example: `new RepositoryCatalog(entries, host, Date.now()).search({ q: "bed level", sort: "popular" })`.
 */
import MiniSearch from "minisearch";
import { trendingScore } from "../../registry/rankings.ts";
import { compareVersions, parseVersion, satisfies } from "../semver.ts";
import { latestReleaseDate, parseIndexDate, type IndexEntry } from "./entry.ts";

export const SORTS = ["relevance", "popular", "trending", "released", "stars", "title", "published"] as const;
export type SortKey = (typeof SORTS)[number];

export interface CatalogQuery {
  q?: string;
  /** Default: relevance with a query, popular without. */
  sort?: SortKey;
  /** Only plugins that can be installed on this host. */
  compatible?: boolean;
  /** Only plugins for this OS (entries without an OS list run everywhere). */
  os?: string;
  /** Only plugins with all these attributes (e.g. "cloud"). */
  with?: string[];
  /** No plugins with any of these attributes (e.g. "commercial"). */
  without?: string[];
  hideAbandoned?: boolean;
  limit?: number;
  offset?: number;
}

export interface HostInfo {
  apiVersion: string;
  /** This host's OS, as the index names them (linux). */
  os: string;
  /** Installed plugins and their versions. */
  installed: ReadonlyMap<string, string | null>;
}

export type HealthBadge = "fresh" | "aging" | "stale" | "no-release";

export interface CatalogItem {
  entry: IndexEntry;
  /** Whether it can be installed here, and if not why. */
  installable: boolean;
  reason: string | null;
  health: { badge: HealthBadge; releasedAt: number | null; releaseAgeDays: number | null; openIssues: number | null; stars: number | null };
  popularity: number;
  /** Installs this week against the month's weekly average; null under 10 installs this week (src/registry/rankings.ts). */
  trending: number | null;
  installedVersion: string | null;
  updateAvailable: boolean;
}

const DAY = 86_400_000;
/** A release within half a year is fresh; within two years aging; older is stale. */
const FRESH_DAYS = 182;
const AGING_DAYS = 730;
const OS_GROUPS: Record<string, string[]> = { posix: ["linux", "macos", "freebsd"], nix: ["linux", "macos", "freebsd"] };

/**
 * Whether an entry's OS list allows `os` ([] = any; groups and "!os" exclusions understood;
 * OctoPrint's `["disabled"]` names no OS, so it runs nowhere).
 */
export function runsOn(osList: readonly string[], os: string): boolean {
  const list = osList.map((o) => o.trim().toLowerCase()).filter(Boolean);
  const excluded = list.filter((o) => o.startsWith("!")).flatMap((o) => OS_GROUPS[o.slice(1)] ?? [o.slice(1)]);
  const included = list.filter((o) => !o.startsWith("!")).flatMap((o) => OS_GROUPS[o] ?? [o]);
  if (excluded.includes(os)) return false;
  return included.length === 0 || included.includes(os);
}

/** Why an entry cannot be installed on this host, or null. */
export function installProblem(e: IndexEntry, host: HostInfo): string | null {
  if (e.disabled !== undefined) return `the repository disabled it: ${stripHtml(e.disabled) || "no reason given"}`;
  const range = e.compatibility.layerline;
  if (!range) return "not a Layerline plugin (its entry names no Layerline plugin API)";
  if (!satisfies(host.apiVersion, range)) return `needs plugin API ${range}; this host provides ${host.apiVersion}`;
  if (!runsOn(e.compatibility.os, host.os)) return `does not run on ${host.os} (only ${e.compatibility.os.join(", ")})`;
  if (!e.archive || !e.sha256 || !e.size) return "the index has no verifiable archive for it (archive, sha256 and size)";
  return null;
}

export function stripHtml(text: string): string {
  return text.replace(/<[^>]*>/g, " ").replace(/&nbsp;/g, " ").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/\s+/g, " ").trim();
}

/**
 * A word as searched: lower case, accents dropped and ß as ss, so a keyboard without them finds
 * "Häußge" by "haussge" (and the accented query still finds it).
 */
function foldTerm(term: string): string {
  return term.toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "").replace(/ß/g, "ss");
}

export class RepositoryCatalog {
  private readonly items: Map<string, CatalogItem>;
  private readonly index: MiniSearch<{ id: string; title: string; description: string; author: string; tags: string }>;

  constructor(
    entries: readonly IndexEntry[],
    host: HostInfo,
    now: number,
  ) {
    this.items = new Map(entries.map((e) => [e.id, item(e, host, now)]));
    this.index = new MiniSearch({
      fields: ["title", "description", "author", "tags"],
      processTerm: foldTerm,
      searchOptions: { boost: { title: 3, tags: 2, author: 1.5 }, fuzzy: 0.2, prefix: true, processTerm: foldTerm },
    });
    this.index.addAll(entries.map((e) => ({ id: e.id, title: e.title, description: e.description, author: e.author, tags: e.tags.join(" ") })));
  }

  get size(): number {
    return this.items.size;
  }

  get(id: string): CatalogItem | undefined {
    return this.items.get(id);
  }

  /** Search, filter and sort; `total` counts all matches before `limit`/`offset`. */
  search(query: CatalogQuery = {}): { total: number; results: CatalogItem[] } {
    const q = query.q?.trim() ?? "";
    let ranked: { item: CatalogItem; score: number }[];
    if (q) {
      // Every word must match; if nothing does, any word may.
      let hits = this.index.search(q, { combineWith: "AND" });
      if (hits.length === 0) hits = this.index.search(q, { combineWith: "OR" });
      ranked = hits.map((h) => ({ item: this.items.get(String(h.id))!, score: h.score }));
    } else {
      ranked = [...this.items.values()].map((item) => ({ item, score: 0 }));
    }
    const filtered = ranked.filter(({ item }) => matches(item, query));
    const sort = query.sort ?? (q ? "relevance" : "popular");
    filtered.sort((a, b) => compare(sort, a, b) || a.item.entry.title.localeCompare(b.item.entry.title) || a.item.entry.id.localeCompare(b.item.entry.id));
    const offset = Math.max(0, query.offset ?? 0);
    const limit = Math.max(0, query.limit ?? filtered.length);
    return { total: filtered.length, results: filtered.slice(offset, offset + limit).map((r) => r.item) };
  }
}

function item(e: IndexEntry, host: HostInfo, now: number): CatalogItem {
  const reason = installProblem(e, host);
  const released = latestReleaseDate(e);
  const releasedAt = Number.isNaN(released) ? null : released;
  const ageDays = releasedAt === null ? null : Math.max(0, Math.floor((now - releasedAt) / DAY));
  const badge: HealthBadge = ageDays === null ? "no-release" : ageDays <= FRESH_DAYS ? "fresh" : ageDays <= AGING_DAYS ? "aging" : "stale";
  const installedVersion = host.installed.has(e.id) ? (host.installed.get(e.id) ?? null) : null;
  const newer = !!(e.version && installedVersion && parseVersion(e.version) && parseVersion(installedVersion) && compareVersions(e.version, installedVersion) > 0);
  return {
    entry: e,
    installable: reason === null,
    reason,
    health: { badge, releasedAt, releaseAgeDays: ageDays, openIssues: e.github?.issues?.open ?? null, stars: e.github?.stars ?? null },
    popularity: e.stats.instances_month ?? 0,
    trending: trendingScore(e.stats),
    installedVersion,
    updateAvailable: newer && reason === null,
  };
}

function matches(item: CatalogItem, q: CatalogQuery): boolean {
  const e = item.entry;
  if (q.compatible && !item.installable) return false;
  if (q.os && !runsOn(e.compatibility.os, q.os.toLowerCase())) return false;
  if (q.hideAbandoned && e.abandoned !== false && e.abandoned !== "") return false;
  const attributes = new Set(e.attributes.map((a) => a.toLowerCase()));
  if (q.with?.some((a) => !attributes.has(a.toLowerCase()))) return false;
  if (q.without?.some((a) => attributes.has(a.toLowerCase()))) return false;
  return true;
}

/** Descending for the numeric sorts (best first), ascending for title. */
function compare(sort: SortKey, a: { item: CatalogItem; score: number }, b: { item: CatalogItem; score: number }): number {
  const x = a.item;
  const y = b.item;
  const desc = (p: number, q: number) => (Number.isNaN(q) ? -Infinity : q) - (Number.isNaN(p) ? -Infinity : p) || 0;
  switch (sort) {
    case "relevance":
      return b.score - a.score;
    case "popular":
      return y.popularity - x.popularity;
    case "trending":
      // Plugins with a trend first; the rest (too few installs to tell) by their installs this week.
      return (y.trending ?? -1) - (x.trending ?? -1) || (y.entry.stats.install_events_week ?? 0) - (x.entry.stats.install_events_week ?? 0) || y.popularity - x.popularity;
    case "released":
      return desc(x.health.releasedAt ?? NaN, y.health.releasedAt ?? NaN);
    case "stars":
      return (y.health.stars ?? -1) - (x.health.stars ?? -1);
    case "title":
      return x.entry.title.localeCompare(y.entry.title, "en", { sensitivity: "base" });
    case "published":
      return desc(parseIndexDate(x.entry.published), parseIndexDate(y.entry.published));
  }
}

const truthy = (s: string | undefined) => s !== undefined && /^(1|true|yes|on)$/i.test(s.trim());
const list = (s: string | undefined) => (s ? s.split(",").map((x) => x.trim()).filter(Boolean) : undefined);
const int = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s.trim()) ? Number(s) : undefined);

/** A query from URL parameters (`?q=&sort=&compatible=1&os=&with=&without=&hideAbandoned=1&limit=&offset=`). */
export function catalogQueryFrom(params: Record<string, string | undefined>): CatalogQuery {
  const sort = params.sort && (SORTS as readonly string[]).includes(params.sort) ? (params.sort as SortKey) : undefined;
  return {
    q: params.q?.trim() || undefined,
    sort,
    compatible: truthy(params.compatible),
    os: params.os?.trim() || undefined,
    with: list(params.with),
    without: list(params.without),
    hideAbandoned: truthy(params.hideAbandoned),
    limit: int(params.limit),
    offset: int(params.offset),
  };
}

/** A catalog item as JSON: the index entry's fields plus what the host worked out. */
export function catalogItemJson(item: CatalogItem) {
  const e = item.entry;
  return {
    id: e.id,
    title: e.title,
    description: e.description,
    author: e.author,
    license: e.license ?? null,
    homepage: e.homepage ?? null,
    page: e.page ?? null,
    image: e.image ?? null,
    published: e.published ?? null,
    tags: e.tags,
    attributes: e.attributes,
    abandoned: e.abandoned !== false && e.abandoned !== "",
    version: e.version ?? null,
    permissions: e.permissions,
    compatibility: e.compatibility,
    stats: e.stats,
    installable: item.installable,
    reason: item.reason,
    health: item.health,
    popularity: item.popularity,
    trending: item.trending === null ? null : Math.round(item.trending * 1000) / 1000,
    installedVersion: item.installedVersion,
    updateAvailable: item.updateAvailable,
  };
}
