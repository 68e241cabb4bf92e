/**
 * The plugin repository page when the index cannot be fetched: it says the fetch failed and why,
 * and shows the copy it has as cached — when and where from — never as fresh from the URL that
 * just failed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestHost, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let index: ReturnType<typeof Bun.serve>;
let broken = false;
const INDEX = [
  { id: "first", title: "First plugin" },
  { id: "second", title: "Second plugin" },
];

beforeAll(async () => {
  index = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req) => {
      const path = new URL(req.url).pathname;
      if (path.startsWith("/portal/")) return new Response("<!doctype html><html><body><h1>Log in to the hotel Wi-Fi</h1></body></html>", { headers: { "content-type": "text/html" } });
      if (path.startsWith("/mixed/")) return Response.json([...INDEX, { id: "third" }, "<script>alert(1)</script>", { id: 7, title: "Seven" }]);
      return broken || path.startsWith("/gone/") ? new Response("down for maintenance", { status: 503 }) : Response.json(INDEX);
    },
  });
  host = await startTestHost();
}, 30_000);
afterAll(async () => {
  await host?.close();
  index?.stop(true);
});

const setUrl = (url: string) => host.api("/api/v1/plugins/repository/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ url, refreshHours: 0 }) });
const refresh = async () => (await host.post("/api/v1/plugins/repository/refresh")).json();
const page = async () => {
  const res = await host.api("/plugins/repository");
  expect(res.status).toBe(200);
  return /<div id="repo-status"[\s\S]*?<\/div>/.exec(await res.text())![0];
};

test("fetched: the index is credited to its URL", async () => {
  const good = `http://127.0.0.1:${index.port}/good/plugins.json`;
  await setUrl(good);
  expect(await refresh()).toMatchObject({ entries: 2, error: null, source: good });
  const status = await page();
  expect(status).toContain(`2 plugins from ${good}, fetched`);
  expect(status).not.toContain("cached");
});

test("the same URL fails: the error is shown, and the index as the cached copy of before", async () => {
  broken = true;
  try {
    const good = `http://127.0.0.1:${index.port}/good/plugins.json`;
    expect(await refresh()).toMatchObject({ entries: 2, source: good });
    const status = await page();
    expect(status).toContain(`Could not refresh the plugin repository from ${good}`);
    expect(status).toContain("503");
    expect(status).toMatch(/Showing the copy cached (just now|\d+ minutes? ago) from http:\/\/127\.0\.0\.1:\d+\/good\/plugins\.json \(fetched [^)]+\): 2 plugins\./);
    expect(status).not.toContain(", fetched");
  } finally {
    broken = false;
  }
});

test("another URL fails: the page does not credit it with the index cached from the old one", async () => {
  const good = `http://127.0.0.1:${index.port}/good/plugins.json`;
  const gone = `http://127.0.0.1:${index.port}/gone/plugins.json`;
  await setUrl(gone);
  const after = await refresh();
  expect(after).toMatchObject({ url: gone, source: good, entries: 2 });
  expect(after.error).toContain(gone);
  const status = await page();
  expect(status).toContain(`Could not refresh the plugin repository from ${gone}`);
  expect(status).toContain(`from ${good} (fetched`);
  expect(status).not.toContain(`plugins from ${gone}`);
});

test("an answer that is not an index (a Wi-Fi login page) is said in words, naming what came", async () => {
  const portal = `http://127.0.0.1:${index.port}/portal/plugins.json`;
  await setUrl(portal);
  const after = await refresh();
  expect(after.error).toBe(`Could not refresh the plugin repository from ${portal}: its answer is a web page, not a plugin index — is the URL the index's plugins.json? It begins: "<!doctype html><html><body><h1>Log in to the hotel Wi-Fi</h1"`);
  expect(await page()).toContain("its answer is a web page, not a plugin index");
});

test("malformed entries are listed on the page, each with its place, id and field; the others are shown", async () => {
  const mixed = `http://127.0.0.1:${index.port}/mixed/plugins.json`;
  await setUrl(mixed);
  const after = await refresh();
  expect(after).toMatchObject({ entries: 2, error: null });
  const status = await page();
  expect(status).toContain("<summary>3 malformed entries were skipped</summary>");
  expect(status).toContain('<li>entry 3 (&quot;third&quot;): title: is missing</li>');
  expect(status).toContain("<li>entry 4: is not an entry (an object with id and title)</li>");
  expect(status).toContain("<li>entry 5: id: must be text</li>");
  expect(status).not.toContain("<script>");
});
