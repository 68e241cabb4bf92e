/**
 * The plugin manager in a real host: compatibility before any code runs, load failures contained,
 * hot reload of changed files, enable / disable / reload / uninstall by API, faults leading to a
 * disabled plugin and a notice, settings, routes and UI fragments.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PLUGIN_API_VERSION } from "../../src/plugins/api.ts";
import { ADMIN, startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { routeEntry, writePlugin } from "./helpers.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-plugins-"));
const pluginsDir = join(dataDir, "plugins");
const marker = (name: string) => join(dataDir, `ran-${name}`);
/** Code that leaves a mark if it ever runs. */
const leavesMark = (name: string) => `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker(name))}, "ran");\n`;

let host: TestHost;
const start = () => startTestHost({ dataDir, plugins: { bundledDirs: [] } });
const plugin = async (id: string) => (await (await host.api(`/api/v1/plugins/${id}`)).json()) as any;

beforeAll(async () => {
  // Incompatible in various ways: none of this code may ever run.
  writePlugin(pluginsDir, { id: "needs-v2", layerline: { api: "^2.0.0" }, entry: `${leavesMark("needs-v2")}${routeEntry("v2")}` });
  writePlugin(pluginsDir, { id: "internals", entry: `${leavesMark("internals")}import { openDatabase } from "../../../src/db/database.ts";\n${routeEntry("x")}` });
  writePlugin(pluginsDir, { id: "no-block", manifest: { name: "no-block", version: "1.0.0" }, entry: `${leavesMark("no-block")}${routeEntry("x")}` });
  writePlugin(pluginsDir, { id: "bad-import", entry: `${leavesMark("bad-import")}import { definePlugin, secretHostThing } from "layerline";\nexport default definePlugin({});` });
  // Crash at load, in different ways.
  writePlugin(pluginsDir, { id: "throws-at-load", entry: `import { definePlugin } from "layerline";\nthrow new Error("kaboom at the top");\nexport default definePlugin({});` });
  writePlugin(pluginsDir, { id: "setup-throws", entry: `import { definePlugin } from "layerline";\nexport default definePlugin({ setup(ctx) { ctx.route("GET", "/x", () => 1); throw new Error("setup kaboom"); } });` });
  writePlugin(pluginsDir, { id: "not-a-plugin", entry: `export default { hello: "world" };` });
  // Working ones.
  writePlugin(pluginsDir, {
    id: "hello",
    entry: `import { definePlugin, html, HttpError, v } from "layerline";
import { greeting } from "./greeting.ts";
export default definePlugin({
  settings: v.object({ name: v.optional(v.pipe(v.string(), v.minLength(1)), "world"), times: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1) }),
  setup(ctx) {
    let changes = 0;
    ctx.settings.onChange(() => changes++);
    ctx.route("GET", "/greeting", () => ({ text: greeting(ctx.settings.get().name), changes }));
    ctx.route("GET", "/items/:n", ({ params, query }) => ({ n: Number(params.n), q: query.q ?? null }));
    ctx.route("POST", "/echo", ({ body }) => ({ body }));
    ctx.route("GET", "/page", () => html\`<p class="hello">\${"<b>escaped</b>"}</p>\`);
    ctx.route("GET", "/missing", () => { throw new HttpError(404, "no_item", "No such item.", "Try another."); });
    ctx.route("GET", "/boom", () => { throw new Error("route exploded"); });
    ctx.slot("navbar.item", () => html\`<span class="hello-nav">hi</span>\`);
    ctx.storage.set("loads", (ctx.storage.get<number>("loads") ?? 0) + 1);
    ctx.route("GET", "/loads", () => ({ loads: ctx.storage.get("loads") }));
  },
});`,
    files: { "greeting.ts": `export const greeting = (name: string) => "Hello, " + name;` },
  });
  writePlugin(pluginsDir, {
    id: "grumpy",
    entry: `import { definePlugin } from "layerline";
export default definePlugin({
  setup(ctx) {
    ctx.on("files.changed", () => { throw new Error("I hate files"); });
    ctx.slot("navbar.item", () => { throw new Error("cannot draw"); });
  },
});`,
  });
  writePlugin(pluginsDir, {
    id: "ticker",
    entry: `import { definePlugin } from "layerline";
export default definePlugin({
  setup(ctx) {
    let ticks = 0;
    ctx.every(1000, () => { ticks++; });
    ctx.route("GET", "/ticks", () => ({ ticks }));
  },
});`,
  });
  host = await start();
}, 30_000);

afterAll(async () => {
  await host?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("compatibility and load failures", () => {
  test("incompatible plugins are listed with the reason, and their code never ran", async () => {
    const { plugins } = (await (await host.api("/api/v1/plugins")).json()) as any;
    const byId = Object.fromEntries(plugins.map((p: any) => [p.id, p]));
    expect(byId["needs-v2"]).toMatchObject({ state: "incompatible", reason: `needs plugin API ^2.0.0; this host provides ${PLUGIN_API_VERSION}` });
    expect(byId.internals).toMatchObject({ state: "incompatible" });
    expect(byId.internals.reason).toContain('imports "../../../src/db/database.ts", outside the plugin\'s folder');
    expect(byId["no-block"]).toMatchObject({ state: "incompatible", reason: 'package.json has no "layerline" block (api, entry, …), so it is not a Layerline plugin' });
    expect(byId["bad-import"].reason).toContain('imports "secretHostThing" from "layerline"');
    for (const name of ["needs-v2", "internals", "no-block", "bad-import"]) expect(existsSync(marker(name))).toBe(false);
  });

  test("a plugin that crashes at load is failed, not the host; what it registered is gone", async () => {
    expect(await plugin("throws-at-load")).toMatchObject({ state: "failed", reason: "loading failed: kaboom at the top" });
    expect(await plugin("setup-throws")).toMatchObject({ state: "failed", reason: "setup threw: setup kaboom" });
    expect((await host.api("/api/v1/plugins/setup-throws/x")).status).toBe(409);
    expect((await plugin("not-a-plugin")).reason).toContain("must `export default definePlugin");
    expect((await host.api("/api/v1/version")).status).toBe(200);
    expect(await plugin("hello")).toMatchObject({ state: "enabled", reason: null });
  });
});

describe("routes, settings, storage, slots", () => {
  test("a plugin's routes answer under /api/v1/plugins/<id>/", async () => {
    expect(await (await host.api("/api/v1/plugins/hello/greeting")).json()).toEqual({ text: "Hello, world", changes: 0 });
    expect(await (await host.api("/api/v1/plugins/hello/items/42?q=x")).json()).toEqual({ n: 42, q: "x" });
    expect(await (await host.post("/api/v1/plugins/hello/echo", { a: [1] })).json()).toEqual({ body: { a: [1] } });
    const page = await host.api("/api/v1/plugins/hello/page");
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toBe('<p class="hello">&lt;b&gt;escaped&lt;/b&gt;</p>');
    const missing = await host.api("/api/v1/plugins/hello/missing");
    expect([missing.status, await missing.json()]).toEqual([404, { error: { code: "no_item", message: "No such item.", hint: "Try another." } }]);
    expect((await host.api("/api/v1/plugins/hello/nothing-here")).status).toBe(404);
    expect((await host.api("/api/v1/plugins/hello/greeting", { method: "DELETE" })).status).toBe(405);
    // From htmx, an error answer is a toast to show.
    const fromHtmx = await host.api("/api/v1/plugins/hello/missing", { headers: { "HX-Request": "true" } });
    expect([fromHtmx.status, fromHtmx.headers.get("hx-retarget")]).toEqual([200, "#toasts"]);
    expect(await fromHtmx.text()).toContain("No such item.");
    const boom = await host.api("/api/v1/plugins/hello/boom");
    expect(boom.status).toBe(502);
    expect(((await boom.json()) as any).error.message).toBe("The plugin hello could not answer: it threw: route exploded.");
    expect((await plugin("hello")).faults).toHaveLength(1);
  });

  test("settings are validated, saved, seen by the plugin at once, and kept", async () => {
    const bad = await host.api("/api/v1/plugins/hello/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ times: 0 }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toBe("times: Invalid value: Expected >=1 but received 0");
    const ok = await host.api("/api/v1/plugins/hello/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Ada" }) });
    expect(((await ok.json()) as any).values).toEqual({ name: "Ada", times: 1 });
    expect(await (await host.api("/api/v1/plugins/hello/greeting")).json()).toEqual({ text: "Hello, Ada", changes: 1 });
  });

  test("periodic tasks run", async () => {
    await host.waitFor("/api/v1/plugins/ticker/ticks", (b: any) => b.ticks >= 2, 5000);
  }, 10_000);

  test("UI fragments: a slot that fails shows why instead of breaking the page", async () => {
    const nav = await (await host.api("/ui/plugins/slot/navbar.item")).text();
    expect(nav).toContain('<span class="hello-nav">hi</span>');
    expect(nav).toContain("grumpy could not show this: it threw: cannot draw.");
  });
});

describe("faults and notices", () => {
  test(`a plugin whose event handler keeps failing is disabled across the host, with a notice`, async () => {
    for (let i = 0; i < 3; i++) {
      expect((await upload(host, `f${i}.gcode`, "G28\n")).status).toBe(201);
      await Bun.sleep(20);
    }
    // One fault came from the navbar fragment above; two uploads suffice, the third is spare.
    const grumpy = await host.waitFor("/api/v1/plugins/grumpy", (p: any) => p.state === "disabled", 5000);
    expect(grumpy.reason).toMatch(/^disabled after 3 faults; the last: /);
    const { notices } = (await (await host.api("/api/v1/plugins/notices")).json()) as any;
    expect(notices.find((n: any) => n.plugin === "grumpy")).toMatchObject({ level: "error" });
    const bar = await (await host.api("/ui/plugins/notices")).text();
    expect(bar).toContain("was disabled after 3 faults");
    expect(bar).toContain("Dismiss");
    const id = notices.find((n: any) => n.plugin === "grumpy").id;
    // Dismissing dismisses it for everybody: a read-only key sees the notice, without the button, and may not.
    const admin = host.accounts.users.byName(ADMIN.username)!;
    const reader = { "x-api-key": host.accounts.createKey(admin, { name: "reader", scope: "read-only" }).key };
    const readerBar = await (await host.anonymous("/ui/plugins/notices", { headers: reader })).text();
    expect(readerBar).toContain("was disabled after 3 faults");
    expect(readerBar).not.toContain("Dismiss");
    expect((await host.anonymous(`/api/v1/plugins/notices/${id}`, { method: "DELETE", headers: reader })).status).toBe(403);
    expect((await host.anonymous(`/ui/plugins/notices/${id}/dismiss`, { method: "POST", headers: reader })).status).toBe(403);
    // Dismissed by one who manages plugins, it is gone.
    expect((await host.api(`/api/v1/plugins/notices/${id}`, { method: "DELETE" })).status).toBe(204);
    expect(await (await host.api("/ui/plugins/notices")).text()).not.toContain("grumpy");
  });
});

describe("runtime control and hot reload", () => {
  test("disable, enable, reload by API; a disabled plugin stays disabled after a restart", async () => {
    expect(await (await host.post("/api/v1/plugins/hello/disable")).json()).toMatchObject({ state: "disabled", reason: null });
    expect((await host.api("/api/v1/plugins/hello/greeting")).status).toBe(409);
    await host.close();
    host = await start();
    expect(await plugin("hello")).toMatchObject({ state: "disabled" });
    expect(await plugin("grumpy")).toMatchObject({ state: "disabled", reason: expect.stringContaining("disabled after 3 faults") });
    expect(await (await host.post("/api/v1/plugins/hello/enable")).json()).toMatchObject({ state: "enabled" });
    // Settings survived the restart; the plugin's storage too (it counts its loads).
    expect(await (await host.api("/api/v1/plugins/hello/greeting")).json()).toMatchObject({ text: "Hello, Ada" });
    const loads = ((await (await host.api("/api/v1/plugins/hello/loads")).json()) as any).loads;
    expect((await (await host.post("/api/v1/plugins/hello/reload")).json()).state).toBe("enabled");
    expect(((await (await host.api("/api/v1/plugins/hello/loads")).json()) as any).loads).toBe(loads + 1);
  }, 30_000);

  test("a changed file reloads the plugin by itself — every module of it", async () => {
    const before = (await plugin("hello")).generation;
    writeFileSync(join(pluginsDir, "hello", "greeting.ts"), `export const greeting = (name: string) => "Good day, " + name;`);
    await host.waitFor("/api/v1/plugins/hello/greeting", (b: any) => b.text === "Good day, Ada", 10_000);
    expect((await plugin("hello")).generation).toBeGreaterThan(before);
  }, 15_000);

  test("a plugin folder added by hand is picked up; a broken edit fails it until fixed", async () => {
    writePlugin(pluginsDir, { id: "late", entry: routeEntry("late one") });
    await host.waitFor("/api/v1/plugins/late/value", (b: any) => b.value === "late one", 10_000);
    writeFileSync(join(pluginsDir, "late", "index.ts"), "export default definePlugin({ this is not TypeScript");
    await host.waitFor("/api/v1/plugins/late", (p: any) => p.state === "incompatible", 10_000);
    expect((await plugin("late")).reason).toContain("index.ts does not parse");
    writeFileSync(join(pluginsDir, "late", "index.ts"), routeEntry("fixed"));
    await host.waitFor("/api/v1/plugins/late/value", (b: any) => b.value === "fixed", 10_000);
  }, 30_000);

  test("uninstall removes the plugin's files, settings and data", async () => {
    const res = await host.api("/api/v1/plugins/hello", { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(existsSync(join(pluginsDir, "hello"))).toBe(false);
    expect((await host.api("/api/v1/plugins/hello")).status).toBe(404);
    const rows = host.db.query("SELECT (SELECT count(*) FROM plugin_settings WHERE plugin = 'hello') + (SELECT count(*) FROM plugin_data WHERE plugin = 'hello') + (SELECT count(*) FROM plugin_state WHERE id = 'hello') AS n").get() as { n: number };
    expect(rows.n).toBe(0);
  });
});
