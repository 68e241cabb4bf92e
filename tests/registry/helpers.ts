/**
 * Registry test fixtures and loopback servers: the real OctoPrint index and entries, entries
 * generated from the index, a GitHub-shaped GraphQL API answering from the index's real `github`
 * data (with scriptable rate-limit and error answers), a file server for plugin archives (with
 * ETags), and Layerline plugin archives.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { repoKey, repoOf } from "../../src/registry/source-host.ts";
import { makeTar, makeZip, type TestEntry } from "../helpers/archives.ts";

export const FIXTURES = new URL("../fixtures/registry/", import.meta.url).pathname;
export const REAL_ENTRIES = join(FIXTURES, "entries");
export const STATS_7D = join(FIXTURES, "stats/plugin_stats_7d.json");
export const STATS_30D = join(FIXTURES, "stats/plugin_stats_30d.json");

export interface OctoPrintIndexEntry {
  id: string;
  title: string;
  description: string;
  author: string;
  license: string;
  homepage: string;
  archive: string;
  published: string;
  image?: string;
  abandoned: boolean;
  disabled?: string;
  compatibility: { octoprint?: string[]; os?: string[]; python?: string };
  github?: Record<string, unknown>;
  stats: Record<string, number>;
}

/** The real 301-entry OctoPrint index (May 2021). */
export function realIndex(): OctoPrintIndexEntry[] {
  return JSON.parse(gunzipSync(readFileSync(join(FIXTURES, "plugins.json.gz"))).toString("utf8"));
}

export function tempDir(prefix = "layerline-registry-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Turns an index record back into an entry file, as its author would have written it. */
export function entryFromIndex(e: OctoPrintIndexEntry): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    "---",
    "layout: plugin",
    `id: ${e.id}`,
    `title: ${q(e.title)}`,
    `description: ${q(e.description)}`,
    `author: ${q(e.author)}`,
    `license: ${q(e.license)}`,
    `date: ${e.published.slice(0, 10)}`,
    `homepage: ${q(e.homepage)}`,
    `source: ${q(repoOf(e.homepage) ? e.homepage : (githubUrl(e.archive) ?? e.homepage))}`,
    `archive: ${q(e.archive)}`,
  ];
  if (e.image) lines.push(`featuredimage: ${q(e.image)}`);
  if (e.abandoned) lines.push("abandoned: The author no longer maintains it.");
  if (e.disabled) lines.push(`disabled: ${q(e.disabled.replace(/<[^>]+>/g, "").trim())}`);
  const c = e.compatibility;
  if (c.octoprint?.length || c.os?.length || c.python) {
    lines.push("compatibility:");
    if (c.octoprint?.length) lines.push("  octoprint:", ...c.octoprint.map((v) => `  - ${q(v)}`));
    if (c.os?.length) lines.push("  os:", ...c.os.map((v) => `  - ${v}`));
    if (c.python) lines.push(`  python: ${q(c.python)}`);
  }
  lines.push("---", "", e.description, "");
  return lines.join("\n");
}

function githubUrl(url: string): string | null {
  const r = repoOf(url);
  return r ? `https://github.com/${r.owner}/${r.name}` : null;
}

/**
 * A folder with the 9 real entries and, from the real index, every other plugin (ids that a real
 * entry already has are skipped, case-insensitively).
 */
export async function entriesFolder(options: { real?: boolean; fromIndex?: boolean; extra?: Record<string, string> } = {}): Promise<string> {
  const dir = tempDir("layerline-entries-");
  const taken = new Set<string>();
  if (options.real !== false) {
    cpSync(REAL_ENTRIES, dir, { recursive: true });
    for (const name of readdirSync(REAL_ENTRIES)) taken.add(name.replace(/\.md$/, "").toLowerCase());
  }
  if (options.fromIndex) {
    for (const e of realIndex()) {
      if (taken.has(e.id.toLowerCase())) continue;
      taken.add(e.id.toLowerCase());
      await Bun.write(join(dir, `${e.id}.md`), entryFromIndex(e));
    }
  }
  for (const [name, text] of Object.entries(options.extra ?? {})) await Bun.write(join(dir, name), text);
  return dir;
}

/** GraphQL repository nodes (GitHub's shape) from the index's `github` blocks, keyed owner/name. */
export function repositoryNodes(index: OctoPrintIndexEntry[]): Map<string, Record<string, unknown>> {
  const iso = (jekyll: string) => jekyll.replace(/^(\S+) (\S+) \+0000$/, "$1T$2Z");
  const nodes = new Map<string, Record<string, unknown>>();
  for (const e of index) {
    const repo = repoOf(e.homepage) ?? repoOf(e.archive);
    const g = e.github as
      | { latest_release?: { name: string; date: string; tag: string }; releases?: number; last_push?: string; stars?: number; issues?: { open: number; closed: number } }
      | undefined;
    if (!repo || !g) continue;
    nodes.set(repoKey(repo), {
      stargazerCount: g.stars ?? 0,
      pushedAt: g.last_push ? iso(g.last_push) : null,
      releases: { totalCount: g.releases ?? 0 },
      latestRelease: g.latest_release ? { name: g.latest_release.name, tagName: g.latest_release.tag, publishedAt: iso(g.latest_release.date) } : null,
      openIssues: { totalCount: g.issues?.open ?? 0 },
      closedIssues: { totalCount: g.issues?.closed ?? 0 },
    });
  }
  return nodes;
}

export interface GraphqlCall {
  aliases: string[];
  authorization: string | null;
}

/** What the fake source host answers one request with (default: the data, with a rate limit). */
export type Answer = (call: GraphqlCall, n: number) => Response | null;

export interface SourceHostServer {
  url: string;
  calls: GraphqlCall[];
  maxInFlight: number;
  /** Points left before the (fake) primary limit is exhausted. */
  remaining: number;
  resetAt: string;
  answer: Answer | null;
  delayMs: number;
  stop(): void;
}

/**
 * A GitHub-shaped GraphQL endpoint on 127.0.0.1: parses the aliased `repository(owner, name)`
 * fields of the query, answers them from `nodes` (NOT_FOUND errors for unknown ones, as GitHub
 * does), reports `rateLimit { cost remaining resetAt }`, and lets a test script other answers.
 */
export function startSourceHost(nodes: Map<string, Record<string, unknown>>): SourceHostServer {
  const state: SourceHostServer = {
    url: "",
    calls: [],
    maxInFlight: 0,
    remaining: 5000,
    resetAt: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z"),
    answer: null,
    delayMs: 5,
    stop: () => server.stop(true),
  };
  let inFlight = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      try {
        const { query } = (await request.json()) as { query: string };
        const fields = [...query.matchAll(/(r\d+): repository\(owner: ("[^"]*"), name: ("[^"]*")\)/g)].map((m) => ({ alias: m[1]!, owner: JSON.parse(m[2]!), name: JSON.parse(m[3]!) }));
        const call = { aliases: fields.map((f) => f.alias), authorization: request.headers.get("authorization") };
        state.calls.push(call);
        await Bun.sleep(state.delayMs);
        const scripted = state.answer?.(call, state.calls.length);
        if (scripted) return scripted;
        state.remaining = Math.max(0, state.remaining - 1);
        const data: Record<string, unknown> = { rateLimit: { cost: 1, remaining: state.remaining, resetAt: state.resetAt } };
        const errors: unknown[] = [];
        for (const f of fields) {
          const node = nodes.get(`${f.owner}/${f.name}`.toLowerCase());
          data[f.alias] = node ?? null;
          if (!node) {
            errors.push({ type: "NOT_FOUND", path: [f.alias], locations: [{ line: 3, column: 3 }], message: `Could not resolve to a Repository with the name '${f.owner}/${f.name}'.` });
          }
        }
        return Response.json(errors.length ? { data, errors } : { data }, {
          headers: { "x-ratelimit-limit": "5000", "x-ratelimit-remaining": String(state.remaining), "x-ratelimit-reset": String(Math.floor(Date.parse(state.resetAt) / 1000)) },
        });
      } finally {
        inFlight--;
      }
    },
  });
  state.url = `http://127.0.0.1:${server.port}/graphql`;
  return state;
}

/** GitHub's answer when a secondary rate limit is hit. */
export const secondaryLimit = (retryAfter: number) =>
  Response.json(
    { documentation_url: "https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api#secondary-rate-limits", message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." },
    { status: 403, headers: { "retry-after": String(retryAfter), "content-type": "application/json; charset=utf-8" } },
  );

/** GitHub's answer when the primary GraphQL budget is spent (HTTP 200 with a RATE_LIMITED error). */
export const primaryLimit = (resetEpochSeconds: number) =>
  Response.json(
    { errors: [{ type: "RATE_LIMITED", message: "API rate limit already exceeded for user ID 1234567." }] },
    { status: 200, headers: { "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-used": "5000", "x-ratelimit-reset": String(resetEpochSeconds) } },
  );

export interface FileServer {
  url: string;
  files: Map<string, Uint8Array>;
  /** Requests per path, and how many were answered 304. */
  hits: Map<string, number>;
  notModified: number;
  stop(): void;
}

/** Serves archives by path with an ETag (sha-based) and honours If-None-Match. */
export function startFileServer(files: Map<string, Uint8Array> = new Map()): FileServer {
  const state: FileServer = { url: "", files, hits: new Map(), notModified: 0, stop: () => server.stop(true) };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      const path = new URL(request.url).pathname;
      state.hits.set(path, (state.hits.get(path) ?? 0) + 1);
      const body = state.files.get(path);
      if (!body) return new Response("Not Found", { status: 404 });
      const etag = `"${new Bun.CryptoHasher("sha1").update(body).digest("hex")}"`;
      if (request.headers.get("if-none-match") === etag) {
        state.notModified++;
        return new Response(null, { status: 304, headers: { etag } });
      }
      return new Response(body as Uint8Array<ArrayBuffer>, { headers: { etag, "content-type": "application/octet-stream" } });
    },
  });
  state.url = `http://127.0.0.1:${server.port}`;
  return state;
}

export interface PluginSpec {
  name: string;
  version: string;
  api?: string;
  entry?: string;
  permissions?: string[];
  /** Replaces the entry file's source. */
  source?: string;
  /** Replaces package.json (as text). */
  manifest?: string;
  extra?: TestEntry[];
  format?: "tgz" | "zip";
  root?: string;
}

/** A Layerline plugin archive (as GitHub's release archives: one top folder). */
export function pluginArchive(p: PluginSpec): Uint8Array {
  const root = p.root ?? `${p.name}-${p.version}`;
  const entry = p.entry ?? "index.ts";
  const manifest =
    p.manifest ??
    JSON.stringify({ name: p.name, version: p.version, layerline: { api: p.api ?? "^1.0.0", entry, displayName: p.name, permissions: p.permissions ?? [] } }, null, 2);
  const source = p.source ?? `import { definePlugin } from "layerline";\nexport default definePlugin({ id: ${JSON.stringify(p.name)}, setup() {} });\n`;
  const entries: TestEntry[] = [
    { path: `${root}/`, type: "directory" },
    { path: `${root}/package.json`, content: manifest },
    { path: `${root}/${entry}`, content: source },
    { path: `${root}/README.md`, content: `# ${p.name}\n` },
    ...(p.extra ?? []),
  ];
  return p.format === "zip" ? makeZip(entries) : makeTar(entries, { gzip: true });
}

/** An entry file for a Layerline plugin. */
export function layerlineEntry(o: { id: string; title?: string; archive: string; api: string; date?: string; source?: string; body?: string; extra?: string }): string {
  return `---
layout: plugin
id: ${o.id}
title: ${JSON.stringify(o.title ?? `Plugin ${o.id}`)}
description: ${JSON.stringify(`The ${o.id} plugin for Layerline.`)}
author: Test Author
license: MIT
date: ${o.date ?? "2026-01-10"}
homepage: https://example.org/${o.id}
source: ${o.source ?? `https://github.com/layerline-test/${o.id}`}
archive: ${o.archive}
compatibility:
  layerline: ${JSON.stringify(o.api)}
${o.extra ?? ""}---

${o.body ?? `# ${o.id}\n\nDoes one thing well.`}
`;
}

export function writeFolder(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
