/**
 * One plugin's index record (docs/plugins.md) from its validated entry and the enrichment: usage
 * statistics, source health, and what its archive says. For a Layerline plugin the archive is
 * the truth: a declared API range that differs from the manifest's is corrected to the
 * manifest's, and an archive that is no usable plugin makes the entry listed but not installable;
 * either way a `compatibility` notice says so. Pure.
 */
import { authorOf, type Entry } from "./entry.ts";
import { renderNotice } from "./description.ts";
import { jekyllTime, type IndexEntry, type IndexStats, type Notice, type Release, type SourceHealth } from "./index-format.ts";
import type { ArchiveInspection } from "./plugin-archive.ts";
import { normaliseRange } from "../plugins/semver.ts";

/** Older releases kept in `releases` (newest first). */
export const MAX_RELEASES = 20;

export interface Enrichment {
  stats: IndexStats;
  health: SourceHealth | null;
  /** What the archive said; null when it could not be downloaded (and nothing was cached). */
  inspection: ArchiveInspection | null;
  /** The plugin's record in the previous build's index, for its release history. */
  previous: IndexEntry | null;
  /** Site base URL ("" = page links relative to the index). */
  baseUrl: string;
  now: number;
}

export interface Composed {
  record: IndexEntry;
  notices: Notice[];
  /** Said to the build's log: things the entry's maintainer should know. */
  warnings: string[];
}

export function composeIndexEntry(entry: Entry, x: Enrichment): Composed {
  const d = entry.data;
  const notices: Notice[] = [];
  const warnings: string[] = [];
  const date = new Date(x.now).toISOString();
  const absolute = (url: string) => (url.startsWith("/") && x.baseUrl ? x.baseUrl + url : url);
  const compatibility: IndexEntry["compatibility"] = {
    ...(d.compatibility?.octoprint ? { octoprint: d.compatibility.octoprint } : {}),
    os: d.compatibility?.os ?? [],
    ...(d.compatibility?.python ? { python: d.compatibility.python } : {}),
  };
  const record: IndexEntry = {
    id: d.id,
    title: d.title,
    description: d.description,
    author: authorOf(d),
    license: d.license,
    homepage: d.homepage,
    page: `${x.baseUrl ? `${x.baseUrl}/` : ""}plugins/${d.id}/`,
    published: `${d.date} 00:00:00 +0000`,
    archive: d.archive,
    ...(d.featuredimage ? { image: absolute(d.featuredimage) } : {}),
    tags: d.tags ?? [],
    attributes: d.attributes ?? [],
    abandoned: d.abandoned !== undefined && d.abandoned !== false,
    ...(d.disabled ? { disabled: renderNotice(d.disabled) } : {}),
    ...(d.follow_dependency_links !== undefined ? { follow_dependency_links: d.follow_dependency_links } : {}),
    ...(d.privacypolicy ? { privacypolicy: d.privacypolicy } : {}),
    compatibility,
    ...(x.health ? { github: x.health } : {}),
    stats: x.stats,
  };
  if (d.disabled) notices.push({ plugin: d.id, date, text: `${d.title} is disabled in the repository: ${d.disabled}`, versions: null, link: record.page, kind: "warning" });

  const declaredRaw = d.compatibility?.layerline;
  if (declaredRaw === undefined) return { record, notices, warnings };

  // A Layerline plugin: its archive decides.
  const declared = normaliseRange(declaredRaw);
  const inspection = x.inspection;
  if (!inspection) {
    warnings.push("the archive could not be checked, so the plugin is listed without install data until the next build");
    return { record, notices, warnings };
  }
  const manifest = inspection.manifest;
  const nameProblem = manifest && manifest.name !== d.id ? `its package.json names the plugin "${manifest.name}", but the entry's id is "${d.id}"` : null;
  if (!manifest || nameProblem) {
    const why = nameProblem ?? inspection.problems.join("; ");
    warnings.push(`the archive is not a usable Layerline plugin: ${why}`);
    record.compatibility_check = { declared, found: null, corrected: true };
    notices.push({
      plugin: d.id,
      date,
      text: `${d.title}: the entry declares Layerline API ${declared}, but its archive is not a usable Layerline plugin (${why}). It is listed but cannot be installed until this is fixed.`,
      versions: null,
      link: record.page,
      kind: "compatibility",
    });
    return { record, notices, warnings };
  }
  const found = manifest.api;
  const corrected = found !== declared;
  record.compatibility = { ...compatibility, layerline: found };
  record.compatibility_check = { declared, found, corrected };
  if (corrected) {
    warnings.push(`the entry declares Layerline API ${declared}, but package.json of ${manifest.version} says ${found}; the index uses ${found}`);
    notices.push({
      plugin: d.id,
      date,
      text: `${d.title} ${manifest.version} works with Layerline API ${found}, not ${declared} as its registry entry said; the index was corrected.`,
      versions: [manifest.version],
      link: record.page,
      kind: "compatibility",
    });
  }
  record.version = manifest.version;
  record.sha256 = inspection.sha256;
  record.size = inspection.size;
  record.permissions = manifest.permissions;

  const tag = x.health?.latest_release?.tag.replace(/^v/i, "");
  const previousSame = x.previous?.releases?.find((r) => r.version === manifest.version);
  if (previousSame && previousSame.sha256 !== inspection.sha256) {
    warnings.push(`the archive of version ${manifest.version} changed since the last build (sha256 ${previousSame.sha256.slice(0, 12)}… → ${inspection.sha256.slice(0, 12)}…); publish a new version instead`);
  }
  const current: Release = {
    version: manifest.version,
    date: tag === manifest.version && x.health?.latest_release ? x.health.latest_release.date : (previousSame?.date ?? jekyllTime(x.now)),
    archive: d.archive,
    sha256: inspection.sha256,
    size: inspection.size,
    layerline: found,
  };
  // Older releases stay installable only where their archive URL is their own (not "latest").
  const older = (x.previous?.releases ?? []).filter((r) => r.archive !== d.archive && Bun.semver.order(r.version, manifest.version) === -1);
  record.releases = [current, ...older].slice(0, MAX_RELEASES);
  return { record, notices, warnings };
}
