/**
 * `layerline registry build …` and `layerline registry serve …`.
 */
import type { KeyObject } from "node:crypto";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { readKeyFile } from "../signing/ed25519.ts";
import { BuildError, buildRegistry, DEFAULT_SOURCE_API, type BuildOptions } from "./build.ts";
import type { Problem } from "./entry.ts";

export const REGISTRY_HELP = `layerline registry — the plugin repository: build its index and website, and serve it.

Usage:
  layerline registry build --entries DIR --out DIR [options]
  layerline registry serve --site DIR --data-dir DIR [--port N] [--host ADDR] [options]

registry build
  Reads every entry (DIR/*.md: Markdown with YAML front matter, as OctoPrint's _plugins/<id>.md,
  plus compatibility.layerline: a semver range of the Layerline plugin API), validates each and
  reports every problem with file and field (a bad entry is left out; the others are built),
  enriches them and writes into --out: plugins.json (the index the host's plugin browser reads),
  notices.json, rankings.json, build-report.json and the static website (index.html, a page per
  plugin, search). The folder is replaced as a whole, so it must be new, empty or an earlier output.

  --entries DIR            the entry files
  --out DIR                where the index and website go
  --stats-7d FILE          plugin_stats_7d.json  (usage export: instances and installs this week)
  --stats-30d FILE         plugin_stats_30d.json (the same for the month, with versions)
  --likes FILE             plugin_likes.json (stars from the registry service)
  --source-api URL         GraphQL endpoint of the source host (GitHub's shape;
                           default ${DEFAULT_SOURCE_API} when a token is given)
  --source-token-file FILE a file holding the source host's API token
  --source-max-age HOURS   reuse cached source health younger than this (default 6)
  --source-max-wait SECONDS
                           wait at most this long for a rate limit to reset, then use the cache (default 60)
  --cache-dir DIR          the cache kept between builds (default: .registry-cache beside --out)
  --base-url URL           the website's public address, for absolute page and image links
  --assets DIR             copied to --out/assets/ (pictures entries name as /assets/…)
  --sign-key FILE          Ed25519 private key (PKCS#8 PEM): writes plugins.json.sig and
                           notices.json.sig, detached signatures over those files' exact bytes,
                           which hosts trusting the key's public half check before using them

  Source health is fetched only with --source-api or --source-token-file. Archives are downloaded
  only for entries that declare compatibility.layerline: their package.json is read (never run)
  and a declared range that differs from the archive's is corrected, with a compatibility notice.
  Exit status: 0 built cleanly, 1 built but some entries were left out or inputs were unusable,
  2 bad options or the output folder cannot be used.

registry serve
  Serves the built site and index, takes anonymous usage pings (POST /api/v1/tracking/ping) and
  likes (POST /api/v1/likes), stores them in DATA-DIR/registry.sqlite (no addresses are read or
  kept) and writes the statistics exports to DATA-DIR/export/ (also served under /export/) at
  start and every --export-every minutes. With --entries it rebuilds --site from them after each
  export, so the index carries the new statistics and likes.

  --site DIR               the output of registry build
  --data-dir DIR           the service's database and exports
  --port N                 HTTP port (default 8080)
  --host ADDR              address to listen on (default 0.0.0.0)
  --export-every MINUTES   default 60
  --entries DIR            rebuild the site after each export (with the build options above;
                           with --sign-key each rebuilt index is signed again)

Examples:
  layerline registry build --entries entries --out site
  layerline registry build --entries entries --out site --stats-7d export/plugin_stats_7d.json \\
      --stats-30d export/plugin_stats_30d.json --source-token-file ~/.github-token
  layerline registry build --entries entries --out site --sign-key ~/keys/index-key.pem
  layerline registry serve --site site --data-dir /var/lib/layerline-registry --entries entries \\
      --sign-key ~/keys/index-key.pem`;

const BUILD_FLAGS = {
  entries: { type: "string" },
  out: { type: "string" },
  "stats-7d": { type: "string" },
  "stats-30d": { type: "string" },
  likes: { type: "string" },
  "source-api": { type: "string" },
  "source-token-file": { type: "string" },
  "source-max-age": { type: "string" },
  "source-max-wait": { type: "string" },
  "cache-dir": { type: "string" },
  "base-url": { type: "string" },
  assets: { type: "string" },
  "sign-key": { type: "string" },
} as const;

export async function registryCli(args: string[]): Promise<number> {
  const sub = args[0];
  if (sub === "build") return build(args.slice(1));
  if (sub === "serve") return serve(args.slice(1));
  console.error(sub ? `Unknown registry command "${sub}".` : "Name a registry command: build or serve.");
  console.error("Run layerline registry --help.");
  return 2;
}

function parse(args: string[], options: ParseArgsConfig["options"]) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (e) {
    console.error(`${(e as Error).message}\nRun layerline registry --help for the options.`);
    return null;
  }
}

/** A positive number from a flag, or an error message. */
function number(flag: string, value: string | undefined, fallback: number): number | string {
  if (value === undefined) return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : `--${flag} must be a number ≥ 0, not "${value}"`;
}

function buildOptions(values: Record<string, string | undefined>): Omit<BuildOptions, "outDir"> | string {
  if (!values.entries) return "--entries DIR is required (the folder of entry files).";
  const maxAge = number("source-max-age", values["source-max-age"], 6);
  const maxWait = number("source-max-wait", values["source-max-wait"], 60);
  if (typeof maxAge === "string") return maxAge;
  if (typeof maxWait === "string") return maxWait;
  const baseUrl = values["base-url"];
  if (baseUrl && !/^https?:\/\/./.test(baseUrl)) return "--base-url must be an http(s) URL.";
  const sourceApi = values["source-api"];
  if (sourceApi && !/^https?:\/\/./.test(sourceApi)) return "--source-api must be an http(s) URL.";
  let signKey: KeyObject | undefined;
  try {
    if (values["sign-key"]) signKey = readKeyFile(values["sign-key"], "private", "the --sign-key file");
  } catch (e) {
    return `${(e as Error).message} Make one with: openssl genpkey -algorithm ed25519 -out index-key.pem`;
  }
  return {
    entriesDir: values.entries,
    stats7d: values["stats-7d"],
    stats30d: values["stats-30d"],
    likes: values.likes,
    sourceApi,
    sourceTokenFile: values["source-token-file"],
    sourceMaxAgeMs: maxAge * 3600_000,
    sourceMaxWaitMs: maxWait * 1000,
    cacheDir: values["cache-dir"],
    baseUrl,
    assetsDir: values.assets,
    signKey,
  };
}

async function build(args: string[]): Promise<number> {
  const values = parse(args, BUILD_FLAGS);
  if (!values) return 2;
  if (!values.out) {
    console.error("--out DIR is required (where the index and website go).");
    return 2;
  }
  const options = buildOptions(values);
  if (typeof options === "string") {
    console.error(options);
    return 2;
  }
  let result;
  try {
    result = await buildRegistry({ ...options, outDir: values.out, log: (line) => console.error(line) });
  } catch (e) {
    if (e instanceof BuildError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  for (const p of result.problems) console.error(formatProblem(p));
  const errors = result.problems.filter((p) => p.severity === "error").length;
  console.log(
    `Built ${result.indexed} of ${result.entries} entries into ${values.out}` +
      ` (${result.rejected} left out, ${errors} errors, ${result.problems.length - errors} warnings, ${result.notices.length} notices,` +
      ` ${result.sourceQueries} source queries, ${result.archivesDownloaded} archives downloaded)` +
      (result.signedBy ? `; plugins.json and notices.json signed by key ${result.signedBy}.` : "; not signed (no --sign-key)."),
  );
  return errors > 0 ? 1 : 0;
}

/** `BLTouch.md: compatibility.os.0: must be one of …` */
export function formatProblem(p: Problem): string {
  return `${p.severity}: ${p.file}: ${p.field}: ${p.message}`;
}

async function serve(args: string[]): Promise<number> {
  const values = parse(args, {
    ...BUILD_FLAGS,
    entries: { type: "string" },
    site: { type: "string" },
    "data-dir": { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    "export-every": { type: "string" },
  });
  if (!values) return 2;
  if (!values.site || !values["data-dir"]) {
    console.error("--site DIR and --data-dir DIR are required.");
    return 2;
  }
  const port = Number(values.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("--port must be 0–65535.");
    return 2;
  }
  const every = number("export-every", values["export-every"], 60);
  if (typeof every === "string" || every === 0) {
    console.error(typeof every === "string" ? every : "--export-every must be more than 0 minutes.");
    return 2;
  }
  let build: Omit<BuildOptions, "outDir"> | undefined;
  if (values["sign-key"] && !values.entries) {
    console.error("--sign-key needs --entries: serve signs the site it rebuilds; without --entries it serves the site (and the signatures registry build wrote) as they are.");
    return 2;
  }
  if (values.entries) {
    const options = buildOptions(values);
    if (typeof options === "string") {
      console.error(options);
      return 2;
    }
    build = options;
  }
  const { mkdirSync } = await import("node:fs");
  const { startRegistryService } = await import("./service.ts");
  let service;
  try {
    mkdirSync(values["data-dir"], { recursive: true });
    service = await startRegistryService({ dataDir: values["data-dir"], siteDir: values.site, port, host: values.host ?? "0.0.0.0", exportEveryMs: every * 60_000, build });
  } catch (e) {
    console.error(`The registry service could not start: ${(e as Error).message}`);
    return 1;
  }
  console.log(`Layerline registry is serving ${values.site} on ${service.url} (data: ${values["data-dir"]})`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await service.stop();
  return 0;
}
