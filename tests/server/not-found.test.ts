/**
 * An address with nothing at it: a browser asking for a page gets a page (in the layout, with a
 * way home), while the native API, the OctoPrint-compatible paths and clients that do not ask
 * for HTML keep their JSON errors.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { login, type BrowserSession } from "../helpers/session.ts";

const BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
let host: TestHost;
let session: BrowserSession;

beforeAll(async () => {
  host = await startTestHost();
  session = await login(host);
}, 30_000);
afterAll(() => host?.close());

const get = (path: string, accept: string, init: RequestInit = {}) => host.anonymous(path, { ...init, headers: { accept, cookie: session.cookie, ...init.headers } });

test("a browser asking for an unknown page gets a 404 page with a link home", async () => {
  const res = await get("/no/such/page", BROWSER);
  expect(res.status).toBe(404);
  expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
  const page = await res.text();
  expect(page).toContain("<title>Not found · Layerline</title>");
  expect(page).toContain("There is nothing at /no/such/page.");
  expect(page).toContain('<a href="/">');
  expect(page).toContain('<link rel="stylesheet"');
  // What the address says is shown as text, never as markup.
  const hostile = await (await get("/%3Cscript%3Ealert(1)%3C/script%3E", BROWSER)).text();
  expect(hostile).not.toContain("<script>alert");
});

test("a printer or plugin that does not exist is the same page, with the user's menu", async () => {
  for (const [path, words] of [
    ["/settings/printers/nosuch/profile", 'There is no printer "nosuch".'],
    ["/settings/printers/nosuch/scripts", 'There is no printer "nosuch".'],
    ["/plugins/nosuch", 'There is no plugin "nosuch".'],
  ] as const) {
    const res = await get(path, BROWSER);
    expect(res.status).toBe(404);
    const page = await res.text();
    expect(page).toContain("<title>Not found · Layerline</title>");
    expect(page).toContain(words.replaceAll('"', "&quot;"));
    expect(page).toContain('data-user="admin"');
  }
});

test("the APIs, other methods and clients that do not ask for HTML keep the JSON error", async () => {
  const native = await get("/api/v1/nosuch", BROWSER);
  expect(native.status).toBe(404);
  expect((await native.json()).error.code).toBe("not_found");
  for (const path of ["/api/nosuch", "/printers/p/api/nosuch", "/plugin/nosuch/x"]) {
    const octoprint = await get(path, BROWSER);
    expect(octoprint.status).toBe(404);
    expect(await octoprint.json()).toEqual({ error: "There is nothing at this address." });
  }
  for (const accept of ["*/*", "application/json"]) {
    const res = await get("/no/such/page", accept);
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe("not_found");
  }
  const post = await get("/no/such/page", BROWSER, { method: "POST" });
  expect(post.status).toBe(404);
  expect(post.headers.get("content-type")).toContain("application/json");
});
