/**
 * Compatibility, decided before any plugin code runs: the manifest's API range against this
 * host's API version, and a static reading of the entry file and every local module it imports
 * (never executed): it must parse, import only `layerline`, the runtime's built-in modules, its
 * own files or packages vendored in its own `node_modules/` — never host internals — and import
 * from `layerline` only names this API version exports. Works on a folder on disk and on an
 * archive before it is unpacked (see {@link SourceFiles}).
 */
import { builtinModules } from "node:module";
import { posix } from "node:path";
import { PLUGIN_API_VERSION } from "./api.ts";
import type { Manifest } from "./manifest.ts";
import { satisfies } from "./semver.ts";
import { SDK_EXPORTS } from "./virtual-module.ts";

/** Read access to a plugin's files by path relative to its folder. */
export interface SourceFiles {
  /** The file's text, or null when there is no such file. */
  read(path: string): string | null;
}

export type CompatResult =
  | { ok: true; declaredApi: string | null; modules: string[] }
  | { ok: false; reason: string; declaredApi: string | null };

const BUILTINS = new Set(builtinModules);
const SOURCE_EXT = /\.(ts|mts|js|mjs|cts|cjs|tsx|jsx)$/;
const RESOLVE_SUFFIXES = ["", ".ts", ".mts", ".js", ".mjs", ".tsx", "/index.ts", "/index.js"];
/** A bound on local modules read, so a hostile plugin cannot make the check run forever. */
const MAX_MODULES = 500;

const transpilers = { ts: new Bun.Transpiler({ loader: "ts" }), tsx: new Bun.Transpiler({ loader: "tsx" }), js: new Bun.Transpiler({ loader: "js" }) };
const transpilerFor = (file: string) => (/\.[jt]sx$/.test(file) ? transpilers.tsx : /\.[cm]?js$/.test(file) ? transpilers.js : transpilers.ts);

/**
 * Checks a plugin against this host's API.
 * Example: `checkCompatibility(manifest, { read: (p) => readFileOrNull(join(dir, p)) })`.
 */
export function checkCompatibility(manifest: Manifest, files: SourceFiles, hostApi = PLUGIN_API_VERSION, sdkExports: readonly string[] = SDK_EXPORTS): CompatResult {
  const range = manifest.layerline.api;
  if (!satisfies(hostApi, range)) {
    return { ok: false, reason: `needs plugin API ${range}; this host provides ${hostApi}`, declaredApi: null };
  }
  const entry = posix.normalize(manifest.layerline.entry);
  const entrySource = files.read(entry);
  if (entrySource === null) return { ok: false, reason: `the entry file ${entry} (package.json layerline.entry) is missing`, declaredApi: null };
  const declaredApi = declaredApiOf(entrySource);
  if (declaredApi !== null && !satisfies(hostApi, declaredApi)) {
    return { ok: false, reason: `${entry} declares plugin API ${declaredApi}; this host provides ${hostApi}`, declaredApi };
  }
  const exported = new Set(sdkExports);
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (seen.size > MAX_MODULES) return { ok: false, reason: `more than ${MAX_MODULES} local modules`, declaredApi };
    const source = file === entry ? entrySource : files.read(file);
    if (source === null) return { ok: false, reason: `${file} is missing`, declaredApi };
    let imports: { path: string }[];
    let code: string;
    try {
      const transpiler = transpilerFor(file);
      imports = transpiler.scanImports(source);
      code = transpiler.transformSync(source);
    } catch (e) {
      return { ok: false, reason: `${file} does not parse: ${firstLine(e)}`, declaredApi };
    }
    for (const { path } of imports) {
      const problem = checkImport(file, path, files, queue);
      if (problem) return { ok: false, reason: problem, declaredApi };
    }
    for (const name of layerlineImports(code)) {
      if (!exported.has(name)) {
        return {
          ok: false,
          reason: `${file} imports "${name}" from "layerline", which plugin API ${hostApi} does not export (import types with \`import type\`)`,
          declaredApi,
        };
      }
    }
  }
  return { ok: true, declaredApi, modules: [...seen] };
}

/** Why an import is not allowed, or null; local source files are queued for checking. */
function checkImport(importer: string, spec: string, files: SourceFiles, queue: string[]): string | null {
  if (spec === "layerline" || spec === "bun" || spec.startsWith("bun:") || spec.startsWith("node:") || BUILTINS.has(spec)) return null;
  if (spec.startsWith("./") || spec.startsWith("../") || spec.startsWith("/")) {
    if (spec.startsWith("/")) return `${importer} imports "${spec}" by absolute path; plugins reach the host only through the "layerline" module`;
    const target = posix.normalize(posix.join(posix.dirname(importer), spec));
    if (target.startsWith("../") || target === "..") {
      return `${importer} imports "${spec}", outside the plugin's folder; plugins reach the host only through the "layerline" module`;
    }
    for (const suffix of RESOLVE_SUFFIXES) {
      const candidate = target + suffix;
      if (files.read(candidate) !== null) {
        if (SOURCE_EXT.test(candidate)) queue.push(candidate);
        return null;
      }
    }
    return `${importer} imports "${spec}", which is not in the plugin's folder`;
  }
  // A bare package: only one vendored in the plugin's own node_modules.
  const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
  if (files.read(`node_modules/${name}/package.json`) !== null) return null;
  return `${importer} imports the package "${name}", which is not in the plugin's node_modules (vendor it, or use what "layerline" provides)`;
}

/** Value names imported from "layerline" in transpiled code (types are gone by then). */
export function layerlineImports(code: string): string[] {
  const names: string[] = [];
  for (const m of code.matchAll(/import\s+([^;]*?)\s+from\s*["']layerline["']/g)) {
    const clause = m[1]!.trim();
    if (clause.startsWith("* as")) continue;
    const braces = /\{([^}]*)\}/.exec(clause);
    const defaultPart = clause.replace(/\{[^}]*\}/, "").replace(/,/g, "").trim();
    if (defaultPart && !defaultPart.startsWith("*")) names.push("default");
    if (braces) {
      for (const item of braces[1]!.split(",")) {
        const name = item.trim().split(/\s+as\s+/)[0]!.trim();
        if (name && !name.startsWith("type ")) names.push(name);
      }
    }
  }
  return names;
}

/** `export const api = "^1.0.0"` in the entry file: the range the code itself says it needs. */
export function declaredApiOf(source: string): string | null {
  return /export\s+const\s+api\s*(?::\s*string\s*)?=\s*["'`]([^"'`]+)["'`]/.exec(source)?.[1] ?? null;
}

function firstLine(e: unknown): string {
  return String((e as Error).message ?? e).split("\n")[0]!.slice(0, 300);
}
