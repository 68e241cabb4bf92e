/**
 * `layerline registry serve`: the repository service. It serves the built website and index,
 * takes anonymous usage pings and likes (validated strictly, stored in its own sqlite file with
 * no addresses), and on a schedule writes the statistics exports — and, when it knows the
 * entries, rebuilds the site from them so the index carries the new numbers.
 */
import type { Database } from "bun:sqlite";
import { mkdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";
import { Elysia } from "elysia";
import { openDatabase } from "../db/database.ts";
import { ApiError, errorHandlerWith, parseBody } from "../server/errors.ts";
import { LikeSchema, LIKES_PATH, PING_PATH, PingSchema } from "../tracking/payload.ts";
import { buildRegistry, type BuildOptions, type BuildResult } from "./build.ts";
import { EXPORT_FILES } from "./export-format.ts";
import { REGISTRY_DATABASE_FILE, registryMigrations } from "./migrations/index.ts";
import { UsageStore } from "./usage-store.ts";

export interface RegistryServiceOptions {
  /** Where registry.sqlite and the exports live. */
  dataDir: string;
  /** The built site (`registry build --out`), served as is. */
  siteDir: string;
  port: number;
  host: string;
  /** How often the exports are written (and the site rebuilt); default hourly. */
  exportEveryMs?: number;
  /** Rebuild the site after each export from these entries (the stats options are filled in). */
  build?: Omit<BuildOptions, "outDir" | "stats7d" | "stats30d" | "likes" | "log">;
  now?: () => number;
  log?: (line: string) => void;
}

export interface ExportRun {
  files: string[];
  build: BuildResult | null;
  buildError: string | null;
}

export interface RegistryService {
  url: string;
  port: number;
  db: Database;
  store: UsageStore;
  /** Writes the exports now (and rebuilds the site when configured); runs are serialised. */
  exportNow(): Promise<ExportRun>;
  stop(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".sig": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".svg": "image/svg+xml",
  ".webp": "image/webp",
};

export async function startRegistryService(o: RegistryServiceOptions): Promise<RegistryService> {
  const now = o.now ?? Date.now;
  const log = o.log ?? ((line: string) => console.log(line));
  const dataDir = resolve(o.dataDir);
  const siteDir = resolve(o.siteDir);
  const exportDir = join(dataDir, "export");
  mkdirSync(exportDir, { recursive: true });
  const db = openDatabase(dataDir, REGISTRY_DATABASE_FILE, registryMigrations);
  const store = new UsageStore(db);
  const known = knownPlugins(siteDir);

  let running: Promise<ExportRun> = Promise.resolve({ files: [], build: null, buildError: null });
  const exportNow = () => (running = running.catch(() => undefined).then(() => runExport()));
  const runExport = async (): Promise<ExportRun> => {
    const t = now();
    store.prune(t);
    const files: [string, unknown][] = [
      [EXPORT_FILES.plugins7d, store.pluginStats(7, t)],
      [EXPORT_FILES.plugins30d, store.pluginStats(30, t)],
      [EXPORT_FILES.instances7d, store.instanceStats(7, t)],
      [EXPORT_FILES.instances30d, store.instanceStats(30, t)],
      [EXPORT_FILES.likes, store.likesExport(t)],
    ];
    for (const [name, data] of files) {
      const tmp = join(exportDir, `.${name}.tmp`);
      await Bun.write(tmp, JSON.stringify(data, null, 1));
      renameSync(tmp, join(exportDir, name));
    }
    if (!o.build) return { files: files.map(([n]) => n), build: null, buildError: null };
    try {
      const build = await buildRegistry({
        ...o.build,
        outDir: siteDir,
        stats7d: join(exportDir, EXPORT_FILES.plugins7d),
        stats30d: join(exportDir, EXPORT_FILES.plugins30d),
        likes: join(exportDir, EXPORT_FILES.likes),
        now: () => t,
      });
      log(`registry: exported statistics and rebuilt the site (${build.indexed} plugins, ${build.problems.filter((p) => p.severity === "error").length} entry errors${build.signedBy ? `, signed by key ${build.signedBy}` : ""})`);
      return { files: files.map(([n]) => n), build, buildError: null };
    } catch (e) {
      log(`registry: the site rebuild failed: ${(e as Error).message}`);
      return { files: files.map(([n]) => n), build: null, buildError: (e as Error).message };
    }
  };

  const app = new Elysia()
    .use(REGISTRY_ERRORS)
    .post(PING_PATH, ({ body, set }) => {
      // The address the ping came from is never read, so it cannot be stored or logged.
      const ping = parseBody(PingSchema, body, PAYLOAD_HINT);
      // Only plugins this registry lists are counted: the exports are public, and the name of a
      // private plugin (a host's own, installed from a file) must not be published.
      store.recordPing({ ...ping, plugins: ping.plugins.filter((p) => known.has(p.id)), events: ping.events.filter((e) => known.has(e.plugin)) }, now());
      set.status = 204;
      return "";
    })
    .post(LIKES_PATH, ({ body }) => {
      const like = parseBody(LikeSchema, body, PAYLOAD_HINT);
      if (!known.has(like.plugin)) throw new ApiError(404, "unknown_plugin", `There is no plugin "${like.plugin}" in this registry.`, "Use an id from plugins.json.");
      return { plugin: like.plugin, liked: like.liked, likes: store.setLike(like, now()) };
    })
    .get(`${LIKES_PATH}/:plugin`, ({ params }) => ({ plugin: params.plugin, likes: store.likes(params.plugin) }))
    .get("/export/:file", ({ params }) => {
      if (!(Object.values(EXPORT_FILES) as string[]).includes(params.file)) throw new ApiError(404, "not_found", `There is no export "${params.file}".`, `Exports: ${Object.values(EXPORT_FILES).join(", ")}.`);
      return fileResponse(join(exportDir, params.file)) ?? new Response("not exported yet", { status: 404 });
    })
    .get("/*", ({ request }) => serveSite(siteDir, new URL(request.url).pathname));

  try {
    // Not SO_REUSEPORT (Elysia asks for it): a second registry on the port must fail, not share it.
    app.listen({ port: o.port, hostname: o.host, maxRequestBodySize: 256 * 1024, reusePort: false });
  } catch (e) {
    db.close();
    throw e;
  }
  const port = app.server!.port!;
  const timer = setInterval(() => void exportNow(), o.exportEveryMs ?? 3600_000);
  await exportNow();
  return {
    url: `http://${o.host === "0.0.0.0" ? "127.0.0.1" : o.host}:${port}`,
    port,
    db,
    store,
    exportNow,
    async stop() {
      clearInterval(timer);
      await running.catch(() => undefined);
      await app.stop(true);
      db.close();
    },
  };
}

/** The registry serves no API documentation of its own: its hints say what it does serve. */
const ENDPOINTS = `POST ${PING_PATH}, POST ${LIKES_PATH}, GET ${LIKES_PATH}/<plugin>, GET /export/<file> (${Object.values(EXPORT_FILES).join(", ")}), GET /plugins.json and the site's pages`;
const PAYLOAD_HINT = `Send JSON: a ping is {schema: 1, instance: uuid, host: {version, os, arch}, plugins: [{id, version}], events, prints: {started, finished}, firmware}; a like is {instance, plugin, liked}. The formats are described in Layerline's docs/plugins.md ("Usage statistics and likes").`;
const REGISTRY_ERRORS = errorHandlerWith({ invalid: PAYLOAD_HINT, notFound: `This registry serves ${ENDPOINTS}.` }, "registry-errors");

/** The ids in the served index, re-read whenever plugins.json changes. */
function knownPlugins(siteDir: string) {
  let mtime = -1;
  let ids = new Set<string>();
  return {
    has(id: string): boolean {
      const file = join(siteDir, "plugins.json");
      let m = 0;
      try {
        m = statSync(file).mtimeMs;
      } catch {
        return false;
      }
      if (m !== mtime) {
        try {
          const index = JSON.parse(readFileSync(file, "utf8")) as { id?: unknown }[];
          ids = new Set(index.map((e) => String(e.id).toLowerCase()));
          mtime = m;
        } catch {
          return false;
        }
      }
      return ids.has(id.toLowerCase());
    },
  };
}

function fileResponse(path: string): Response | null {
  try {
    if (!statSync(path).isFile()) return null;
  } catch {
    return null;
  }
  const headers: Record<string, string> = { "content-type": CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream", "cache-control": "no-cache" };
  // The index and exports are public data other hosts' browsers may read.
  if (/\.json(\.sig)?$/.test(path)) headers["access-control-allow-origin"] = "*";
  return new Response(Bun.file(path), { headers });
}

/** A file of the built site, by URL path; folders answer with their index.html, hidden files do not exist. */
function serveSite(siteDir: string, pathname: string): Response {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    path = "\0";
  }
  const parts = path.split("/").filter(Boolean);
  const safe = !path.includes("\0") && !parts.some((p) => p === ".." || p.startsWith("."));
  const target = join(siteDir, ...parts);
  if (safe && (target === siteDir || target.startsWith(siteDir + sep))) {
    const direct = fileResponse(target) ?? fileResponse(join(target, "index.html"));
    if (direct) {
      // "/plugins/x" must become "/plugins/x/" or the page's relative links break.
      if (!pathname.endsWith("/") && !statSync(target, { throwIfNoEntry: false })?.isFile()) return new Response(null, { status: 301, headers: { location: `${pathname}/` } });
      return direct;
    }
  }
  const notFound = join(siteDir, "404.html");
  return new Response(Bun.file(notFound).size ? Bun.file(notFound) : "Not found", { status: 404, headers: { "content-type": "text/html; charset=utf-8" } });
}
