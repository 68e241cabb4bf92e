/**
 * The registry's top lists, computed from the index (docs/plugins.md defines the measures, so the
 * host's browser sorts the same way): popular = most instances this month; trending = install
 * events this week relative to the month's weekly average; latest = newest release. Abandoned and
 * disabled plugins are not ranked. Ties break on the larger raw number, then the id, so a ranking
 * is a pure function of the index. Pure.
 */
import type { IndexEntry } from "./index-format.ts";

export const RANKING_SIZE = 10;
/** Trending needs this many install events in the week: with fewer, one install swings the ratio. */
export const TRENDING_MIN_WEEK_INSTALLS = 10;

export interface Ranked {
  id: string;
  title: string;
  /** The measure the list is sorted by. */
  value: number | string;
}

export interface Rankings {
  popular: Ranked[];
  trending: Ranked[];
  latest: Ranked[];
}

/** The install counts a trend is read from (absent = 0, as in a host's looser reading of the index). */
type Stats = Partial<Pick<IndexEntry["stats"], "install_events_week" | "install_events_month">>;

/**
 * Installs this week against the month's weekly average — the one definition the website, the
 * index's readers and the host's browser share. Example: 76 this week, 276 this month → 76 /
 * (276 / 4) ≈ 1.10. The month's window contains the week, so the month counts at least the
 * week's installs (7- and 30-day exports taken apart can disagree; the trend is at most ×4).
 * null (no trend) under {@link TRENDING_MIN_WEEK_INSTALLS} installs this week.
 */
export function trendingScore(stats: Stats): number | null {
  const week = stats.install_events_week ?? 0;
  if (week < TRENDING_MIN_WEEK_INSTALLS) return null;
  return week / (Math.max(stats.install_events_month ?? 0, week) / 4);
}

/** The date of the newest release (`github.latest_release.date`, else the first `releases[].date`). */
export function latestReleaseDate(entry: Pick<IndexEntry, "github" | "releases">): string | null {
  return entry.github?.latest_release?.date ?? entry.releases?.[0]?.date ?? null;
}

export function computeRankings(index: readonly IndexEntry[], size = RANKING_SIZE): Rankings {
  const eligible = index.filter((e) => !e.abandoned && e.disabled === undefined);
  const byId = (a: IndexEntry, b: IndexEntry) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const ranked = (list: IndexEntry[], value: (e: IndexEntry) => number | string) => list.slice(0, size).map((e) => ({ id: e.id, title: e.title, value: value(e) }));

  const popular = eligible.filter((e) => e.stats.instances_month > 0).sort((a, b) => b.stats.instances_month - a.stats.instances_month || byId(a, b));
  const trending = eligible
    .filter((e) => trendingScore(e.stats) !== null)
    .sort((a, b) => trendingScore(b.stats)! - trendingScore(a.stats)! || b.stats.install_events_week - a.stats.install_events_week || byId(a, b));
  const latest = eligible
    .filter((e) => latestReleaseDate(e) !== null)
    .sort((a, b) => releaseTime(b) - releaseTime(a) || byId(a, b));
  return {
    popular: ranked(popular, (e) => e.stats.instances_month),
    trending: ranked(trending, (e) => Math.round(trendingScore(e.stats)! * 100) / 100),
    latest: ranked(latest, (e) => latestReleaseDate(e)!),
  };
}

function releaseTime(e: IndexEntry): number {
  const date = latestReleaseDate(e)!;
  // Jekyll time "2021-05-07 18:18:53 +0000" or a plain date.
  const t = Date.parse(date.replace(/^(\S+) (\S+) ([+-]\d{2})(\d{2})$/, "$1T$2$3:$4"));
  return Number.isNaN(t) ? 0 : t;
}
