import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { buildRegistry } from "../../src/registry/build.ts";
import { InstanceStatsExportSchema, PluginLikesExportSchema, PluginStatsExportSchema } from "../../src/registry/export-format.ts";
import type { IndexEntry } from "../../src/registry/index-format.ts";
import { startRegistryService, type RegistryService } from "../../src/registry/service.ts";
import type { Ping } from "../../src/tracking/payload.ts";
import { REAL_ENTRIES, tempDir } from "./helpers.ts";

const DAY = 86_400_000;
let clock = Date.parse("2026-05-20T10:00:00Z");
const T0 = clock;
let work: string;
let service: RegistryService;

const A = "0b9f5f3e-7c1d-4e39-9a55-3b1f0c2d4e6a";
const B = "5d6c7b8a-1e2f-4a3b-8c9d-0e1f2a3b4c5d";
const C = "9a8b7c6d-5e4f-4a3b-9c1d-2e3f4a5b6c7d";

function ping(instance: string, extra: Partial<Ping> = {}): Ping {
  return {
    schema: 1,
    instance,
    host: { version: "0.1.0", os: "linux", arch: "arm64" },
    plugins: [],
    events: [],
    prints: { started: 0, finished: 0 },
    firmware: [],
    ...extra,
  };
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(service.url + path, { method: "POST", headers: { "content-type": "application/json", "user-agent": "Layerline/0.1.0 (secret-agent)", "x-forwarded-for": "203.0.113.7", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

beforeAll(async () => {
  work = tempDir();
  await buildRegistry({ entriesDir: REAL_ENTRIES, outDir: join(work, "site"), now: () => clock });
  service = await startRegistryService({
    dataDir: join(work, "data"),
    siteDir: join(work, "site"),
    port: 0,
    host: "127.0.0.1",
    exportEveryMs: 3600_000,
    build: { entriesDir: REAL_ENTRIES },
    now: () => clock,
    log: () => {},
  });
}, 30_000);
afterAll(async () => {
  await service?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("pings are counted per instance and day; the exports have the documented format and the right numbers", async () => {
  // 40 days ago (pruned), 10 days ago (month only), today.
  clock = T0 - 40 * DAY;
  expect((await post("/api/v1/tracking/ping", ping(C, { plugins: [{ id: "BLTouch", version: "0.1.0" }] }))).status).toBe(204);
  clock = T0 - 10 * DAY;
  expect((await post("/api/v1/tracking/ping", ping(C, { plugins: [{ id: "BLTouch", version: "0.3.3" }], firmware: ["marlin2"], prints: { started: 4, finished: 3 } }))).status).toBe(204);
  clock = T0;
  const a1 = ping(A, { plugins: [{ id: "BLTouch", version: "0.3.4" }], events: [{ event: "install", plugin: "BLTouch", version: "0.3.4" }], prints: { started: 2, finished: 1 }, firmware: ["marlin2"] });
  // The same instance pings again the same day: its plugin list is replaced, its print counts add up.
  // A plugin this registry does not list (the host's own, installed from a file) is not counted: the exports are public.
  const a2 = ping(A, {
    plugins: [{ id: "BLTouch", version: "0.3.4" }, { id: "GPX", version: "2.6.8" }, { id: "smiths-garage-door", version: "1.0.0" }],
    events: [{ event: "install", plugin: "GPX", version: "2.6.8" }, { event: "install", plugin: "smiths-garage-door", version: "1.0.0" }],
    prints: { started: 1, finished: 1 },
    firmware: ["prusa"],
  });
  const b = ping(B, { host: { version: "0.2.0", os: "linux", arch: "x64" }, plugins: [{ id: "gpx", version: "2.6.7" }], events: [{ event: "uninstall", plugin: "BLTouch", version: "0.3.4" }], firmware: ["other"] });
  for (const p of [a1, a2, b]) expect((await post("/api/v1/tracking/ping", p)).status).toBe(204);

  const run = await service.exportNow();
  expect(run.files).toEqual(["plugin_stats_7d.json", "plugin_stats_30d.json", "instance_stats_7d.json", "instance_stats_30d.json", "plugin_likes.json"]);
  const get = async (name: string) => (await fetch(`${service.url}/export/${name}`)).json();
  for (const name of run.files) expect([name, JSON.stringify(await get(name)).includes("smiths-garage-door")]).toEqual([name, false]);
  for (const table of ["instance_plugins", "plugin_events"]) expect(service.db.query(`SELECT COUNT(*) AS n FROM ${table} WHERE plugin LIKE 'smiths%'`).get()).toEqual({ n: 0 });

  const week = v.parse(PluginStatsExportSchema, await get("plugin_stats_7d.json"));
  expect(week).toEqual({
    _since: new Date(T0 - 7 * DAY).toISOString(),
    _generated: new Date(T0).toISOString(),
    plugins: {
      bltouch: { instances: 1, versions: { "0.3.4": { instances: 1 } }, install_events: 1, uninstall_events: 1 },
      gpx: { instances: 2, versions: { "2.6.7": { instances: 1 }, "2.6.8": { instances: 1 } }, install_events: 1, uninstall_events: 0 },
    },
  });
  const month = v.parse(PluginStatsExportSchema, await get("plugin_stats_30d.json"));
  expect(month.plugins.bltouch).toEqual({ instances: 2, versions: { "0.3.3": { instances: 1 }, "0.3.4": { instances: 1 } }, install_events: 1, uninstall_events: 1 });

  expect(v.parse(InstanceStatsExportSchema, await get("instance_stats_7d.json"))).toEqual({
    _since: new Date(T0 - 7 * DAY).toISOString(),
    _generated: new Date(T0).toISOString(),
    instances: 2,
    versions: { "0.1.0": { instances: 1 }, "0.2.0": { instances: 1 } },
    platforms: { "linux-arm64": { instances: 1 }, "linux-x64": { instances: 1 } },
    firmware: { marlin2: { instances: 1 }, other: { instances: 1 }, prusa: { instances: 1 } },
    prints: { started: 3, finished: 2 },
  });
  const instances30 = v.parse(InstanceStatsExportSchema, await get("instance_stats_30d.json"));
  expect(instances30.instances).toBe(3);
  expect(instances30.prints).toEqual({ started: 7, finished: 5 });
  expect(instances30.firmware.marlin2).toEqual({ instances: 2 });

  // The 40-day-old ping is gone from the database after the export.
  const oldest = service.db.query("SELECT MIN(day) AS d FROM instance_days").get() as { d: string };
  expect(oldest.d).toBe(new Date(T0 - 10 * DAY).toISOString().slice(0, 10));

  // The export was followed by a rebuild of the site, whose index now carries the numbers.
  expect(run.buildError).toBeNull();
  const index: IndexEntry[] = await (await fetch(`${service.url}/plugins.json`)).json();
  expect(index.find((e) => e.id === "GPX")!.stats).toEqual({ instances_month: 2, install_events_month: 1, instances_week: 2, install_events_week: 1, likes: 0 });
  expect(index.find((e) => e.id === "BLTouch")!.stats).toEqual({ instances_month: 2, install_events_month: 1, instances_week: 1, install_events_week: 1, likes: 0 });
});

test("likes: one per instance, withdrawn again, only for plugins in the index; the count reaches index and website", async () => {
  const like = (instance: string, liked = true, plugin = "Spoolman") => post("/api/v1/likes", { instance, plugin, liked });
  expect(await (await like(A)).json()).toEqual({ plugin: "Spoolman", liked: true, likes: 1 });
  expect(await (await like(A)).json()).toEqual({ plugin: "Spoolman", liked: true, likes: 1 });
  expect(await (await like(B)).json()).toEqual({ plugin: "Spoolman", liked: true, likes: 2 });
  expect(await (await like(C)).json()).toEqual({ plugin: "Spoolman", liked: true, likes: 3 });
  expect(await (await like(C, false)).json()).toEqual({ plugin: "Spoolman", liked: false, likes: 2 });
  expect(await (await fetch(`${service.url}/api/v1/likes/spoolman`)).json()).toEqual({ plugin: "spoolman", likes: 2 });
  const unknown = await like(A, true, "no-such-plugin");
  expect(unknown.status).toBe(404);
  expect((await unknown.json()).error.code).toBe("unknown_plugin");

  await service.exportNow();
  expect(v.parse(PluginLikesExportSchema, await (await fetch(`${service.url}/export/plugin_likes.json`)).json()).plugins).toEqual({ spoolman: { likes: 2 } });
  const index: IndexEntry[] = await (await fetch(`${service.url}/plugins.json`)).json();
  expect(index.find((e) => e.id === "Spoolman")!.stats.likes).toBe(2);
  const page = await (await fetch(`${service.url}/plugins/Spoolman/`)).text();
  expect(page).toContain('<dt>Likes</dt><dd class="likes">2</dd>');
});

test("bad pings are refused with a reason and store nothing: extra fields (an address), bad ids, garbage, oversized bodies", async () => {
  const before = service.db.query("SELECT COUNT(*) AS n FROM instance_days").get() as { n: number };
  const cases: [unknown, number, string][] = [
    [{ ...ping(A), ip: "198.51.100.4" }, 400, "ip"],
    [{ ...ping(A), host: { version: "0.1.0", os: "linux", arch: "x64", hostname: "johns-pi" } }, 400, "host.hostname"],
    [ping("not-a-uuid"), 400, "instance"],
    [ping(A, { plugins: [{ id: "../etc", version: "1" }] }), 400, "plugins.0.id"],
    [ping(A, { prints: { started: -1, finished: 0 } }), 400, "prints.started"],
    ["{not json", 400, ""],
    [null, 400, ""],
  ];
  for (const [body, status, field] of cases) {
    const r = await post("/api/v1/tracking/ping", body);
    expect([field, r.status]).toEqual([field, status]);
    const error = (await r.json()).error;
    if (field) expect(error.message.startsWith(`${field}:`)).toBe(true);
  }
  const huge = await post("/api/v1/tracking/ping", JSON.stringify({ ...ping(A), pad: "x".repeat(400 * 1024) }));
  expect(huge.status).toBe(413);
  const after = service.db.query("SELECT COUNT(*) AS n FROM instance_days").get() as { n: number };
  expect(after.n).toBe(before.n);
});

test("no table holds an address, a user agent or anything but the ping's own fields", () => {
  const tables = service.db.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
  expect(tables.map((t) => t.name).sort()).toEqual(["instance_days", "instance_firmware", "instance_plugins", "likes", "plugin_events"]);
  let rows = 0;
  for (const { name } of tables) {
    const columns = (service.db.query(`PRAGMA table_info(${name})`).all() as { name: string }[]).map((c) => c.name);
    for (const column of columns) expect([name, column, /ip|addr|remote|agent|host_?name|forward|user/i.test(column)]).toEqual([name, column, false]);
    for (const row of service.db.query(`SELECT * FROM ${name}`).all() as Record<string, unknown>[]) {
      rows++;
      const text = JSON.stringify(row);
      for (const leak of ["127.0.0.1", "203.0.113.7", "198.51.100.4", "secret-agent", "johns-pi"]) expect([name, text.includes(leak)]).toEqual([name, false]);
    }
  }
  expect(rows).toBeGreaterThan(10);
});

test("the site is served with folders as pages, exports and index readable cross-origin, and nothing outside it", async () => {
  const home = await fetch(`${service.url}/`);
  expect(home.headers.get("content-type")).toBe("text/html; charset=utf-8");
  expect(await home.text()).toContain("All plugins");
  const redirect = await fetch(`${service.url}/plugins/BLTouch`, { redirect: "manual" });
  expect(redirect.status).toBe(301);
  expect(redirect.headers.get("location")).toBe("/plugins/BLTouch/");
  expect(await (await fetch(`${service.url}/plugins/BLTouch/`)).text()).toContain("<h1>OctoPrint-BLTouch</h1>");
  const index = await fetch(`${service.url}/plugins.json`);
  expect(index.headers.get("access-control-allow-origin")).toBe("*");
  expect((await fetch(`${service.url}/search.js`)).headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  for (const path of ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/.layerline-registry", "/plugins/%00", "/nope/"]) {
    const r = await fetch(service.url + path);
    expect([path, r.status]).toEqual([path, 404]);
    expect(await r.text()).not.toContain("root:");
  }
  expect((await fetch(`${service.url}/export/../registry.sqlite`)).status).toBe(404);
  expect((await fetch(`${service.url}/export/registry.sqlite`)).status).toBe(404);
  expect(readFileSync(join(work, "data", "export", "plugin_stats_7d.json"), "utf8")).toContain('"_generated"');
});

test("error hints point at what this service serves, never at the host's /api/v1/docs", async () => {
  const missing = await post("/no/such/endpoint", {});
  expect(missing.status).toBe(404);
  const notFound = (await missing.json()).error;
  expect(notFound.hint).not.toContain("/api/v1/docs");
  // Each endpoint the hint names answers (not with the generic 404).
  expect(notFound.hint).toContain("/api/v1/likes");
  expect((await fetch(`${service.url}/api/v1/docs`)).status).toBe(404);
  expect((await fetch(`${service.url}/api/v1/likes/spoolman`)).status).toBe(200);
  expect((await fetch(`${service.url}/export/plugin_likes.json`)).status).toBe(200);
  expect((await fetch(`${service.url}/plugins.json`)).status).toBe(200);
  const bad = (await (await post("/api/v1/likes", { plugin: "Spoolman" })).json()).error;
  expect(bad.code).toBe("invalid_request");
  expect(bad.hint).not.toContain("/api/v1/docs");
  expect(bad.hint).toContain("{instance, plugin, liked}");
});
