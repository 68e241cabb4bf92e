/**
 * Source-repository health from a GitHub-shaped GraphQL API: latest release, number of releases,
 * stars, open/closed issues, last push. Repositories are asked for in batches (aliases in one
 * query), a bounded number of batches in flight, and the API's limits are respected: every query
 * reads `rateLimit { cost remaining resetAt }` and pauses before the budget runs out; a 403/429
 * waits for `retry-after` (or `x-ratelimit-reset`); a wait longer than the build allows stops the
 * fetching and says so, so the build falls back to its cache instead of hanging for an hour.
 */
import * as v from "valibot";
import { jekyllTime, type SourceHealth } from "./index-format.ts";

export interface Repo {
  owner: string;
  name: string;
}

/** `owner/name`, lower-cased: GitHub names are case-insensitive. */
export const repoKey = (r: Repo) => `${r.owner}/${r.name}`.toLowerCase();

/** The GitHub repository a source URL points at, or null for other hosts. */
export function repoOf(url: string): Repo | null {
  const m = /^https?:\/\/(?:www\.)?github\.com\/([A-Za-z0-9-]{1,39})\/([A-Za-z0-9._-]{1,100}?)(?:\.git)?\/?(?:[/?#].*)?$/i.exec(url.trim());
  return m ? { owner: m[1]!, name: m[2]! } : null;
}

export type RepoResult = { ok: true; health: SourceHealth } | { ok: false; reason: string; notFound?: boolean };

export interface SourceHostOptions {
  /** The GraphQL endpoint, e.g. https://api.github.com/graphql. */
  url: string;
  token?: string;
  /** Repositories per query. */
  batchSize?: number;
  /** Queries in flight at once. */
  concurrency?: number;
  /** The longest the build waits for a rate limit to reset before it gives up on fetching. */
  maxWaitMs?: number;
  /** Attempts per batch on server errors and timeouts. */
  attempts?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface FetchHealthResult {
  results: Map<string, RepoResult>;
  /** Why some repositories could not be asked for (rate limit, bad token, server down). */
  problems: string[];
  queries: number;
}

const Count = v.object({ totalCount: v.number() });
const RepositorySchema = v.object({
  stargazerCount: v.number(),
  pushedAt: v.nullable(v.string()),
  releases: Count,
  latestRelease: v.nullable(v.object({ name: v.nullable(v.string()), tagName: v.string(), publishedAt: v.nullable(v.string()) })),
  openIssues: Count,
  closedIssues: Count,
});
const RateLimitSchema = v.object({ cost: v.optional(v.number()), remaining: v.number(), resetAt: v.string() });
const ResponseSchema = v.object({
  data: v.optional(v.nullable(v.record(v.string(), v.unknown()))),
  errors: v.optional(v.array(v.object({ type: v.optional(v.string()), message: v.string(), path: v.optional(v.array(v.union([v.string(), v.number()]))) }))),
});

const FRAGMENT = `fragment health on Repository {
  stargazerCount
  pushedAt
  releases { totalCount }
  latestRelease { name tagName publishedAt }
  openIssues: issues(states: OPEN) { totalCount }
  closedIssues: issues(states: CLOSED) { totalCount }
}`;

/** The query for one batch: one aliased `repository` field per repo, and the rate limit. */
export function batchQuery(repos: readonly Repo[]): string {
  const fields = repos.map((r, i) => `  r${i}: repository(owner: ${JSON.stringify(r.owner)}, name: ${JSON.stringify(r.name)}) { ...health }`);
  return `query LayerlineRegistryHealth {\n  rateLimit { cost remaining resetAt }\n${fields.join("\n")}\n}\n${FRAGMENT}`;
}

/** Thrown inside the client to stop all fetching (bad token, limit resets too late). */
class StopFetching extends Error {}

export async function fetchSourceHealth(repos: readonly Repo[], options: SourceHostOptions): Promise<FetchHealthResult> {
  const http = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? Bun.sleep;
  const batchSize = options.batchSize ?? 25;
  const maxWait = options.maxWaitMs ?? 60_000;
  const attempts = options.attempts ?? 3;
  const results = new Map<string, RepoResult>();
  const problems: string[] = [];
  let queries = 0;
  let stopped: string | null = null;
  /** No query is sent before this time (a rate limit is being waited out). */
  let pausedUntil = 0;
  let lastCost = 1;

  const unique = [...new Map(repos.map((r) => [repoKey(r), r])).values()];
  const batches: Repo[][] = [];
  for (let i = 0; i < unique.length; i += batchSize) batches.push(unique.slice(i, i + batchSize));

  /** Waits until `until`, or stops everything when that is further away than the build allows. */
  const waitUntil = async (until: number, why: string) => {
    const ms = until - now();
    if (ms <= 0) return;
    if (ms > maxWait) throw new StopFetching(`${why}; it resets at ${new Date(until).toISOString()}, later than the ${Math.round(maxWait / 1000)} s this build waits`);
    pausedUntil = Math.max(pausedUntil, until);
    await sleep(ms);
  };

  const runBatch = async (batch: Repo[]) => {
    for (let attempt = 1; ; attempt++) {
      if (stopped) throw new StopFetching(stopped);
      if (pausedUntil > now()) await waitUntil(pausedUntil, "the source host's rate-limit budget is spent");
      let response: Response;
      try {
        queries++;
        response = await http(options.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "layerline-registry",
            ...(options.token ? { authorization: `bearer ${options.token}` } : {}),
          },
          body: JSON.stringify({ query: batchQuery(batch) }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        });
      } catch (e) {
        if (attempt >= attempts) throw new Error(`the source host did not answer (${(e as Error).message})`);
        await sleep(1000 * 2 ** (attempt - 1));
        continue;
      }
      const limitReset = resetFromHeaders(response.headers, now());
      if (response.status === 401) throw new StopFetching("the source host refused the token (401): check --source-token-file");
      if (response.status === 403 || response.status === 429) {
        await response.body?.cancel();
        const retryAfter = Number(response.headers.get("retry-after"));
        const until = Number.isFinite(retryAfter) && response.headers.has("retry-after") ? now() + retryAfter * 1000 : limitReset ?? now() + 60_000;
        if (attempt >= attempts + 2) throw new StopFetching(`the source host keeps refusing with ${response.status} (rate limited)`);
        await waitUntil(until, `the source host's rate limit was reached (${response.status})`);
        continue;
      }
      if (response.status >= 500 || response.status === 408) {
        await response.body?.cancel();
        if (attempt >= attempts) throw new Error(`the source host failed with ${response.status} ${response.statusText}`.trim());
        await sleep(1000 * 2 ** (attempt - 1));
        continue;
      }
      if (!response.ok) throw new StopFetching(`the source host answered ${response.status} ${response.statusText}`.trim());
      let body: v.InferOutput<typeof ResponseSchema>;
      try {
        body = v.parse(ResponseSchema, await response.json());
      } catch {
        if (attempt >= attempts) throw new Error("the source host's answer is not GraphQL JSON");
        continue;
      }
      const limited = body.errors?.find((e) => e.type === "RATE_LIMITED");
      if (limited && !body.data) {
        if (attempt >= attempts + 2) throw new StopFetching(`the source host keeps answering RATE_LIMITED`);
        await waitUntil(limitReset ?? now() + 60_000, `the source host's rate limit was reached (${limited.message})`);
        continue;
      }
      if (!body.data) throw new Error(`the source host answered with errors: ${body.errors?.map((e) => e.message).join("; ") ?? "no data"}`);
      readBatch(batch, body, results);
      const rate = v.safeParse(RateLimitSchema, body.data.rateLimit);
      if (rate.success) {
        lastCost = Math.max(1, rate.output.cost ?? lastCost);
        // Pause before the budget runs out rather than being refused.
        if (rate.output.remaining < lastCost) pausedUntil = Math.max(pausedUntil, Date.parse(rate.output.resetAt));
      }
      return;
    }
  };

  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      try {
        await runBatch(batch);
      } catch (e) {
        const message = (e as Error).message;
        if (e instanceof StopFetching) stopped ??= message;
        else problems.push(`${batch.length} repositories not fetched: ${message}`);
        for (const r of batch) if (!results.has(repoKey(r))) results.set(repoKey(r), { ok: false, reason: message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 2, batches.length) }, worker));
  if (stopped) problems.unshift(`source health fetching stopped: ${stopped}`);
  return { results, problems, queries };
}

/** Fills in each repo of a batch from the aliased answer (missing ones say why). */
function readBatch(batch: Repo[], body: v.InferOutput<typeof ResponseSchema>, results: Map<string, RepoResult>): void {
  batch.forEach((repo, i) => {
    const alias = `r${i}`;
    const error = body.errors?.find((e) => e.path?.[0] === alias);
    const node = v.safeParse(RepositorySchema, body.data?.[alias]);
    if (node.success) results.set(repoKey(repo), { ok: true, health: healthOf(node.output) });
    else if (error) results.set(repoKey(repo), { ok: false, reason: error.message, notFound: error.type === "NOT_FOUND" });
    else results.set(repoKey(repo), { ok: false, reason: body.data?.[alias] === null ? "the repository was not found" : "the answer for this repository was malformed", notFound: body.data?.[alias] === null });
  });
}

function healthOf(node: v.InferOutput<typeof RepositorySchema>): SourceHealth {
  const release = node.latestRelease;
  return {
    ...(release?.publishedAt ? { latest_release: { name: release.name ?? "", date: jekyllTime(release.publishedAt), tag: release.tagName } } : {}),
    // As OctoPrint's index: a repository without releases has neither field.
    ...(node.releases.totalCount > 0 ? { releases: node.releases.totalCount } : {}),
    ...(node.pushedAt ? { last_push: jekyllTime(node.pushedAt) } : {}),
    stars: node.stargazerCount,
    issues: { open: node.openIssues.totalCount, closed: node.closedIssues.totalCount },
  };
}

/** When an exhausted primary limit resets (`x-ratelimit-remaining: 0` + `x-ratelimit-reset`). */
function resetFromHeaders(headers: Headers, now: number): number | null {
  if (headers.get("x-ratelimit-remaining") !== "0") return null;
  const reset = Number(headers.get("x-ratelimit-reset"));
  return Number.isFinite(reset) && reset > 0 ? Math.max(now, reset * 1000) : null;
}
