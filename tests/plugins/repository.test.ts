/**
 * The repository browser on the real OctoPrint index (301 entries, May 2021): search, filters
 * and every sort pinned. Sort orders were checked independently with jq over the same file
 * (e.g. `jq 'sort_by(-.stats.instances_month) | .[0:5] | map(.id)'`). Then Layerline's own
 * fields (compatibility range, sha256, attributes, releases) on made-up entries, and the index
 * download: cache, schedule, a failed refresh, malformed entries, notices.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { openDatabase } from "../../src/db/database.ts";
import { SettingsStore } from "../../src/db/settings.ts";
import { catalogQueryFrom, RepositoryCatalog, runsOn, type CatalogQuery, type HostInfo } from "../../src/plugins/repository/catalog.ts";
import { computeRankings, trendingScore } from "../../src/registry/rankings.ts";
import { MAX_INDEX_ENTRIES, parseIndex, parseIndexDate, type IndexEntry } from "../../src/plugins/repository/entry.ts";
import { PluginRepository } from "../../src/plugins/repository/source.ts";

const INDEX = new URL("../fixtures/octoprint-plugins.json", import.meta.url).pathname;
const NOW = Date.UTC(2021, 5, 1); // the index is of May 2021
const LINUX: HostInfo = { apiVersion: "1.0.0", os: "linux", installed: new Map() };

let real: IndexEntry[];
let catalog: RepositoryCatalog;
const ids = (q: CatalogQuery, n = 5) => catalog.search(q).results.slice(0, n).map((i) => i.entry.id);

beforeAll(async () => {
  const parsed = parseIndex(await Bun.file(INDEX).json());
  expect(parsed.problems).toEqual([]);
  real = parsed.entries;
  catalog = new RepositoryCatalog(real, LINUX, NOW);
});

describe("the real OctoPrint index", () => {
  test("all 301 entries are read", () => {
    expect(real).toHaveLength(301);
    expect(catalog.size).toBe(301);
  });

  test("sorting: popular, trending, latest release, stars, title, newest", () => {
    expect(ids({ sort: "popular" })).toEqual(["bedlevelvisualizer", "octolapse", "PrintTimeGenius", "themeify", "DisplayLayerProgress"]);
    // jq '[.[] | select(.stats.install_events_week >= 10) | {id, s: (.stats.install_events_week / ([.stats.install_events_month, .stats.install_events_week] | max) * 4)}] | sort_by(-.s)'
    expect(ids({ sort: "trending" }, 7)).toEqual(["mqtt_for_psucontrol", "psucontrol_wemo", "gpx", "calibrationcompanion", "filament_scale", "psucontrol_tendabeli", "wemoswitch"]);
    expect(ids({ sort: "released" })).toEqual(["homeassistant", "display_eta", "mqtt_for_psucontrol", "PrintTimeGenius", "psucontrol"]);
    expect(ids({ sort: "stars" })).toEqual(["octolapse", "enclosure", "arc_welder", "telegram", "touchui"]);
    // "Access Anywhere - The Spaghetti Detective" < "Action Commands"
    expect(ids({ sort: "title" }, 3)).toEqual(["thespaghettidetective", "actioncommands", "actiontrigger"]);
    // psucontrol_tendabeli and octodashcompanion share a date: the title decides.
    expect(ids({ sort: "published" })).toEqual(["mqtt_for_psucontrol", "calibrationcompanion", "psucontrol_wemo", "octodashcompanion", "psucontrol_tendabeli"]);
    // Without a query the default is popularity.
    expect(ids({})).toEqual(ids({ sort: "popular" }));
  });

  test("trending is installs this week against the month's weekly average, from 10 installs a week, as on the registry's website", () => {
    const klipper = real.find((e) => e.id === "klipper")!; // week 198, month 865
    expect(trendingScore(klipper.stats)).toBeCloseTo(198 / (865 / 4), 10);
    // The month's window holds the week: 11 installs this week but 1 this month (exports taken apart) is ×4, not ×11.
    const gpx = real.find((e) => e.id === "gpx")!;
    expect([gpx.stats.install_events_week, gpx.stats.install_events_month, trendingScore(gpx.stats)]).toEqual([11, 1, 4]);
    // Two installs this week are no trend: octotweet (2 of 5 this month) would be ×1.6.
    const octotweet = catalog.get("octotweet")!;
    expect([octotweet.entry.stats.install_events_week, octotweet.trending]).toEqual([2, null]);
    expect(octotweet.entry.stats.install_events_week! / (octotweet.entry.stats.install_events_month! / 4)).toBeCloseTo(1.6, 5);
    // Plugins without a trend come after those with one, by their installs this week.
    const all = catalog.search({ sort: "trending" }).results;
    const firstWithout = all.findIndex((i) => i.trending === null);
    expect(all.slice(firstWithout).every((i) => i.trending === null)).toBe(true);
    expect(all[firstWithout]!.entry.stats.install_events_week).toBe(9);
    // The host's trending order is the registry's ranking (which leaves abandoned and disabled plugins out).
    const ranked = computeRankings(real.map((e) => ({ ...e, stats: { instances_month: 0, instances_week: 0, install_events_week: 0, install_events_month: 0, likes: 0, ...e.stats } })) as never, 10);
    const browsed = all.filter((i) => !(i.entry.abandoned !== false && i.entry.abandoned !== "") && i.entry.disabled === undefined).slice(0, 10);
    expect(browsed.map((i) => i.entry.id)).toEqual(ranked.trending.map((r) => r.id));
  });

  test("full-text search: words, typos, prefixes, authors", () => {
    expect(catalog.search({ q: "bed level" }).total).toBe(7);
    expect(ids({ q: "bed level" }, 6)).toEqual(["bedlevelvisualizer", "CR10_Leveling", "touchtest", "ABL_Expert", "bedlevelingwizard", "restorelevelingafterg28"]);
    expect(ids({ q: "telegarm" })).toEqual(["telegram"]); // a typo
    expect(ids({ q: "octoklip" })).toEqual(["klipper"]); // a prefix of "OctoKlipper"
    expect(ids({ q: "spaghetti detect" })).toEqual(["thespaghettidetective"]);
    expect(ids({ q: "timelapse" })).toEqual(["youtube_timelapse", "dropbox_timelapse", "octolapse"]);
    expect(ids({ q: "webcam stream" })).toEqual(["webcamtab", "webcamstreamer", "m33fio", "snapstream", "octoeverywhere"]);
    expect(ids({ q: "mqtt" }, 6)).toEqual(["mqtt", "mqttsubscribe", "mqtt_for_psucontrol", "mqttpublish", "tasmota_mqtt", "homeassistant"]);
    // By author (non-ASCII): Gina Häußge's 15 plugins.
    expect(catalog.search({ q: "häußge" }).total).toBe(15);
    expect(ids({ q: "häußge" }, 3)).toEqual(["commandsplitter", "curalegacy", "displayz"]);
    // Typed without the accents and ß, as most keyboards would.
    expect(catalog.search({ q: "haussge" }).total).toBe(15);
    // A query sorted by something else than relevance.
    expect(ids({ q: "psu", sort: "popular" })).toEqual(["psucontrol", "psucontrol_rpigpio", "psucontrol_tplink", "psucontrol_tasmota", "psucontrol_wemo"]);
  });

  test("filters: OS, abandoned, installable here; combined with search and sort", () => {
    expect(catalog.search({ hideAbandoned: true }).total).toBe(292);
    expect(catalog.search({ os: "windows" }).total).toBe(257); // jq: os empty or naming windows
    expect(catalog.search({ os: "linux" }).total).toBe(299); // two say ["disabled"]: no OS at all
    // None of OctoPrint's plugins is a Layerline plugin.
    expect(catalog.search({ compatible: true }).total).toBe(0);
    expect(catalog.get("klipper")).toMatchObject({ installable: false, reason: "not a Layerline plugin (its entry names no Layerline plugin API)" });
    const q: CatalogQuery = { q: "filament", sort: "stars", os: "windows", hideAbandoned: true };
    expect(catalog.search(q).total).toBe(7);
    expect(ids(q)).toEqual(["filamentmanager", "filamentstorage", "Change_Filament", "mmu2filamentselect", "TimeToFilament"]);
    expect(catalog.search({ sort: "popular", limit: 2, offset: 1 }).results.map((i) => i.entry.id)).toEqual(["octolapse", "PrintTimeGenius"]);
  });

  test("health badges: latest release age, open issues, stars", () => {
    expect(catalog.get("klipper")!.health).toEqual({ badge: "fresh", releasedAt: parseIndexDate("2021-05-12 11:22:29 +0000"), releaseAgeDays: 19, openIssues: 3, stars: 27 });
    const badges = catalog.search({}).results.reduce<Record<string, number>>((n, i) => ((n[i.health.badge] = (n[i.health.badge] ?? 0) + 1), n), {});
    expect(badges).toEqual({ fresh: expect.any(Number), aging: expect.any(Number), stale: expect.any(Number), "no-release": expect.any(Number) });
    expect(Object.values(badges).reduce((a, b) => a + b)).toBe(301);
  });
});

describe("Layerline's fields", () => {
  const entry = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    title: `Plugin ${id}`,
    description: "d",
    version: "1.2.0",
    archive: `https://example.org/${id}.tgz`,
    sha256: "a".repeat(64),
    size: 1000,
    compatibility: { layerline: "^1.0.0" },
    ...extra,
  });
  const made = parseIndex([
    entry("fine"),
    entry("cloudy", { attributes: ["cloud", "free-tier"] }),
    entry("paid", { attributes: ["commercial"] }),
    entry("next-major", { compatibility: { layerline: "^2.0.0" } }),
    entry("windows-only", { compatibility: { layerline: "^1.0.0", os: ["windows"] } }),
    entry("not-linux", { compatibility: { layerline: "^1.0.0", os: ["!linux"] } }),
    entry("posix", { compatibility: { layerline: "^1.0.0", os: ["posix"] } }),
    entry("unverified", { sha256: undefined }),
    entry("pulled", { disabled: "<p>Malware &amp; worse</p>" }),
    entry("old", { abandoned: true }),
    { id: "odd-fields", title: "Odd", stats: "lots", github: { stars: "many" }, tags: "x", compatibility: { layerline: 1 } },
    { title: "no id" },
    { id: "no-title" },
    "not even an object",
    entry("fine"),
  ]);

  test("malformed entries are skipped and reported; odd fields fall back to absent", () => {
    expect(made.problems.map((p) => [p.index, p.id, p.message])).toEqual([
      [11, null, "id: is missing"],
      [12, "no-title", "title: is missing"],
      [13, null, "is not an entry (an object with id and title)"],
      [14, "fine", "the id appears more than once (the first entry is used)"],
    ]);
    expect(made.entries.find((e) => e.id === "odd-fields")).toMatchObject({ stats: {}, github: { stars: undefined }, tags: [], compatibility: { os: [], layerline: undefined } });
  });

  test("an index past MAX_INDEX_ENTRIES is read up to the limit, and says so", () => {
    const huge = Array.from({ length: MAX_INDEX_ENTRIES + 5 }, (_, i) => ({ id: `p${i}`, title: `P${i}` }));
    const { entries, problems } = parseIndex(huge);
    expect(entries).toHaveLength(MAX_INDEX_ENTRIES);
    expect(entries.at(-1)!.id).toBe(`p${MAX_INDEX_ENTRIES - 1}`);
    expect(problems).toEqual([{ index: MAX_INDEX_ENTRIES, id: null, message: `the index has ${MAX_INDEX_ENTRIES + 5} entries; only the first ${MAX_INDEX_ENTRIES} are read` }]);
  });

  test("installable only with a matching API range, OS, verified archive, and not disabled", () => {
    const c = new RepositoryCatalog(made.entries, { ...LINUX, installed: new Map([["fine", "1.0.0"], ["paid", "1.2.0"]]) }, NOW);
    const why = (id: string) => c.get(id)!.reason;
    expect(why("fine")).toBeNull();
    expect(why("next-major")).toBe("needs plugin API ^2.0.0; this host provides 1.0.0");
    expect(why("windows-only")).toBe("does not run on linux (only windows)");
    expect(why("not-linux")).toBe("does not run on linux (only !linux)");
    expect(why("posix")).toBeNull();
    expect(why("unverified")).toBe("the index has no verifiable archive for it (archive, sha256 and size)");
    expect(why("pulled")).toBe("the repository disabled it: Malware & worse");
    expect(c.search({ compatible: true }).results.map((i) => i.entry.id).sort()).toEqual(["cloudy", "fine", "old", "paid", "posix"]);
    expect(c.get("fine")).toMatchObject({ installedVersion: "1.0.0", updateAvailable: true });
    expect(c.get("paid")).toMatchObject({ installedVersion: "1.2.0", updateAvailable: false });
  });

  test("attribute and abandoned filters, from URL parameters", () => {
    const c = new RepositoryCatalog(made.entries, LINUX, NOW);
    const found = (params: Record<string, string>) => c.search(catalogQueryFrom(params)).results.map((i) => i.entry.id).sort();
    expect(found({ without: "cloud,commercial", compatible: "1" })).toEqual(["fine", "old", "posix"]);
    expect(found({ with: "cloud" })).toEqual(["cloudy"]);
    expect(found({ compatible: "1", hideAbandoned: "1" })).toEqual(["cloudy", "fine", "paid", "posix"]);
    expect(catalogQueryFrom({ sort: "nonsense", limit: "-3", q: "  " })).toMatchObject({ sort: undefined, limit: undefined, q: undefined });
    expect(runsOn(["nix"], "macos")).toBe(true);
    expect(runsOn([], "anything")).toBe(true);
  });

  test("dates as the index writes them", () => {
    expect(parseIndexDate("2021-05-07 18:18:53 +0000")).toBe(Date.UTC(2021, 4, 7, 18, 18, 53));
    expect(parseIndexDate("2015-04-11 00:00:00 -0500")).toBe(Date.UTC(2015, 3, 11, 5));
    expect(parseIndexDate("2026-03-01")).toBe(Date.UTC(2026, 2, 1));
    expect(parseIndexDate("2026-03-01T10:00:00Z")).toBe(Date.UTC(2026, 2, 1, 10));
    expect(parseIndexDate("yesterday")).toBeNaN();
  });
});

describe("downloading the index", () => {
  let server: ReturnType<typeof Bun.serve>;
  let dir: string;
  let db: Database;
  let answer: () => Response;
  let requests = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "layerline-repo-"));
    db = openDatabase(dir);
    server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        requests++;
        if (new URL(req.url).pathname.endsWith("/notices.json")) {
          return Response.json([{ plugin: "klipper", date: "2021-05-01", text: "Update for Klipper 0.10", versions: null, kind: "warning" }, { bad: true }]);
        }
        return answer();
      },
    });
  });
  afterAll(() => {
    server.stop(true);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("refresh, cache, a failed refresh keeps the last good copy, notices", async () => {
    const settings = new SettingsStore(db);
    const repo = new PluginRepository({ dataDir: dir, settings, log: () => {} });
    expect(repo.status()).toMatchObject({ url: null, entries: 0, fetchedAt: null });
    repo.changeSettings({ url: `http://127.0.0.1:${server.port}/r/plugins.json`, refreshHours: 0 });
    repo.stop();
    answer = () => new Response(Bun.file(INDEX));
    await repo.refresh();
    expect(repo.status()).toMatchObject({ entries: 301, error: null, problems: [] });
    expect(repo.noticesFor("klipper", "0.3.8")).toEqual([{ plugin: "klipper", date: "2021-05-01", text: "Update for Klipper 0.10", versions: null, link: null, kind: "warning" }]);

    answer = () => new Response("oops", { status: 500 });
    await repo.refresh();
    expect(repo.status().entries).toBe(301);
    expect(repo.status().error).toContain("the server answered 500");
    answer = () => new Response('{"not": "an array"}');
    await repo.refresh();
    expect(repo.status().error).toContain("not a JSON array");

    // A new instance (a restart) reads the cached copy without any request.
    const before = requests;
    const again = new PluginRepository({ dataDir: dir, settings, log: () => {} });
    expect(again.status()).toMatchObject({ entries: 301, url: `http://127.0.0.1:${server.port}/r/plugins.json` });
    expect(requests).toBe(before);
  });

  test("the schedule refreshes a stale copy at start", async () => {
    const settings = new SettingsStore(db);
    settings.set("plugins.refreshHours", 1);
    answer = () => new Response(JSON.stringify([{ id: "only", title: "Only one" }]));
    const repo = new PluginRepository({ dataDir: dir, settings, log: () => {} });
    // The cached copy is the real index; make it look two hours old.
    (repo as unknown as { fetchedAt: number }).fetchedAt = Date.now() - 2 * 3_600_000;
    repo.start();
    for (let i = 0; i < 100 && repo.status().entries !== 1; i++) await Bun.sleep(20);
    repo.stop();
    expect(repo.list().map((e) => e.id)).toEqual(["only"]);
  });
});
