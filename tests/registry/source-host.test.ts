import { afterEach, expect, test } from "bun:test";
import { batchQuery, fetchSourceHealth, repoKey, repoOf, type Repo } from "../../src/registry/source-host.ts";
import { primaryLimit, realIndex, repositoryNodes, secondaryLimit, startSourceHost, type SourceHostServer } from "./helpers.ts";

const index = realIndex();
const nodes = repositoryNodes(index);
const repos: Repo[] = index.map((e) => repoOf(e.homepage) ?? repoOf(e.archive)).filter((r): r is Repo => r !== null);
let server: SourceHostServer | undefined;
afterEach(() => server?.stop());

test("repository URLs of the real index are recognised; other hosts are not GitHub", () => {
  expect(repoOf("https://github.com/jneilliii/OctoPrint-BLTouch")).toEqual({ owner: "jneilliii", name: "OctoPrint-BLTouch" });
  expect(repoOf("https://github.com/SimplyPrint/OctoPrint-SimplyPrint/")).toEqual({ owner: "SimplyPrint", name: "OctoPrint-SimplyPrint" });
  expect(repoOf("https://github.com/a/b.git")).toEqual({ owner: "a", name: "b" });
  expect(repoOf("https://github.com/a/b/archive/master.zip")).toEqual({ owner: "a", name: "b" });
  expect(repoOf("https://gitlab.com/a/b")).toBeNull();
  expect(repoOf("https://github.com/only-owner")).toBeNull();
  expect(repos).toHaveLength(297);
  expect(batchQuery([{ owner: 'a"b', name: "c" }])).toContain('r0: repository(owner: "a\\"b", name: "c") { ...health }');
});

test("297 real repositories: batched 25 per query, at most 2 in flight, answers equal the index's github blocks", async () => {
  server = startSourceHost(nodes);
  const result = await fetchSourceHealth(repos, { url: server.url, token: "secret-token", concurrency: 2 });
  expect(result.problems).toEqual([]);
  expect(server.calls).toHaveLength(12); // ceil(297 / 25)
  expect(server.calls.map((c) => c.aliases.length).sort((a, b) => a - b)).toEqual([22, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25]);
  expect(server.maxInFlight).toBe(2);
  expect(server.calls.every((c) => c.authorization === "bearer secret-token")).toBe(true);
  for (const e of index) {
    const repo = repoOf(e.homepage) ?? repoOf(e.archive);
    if (!repo) continue;
    const r = result.results.get(repoKey(repo))!;
    expect(r.ok).toBe(true);
    if (r.ok) expect([e.id, r.health]).toEqual([e.id, e.github as never]);
  }
});

test("a repository that does not exist is reported as not found; the rest of its batch is fine", async () => {
  server = startSourceHost(nodes);
  const result = await fetchSourceHealth([...repos.slice(0, 3), { owner: "nobody", name: "nothing" }], { url: server.url });
  expect(server.calls).toHaveLength(1);
  expect(result.results.get("nobody/nothing")).toEqual({ ok: false, reason: "Could not resolve to a Repository with the name 'nobody/nothing'.", notFound: true });
  expect([...result.results.values()].filter((r) => r.ok)).toHaveLength(3);
});

test("a secondary rate limit (403 + retry-after) is waited out and the query retried", async () => {
  server = startSourceHost(nodes);
  server.answer = (_, n) => (n === 1 ? secondaryLimit(1) : null);
  const t0 = Date.now();
  const result = await fetchSourceHealth(repos.slice(0, 10), { url: server.url });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
  expect(result.problems).toEqual([]);
  expect(server.calls).toHaveLength(2);
  expect([...result.results.values()].every((r) => r.ok)).toBe(true);
});

test("429 without retry-after waits for x-ratelimit-reset; a reset too far away stops fetching instead of hanging", async () => {
  server = startSourceHost(nodes);
  const soon = Math.ceil(Date.now() / 1000) + 1;
  server.answer = (_, n) => (n === 1 ? new Response("slow down", { status: 429, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(soon) } }) : null);
  const ok = await fetchSourceHealth(repos.slice(0, 5), { url: server.url });
  expect(ok.problems).toEqual([]);
  expect(server.calls).toHaveLength(2);
  server.stop();

  server = startSourceHost(nodes);
  const inAnHour = Math.floor(Date.now() / 1000) + 3600;
  server.answer = () => primaryLimit(inAnHour);
  const t0 = Date.now();
  const stopped = await fetchSourceHealth(repos.slice(0, 60), { url: server.url, batchSize: 20, concurrency: 1, maxWaitMs: 5_000 });
  expect(Date.now() - t0).toBeLessThan(3_000);
  expect(server.calls).toHaveLength(1); // the other batches are not even sent
  expect(stopped.problems[0]).toMatch(/^source health fetching stopped: the source host's rate limit was reached \(API rate limit already exceeded for user ID 1234567\.\); it resets at .*, later than the 5 s this build waits$/);
  expect([...stopped.results.values()].some((r) => r.ok)).toBe(false);
  expect(stopped.results.size).toBe(60);
});

test("rateLimit.remaining running out pauses the next query until resetAt", async () => {
  server = startSourceHost(nodes);
  server.remaining = 2; // the first answer says 1 left, the second 0
  server.resetAt = new Date(Date.now() + 1500).toISOString();
  const t0 = Date.now();
  const result = await fetchSourceHealth(repos.slice(0, 75), { url: server.url, concurrency: 1 });
  expect(result.problems).toEqual([]);
  expect(server.calls).toHaveLength(3);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  server.stop();

  // A budget that comes back only in an hour: the build stops asking and keeps its cache.
  server = startSourceHost(nodes);
  server.remaining = 1;
  server.resetAt = new Date(Date.now() + 3600_000).toISOString();
  const spent = await fetchSourceHealth(repos.slice(0, 75), { url: server.url, concurrency: 1, maxWaitMs: 2_000 });
  expect(server.calls).toHaveLength(1);
  expect(spent.problems[0]).toMatch(/^source health fetching stopped: the source host's rate-limit budget is spent; it resets at /);
  expect([...spent.results.values()].filter((r) => r.ok)).toHaveLength(25);
});

test("server errors are retried with backoff; a refused token stops everything", async () => {
  server = startSourceHost(nodes);
  server.answer = (_, n) => (n === 1 ? new Response("<html>502 Bad Gateway</html>", { status: 502, statusText: "Bad Gateway" }) : null);
  const retried = await fetchSourceHealth(repos.slice(0, 5), { url: server.url });
  expect(retried.problems).toEqual([]);
  expect(server.calls).toHaveLength(2);
  server.stop();

  server = startSourceHost(nodes);
  server.answer = () => Response.json({ message: "Bad credentials", documentation_url: "https://docs.github.com/graphql" }, { status: 401 });
  const refused = await fetchSourceHealth(repos.slice(0, 50), { url: server.url, token: "expired", batchSize: 10, concurrency: 2 });
  expect(refused.problems).toEqual(["source health fetching stopped: the source host refused the token (401): check --source-token-file"]);
  expect(server.calls.length).toBeLessThanOrEqual(2);

  const down = await fetchSourceHealth(repos.slice(0, 5), { url: "http://127.0.0.1:9/graphql", attempts: 2, sleep: async () => {} });
  expect(down.problems[0]).toMatch(/^5 repositories not fetched: the source host did not answer/);
}, 20_000);
