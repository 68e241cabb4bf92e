import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { buildRegistry, type BuildResult } from "../../src/registry/build.ts";
import { IndexEntrySchema, NoticeSchema, type IndexEntry } from "../../src/registry/index-format.ts";
import { entriesFolder, primaryLimit, realIndex, repositoryNodes, startSourceHost, STATS_7D, STATS_30D, tempDir, type SourceHostServer } from "./helpers.ts";

const NOW = Date.parse("2021-10-08T00:00:00Z");
const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const index = realIndex();
let server: SourceHostServer;
let entries: string;
let work: string;
let out: string;
let result: BuildResult;
let built: IndexEntry[];

const read = (path: string) => readFileSync(join(out, path), "utf8");

beforeAll(async () => {
  server = startSourceHost(repositoryNodes(index));
  entries = await entriesFolder({ fromIndex: true });
  work = tempDir();
  out = join(work, "site");
  result = await buildRegistry({ entriesDir: entries, outDir: out, stats7d: STATS_7D, stats30d: STATS_30D, sourceApi: server.url, now: () => NOW });
  built = JSON.parse(read("plugins.json"));
}, 30_000);
afterAll(() => {
  server.stop();
  rmSync(entries, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test("the 9 real entries plus 293 generated from the real index are all built, in the agreed index format", () => {
  expect(result.entries).toBe(302);
  expect(result.indexed).toBe(302);
  expect(result.rejected).toBe(0);
  // Spoolman (2024) postdates the index, so the source host has no data for it: a warning only.
  expect(result.problems).toEqual([{ file: "Spoolman.md", field: "source", message: "the repository mdziekon/octoprint-spoolman was not found on the source host", severity: "warning" }]);
  expect(result.sourceQueries).toBe(12);
  for (const record of built) expect(v.safeParse(IndexEntrySchema, record).issues ?? []).toEqual([]);
  expect(built.map((e) => e.published)).toEqual([...built.map((e) => e.published)].sort());
  expect(JSON.parse(read("notices.json"))).toEqual([
    ...index.filter((e) => e.disabled).map(() => expect.objectContaining({ kind: "warning", versions: null })),
  ]);
  for (const n of JSON.parse(read("notices.json"))) expect(v.is(NoticeSchema, n)).toBe(true);
});

test("a real entry's record: its own fields, the source host's health and the export's statistics", () => {
  const bltouch = built.find((e) => e.id === "BLTouch")!;
  const original = index.find((e) => e.id === "BLTouch")!;
  expect(bltouch).toEqual({
    id: "BLTouch",
    title: "OctoPrint-BLTouch",
    description: "Simple plugin to add BLTouch controls to the Control tab.",
    author: "jneilliii",
    license: "AGPLv3",
    homepage: "https://github.com/jneilliii/OctoPrint-BLTouch",
    page: "plugins/BLTouch/",
    published: "2017-07-14 00:00:00 +0000",
    archive: "https://github.com/jneilliii/OctoPrint-BLTouch/archive/master.zip",
    image: "/assets/img/plugins/BLTouch/screenshot.png",
    tags: ["BLTouch"],
    attributes: [],
    abandoned: false,
    follow_dependency_links: false,
    compatibility: { os: [], python: ">=2.7,<4" },
    github: original.github as never,
    stats: { ...(original.stats as Record<string, number>), likes: 0 } as never,
  });
  // Every plugin the source host knows has exactly the health the real index had.
  for (const e of index) {
    const record = built.find((b) => b.id.toLowerCase() === e.id.toLowerCase())!;
    expect([e.id, record.github]).toEqual([e.id, e.github as never]);
    expect([e.id, record.stats.instances_week]).toEqual([e.id, e.stats.instances_week!]);
  }
  // OctoKlipper's month comes from the statistics history.
  expect(built.find((e) => e.id === "klipper")!.stats).toEqual({ instances_month: 3446, install_events_month: 865, instances_week: 2124, install_events_week: 198, likes: 0 });
});

test("rankings on the real statistics are pinned", () => {
  const rankings = JSON.parse(read("rankings.json"));
  expect(rankings.generated).toBe("2021-10-08T00:00:00.000Z");
  expect(rankings.popular).toEqual([
    { id: "bedlevelvisualizer", title: "Bed Level Visualizer", value: 29275 },
    { id: "octolapse", title: "Octolapse", value: 22247 },
    { id: "PrintTimeGenius", title: "OctoPrint-PrintTimeGenius", value: 22228 },
    { id: "themeify", title: "Themeify", value: 20248 },
    { id: "DisplayLayerProgress", title: "DisplayLayerProgress", value: 19761 },
    { id: "navbartemp", title: "Navbar Temp", value: 16462 },
    { id: "firmwareupdater", title: "Firmware Updater", value: 15744 },
    { id: "thespaghettidetective", title: "Access Anywhere - The Spaghetti Detective", value: 14253 },
    { id: "dashboard", title: "OctoPrint-Dashboard", value: 13163 },
    { id: "ender3v2tempfix", title: "Creality 2x temperature reporting fix", value: 12156 },
  ]);
  expect(rankings.trending.map((r: { id: string; value: number }) => [r.id, r.value])).toEqual([
    // GPX has 11 installs this week but 1 this month (exports taken apart): the month holds the week, so ×4, not ×11.
    ["mqtt_for_psucontrol", 4],
    ["psucontrol_wemo", 4],
    ["GPX", 4],
    ["calibrationcompanion", 4],
    ["filament_scale", 3],
    ["psucontrol_tendabeli", 2],
    ["wemoswitch", 1.67],
    ["procastinator", 1.6],
    ["CR10_Leveling", 1.54],
    ["GPIOCoolDownFan", 1.52],
  ]);
  expect(rankings.latest.map((r: { id: string }) => r.id)).toEqual([
    "homeassistant",
    "display_eta",
    "mqtt_for_psucontrol",
    "PrintTimeGenius",
    "psucontrol",
    "psucontrol_tasmota",
    "psucontrol_tplink",
    "psucontrol_rpigpio",
    "klipper",
    "octoprint_nanny",
  ]);
  // Abandoned and disabled plugins are never ranked.
  const excluded = new Set(built.filter((e) => e.abandoned || e.disabled).map((e) => e.id));
  expect(excluded.size).toBeGreaterThan(0);
  for (const list of [rankings.popular, rankings.trending, rankings.latest]) for (const r of list) expect(excluded.has(r.id)).toBe(false);
});

test("the website: home page with rankings, search over every plugin, a page per plugin with health, usage and its description", () => {
  const home = read("index.html");
  expect(home).toContain('<div class="card ranking" data-ranking="popular">');
  expect(home).toContain('<a href="plugins/bedlevelvisualizer/">Bed Level Visualizer</a> <span class="value">29,275</span>');
  expect(home.match(/<li data-text=/g)).toHaveLength(302);
  expect(home).toContain('<script src="search.js" defer></script>');
  expect(read("search.js")).toContain('getElementById("q")');
  expect(read("site.css")).toContain(".plugin-page");
  expect(readdirSync(join(out, "plugins"))).toHaveLength(302);

  const page = read("plugins/BLTouch/index.html");
  expect(page).toContain("<h1>OctoPrint-BLTouch</h1>");
  expect(page).toContain('<link rel="stylesheet" href="../../site.css">');
  expect(page).toMatch(/<dt>Latest release<\/dt><dd>0\.3\.4 <span class="muted">\(0\.3\.4, 2020-10-08, 12 months ago\)<\/span><\/dd>/);
  expect(page).toContain("<dt>Issues</dt><dd>1 open, 18 closed</dd>");
  expect(page).toContain("<dt>Instances</dt><dd>9,271 this month, 6,971 this week</dd>");
  expect(page).toContain('<dt>Likes</dt><dd class="likes">0</dd>');
  expect(page).toContain("<dt>Trend</dt><dd>×0.85</dd>"); // 274 installs this week / (1,290 this month / 4)
  expect(read("plugins/octotweet/index.html")).toContain("<dt>Trend</dt><dd>none (fewer than 10 installs this week)</dd>");
  expect(page).toContain("not a Layerline plugin");
  expect(page).toContain('<a href="https://paypal.me/jneilliii" rel="nofollow noopener noreferrer ugc">');

  const klipper = read("plugins/klipper/index.html");
  expect(klipper).toContain("<h2>Versions in use (month)</h2>");
  expect(klipper).toContain('<tr><td>0.3.8.3</td><td class="n">2,907</td></tr>');
  expect(klipper.indexOf("0.3.8.3")).toBeLessThan(klipper.indexOf("<td>0.2.5</td>"));

  // No page carries a script other than the search, or an inline handler.
  for (const id of readdirSync(join(out, "plugins"))) {
    const html = read(`plugins/${id}/index.html`);
    expect([id, /<script|\son[a-z]+=|javascript:/i.test(html)]).toEqual([id, false]);
  }
});

test("the next build takes source health from its cache; with the source host rate-limited, from the stale cache", async () => {
  const before = server.calls.length;
  const again = await buildRegistry({ entriesDir: entries, outDir: out, stats7d: STATS_7D, stats30d: STATS_30D, sourceApi: server.url, now: () => NOW + 3600_000 });
  expect(again.sourceQueries).toBe(0);
  expect(server.calls.length).toBe(before);
  expect(again.index.find((e) => e.id === "BLTouch")!.github).toEqual(built.find((e) => e.id === "BLTouch")!.github);

  // Seven hours later the cache is stale; the API refuses with a limit that resets in an hour.
  server.answer = () => primaryLimit(Math.floor(Date.now() / 1000) + 3600);
  const limited = await buildRegistry({ entriesDir: entries, outDir: out, stats7d: STATS_7D, stats30d: STATS_30D, sourceApi: server.url, sourceMaxWaitMs: 1000, now: () => NOW + 7 * 3600_000 });
  server.answer = null;
  expect(limited.sourceQueries).toBeLessThanOrEqual(2);
  expect(limited.problems.find((p) => p.file === "(source host)")!.message).toMatch(/^source health fetching stopped: the source host's rate limit was reached/);
  expect(limited.index.find((e) => e.id === "BLTouch")!.github).toEqual(built.find((e) => e.id === "BLTouch")!.github);
});

test("bad and hostile entries are reported and left out; the rest of the build goes on", async () => {
  const dir = await entriesFolder({
    extra: {
      "broken.md": "---\nid: broken\ntitle: [oops\n---\n",
      "huge.md": `---\nid: huge\n---\n${"x".repeat(300 * 1024)}`,
      "traversal.md": (await Bun.file(join(entries, "BLTouch.md")).text()).replace("id: BLTouch", "id: ../../escape"),
      "bltouch-copy.md": (await Bun.file(join(entries, "BLTouch.md")).text()).replace("id: BLTouch", "id: bltouch"),
      "scripted.md": (await Bun.file(join(entries, "GPX.md")).text())
        .replace("id: GPX", "id: scripted")
        .replace("title: GPX", 'title: "<script>alert(1)</script>GPX"')
        .replace("GPX was created", '<script>document.cookie</script><img src=x onerror="alert(2)"> [click](javascript:alert(3)) GPX was created'),
    },
  });
  const target = join(work, "hostile");
  try {
    const r = await buildRegistry({ entriesDir: dir, outDir: target, now: () => NOW });
    expect(r.entries).toBe(14);
    expect(r.indexed).toBe(10);
    expect(r.rejected).toBe(4);
    const errors = r.problems.filter((p) => p.severity === "error").map((p) => `${p.file}: ${p.field}`);
    expect(errors).toEqual(["bltouch-copy.md: id", "broken.md: (front matter)", "huge.md: (file)", "traversal.md: id"]);
    expect(r.problems.find((p) => p.file === "bltouch-copy.md" && p.severity === "error")!.message).toBe('"bltouch" is already used by BLTouch.md');
    expect(existsSync(join(target, "escape"))).toBe(false);
    const report = JSON.parse(readFileSync(join(target, "build-report.json"), "utf8"));
    expect(report.rejected).toBe(4);
    const page = readFileSync(join(target, "plugins/scripted/index.html"), "utf8");
    expect(page).toContain("<h1>&lt;script&gt;alert(1)&lt;/script&gt;GPX</h1>");
    // Only inert text is left of the attack (the link was inside an HTML block, so it stays text).
    expect(page).not.toMatch(/<script|\sonerror=|href="javascript:/i);
    expect(page).toContain('<section class="card description"><img src="x" loading="lazy" referrerpolicy="no-referrer"> [click](javascript:alert(3)) GPX was created');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--assets is copied into the site by every build, without links", async () => {
  const assets = join(work, "assets");
  mkdirSync(join(assets, "img/plugins/BLTouch"), { recursive: true });
  writeFileSync(join(assets, "img/plugins/BLTouch/screenshot.png"), "png bytes");
  symlinkSync("/etc/passwd", join(assets, "leak"));
  const target = join(work, "with-assets");
  await buildRegistry({ entriesDir: new URL("../fixtures/registry/entries", import.meta.url).pathname, outDir: target, assetsDir: assets });
  expect(readFileSync(join(target, "assets/img/plugins/BLTouch/screenshot.png"), "utf8")).toBe("png bytes");
  expect(existsSync(join(target, "assets/leak"))).toBe(false);
  await expect(buildRegistry({ entriesDir: entries, outDir: target, assetsDir: join(work, "nope") })).rejects.toThrow("--assets");
});

test("the output folder is only ever replaced when the build wrote it", async () => {
  const foreign = join(work, "foreign");
  mkdirSync(foreign);
  writeFileSync(join(foreign, "precious.txt"), "keep me");
  await expect(buildRegistry({ entriesDir: entries, outDir: foreign })).rejects.toThrow(/is not empty and was not written by the registry build/);
  expect(readFileSync(join(foreign, "precious.txt"), "utf8")).toBe("keep me");
});

test("layerline registry build: --help, a clean build exits 0, bad entries exit 1, bad options exit 2", async () => {
  const run = (...args: string[]) => Bun.spawnSync(["bun", MAIN, ...args], { stdout: "pipe", stderr: "pipe" });
  const help = run("registry", "build", "--help");
  expect(help.exitCode).toBe(0);
  for (const flag of ["--entries DIR", "--out DIR", "--stats-7d FILE", "--stats-30d FILE", "--source-api URL", "--source-token-file FILE"]) expect(help.stdout.toString()).toContain(flag);
  expect(run("--help").stdout.toString()).toContain("layerline registry build|serve");

  const clean = run("registry", "build", "--entries", new URL("../fixtures/registry/entries", import.meta.url).pathname, "--out", join(work, "cli"), "--stats-7d", STATS_7D, "--stats-30d", STATS_30D);
  expect(clean.stderr.toString()).toBe("");
  expect(clean.stdout.toString()).toContain("Built 9 of 9 entries");
  expect(clean.exitCode).toBe(0);

  const dir = await entriesFolder({ real: false, extra: { "bad.md": "---\nid: bad\n---\n" } });
  const bad = run("registry", "build", "--entries", dir, "--out", join(work, "cli-bad"));
  expect(bad.exitCode).toBe(1);
  expect(bad.stderr.toString()).toContain("error: bad.md: title: is required");
  rmSync(dir, { recursive: true, force: true });

  expect(run("registry", "build", "--out", join(work, "x")).exitCode).toBe(2);
  expect(run("registry", "build", "--entries", entries, "--out", join(work, "x"), "--source-api", "ftp://x").exitCode).toBe(2);
  expect(run("registry", "nonsense").exitCode).toBe(2);
}, 60_000);
