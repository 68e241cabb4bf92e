/**
 * The bundled plugins (`plugins/`), embedded in the compiled binary. Each file is imported
 * `with { type: "file" }`: a real path when running from source (so editing a bundled plugin
 * reloads it), and in the binary an embedded one (build.ts keeps folder and file names). The
 * runtime does not transpile TypeScript it imports from inside the binary, so there the files
 * are written out to `<data-dir>/bundled-plugins/` at start (only what changed) and loaded from
 * that folder. Every file of `plugins/` must be listed here; tests/plugins/bundled.test.ts checks.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import filamentChangeIndex from "../../plugins/filament-change/index.ts" with { type: "file" };
import filamentChangePackage from "../../plugins/filament-change/package.json" with { type: "file" };
import printStatsIndex from "../../plugins/print-stats/index.ts" with { type: "file" };
import printStatsPackage from "../../plugins/print-stats/package.json" with { type: "file" };
import webhookIndex from "../../plugins/webhook-notifier/index.ts" with { type: "file" };
import webhookPackage from "../../plugins/webhook-notifier/package.json" with { type: "file" };

// TypeScript types these imports as the modules themselves; at runtime each is a path.
const paths = (...files: unknown[]) => files as string[];

/** Every embedded file, by plugin: the package.json first. */
export const BUNDLED_FILES: readonly (readonly string[])[] = [
  paths(filamentChangePackage, filamentChangeIndex),
  paths(printStatsPackage, printStatsIndex),
  paths(webhookPackage, webhookIndex),
];

/** Where the bundled plugins are: their source folders, or (in the binary) copies in the data folder. */
export function bundledPlugins(dataDir: string): { dirs: string[]; fromSource: boolean } {
  if (!BUNDLED_FILES.some((files) => isEmbedded(files[0]!))) return { dirs: BUNDLED_FILES.map((files) => dirname(files[0]!)), fromSource: true };
  const root = join(dataDir, "bundled-plugins");
  const dirs: string[] = [];
  for (const files of BUNDLED_FILES) {
    const source = dirname(files[0]!);
    const target = join(root, source.slice(source.lastIndexOf("/") + 1));
    const wanted = new Set<string>();
    for (const file of files) {
      const rel = file.slice(source.length + 1);
      wanted.add(rel);
      const out = join(target, rel);
      const bytes = readFileSync(file);
      // Unchanged files keep their time stamps, so nothing looks changed to the loader.
      if (existsSync(out) && readFileSync(out).equals(bytes)) continue;
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, bytes);
    }
    removeOthers(target, "", wanted);
    dirs.push(target);
  }
  if (existsSync(root)) for (const name of readdirSync(root)) if (!dirs.includes(join(root, name))) rmSync(join(root, name), { recursive: true, force: true });
  return { dirs, fromSource: false };
}

/** Deletes files of an earlier release's copy that this one no longer has. */
function removeOthers(dir: string, rel: string, wanted: Set<string>): void {
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) removeOthers(dir, path, wanted);
    else if (!wanted.has(path)) rmSync(join(dir, path), { force: true });
  }
}

/** Whether a path is inside the compiled binary. */
function isEmbedded(path: string): boolean {
  return path.startsWith("/$bunfs/") || path.startsWith("B:/~BUN/");
}
