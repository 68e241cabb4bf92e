/**
 * Installing plugins: archive uploads, URLs and the repository (size and sha256 verified), checked
 * before anything is written; updates that swap the folder and roll back when the new version
 * does not load; uninstall removing every file. Archives and the index are served on loopback.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_LIMITS } from "../../src/archive/archive.ts";
import { PLUGIN_API_VERSION } from "../../src/plugins/api.ts";
import { makeTar, makeZip } from "../helpers/archives.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { pluginArchive, pluginFiles, routeEntry, type PluginSpec } from "./helpers.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-install-"));
const pluginsDir = join(dataDir, "plugins");
const marker = join(dataDir, "hostile-code-ran");
let host: TestHost;
/** Files the test server serves, by path. */
const served = new Map<string, Uint8Array | string>();
let server: ReturnType<typeof Bun.serve>;
const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;
const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

beforeAll(async () => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const body = served.get(new URL(req.url).pathname);
      return body === undefined ? new Response("not found", { status: 404 }) : new Response(body as BodyInit);
    },
  });
  host = await startTestHost({ dataDir });
}, 30_000);

afterAll(async () => {
  await host?.close();
  server?.stop(true);
  rmSync(dataDir, { recursive: true, force: true });
});

async function uploadArchive(bytes: Uint8Array, name = "plugin.tgz"): Promise<Response> {
  const form = new FormData();
  form.append("file", new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
  return host.api("/api/v1/plugins/install", { method: "POST", body: form });
}

/** What is in the plugins folder (hidden folders included). */
const listing = () => readdirSync(pluginsDir).sort();

describe("archives are checked before anything is written", () => {
  const evil = `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "ran");\n${routeEntry("evil")}`;
  const good = pluginFiles({ id: "evil", entry: evil });
  const hostile: [string, Uint8Array, string][] = [
    ["a path that climbs out", makeTar([{ path: "evil/package.json", content: good["package.json"]! }, { path: "evil/../../escaped.ts", content: evil }], { gzip: true }), "archive_unsafe_path"],
    ["an absolute path", makeTar([{ path: "/tmp/evil/package.json", content: good["package.json"]! }], { gzip: true }), "archive_unsafe_path"],
    ["a symlink", makeTar([{ path: "evil/package.json", content: good["package.json"]! }, { path: "evil/index.ts", type: "symlink", linkTarget: "/etc/passwd" }], { gzip: true }), "archive_link"],
    ["a hard link", makeTar([{ path: "evil/package.json", content: good["package.json"]! }, { path: "evil/index.ts", type: "hardlink", linkTarget: "../../x" }]), "archive_link"],
    ["a zip symlink", makeZip([{ path: "evil/package.json", content: good["package.json"]! }, { path: "evil/index.ts", type: "symlink", linkTarget: "../../../host.ts" }]), "archive_link"],
    ["a file over the size limit", makeTar([{ path: "evil/package.json", content: good["package.json"]! }, { path: "evil/big.bin", content: new Uint8Array(DEFAULT_LIMITS.maxFileBytes + 1) }], { gzip: true }), "archive_too_large"],
    ["something that is no archive", new TextEncoder().encode("#!/bin/sh\nrm -rf /\n"), "archive_not_an_archive"],
    ["a truncated archive", pluginArchive({ id: "evil", entry: evil }).slice(0, 60), "archive_corrupt"],
    ["no package.json", makeTar([{ path: "evil/index.ts", content: evil }], { gzip: true }), "no_manifest"],
    ["a manifest without a layerline block", pluginArchive({ id: "evil", manifest: { name: "evil", version: "1.0.0" }, entry: evil }), "invalid_manifest"],
    ["an incompatible plugin", pluginArchive({ id: "evil", layerline: { api: "^2.0.0" }, entry: evil }), "incompatible"],
    ["a plugin reaching into the host", pluginArchive({ id: "evil", entry: `import "../../src/host.ts";\n${evil}` }), "incompatible"],
  ];
  for (const [what, bytes, code] of hostile) {
    test(`refused: ${what}`, async () => {
      const before = listing();
      const res = await uploadArchive(bytes);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      const error = ((await res.json()) as any).error;
      expect(error.code).toBe(code);
      // One sentence after another, not run together ("…end of file Nothing was installed.").
      expect(error.message).not.toMatch(/[^.!?)] Nothing was installed\.$/);
      expect(listing()).toEqual(before);
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(join(dataDir, "escaped.ts"))).toBe(false);
    });
  }

  test("a plugin may not take a bundled plugin's name", async () => {
    const res = await uploadArchive(pluginArchive({ id: "print-stats", entry: routeEntry("impostor") }));
    expect(res.status).toBe(409);
    expect(((await res.json()) as any).error.code).toBe("bundled");
    expect((await host.api("/api/v1/plugins/print-stats", { method: "DELETE" })).status).toBe(409);
  });
});

describe("install and uninstall", () => {
  test("upload (.tgz and .zip), use, reinstall, uninstall: every file goes", async () => {
    const res = await uploadArchive(pluginArchive({ id: "uploaded", entry: routeEntry("from upload"), files: { "lib/x.ts": "export const x = 1;" } }));
    expect(res.status).toBe(201);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ action: "installed", previousVersion: null, plugin: { id: "uploaded", state: "enabled", origin: "installed", installed: { source: "upload" } } });
    expect(await (await host.api("/api/v1/plugins/uploaded/value")).json()).toEqual({ value: "from upload" });
    expect(readdirSync(join(pluginsDir, "uploaded")).sort()).toEqual(["index.ts", "lib", "package.json"]);

    const again = await uploadArchive(pluginArchive({ id: "uploaded", version: "1.0.1", entry: routeEntry("zipped") }, { format: "zip", top: null }), "p.zip");
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ action: "updated", previousVersion: "1.0.0", plugin: { version: "1.0.1" } });
    expect(await (await host.api("/api/v1/plugins/uploaded/value")).json()).toEqual({ value: "zipped" });
    expect(existsSync(join(pluginsDir, ".previous", "uploaded"))).toBe(true);

    expect((await host.api("/api/v1/plugins/uploaded", { method: "DELETE" })).status).toBe(204);
    expect(existsSync(join(pluginsDir, "uploaded"))).toBe(false);
    expect(existsSync(join(pluginsDir, ".previous", "uploaded"))).toBe(false);
    expect(listing().filter((n) => n.startsWith(".staging") || n.startsWith(".layerline-download"))).toEqual([]);
  });

  test("from a URL, with an optional sha256", async () => {
    const bytes = pluginArchive({ id: "by-url", entry: routeEntry("from a URL") });
    served.set("/by-url.tgz", bytes);
    const wrong = await host.post("/api/v1/plugins/install", { url: url("/by-url.tgz"), sha256: "0".repeat(64) });
    expect(wrong.status).toBe(422);
    expect(((await wrong.json()) as any).error.code).toBe("hash_mismatch");
    expect(existsSync(join(pluginsDir, "by-url"))).toBe(false);
    const missing = await host.post("/api/v1/plugins/install", { url: url("/nothing.tgz") });
    expect([missing.status, ((await missing.json()) as any).error.code]).toEqual([502, "fetch_failed"]);
    const ok = await host.post("/api/v1/plugins/install", { url: url("/by-url.tgz"), sha256: sha256(bytes) });
    expect(ok.status).toBe(201);
    expect(await (await host.api("/api/v1/plugins/by-url/value")).json()).toEqual({ value: "from a URL" });
    const bad = await host.post("/api/v1/plugins/install", { url: "file:///etc/passwd" });
    expect(bad.status).toBe(400);
  });
});

describe("from the repository, with verified updates and rollback", () => {
  /** Publishes releases of a plugin and an index naming the latest. */
  const publish = (entries: { spec: PluginSpec; extra?: Record<string, unknown>; tamper?: boolean }[]) => {
    const index = entries.map(({ spec, extra, tamper }) => {
      const bytes = pluginArchive(spec);
      const path = `/archives/${spec.id}-${spec.version}.tgz`;
      served.set(path, tamper ? pluginArchive({ ...spec, entry: routeEntry("tampered") }) : bytes);
      return {
        id: spec.id,
        title: `Plugin ${spec.id}`,
        description: "from the test repository",
        author: "Tester",
        version: spec.version,
        archive: url(path),
        sha256: sha256(bytes),
        size: bytes.byteLength,
        compatibility: { layerline: "^1.0.0", os: ["linux"] },
        stats: { instances_month: 10, install_events_month: 4, instances_week: 8, install_events_week: 2 },
        ...extra,
      };
    });
    served.set("/index/plugins.json", JSON.stringify(index));
  };

  beforeAll(async () => {
    const res = await host.api("/api/v1/plugins/repository/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ url: url("/index/plugins.json"), refreshHours: 0 }) });
    expect(res.status).toBe(200);
  });

  const refresh = async () => expect(((await (await host.post("/api/v1/plugins/repository/refresh")).json()) as any).error).toBeNull();
  const search = async (q: string) => ((await (await host.api(`/api/v1/plugins/repository?q=${q}`)).json()) as any).results;

  test("one-click install of a compatible plugin; others are refused with the reason", async () => {
    publish([
      { spec: { id: "repo-plugin", version: "1.0.0", entry: routeEntry("v1.0.0") } },
      { spec: { id: "future", version: "1.0.0", entry: routeEntry("x") }, extra: { compatibility: { layerline: "^2.0.0" } } },
      { spec: { id: "pulled", version: "1.0.0", entry: routeEntry("x") }, extra: { disabled: "<p>Sends your files away</p>" } },
      { spec: { id: "tampered", version: "1.0.0", entry: routeEntry("x") }, tamper: true },
    ]);
    await refresh();
    const [item] = await search("repo-plugin");
    expect(item).toMatchObject({ id: "repo-plugin", installable: true, reason: null, installedVersion: null });
    const res = await host.post("/api/v1/plugins/install", { id: "repo-plugin" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ plugin: { id: "repo-plugin", version: "1.0.0", installed: { source: "repository" } } });
    expect(await (await host.api("/api/v1/plugins/repository-plugin/value")).status).toBe(404);
    expect(await (await host.api("/api/v1/plugins/repo-plugin/value")).json()).toEqual({ value: "v1.0.0" });

    const refused = async (id: string) => ((await (await host.post("/api/v1/plugins/install", { id })).json()) as any).error;
    expect(await refused("future")).toMatchObject({ code: "not_installable", message: `Plugin future cannot be installed here: needs plugin API ^2.0.0; this host provides ${PLUGIN_API_VERSION}.` });
    expect((await refused("pulled")).message).toContain("the repository disabled it: Sends your files away");
    // The plugin index is not signed: its own words, not those of the host's signed releases.
    expect(await refused("tampered")).toEqual({
      code: "hash_mismatch",
      message: `The archive of tampered 1.0.0 at ${url("/archives/tampered-1.0.0.tgz")} does not have the sha256 the repository index gives for it. Nothing was installed.`,
      hint: "The archive was changed or damaged after the index was made: refresh the repository and try again; if it persists, tell the plugin's author or whoever runs the repository.",
    });
    expect(await refused("nope")).toMatchObject({ code: "not_in_repository" });
    expect(existsSync(join(pluginsDir, "tampered"))).toBe(false);
    expect(listing().filter((n) => n.startsWith(".layerline-download"))).toEqual([]);
  });

  test("an update is offered, verified, swapped in; one that fails to load is rolled back", async () => {
    publish([{ spec: { id: "repo-plugin", version: "1.1.0", entry: routeEntry("v1.1.0") } }]);
    await refresh();
    expect((await search("repo-plugin"))[0]).toMatchObject({ installedVersion: "1.0.0", updateAvailable: true });
    const res = await host.post("/api/v1/plugins/repo-plugin/update");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ action: "updated", previousVersion: "1.0.0", plugin: { version: "1.1.0", state: "enabled" } });
    expect(await (await host.api("/api/v1/plugins/repo-plugin/value")).json()).toEqual({ value: "v1.1.0" });
    const same = await host.post("/api/v1/plugins/repo-plugin/update");
    expect([same.status, ((await same.json()) as any).error.code]).toEqual([409, "up_to_date"]);

    // 1.2.0 crashes in setup: the update is undone and 1.1.0 runs again.
    publish([{ spec: { id: "repo-plugin", version: "1.2.0", entry: `import { definePlugin } from "layerline";\nexport default definePlugin({ setup() { throw new Error("1.2.0 is broken"); } });` } }]);
    await refresh();
    const broken = await host.post("/api/v1/plugins/repo-plugin/update");
    expect(broken.status).toBe(422);
    const error = ((await broken.json()) as any).error;
    expect(error.code).toBe("load_failed");
    expect(error.message).toBe("repo-plugin 1.2.0 did not load (setup threw: 1.2.0 is broken); the previous version 1.1.0 is back.");
    expect(await (await host.api("/api/v1/plugins/repo-plugin")).json()).toMatchObject({ version: "1.1.0", state: "enabled" });
    expect(await (await host.api("/api/v1/plugins/repo-plugin/value")).json()).toEqual({ value: "v1.1.0" });
    expect(existsSync(join(pluginsDir, ".failed", "repo-plugin", "index.ts"))).toBe(true);

    expect((await host.api("/api/v1/plugins/repo-plugin", { method: "DELETE" })).status).toBe(204);
    for (const where of ["repo-plugin", ".previous/repo-plugin", ".failed/repo-plugin"]) expect(existsSync(join(pluginsDir, where))).toBe(false);
  }, 30_000);
});
