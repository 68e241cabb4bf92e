/**
 * Compatibility is decided from the manifest and a static reading of the plugin's files, before
 * any of its code runs.
 */
import { describe, expect, test } from "bun:test";
import { checkCompatibility, declaredApiOf, layerlineImports, type SourceFiles } from "../../src/plugins/compat.ts";
import { parseManifest, readManifestText, type Manifest } from "../../src/plugins/manifest.ts";
import { pluginFiles, type PluginSpec } from "./helpers.ts";

const files = (spec: PluginSpec): SourceFiles => {
  const all = pluginFiles(spec);
  return { read: (p) => all[p] ?? null };
};
const manifestOf = (spec: PluginSpec): Manifest => {
  const r = readManifestText(pluginFiles(spec)["package.json"]!);
  if (!r.ok) throw new Error(r.reason);
  return r.manifest;
};
const check = (spec: PluginSpec, api = "1.0.0") => checkCompatibility(manifestOf(spec), files(spec), api);

describe("manifest", () => {
  test("a valid manifest, with defaults", () => {
    const r = parseManifest({ name: "my-plugin", version: "1.2.3", layerline: { api: "^1.0.0" } });
    expect(r).toEqual({ ok: true, manifest: { name: "my-plugin", version: "1.2.3", layerline: { api: "^1.0.0", entry: "index.ts", permissions: [] } } });
    // As the registry reads it: layerline.entry, else module, else main, else index.ts.
    const entry = (json: object) => {
      const m = parseManifest({ name: "p", version: "1.0.0", ...json });
      return m.ok ? m.manifest.layerline.entry : m.reason;
    };
    expect(entry({ main: "./dist/main.js", layerline: { api: "^1" } })).toBe("dist/main.js");
    expect(entry({ main: "main.js", module: "mod.mjs", layerline: { api: "^1" } })).toBe("mod.mjs");
    expect(entry({ main: "main.js", layerline: { api: "^1", entry: "./src/plugin.ts" } })).toBe("src/plugin.ts");
    expect(entry({ main: "../escape.js", layerline: { api: "^1" } })).toBe("package.json: layerline.entry must be a .ts or .js file inside the plugin's folder");
  });

  test("each problem is named with its field", () => {
    const cases: [unknown, string][] = [
      [{ name: "x", version: "1.0.0" }, 'package.json has no "layerline" block (api, entry, …), so it is not a Layerline plugin'],
      [{ name: "Bad Name", version: "1.0.0", layerline: { api: "^1" } }, "name must be lower case"],
      [{ name: "install", version: "1.0.0", layerline: { api: "^1" } }, "name is a name the host uses itself"],
      [{ name: "x", version: "1.0", layerline: { api: "^1" } }, "version must be a semantic version"],
      [{ name: "x", version: "1.0.0", layerline: { api: "one" } }, "layerline.api must be a semver range"],
      [{ name: "x", version: "1.0.0", layerline: { api: "^1", entry: "../host.ts" } }, "layerline.entry must be a .ts or .js file inside the plugin's folder"],
      [{ name: "x", version: "1.0.0", layerline: { api: "^1", entry: "/etc/x.ts" } }, "layerline.entry must be a .ts or .js file"],
      [{ name: "x", version: "1.0.0", layerline: { api: "^1", permissions: ["root"] } }, "layerline.permissions.0 a permission is one of printer.commands"],
      [{ name: "x", version: "1.0.0", layerline: { api: "^1", homepage: "javascript:alert(1)" } }, "layerline.homepage must be an http(s) URL"],
    ];
    for (const [json, reason] of cases) {
      const r = parseManifest(json);
      expect(r.ok).toBe(false);
      expect(r.ok ? "" : r.reason).toContain(reason);
    }
    expect(readManifestText("{not json")).toMatchObject({ ok: false, reason: expect.stringContaining("not valid JSON") });
  });
});

describe("static compatibility", () => {
  const ok = `import { definePlugin, v, type LineHook } from "layerline";
import { helper } from "./lib/helper.ts";
import { join } from "node:path";
import fs from "fs";
const h: LineHook = (l) => l;
export default definePlugin({ settings: v.object({}), gcode: { send: h }, setup() { helper(join("a", "b")); fs.existsSync; } });`;

  test("a plugin that uses only the API, builtins and its own files is compatible", () => {
    const r = check({ id: "p", entry: ok, files: { "lib/helper.ts": "export const helper = (s: string) => s;" } });
    expect(r).toEqual({ ok: true, declaredApi: null, modules: ["index.ts", "lib/helper.ts"] });
  });

  test("the API range must include this host's version", () => {
    expect(check({ id: "p", entry: ok, layerline: { api: "^2.0.0" }, files: { "lib/helper.ts": "export const helper = (s) => s;" } })).toEqual({
      ok: false,
      reason: "needs plugin API ^2.0.0; this host provides 1.0.0",
      declaredApi: null,
    });
    expect(check({ id: "p", entry: ok, layerline: { api: ">=1.1.0" }, files: { "lib/helper.ts": "" } }, "1.0.0").ok).toBe(false);
    expect(check({ id: "p", entry: ok, layerline: { api: ">=1.1.0" }, files: { "lib/helper.ts": "export const helper = (s) => s;" } }, "1.4.0").ok).toBe(true);
  });

  test("what the entry file declares must fit too", () => {
    const entry = `export const api = "^3.0.0";\n${routeless}`;
    expect(check({ id: "p", entry })).toEqual({ ok: false, reason: "index.ts declares plugin API ^3.0.0; this host provides 1.0.0", declaredApi: "^3.0.0" });
    expect(check({ id: "p", entry: `export const api = "^1.0.0";\n${routeless}` })).toMatchObject({ ok: true, declaredApi: "^1.0.0" });
  });

  const routeless = `import { definePlugin } from "layerline";\nexport default definePlugin({});`;
  const refused: [string, PluginSpec, string][] = [
    ["host internals by relative path", { id: "p", entry: `import { startHost } from "../../src/host.ts";\n${routeless}` }, 'index.ts imports "../../src/host.ts", outside the plugin\'s folder'],
    ["host internals from a nested module", { id: "p", entry: `import "./a.ts";\n${routeless}`, files: { "a.ts": `export * from "./b/c.ts";`, "b/c.ts": `import x from "../../x.ts"; export { x };` } }, 'b/c.ts imports "../../x.ts", outside the plugin\'s folder'],
    ["an absolute path", { id: "p", entry: `const m = await import("/work/src/host.ts");\n${routeless}` }, 'imports "/work/src/host.ts" by absolute path'],
    ["a require() of internals", { id: "p", entry: `const m = require("../layerline/src/db/database.ts");\n${routeless}` }, "outside the plugin's folder"],
    ["a package it does not bring", { id: "p", entry: `import express from "express";\n${routeless}` }, 'imports the package "express", which is not in the plugin\'s node_modules'],
    ["a missing local module", { id: "p", entry: `import { x } from "./missing.ts";\n${routeless}` }, 'imports "./missing.ts", which is not in the plugin\'s folder'],
    ["a name the API does not export", { id: "p", entry: `import { definePlugin, hostDatabase } from "layerline";\nexport default definePlugin({});` }, 'imports "hostDatabase" from "layerline", which plugin API 1.0.0 does not export'],
    ["a type imported as a value", { id: "p", entry: `import { definePlugin, PluginContext } from "layerline";\nexport default definePlugin({});` }, 'imports "PluginContext" from "layerline"'],
    ["a syntax error", { id: "p", entry: `import { definePlugin } from "layerline";\nexport default definePlugin({ setup( {} );` }, "index.ts does not parse"],
    ["a missing entry file", { id: "p" }, "the entry file index.ts (package.json layerline.entry) is missing"],
  ];
  for (const [what, spec, reason] of refused) {
    test(`refused: ${what}`, () => {
      const r = check(spec);
      expect(r.ok).toBe(false);
      expect(r.ok ? "" : r.reason).toContain(reason);
    });
  }

  test("a package vendored in the plugin's node_modules is allowed", () => {
    expect(check({ id: "p", entry: `import left from "left-pad";\n${routeless}`, files: { "node_modules/left-pad/package.json": "{}" } }).ok).toBe(true);
  });

  test("helpers: names imported from layerline, declared API", () => {
    expect(layerlineImports(`import { a, b as c } from "layerline";\nimport D, { e } from 'layerline';\nimport * as L from "layerline";`)).toEqual(["a", "b", "default", "e"]);
    expect(declaredApiOf(`export const api: string = ">=1.2 <2";`)).toBe(">=1.2 <2");
    expect(declaredApiOf(`const api = "^1.0.0";`)).toBeNull();
  });
});
