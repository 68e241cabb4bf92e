/**
 * Builds the single-file executables: `bun run build` → dist/layerline-linux-x64 and
 * dist/layerline-linux-arm64 (cross-compiled). Views, public assets (htmx from its package),
 * and firmware-quirks/ are embedded; the binaries run from any folder without node_modules.
 *
 *   bun build.ts                  both targets
 *   bun build.ts --target x64     one target (x64 | arm64)
 *   bun build.ts --version 1.2.3  stamp another version (release builds)
 *
 * `bun run release` (= bun build.ts --release) builds every target into dist/ and writes the
 * signed manifest dist/release.json (see src/update/manifest.ts); the Ed25519 private key is read
 * from the PKCS#8 PEM file named by LAYERLINE_SIGNING_KEY:
 *
 *   LAYERLINE_SIGNING_KEY=~/keys/layerline-signing-key.pem bun run release --version 1.2.0 \
 *     --channel stable --notes NOTES.md [--min-version 1.0.0] [--requires-kernel 4.19]
 *     [--migration TEXT] [--update-url URL] [--plugin-index-url URL]
 *     [--plugin-index-public-key FILE] [--target x64] [--out dist]
 *
 * `--plugin-index-public-key` builds in the Ed25519 public key (PEM) the built-in plugin index is
 * signed with (`layerline registry build --sign-key`): hosts then use that index only when its
 * signature verifies.
 */
import { createPublicKey } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pkg from "./package.json" with { type: "json" };
import { createRelease, loadSigningKey } from "./src/update/release.ts";
import { RELEASE_PUBLIC_KEY } from "./src/update/release-key.ts";
import { keyId, parsePublicKey, publicKeyPem, readKeyFile } from "./src/signing/ed25519.ts";

export const TARGETS = {
  x64: "bun-linux-x64",
  arm64: "bun-linux-arm64",
} as const;
export type TargetName = keyof typeof TARGETS;

/**
 * CPU features each target's Bun runtime needs: the default x64 runtime is built for Haswell
 * (2013+) and stops with "Illegal instruction" on CPUs without AVX2.
 */
export const TARGET_CPU: Record<TargetName, string[]> = { x64: ["avx2"], arm64: [] };

const ROOT = import.meta.dir;
/** The main program and every Worker entry: a worker must be its own entrypoint to be embedded. */
const ENTRYPOINTS = [
  join(ROOT, "src/main.ts"),
  join(ROOT, "src/printers/worker.ts"),
  join(ROOT, "src/analysis/analysis-worker.ts"),
  join(ROOT, "src/plugins/main-watchdog-worker.ts"),
];

/** Builds one target into `outfile`; returns its path. Throws with the bundler's messages on failure. */
export interface BuildOptions {
  outfile?: string;
  version?: string;
  /** The release channel this build follows by default (stable when absent). */
  channel?: string;
  /** Where this build looks for updates by default ({channel} is replaced). */
  updateUrl?: string;
  /** The plugin repository index this build browses by default. */
  pluginIndexUrl?: string;
  /** The public key (PEM) that index is signed with. */
  pluginIndexPublicKey?: string;
}

export async function buildTarget(target: TargetName, options: BuildOptions = {}): Promise<string> {
  const outfile = options.outfile ?? join(ROOT, "dist", `layerline-linux-${target}`);
  mkdirSync(join(outfile, ".."), { recursive: true });
  const result = await Bun.build({
    entrypoints: ENTRYPOINTS,
    compile: { target: TARGETS[target], outfile },
    minify: true,
    sourcemap: "none",
    // Keep embedded files' folder and name, so messages can name them (e.g. a quirks file).
    naming: { asset: "[dir]/[name].[ext]" },
    define: {
      LAYERLINE_VERSION: JSON.stringify(options.version ?? pkg.version),
      // The clock check's lower bound (src/version.ts); SOURCE_DATE_EPOCH keeps builds reproducible.
      LAYERLINE_BUILD_TIME: JSON.stringify(process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) * 1000 : Date.now()),
      LAYERLINE_CHANNEL: JSON.stringify(options.channel ?? ""),
      LAYERLINE_UPDATE_URL: JSON.stringify(options.updateUrl ?? ""),
      LAYERLINE_PLUGIN_INDEX_URL: JSON.stringify(options.pluginIndexUrl ?? ""),
      LAYERLINE_PLUGIN_INDEX_PUBLIC_KEY: JSON.stringify(options.pluginIndexPublicKey ?? ""),
    },
  });
  if (!result.success) {
    throw new Error(`build for ${target} failed:\n${result.logs.map((l) => String(l)).join("\n")}`);
  }
  return outfile;
}

export interface ReleaseOptions {
  version: string;
  channel: "stable" | "beta";
  notes: string;
  minimumVersion?: string;
  kernel?: string;
  migration?: string;
  updateUrl?: string;
  pluginIndexUrl?: string;
  /** A file with the public key (PEM) the plugin index at pluginIndexUrl is signed with. */
  pluginIndexPublicKeyFile?: string;
  targets?: TargetName[];
  /** Output folder (default dist/). */
  out?: string;
}

/**
 * Builds every target into `out` and writes the signed `release.json` there; returns its path.
 * `env` supplies LAYERLINE_SIGNING_KEY.
 */
export async function release(options: ReleaseOptions, env: Record<string, string | undefined> = process.env): Promise<string> {
  const key = loadSigningKey(env);
  if (options.pluginIndexPublicKeyFile && !options.pluginIndexUrl) throw new Error("--plugin-index-public-key needs --plugin-index-url: the key is trusted for that index only.");
  const pluginIndexPublicKey = options.pluginIndexPublicKeyFile ? publicKeyPem(readKeyFile(options.pluginIndexPublicKeyFile, "public", "the plugin index public key")) : undefined;
  const out = resolve(options.out ?? join(ROOT, "dist"));
  const targets = options.targets ?? (Object.keys(TARGETS) as TargetName[]);
  const files = await Promise.all(
    targets.map(async (t) => ({
      target: `linux-${t}` as const,
      path: await buildTarget(t, { outfile: join(out, `layerline-linux-${t}`), version: options.version, channel: options.channel, updateUrl: options.updateUrl, pluginIndexUrl: options.pluginIndexUrl, pluginIndexPublicKey }),
      cpu: TARGET_CPU[t],
    })),
  );
  const signed = await createRelease({ ...options, files }, key);
  const manifestPath = join(out, "release.json");
  writeFileSync(manifestPath, `${JSON.stringify(signed, null, 2)}\n`);
  return manifestPath;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      target: { type: "string" },
      version: { type: "string" },
      release: { type: "boolean", default: false },
      channel: { type: "string", default: "stable" },
      notes: { type: "string" },
      "min-version": { type: "string" },
      "requires-kernel": { type: "string" },
      migration: { type: "string" },
      "update-url": { type: "string" },
      "plugin-index-url": { type: "string" },
      "plugin-index-public-key": { type: "string" },
      out: { type: "string" },
    },
  });
  const targets = values.target ? [values.target as TargetName] : (Object.keys(TARGETS) as TargetName[]);
  for (const t of targets) {
    if (!(t in TARGETS)) {
      console.error(`unknown target "${t}" (use ${Object.keys(TARGETS).join(" or ")})`);
      process.exit(2);
    }
  }
  if (values.release) {
    if (values.channel !== "stable" && values.channel !== "beta") {
      console.error(`--channel must be stable or beta, not "${values.channel}"`);
      process.exit(2);
    }
    try {
      const started = performance.now();
      const manifestPath = await release({
        version: values.version ?? pkg.version,
        channel: values.channel,
        notes: values.notes ? readFileSync(values.notes, "utf8") : "",
        minimumVersion: values["min-version"],
        kernel: values["requires-kernel"],
        migration: values.migration,
        updateUrl: values["update-url"],
        pluginIndexUrl: values["plugin-index-url"],
        pluginIndexPublicKeyFile: values["plugin-index-public-key"],
        targets,
        out: values.out,
      });
      const signed = JSON.parse(readFileSync(manifestPath, "utf8"));
      for (const [name, t] of Object.entries(signed.manifest.targets as Record<string, { file: string; size: number; sha256: string }>)) {
        console.log(`${name}  ${t.file}  ${(t.size / 1024 / 1024).toFixed(1)} MB  sha256 ${t.sha256}`);
      }
      console.log(`${manifestPath}  ${signed.manifest.version} (${signed.manifest.channel}), signed by key ${signed.signature.keyId}  (${Math.round(performance.now() - started)} ms)`);
      const builtIn = keyId(parsePublicKey(RELEASE_PUBLIC_KEY));
      if (signed.signature.keyId !== builtIn) {
        console.warn(`warning: this key is not the one built into Layerline (${builtIn}); hosts install this release only with --update-public-key naming its public half:`);
        console.warn(createPublicKey(loadSigningKey()).export({ type: "spki", format: "pem" }).toString().trim());
      }
      if (!values.notes) console.warn("warning: no --notes FILE: the release has no release notes.");
      if (values["plugin-index-url"] && !values["plugin-index-public-key"]) console.warn("warning: --plugin-index-url without --plugin-index-public-key: hosts use that index unsigned.");
    } catch (e) {
      console.error(`release failed: ${(e as Error).message}`);
      process.exit(1);
    }
  } else {
    for (const t of targets) {
      const started = performance.now();
      const out = await buildTarget(t, { version: values.version });
      const size = Bun.file(out).size;
      console.log(`${out}  ${(size / 1024 / 1024).toFixed(1)} MB  (${Math.round(performance.now() - started)} ms)`);
    }
  }
}
