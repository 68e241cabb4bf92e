/**
 * Plugins that break in the less obvious places — a settings schema whose checks throw, a module
 * that threw once and is then fixed, routes and page fragments whose answers cannot be used, two
 * plugins with one id — are failed or faulted by name while the host, its scans and its installs
 * go on, and come back once fixed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { pluginArchive, routeEntry, writePlugin, type PluginSpec } from "./helpers.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-faulty-plugins-"));
const pluginsDir = join(dataDir, "plugins");
let host: TestHost;

const plugin = async (id: string) => (await (await host.api(`/api/v1/plugins/${encodeURIComponent(id)}`)).json()) as any;
const waitState = (id: string, check: (p: any) => boolean) => host.waitFor(`/api/v1/plugins/${encodeURIComponent(id)}`, check);
const upload = (spec: PluginSpec) => {
  const form = new FormData();
  form.append("file", new Blob([pluginArchive(spec) as Uint8Array<ArrayBuffer>]), "plugin.tgz");
  return host.api("/api/v1/plugins/install", { method: "POST", body: form });
};

/** A plugin whose settings schema runs its own code: a check that throws when `level` is above `limit`. */
const schemaEntry = (limit: number, value = "schema") => `import { definePlugin, v } from "layerline";
export default definePlugin({
  settings: v.object({
    level: v.optional(v.pipe(v.number(), v.check((n) => { if (n > ${limit}) throw new Error("check exploded"); return true; }, "bad")), 50),
  }),
  setup(ctx) { ctx.route("GET", "/value", () => ({ value: ${JSON.stringify(value)} })); },
});`;

beforeAll(async () => {
  // Present at the start: it must not stop the host, nor the plugin after it.
  writePlugin(pluginsDir, { id: "a-schema-at-start", entry: schemaEntry(10) });
  writePlugin(pluginsDir, { id: "b-after-it", entry: routeEntry("after") });
  host = await startTestHost({ dataDir, plugins: { bundledDirs: [] } });
}, 30_000);

afterAll(async () => {
  await host?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("a settings schema that throws", () => {
  test("at the start: the plugin fails with the reason, the host and the next plugin go on", async () => {
    expect(await plugin("a-schema-at-start")).toMatchObject({ state: "failed", reason: "its settings schema threw: check exploded" });
    expect(await plugin("b-after-it")).toMatchObject({ state: "enabled" });
    expect(await (await host.api("/api/v1/plugins/b-after-it/value")).json()).toEqual({ value: "after" });
  });

  test("reload and enable answer with the failed plugin, not a 500", async () => {
    for (const action of ["reload", "enable"]) {
      const res = await host.api(`/api/v1/plugins/a-schema-at-start/${action}`, { method: "POST" });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ state: "failed", reason: "its settings schema threw: check exploded" });
    }
  });

  test("hot-loaded next to another new plugin: both are loaded", async () => {
    writePlugin(pluginsDir, { id: "c-schema-hot", entry: schemaEntry(10) });
    writePlugin(pluginsDir, { id: "d-copied-with-it", entry: routeEntry("with it") });
    await waitState("d-copied-with-it", (p) => p.state === "enabled");
    expect(await plugin("c-schema-hot")).toMatchObject({ state: "failed", reason: "its settings schema threw: check exploded" });
  });

  test("on a settings change: a 400 naming the schema, a fault on the plugin, nothing saved", async () => {
    writePlugin(pluginsDir, { id: "e-schema-on-put", entry: schemaEntry(100) });
    await waitState("e-schema-on-put", (p) => p.state === "enabled");
    const put = (level: number) =>
      host.api("/api/v1/plugins/e-schema-on-put/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ level }) });
    const res = await put(101);
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toBe("The plugin e-schema-on-put could not check these settings: its settings schema threw: check exploded. Nothing was saved.");
    expect((await plugin("e-schema-on-put")).faults).toMatchObject([{ where: "settings schema", message: "threw: check exploded" }]);
    expect(((await (await put(7)).json()) as any).values).toEqual({ level: 7 });
  });

  test("installed: refused with the reason, nothing kept", async () => {
    const res = await upload({ id: "f-schema-install", entry: schemaEntry(10) });
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error.message).toBe("f-schema-install 1.0.0 did not load (its settings schema threw: check exploded). Nothing was installed.");
    expect(existsSync(join(pluginsDir, "f-schema-install"))).toBe(false);
    expect((await host.api("/api/v1/plugins/f-schema-install")).status).toBe(404);
  });

  test("an update to it: refused, the working version is back", async () => {
    expect((await upload({ id: "g-schema-update", entry: routeEntry("1.0.0") })).status).toBe(201);
    const res = await upload({ id: "g-schema-update", version: "2.0.0", entry: schemaEntry(10, "2.0.0") });
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error.message).toBe("g-schema-update 2.0.0 did not load (its settings schema threw: check exploded); the previous version 1.0.0 is back.");
    expect(await plugin("g-schema-update")).toMatchObject({ version: "1.0.0", state: "enabled" });
    expect(await (await host.api("/api/v1/plugins/g-schema-update/value")).json()).toEqual({ value: "1.0.0" });
  });
});

describe("a module that threw while loading, then fixed", () => {
  const throwing = `export const part = (): string => { throw new Error("unused"); };\nthrow new Error("helper is broken");\n`;
  const entry = `import { definePlugin } from "layerline";\nimport { part } from "./helper.ts";\nexport default definePlugin({ setup(ctx) { ctx.route("GET", "/value", () => ({ value: part() })); } });`;

  test("reload runs the fixed files (a helper module, not only the entry)", async () => {
    const dir = writePlugin(pluginsDir, { id: "h-fixed-later", entry, files: { "helper.ts": throwing } });
    await waitState("h-fixed-later", (p) => p.state === "failed");
    expect((await plugin("h-fixed-later")).reason).toBe("loading failed: helper is broken");
    writeFileSync(join(dir, "helper.ts"), `export const part = () => "fixed";\n`);
    await waitState("h-fixed-later", (p) => p.state === "enabled");
    expect(await (await host.api("/api/v1/plugins/h-fixed-later/value")).json()).toEqual({ value: "fixed" });
    // And through the API, after breaking and fixing it once more.
    writeFileSync(join(dir, "helper.ts"), throwing);
    await waitState("h-fixed-later", (p) => p.state === "failed");
    writeFileSync(join(dir, "helper.ts"), `export const part = () => "fixed again";\n`);
    expect(await (await host.api("/api/v1/plugins/h-fixed-later/reload", { method: "POST" })).json()).toMatchObject({ state: "enabled" });
    expect(await (await host.api("/api/v1/plugins/h-fixed-later/value")).json()).toEqual({ value: "fixed again" });
  });

  test("an update that throws at load is rolled back, and the previous version really runs", async () => {
    expect((await upload({ id: "i-update-throws", entry: routeEntry("1.0.0") })).status).toBe(201);
    const res = await upload({ id: "i-update-throws", version: "2.0.0", entry: `throw new Error("2.0.0 is broken");\nexport default 1;` });
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error.message).toBe("i-update-throws 2.0.0 did not load (loading failed: 2.0.0 is broken); the previous version 1.0.0 is back.");
    expect(await plugin("i-update-throws")).toMatchObject({ version: "1.0.0", state: "enabled" });
    expect(await (await host.api("/api/v1/plugins/i-update-throws/value")).json()).toEqual({ value: "1.0.0" });
  });
});

describe("routes and page fragments whose answers cannot be used", () => {
  beforeAll(async () => {
    writePlugin(pluginsDir, {
      id: "j-routes",
      entry: `import { definePlugin, HttpError } from "layerline";
export default definePlugin({
  setup(ctx) {
    ctx.route("GET", "/circular", () => { const o: any = {}; o.self = o; return o; });
    ctx.route("GET", "/bigint", () => ({ n: 10n }));
    ctx.route("GET", "/tojson", () => ({ toJSON() { throw new Error("toJSON exploded"); } }));
    ctx.route("GET", "/status-999", () => { throw new HttpError(999 as any, "x", "bad status"); });
    ctx.route("GET", "/status-200", () => { throw new HttpError(200 as any, "x", "an error that says ok"); });
    ctx.route("GET", "/teapot", () => { throw new HttpError(418, "teapot", "I am a teapot."); });
    ctx.route("POST", "/echo", (r) => ({ body: r.body ?? null }));
  },
});`,
    });
    writePlugin(pluginsDir, {
      id: "k-slot-evil",
      entry: `import { definePlugin } from "layerline";
export default definePlugin({ setup(ctx) { ctx.slot("navbar.item", () => ({ toString() { throw new Error("toString exploded"); } }) as any); } });`,
    });
    writePlugin(pluginsDir, {
      id: "l-slot-good",
      entry: `import { definePlugin, html } from "layerline";
export default definePlugin({ setup(ctx) { ctx.slot("navbar.item", () => html\`<span class="good-nav">good</span>\`); } });`,
    });
    await waitState("l-slot-good", (p) => p.state === "enabled");
    await waitState("j-routes", (p) => p.state === "enabled");
  });

  test("a value that cannot be sent, or an HttpError whose status is not an error's: a 502 and a fault", async () => {
    const cases: [string, string][] = [
      ["/circular", "returned a value that cannot be sent: its conversion threw: JSON.stringify cannot serialize cyclic structures"],
      ["/bigint", "returned a value that cannot be sent: its conversion threw: JSON.stringify cannot serialize BigInt"],
      ["/tojson", "returned a value that cannot be sent: its conversion threw: toJSON exploded"],
      ["/status-999", "threw an HttpError with status 999, which is not an error's (400–599)"],
      ["/status-200", "threw an HttpError with status 200, which is not an error's (400–599)"],
    ];
    for (const [path, message] of cases.slice(0, 2)) {
      const res = await host.api(`/api/v1/plugins/j-routes${path}`);
      expect([res.status, ((await res.json()) as any).error]).toEqual([502, { code: "plugin_failed", message: `The plugin j-routes could not answer: it ${message}.`, hint: "The plugin's log on its page has details." }]);
    }
    expect((await plugin("j-routes")).faults.map((f: any) => f.message)).toEqual(cases.slice(0, 2).map(([, m]) => m));
    // Three faults disable a plugin: the rest on a fresh load.
    expect((await host.api("/api/v1/plugins/j-routes/reload", { method: "POST" })).status).toBe(200);
    for (const [path, message] of cases.slice(2)) {
      const res = await host.api(`/api/v1/plugins/j-routes${path}`);
      expect([res.status, ((await res.json()) as any).error.message]).toEqual([502, `The plugin j-routes could not answer: it ${message}.`]);
      expect((await plugin("j-routes")).faults.at(-1).message).toBe(message);
      if (path === "/status-999") expect((await host.api("/api/v1/plugins/j-routes/reload", { method: "POST" })).status).toBe(200);
    }
    expect((await host.api("/api/v1/plugins/j-routes/reload", { method: "POST" })).status).toBe(200);
    const teapot = await host.api("/api/v1/plugins/j-routes/teapot");
    expect([teapot.status, ((await teapot.json()) as any).error.code]).toEqual([418, "teapot"]);
  });

  test("a Response whose body was already read: a 502 and a fault, not the server's 500", async () => {
    writePlugin(pluginsDir, {
      id: "m-read-body",
      entry: `import { definePlugin } from "layerline";
export default definePlugin({ setup(ctx) { ctx.route("GET", "/x", async () => { const r = new Response("a"); await r.text(); return r; }); } });`,
    });
    await waitState("m-read-body", (p) => p.state === "enabled");
    const res = await host.api("/api/v1/plugins/m-read-body/x");
    expect([res.status, ((await res.json()) as any).error.message]).toEqual([502, "The plugin m-read-body could not answer: it returned a Response whose body was already read."]);
    expect((await plugin("m-read-body")).faults).toMatchObject([{ where: "route GET /x", message: "returned a Response whose body was already read" }]);
  });

  test("malformed, too deep or too large JSON for a plugin's route: a 4xx that says so, the handler is not called", async () => {
    const send = (body: string) => host.api("/api/v1/plugins/j-routes/echo", { method: "POST", headers: { "content-type": "application/json" }, body });
    const bad = await send("{not json");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error).toMatchObject({ code: "invalid_body", message: expect.stringMatching(/^The request body is not valid JSON \(.+\)\.$/) });
    expect(await (await send('{"a":1}')).json()).toEqual({ body: { a: 1 } });
    // The host's caps hold for plugins' routes too.
    expect(((await (await send("[".repeat(20_000) + "]".repeat(20_000))).json()) as any).error.code).toBe("invalid_body");
    const big = await send(JSON.stringify({ a: "x".repeat(2_000_000) }));
    expect([big.status, ((await big.json()) as any).error.code]).toEqual([413, "body_too_large"]);
    expect((await plugin("j-routes")).faults).toEqual([]);
  });

  test("a navbar fragment that cannot become text: left out with a fault, the others shown", async () => {
    const res = await host.api("/ui/plugins/slot/navbar.item");
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('<span class="good-nav">good</span>');
    expect(page).not.toContain('data-plugin="k-slot-evil"');
    expect((await plugin("k-slot-evil")).faults).toMatchObject([{ where: "navbar.item fragment", message: "returned a value whose conversion to text threw: toString exploded" }]);
  });
});

describe("two plugins with one id", () => {
  const dupe = (value: string) => ({ id: "dupe", entry: routeEntry(value) });

  test("the second one gets the id once the first folder is gone; reloading it by its listed id answers", async () => {
    const first = writePlugin(pluginsDir, dupe("a"), "m-dup-a");
    await waitState("dupe", (p) => p.state === "enabled");
    writePlugin(pluginsDir, dupe("b"), "n-dup-b");
    const second = await waitState("dupe (n-dup-b)", (p) => typeof p.reason === "string");
    expect(second.reason).toBe(`another plugin with the id "dupe" is already loaded from ${first}`);

    rmSync(first, { recursive: true, force: true });
    await waitState("dupe", (p) => p.state === "enabled" && p.dir.endsWith("n-dup-b"));
    expect((await host.api(`/api/v1/plugins/${encodeURIComponent("dupe (n-dup-b)")}`)).status).toBe(404);
    expect(await (await host.api("/api/v1/plugins/dupe/value")).json()).toEqual({ value: "b" });

    // Reloaded by the id it is listed under just after that id's holder went: the answer is the plugin under its new id.
    writePlugin(pluginsDir, dupe("c"), "o-dup-c");
    await waitState("dupe (o-dup-c)", (p) => typeof p.reason === "string");
    expect((await host.api("/api/v1/plugins/dupe", { method: "DELETE" })).status).toBe(204);
    const res = await host.api(`/api/v1/plugins/${encodeURIComponent("dupe (o-dup-c)")}/reload`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: "dupe", state: "enabled", reason: null });
    expect(await (await host.api("/api/v1/plugins/dupe/value")).json()).toEqual({ value: "c" });
  });
});

describe("a plugin that logs and notifies in a loop", () => {
  test("at most 20 of its log lines and notices a second get through; the host answers on", async () => {
    writePlugin(pluginsDir, {
      id: "chatterbox",
      entry: `import { definePlugin } from "layerline";
export default definePlugin({
  setup(ctx) {
    for (let i = 0; i < 5000; i++) { ctx.log.info("line " + i); ctx.notify("info", "notice " + i); }
    ctx.route("GET", "/said", () => ({ ok: true }));
  },
});`,
    });
    await waitState("chatterbox", (p) => p.state === "enabled");
    const log = ((await (await host.api("/api/v1/plugins/chatterbox/log")).json()) as any).log.filter((l: any) => l.message.startsWith("line "));
    expect(log.length).toBeGreaterThan(0);
    expect(log.length).toBeLessThanOrEqual(40); // 20 a second; the loop may straddle a second's turn
    const notices = ((await (await host.api("/api/v1/plugins/notices")).json()) as any).notices.filter((n: any) => n.plugin === "chatterbox");
    expect(notices.length).toBeLessThanOrEqual(40);
    expect(await (await host.api("/api/v1/plugins/chatterbox/said")).json()).toEqual({ ok: true });
  }, 30_000);
});
