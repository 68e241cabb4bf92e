/**
 * Test plugins: folders and archives made from a few files, with a valid manifest unless a test
 * says otherwise.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { makeTar, makeZip } from "../helpers/archives.ts";

export interface PluginSpec {
  id: string;
  version?: string;
  /** Merged into the manifest's `layerline` block. */
  layerline?: Record<string, unknown>;
  /** Replaces the whole manifest. */
  manifest?: unknown;
  /** The entry module's code (index.ts). */
  entry?: string;
  /** More files, by path in the plugin's folder. */
  files?: Record<string, string>;
}

/** The files of a plugin folder, package.json included. */
export function pluginFiles(spec: PluginSpec): Record<string, string> {
  const manifest = spec.manifest ?? {
    name: spec.id,
    version: spec.version ?? "1.0.0",
    layerline: { api: "^1.0.0", entry: "index.ts", displayName: `Test ${spec.id}`, ...spec.layerline },
  };
  return {
    "package.json": typeof manifest === "string" ? manifest : JSON.stringify(manifest, null, 2),
    ...(spec.entry !== undefined ? { "index.ts": spec.entry } : {}),
    ...spec.files,
  };
}

/** Writes a plugin folder `<root>/<folder>`; returns its path. */
export function writePlugin(root: string, spec: PluginSpec, folder = spec.id): string {
  const dir = join(root, folder);
  for (const [path, content] of Object.entries(pluginFiles(spec))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** A .tar.gz (or .zip) of a plugin, in one top folder as GitHub makes them. */
export function pluginArchive(spec: PluginSpec, options: { format?: "tgz" | "zip"; top?: string | null } = {}): Uint8Array {
  const top = options.top === undefined ? `${spec.id}-${spec.version ?? "1.0.0"}` : options.top;
  const entries = Object.entries(pluginFiles(spec)).map(([path, content]) => ({ path: top ? `${top}/${path}` : path, content }));
  return options.format === "zip" ? makeZip(entries) : makeTar(entries, { gzip: true });
}

/** A minimal valid plugin entry: a route answering `value`. */
export const routeEntry = (value: string) => `import { definePlugin } from "layerline";
export default definePlugin({
  setup(ctx) {
    ctx.route("GET", "/value", () => ({ value: ${JSON.stringify(value)} }));
  },
});
`;
