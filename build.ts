/**
 * Builds the single-file executables: `bun run build` → dist/layerline-linux-x64 and
 * dist/layerline-linux-arm64 (cross-compiled). Views, public assets (htmx from its package),
 * and firmware-quirks/ are embedded; the binaries run from any folder without node_modules.
 *
 *   bun build.ts                  both targets
 *   bun build.ts --target x64     one target (x64 | arm64)
 *   bun build.ts --version 1.2.3  stamp another version (release builds)
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pkg from "./package.json" with { type: "json" };

export const TARGETS = {
  x64: "bun-linux-x64",
  arm64: "bun-linux-arm64",
} as const;
export type TargetName = keyof typeof TARGETS;

const ROOT = import.meta.dir;
/** The main program and every Worker entry: a worker must be its own entrypoint to be embedded. */
const ENTRYPOINTS = [join(ROOT, "src/main.ts"), join(ROOT, "src/printers/worker.ts"), join(ROOT, "src/analysis/analysis-worker.ts")];

/** Builds one target into `outfile`; returns its path. Throws with the bundler's messages on failure. */
export async function buildTarget(target: TargetName, options: { outfile?: string; version?: string } = {}): Promise<string> {
  const outfile = options.outfile ?? join(ROOT, "dist", `layerline-linux-${target}`);
  mkdirSync(join(outfile, ".."), { recursive: true });
  const result = await Bun.build({
    entrypoints: ENTRYPOINTS,
    compile: { target: TARGETS[target], outfile },
    minify: true,
    sourcemap: "none",
    // Keep embedded files' folder and name, so messages can name them (e.g. a quirks file).
    naming: { asset: "[dir]/[name].[ext]" },
    define: { LAYERLINE_VERSION: JSON.stringify(options.version ?? pkg.version) },
  });
  if (!result.success) {
    throw new Error(`build for ${target} failed:\n${result.logs.map((l) => String(l)).join("\n")}`);
  }
  return outfile;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: { target: { type: "string" }, version: { type: "string" } },
  });
  const targets = values.target ? [values.target as TargetName] : (Object.keys(TARGETS) as TargetName[]);
  for (const t of targets) {
    if (!(t in TARGETS)) {
      console.error(`unknown target "${t}" (use ${Object.keys(TARGETS).join(" or ")})`);
      process.exit(2);
    }
    const started = performance.now();
    const out = await buildTarget(t, { version: values.version });
    const size = Bun.file(out).size;
    console.log(`${out}  ${(size / 1024 / 1024).toFixed(1)} MB  (${Math.round(performance.now() - started)} ms)`);
  }
}
