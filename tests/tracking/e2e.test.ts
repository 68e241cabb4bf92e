import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { buildRegistry } from "../../src/registry/build.ts";
import type { IndexEntry } from "../../src/registry/index-format.ts";
import { startRegistryService, type RegistryService } from "../../src/registry/service.ts";
import type { InstalledPlugin } from "../../src/tracking/reporter.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { REAL_ENTRIES, tempDir } from "../registry/helpers.ts";

const GCODE = "G28\nG1 X10 Y10 F3000\nG1 X20 Y20\nM400\n";
let work: string;
let registry: RegistryService;
let on: TestHost;
let off: TestHost;
const installed: InstalledPlugin[] = [{ id: "BLTouch", version: "0.3.4" }];
/** Every request that reaches the address the tracking-off host is pointed at. */
const offRequests: string[] = [];
let offTarget: ReturnType<typeof Bun.serve>;

const put = (host: TestHost, body: unknown) => host.api("/api/v1/tracking", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function printOnce(host: TestHost): Promise<void> {
  const { printers } = await (await host.api("/api/v1/printers")).json();
  const at = `/api/v1/printers/${printers[0].id}`;
  await host.waitFor(at, (p: any) => p.state === "operational" && p.firmware !== null);
  expect((await upload(host, "cube.gcode", GCODE)).status).toBe(201);
  expect((await host.post(`${at}/job`, { file: "cube.gcode" })).status).toBe(200);
  await host.waitFor(at, (p: any) => p.job?.state === "done", 30_000);
}

beforeAll(async () => {
  work = tempDir();
  await buildRegistry({ entriesDir: REAL_ENTRIES, outDir: join(work, "site") });
  registry = await startRegistryService({ dataDir: join(work, "data"), siteDir: join(work, "site"), port: 0, host: "127.0.0.1", build: { entriesDir: REAL_ENTRIES }, log: () => {} });
  offTarget = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      offRequests.push(`${request.method} ${new URL(request.url).pathname}`);
      return new Response(null, { status: 204 });
    },
  });
  on = await startTestHost({ tracking: { installedPlugins: () => installed, firstDelayMs: 100, intervalMs: 3600_000 } });
  off = await startTestHost({ tracking: { installedPlugins: () => installed, firstDelayMs: 50, intervalMs: 100 } });
}, 60_000);
afterAll(async () => {
  await on?.close();
  await off?.close();
  offTarget?.stop(true);
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("a host with tracking on reports to the registry; the export and the next build reflect it", async () => {
  // The report names the firmware families of the printers: once the printer has said what it runs.
  const printer = (await (await on.api("/api/v1/printers")).json()).printers[0].id;
  await on.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.firmware !== null, 10_000);
  // Opting in: the first report goes out by itself shortly after.
  expect((await (await put(on, { enabled: true, url: registry.url })).json()).enabled).toBe(true);
  const first = await on.waitFor("/api/v1/tracking", (s: any) => s.lastSend?.ok === true, 10_000);
  const instance = first.payload.instance;
  expect(first.lastSend.payload).toEqual({ ...first.payload, plugins: [{ id: "BLTouch", version: "0.3.4" }] });
  expect(first.lastSend.payload.events).toEqual([]);

  // A print, and a plugin installed: both are in the next report, exactly as the host shows it.
  await printOnce(on);
  installed.push({ id: "GPX", version: "2.6.8" });
  const shown = (await (await on.api("/api/v1/tracking")).json()).payload;
  expect(shown.prints).toEqual({ started: 1, finished: 1 });
  expect(shown.events).toEqual([{ event: "install", plugin: "GPX", version: "2.6.8" }]);
  expect(shown.firmware.length).toBeGreaterThan(0);
  const sent = await (await on.post("/api/v1/tracking/send")).json();
  expect(sent.payload).toEqual(shown);
  // Delivered counts start again from zero.
  expect((await (await on.api("/api/v1/tracking")).json()).payload.prints).toEqual({ started: 0, finished: 0 });

  // A star from the host's repository browser.
  const star = await on.post("/api/v1/tracking/stars", { plugin: "GPX", starred: true });
  expect(await star.json()).toEqual({ plugin: "GPX", starred: true, likes: 1 });
  expect(await (await on.api("/api/v1/tracking/stars")).json()).toEqual({ stars: ["GPX"] });
  const button = await on.api("/ui/tracking/star", { method: "POST", body: new URLSearchParams({ plugin: "GPX", starred: "true" }) });
  expect(await button.text()).toContain('aria-pressed="true"');

  // The registry's export, and the site it rebuilds from it.
  const run = await registry.exportNow();
  expect(run.buildError).toBeNull();
  const month = await (await fetch(`${registry.url}/export/plugin_stats_30d.json`)).json();
  expect(month.plugins.gpx).toEqual({ instances: 1, versions: { "2.6.8": { instances: 1 } }, install_events: 1, uninstall_events: 0 });
  expect(month.plugins.bltouch.instances).toBe(1);
  const instances = await (await fetch(`${registry.url}/export/instance_stats_7d.json`)).json();
  expect(instances.instances).toBe(1);
  expect(instances.prints).toEqual({ started: 1, finished: 1 });
  expect(Object.keys(instances.firmware)).toEqual(shown.firmware);
  const index: IndexEntry[] = await (await fetch(`${registry.url}/plugins.json`)).json();
  expect(index.find((e) => e.id === "GPX")!.stats).toEqual({ instances_month: 1, install_events_month: 1, instances_week: 1, install_events_week: 1, likes: 1 });
  expect(index.find((e) => e.id === "BLTouch")!.stats.instances_month).toBe(1);
  expect(await (await fetch(`${registry.url}/plugins/GPX/`)).text()).toContain('<dt>Likes</dt><dd class="likes">1</dd>');

  // Unstarring takes the like back.
  expect(await (await on.post("/api/v1/tracking/stars", { plugin: "GPX", starred: false })).json()).toEqual({ plugin: "GPX", starred: false, likes: 0 });
  const days = registry.db.query("SELECT instance FROM instance_days").all() as { instance: string }[];
  expect(days.map((d) => d.instance)).toEqual([instance]);
}, 60_000);

test("a host with tracking off sends nothing, however often its timer fires and whatever it prints", async () => {
  // Pointed at a server that records every request; never opted in.
  const status = await (await put(off, { url: `http://127.0.0.1:${offTarget.port}` })).json();
  expect(status.enabled).toBeNull();
  await printOnce(off);
  await Bun.sleep(1_000); // ten timer periods
  expect(offRequests).toEqual([]);
  expect((await off.post("/api/v1/tracking/send")).status).toBe(409);
  // Counting does not even start while off.
  expect((await (await off.api("/api/v1/tracking")).json()).payload.prints).toEqual({ started: 0, finished: 0 });

  // Opted in and out again before the timer fired: still nothing.
  await put(off, { enabled: true });
  await put(off, { enabled: false });
  await Bun.sleep(500);
  expect(offRequests).toEqual([]);
  const offInstance = (await (await off.api("/api/v1/tracking")).json()).payload.instance;
  expect((registry.db.query("SELECT COUNT(*) AS n FROM instance_days WHERE instance = ?").get(offInstance) as { n: number }).n).toBe(0);
}, 60_000);

test("stars never carry the instance id: with tracking off nothing the registry gets identifies the instance's reports", async () => {
  // Tracking never turned on; the user stars a plugin in the repository browser.
  await put(off, { url: registry.url });
  expect((await (await off.api("/api/v1/tracking")).json()).enabled).not.toBe(true);
  expect(await (await off.post("/api/v1/tracking/stars", { plugin: "BLTouch", starred: true })).json()).toEqual({ plugin: "BLTouch", starred: true, likes: 1 });
  const likers = () => (registry.db.query("SELECT instance FROM likes").all() as { instance: string }[]).map((r) => r.instance);
  const offInstance = (await (await off.api("/api/v1/tracking")).json()).payload.instance;
  expect(likers()).not.toContain(offInstance);
  // Turned on later: its reports and its likes still cannot be joined.
  await put(off, { enabled: true });
  const sent = await (await off.post("/api/v1/tracking/send")).json();
  expect(sent.payload.instance).toBe(offInstance);
  const reporters = (registry.db.query("SELECT DISTINCT instance FROM instance_days").all() as { instance: string }[]).map((r) => r.instance);
  expect(reporters).toContain(offInstance);
  for (const liker of likers()) expect(reporters).not.toContain(liker);
  await put(off, { enabled: false, url: `http://127.0.0.1:${offTarget.port}` });
}, 60_000);

test("a registry that cannot be reached: the failure is shown, the counts are kept for the next report", async () => {
  await put(on, { url: "http://127.0.0.1:9" });
  await printOnce(on);
  const failed = await on.post("/api/v1/tracking/send");
  expect(failed.status).toBe(502);
  const body = await failed.json();
  expect(body.error.code).toBe("registry_unreachable");
  const status = await (await on.api("/api/v1/tracking")).json();
  expect(status.lastSend.ok).toBe(false);
  expect(status.payload.prints).toEqual({ started: 1, finished: 1 });
  const star = await on.post("/api/v1/tracking/stars", { plugin: "GPX", starred: true });
  expect(star.status).toBe(502);
  await put(on, { url: registry.url });
  expect((await on.post("/api/v1/tracking/send")).status).toBe(200);
  expect((await (await on.api("/api/v1/tracking")).json()).payload.prints).toEqual({ started: 0, finished: 0 });
}, 60_000);

test("a new id: what the host sends next cannot be linked to what it sent before; the old id's stars are forgotten here", async () => {
  expect((await (await put(on, { enabled: true, url: registry.url })).json()).enabled).toBe(true);
  const before = (await (await on.api("/api/v1/tracking")).json()).payload.instance;
  expect((await on.post("/api/v1/tracking/send")).status).toBe(200);
  expect((await on.post("/api/v1/tracking/stars", { plugin: "BLTouch", starred: true })).status).toBe(200);

  const reset = await (await on.post("/api/v1/tracking/reset-id")).json();
  const after = reset.payload.instance;
  expect(after).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(after).not.toBe(before);
  expect(reset.enabled).toBe(true);
  // Nothing carries the old id any more: no last report, no stars, no install events against the old list.
  expect(reset.lastSend).toBeNull();
  expect(reset.payload.events).toEqual([]);
  expect(JSON.stringify(reset)).not.toContain(before);
  expect(await (await on.api("/api/v1/tracking/stars")).json()).toEqual({ stars: [] });

  const sent = await (await on.post("/api/v1/tracking/send")).json();
  expect(sent.payload.instance).toBe(after);
  const rows = registry.db.query("SELECT instance FROM instance_days WHERE instance IN (?, ?) ORDER BY instance").all(before, after) as { instance: string }[];
  expect(rows.map((r) => r.instance).sort()).toEqual([before, after].sort());

  // The settings page's button does the same and shows the new id.
  const fragment = await (await on.api("/ui/tracking/reset-id", { method: "POST" })).text();
  const shown = /<code data-instance>([^<]+)<\/code>/.exec(fragment)![1];
  expect([shown === after, shown === before]).toEqual([false, false]);
  expect((await (await on.api("/api/v1/tracking")).json()).payload.instance).toBe(shown);
}, 60_000);
