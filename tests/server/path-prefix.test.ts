/**
 * Served under a sub-path behind a reverse proxy (X-Script-Name / X-Forwarded-Prefix): the header
 * believed only from a trusted proxy and only when well-formed; every page and fragment, redirect,
 * cookie path and OctoPrint URL then carries the prefix, and without the header nothing changes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { prefixFromHeaders, prefixHtml, prefixUrl, scriptName } from "../../src/server/path-prefix.ts";
import { routeKind } from "../../src/server/route-kind.ts";
import { ADMIN, startTestHost, type TestHost } from "../helpers/host.ts";
import { login, type BrowserSession } from "../helpers/session.ts";

const PREFIX = "/lay";
const THUMBED = "ps25_flsun_qqspro_delta_screw_0.20quality_pla_g3arcs_thumb.gcode";

const upload = (name: string, content: string) => {
  const form = new FormData();
  form.append("file", new File([content], name));
  return form;
};
const PROXIED = { "x-script-name": PREFIX };

describe("the prefix a proxy names", () => {
  test("a well-formed path is taken, its trailing / dropped; / alone is the root", () => {
    expect(scriptName("/lay")).toBe("/lay");
    expect(scriptName("/lay/")).toBe("/lay");
    expect(scriptName("/octo-print/a_b.c~d/")).toBe("/octo-print/a_b.c~d");
    expect(scriptName(" /lay ")).toBe("/lay");
    expect(scriptName("/")).toBe("");
    expect(scriptName(null)).toBe("");
  });

  test("a malformed value is ignored (the root), never an error", () => {
    for (const bad of ["", "lay", "//lay", "/lay//x", "/../etc", "/lay/..", "/lay/./x", "/a b", "/a\"b", "/a<b", "/a?x=1", "/a#x", "/a,/b", "http://evil/", "/%zz", "/a\\b", "/my%20host", "/%2e%2e/x", `/${"x".repeat(300)}`]) {
      expect([bad, scriptName(bad)]).toEqual([bad, ""]);
    }
  });

  test("from a trusted proxy only; X-Script-Name first, else X-Forwarded-Prefix", () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(prefixFromHeaders(h({ "x-script-name": "/lay" }), true)).toBe("/lay");
    expect(prefixFromHeaders(h({ "x-script-name": "/lay" }), false)).toBe("");
    expect(prefixFromHeaders(h({ "x-forwarded-prefix": "/fwd/" }), true)).toBe("/fwd");
    expect(prefixFromHeaders(h({ "x-script-name": "/lay", "x-forwarded-prefix": "/fwd" }), true)).toBe("/lay");
    expect(prefixFromHeaders(h({ "x-script-name": "/../x", "x-forwarded-prefix": "/fwd" }), true)).toBe("/fwd");
    expect(prefixFromHeaders(h({}), true)).toBe("");
  });

  test("root-absolute URLs get the prefix; absolute, protocol-relative, relative and fragment URLs do not", () => {
    expect(prefixUrl("/lay", "/files?q=1")).toBe("/lay/files?q=1");
    expect(prefixUrl("/lay", "/")).toBe("/lay/");
    for (const u of ["http://x/y", "//cdn/x", "files", "#top", "?q=1", ""]) expect(prefixUrl("/lay", u)).toBe(u);
    expect(prefixUrl("", "/files")).toBe("/files");
  });

  test("HTML: URL attributes (htmx's, sse-connect, data-…url/src/snapshot) get it; other attributes and text keep theirs", () => {
    const out = prefixHtml("/lay", `<div hx-post="/ui/x?a=1&amp;b=2" data-snapshot="/api/s" data-stream-url="/api/t" data-sd-file="/gcodes/a.g" title="/not/a/url"><input value="/dev/ttyUSB0"><a href="/files">/files</a><img src="//cdn/x.png"><section sse-connect="/ui/events"></section></div>`);
    expect(out).toBe(`<div hx-post="/lay/ui/x?a=1&amp;b=2" data-snapshot="/lay/api/s" data-stream-url="/lay/api/t" data-sd-file="/gcodes/a.g" title="/not/a/url"><input value="/dev/ttyUSB0"><a href="/lay/files">/files</a><img src="//cdn/x.png"><section sse-connect="/lay/ui/events"></section></div>`);
    expect(prefixHtml("", `<a href="/files">`)).toBe(`<a href="/files">`);
  });
});

/** Attributes whose value is never a URL the browser follows (a serial port path in a box is not a link). */
const NOT_URLS = new Set(["value", "placeholder", "title", "alt", "aria-label", "pattern", "d", "points", "hx-confirm", "hx-vals", "hx-headers", "hx-target", "hx-include", "hx-trigger", "hx-swap", "for", "id", "class", "name", "style", "content"]);

/**
 * Every root-absolute URL in an HTML answer that lacks the prefix: any attribute (but the few
 * that never hold a URL), and quoted paths in inline scripts. Parsed with a real HTML parser, so
 * a URL added to any view later without the prefix fails here.
 */
function unprefixed(markup: string, prefix: string): string[] {
  const found: string[] = [];
  const bad = (v: string) => v.startsWith("/") && !v.startsWith("//") && v !== prefix && !v.startsWith(`${prefix}/`);
  let script: string[] | null = null;
  new HTMLRewriter()
    .on("*", {
      element(el) {
        for (const [name, value] of el.attributes) if (!NOT_URLS.has(name) && !name.startsWith("aria-") && bad(value)) found.push(`<${el.tagName} ${name}="${value}">`);
      },
    })
    .on("script", {
      element() {
        script = [];
      },
      text(t) {
        script?.push(t.text);
        if (t.lastInTextNode && script) {
          for (const m of script.join("").matchAll(/["'`](\/[A-Za-z][^"'`\s]*)/g)) if (bad(m[1]!)) found.push(`<script> ${m[1]}`);
          script = null;
        }
      },
    })
    .transform(markup);
  return found;
}

/** The pages and fragments a browser loads: every GET route of the pages' family, with the printer's and a file's names filled in. */
function pagePaths(host: TestHost, printer: string, file: string): string[] {
  const paths = new Set<string>();
  for (const r of host.routes) {
    if (r.method !== "GET" || routeKind(r.path) !== "html") continue;
    if (/^\/(?:login|logout|setup)\b/.test(r.path)) continue; // the login page is checked on its own (anonymous)
    const path = r.path
      .replace(/:(?:id|printer)\b/g, printer)
      .replace(/\*$/, file)
      .replace(/:[a-zA-Z_]+/g, "x");
    paths.add(path);
  }
  return [...paths];
}

/** Markup with its runs of spaces made one, none before `>` (the rewriter writes a tag it changed that way). */
const tidy = (markup: string) => markup.replace(/\s+/g, " ").replace(/ >/g, ">");
/** A page served under /lay as it reads at the root: the prefix taken out of its URLs, its meta element dropped. */
const asAtRoot = (markup: string) => tidy(markup.replace(/<meta name="layerline-prefix" content="\/lay">/, "").replaceAll('="/lay/', '="/'));

/** The pages and fragments an HTML answer links to or loads (GET), without the prefix. */
function linked(markup: string, prefix: string): string[] {
  const found: string[] = [];
  new HTMLRewriter()
    .on("[href], [hx-get], [sse-connect]", {
      element(el) {
        for (const name of ["href", "hx-get", "sse-connect"]) {
          const value = el.getAttribute(name);
          if (value?.startsWith(`${prefix}/`)) found.push(value.slice(prefix.length).replaceAll("&amp;", "&"));
        }
      },
    })
    .transform(markup);
  return found;
}

/** Reads an answer whole, or for an event stream its first events (it never ends). */
async function bodyOf(res: Response): Promise<string> {
  if (!(res.headers.get("content-type") ?? "").startsWith("text/event-stream")) return res.text();
  const reader = res.body!.getReader();
  let text = "";
  const until = Date.now() + 1500;
  while (Date.now() < until && !/\nevent: [^\n]+\ndata: </.test(text)) {
    const chunk = await Promise.race([reader.read(), Bun.sleep(300).then(() => null)]);
    if (chunk?.done) break;
    if (chunk?.value) text += new TextDecoder().decode(chunk.value);
  }
  await reader.cancel();
  return text;
}

/** The HTML of an SSE text: its `data:` lines. */
const sseHtml = (text: string) => text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");

describe("behind a proxy at /lay (on this machine: trusted by default)", () => {
  let host: TestHost;
  let session: BrowserSession;
  let printer: string;
  let appKeyPage: string;
  let uploadLocation: string | null;
  const file = "cube.gcode";
  beforeAll(async () => {
    host = await startTestHost();
    printer = host.printers.list()[0]!.id;
    expect((await host.api("/api/v1/files", { method: "POST", body: upload(file, "G28\nG1 X10 Y10 Z0.2 E1\nM104 S0\n") })).status).toBe(201);
    // A file with a thumbnail, uploaded through the proxy: its Location is under the prefix.
    const form = new FormData();
    form.append("file", Bun.file(new URL(`../fixtures/${THUMBED}`, import.meta.url).pathname), THUMBED);
    const up = await host.api("/api/v1/files", { method: "POST", headers: PROXIED, body: form });
    expect(up.status).toBe(201);
    uploadLocation = up.headers.get("location");
    await host.waitFor(`/api/v1/files/${THUMBED}`, (f: any) => f.analysis.state === "done" && f.thumbnails.length > 0);
    // A print that ended (the history, the dashboard's last job) and an app waiting for a key.
    expect((await host.post(`/api/v1/printers/${printer}/job`, { file })).status).toBe(200);
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.job?.state === "done", 20_000);
    const appKey = await (await host.anonymous("/plugin/appkeys/request", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ app: "Slicer" }) })).json();
    appKeyPage = new URL(appKey.auth_dialog).pathname;
    session = await login(host);
  }, 30_000);
  afterAll(() => host.close());

  const get = (path: string, headers: Record<string, string> = {}) =>
    host.anonymous(path, { headers: { cookie: session.cookie, accept: "text/html", ...headers }, redirect: "manual" });

  /** Whether a page under /lay reads as at the root but for its URLs; asked again a few times, since a live page may have changed between the two (an analysis ending). */
  const sameAtRoot = async (path: string, proxied: string, direct: string) => {
    for (let i = 0; i < 3 && asAtRoot(proxied) !== tidy(direct); i++) {
      proxied = await (await get(path, PROXIED)).text();
      direct = await (await get(path)).text();
    }
    return asAtRoot(proxied) === tidy(direct);
  };

  test("every page and fragment: no root URL without the prefix; without the header the same answer has none of it", async () => {
    // Every GET route of the pages, then every page and fragment they link to or load (with
    // their queries: a file's details, the layer viewer, plugins' pages and slots).
    const queue = [...pagePaths(host, printer, file), appKeyPage];
    expect(queue.length).toBeGreaterThan(30);
    const seen = new Set(queue);
    const problems: string[] = [];
    let checked = 0;
    while (queue.length > 0 && seen.size < 400) {
      const path = queue.shift()!;
      const proxied = await get(path, PROXIED);
      const type = proxied.headers.get("content-type") ?? "";
      const location = proxied.headers.get("location");
      if (location?.startsWith("/") && !location.startsWith(`${PREFIX}/`)) problems.push(`${path}: Location ${location}`);
      if (!type.startsWith("text/html") && !type.startsWith("text/event-stream")) {
        await proxied.body?.cancel();
        continue;
      }
      const text = await bodyOf(proxied);
      const markup = type.startsWith("text/event-stream") ? sseHtml(text) : text;
      for (const p of unprefixed(markup, PREFIX)) problems.push(`${path}: ${p}`);
      for (const next of linked(markup, PREFIX)) {
        if (!seen.has(next) && routeKind(next.split("?")[0]!) === "html" && !/^\/(?:login|logout|setup)\b/.test(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
      const direct = await bodyOf(await get(path));
      if (/\/lay\//.test(direct) || direct.includes("layerline-prefix")) problems.push(`${path}: the prefix without the header`);
      if (!type.startsWith("text/event-stream") && !(await sameAtRoot(path, text, direct))) problems.push(`${path}: differs from the page at the root in more than its URLs`);
      checked++;
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  }, 120_000);

  test("the dashboard names the prefix for scripts and links everything under it", async () => {
    const page = await (await get("/", PROXIED)).text();
    expect(page).toContain(`<meta name="layerline-prefix" content="/lay">`);
    expect(page).toContain(`href="/lay/files"`);
    expect(page).toContain(`sse-connect="/lay/ui/`);
    expect(page).toContain(`hx-post="/lay/ui/printers/${printer}/`);
    const direct = await (await get("/")).text();
    expect(direct).not.toContain("layerline-prefix");
    expect(direct).toContain(`href="/files"`);
  });

  test("X-Forwarded-Prefix works as well", async () => {
    const page = await (await get("/", { "x-forwarded-prefix": "/fwd/" })).text();
    expect(page).toContain(`href="/fwd/files"`);
    expect(unprefixed(page, "/fwd")).toEqual([]);
  });

  test("a malformed prefix is ignored: the page as at the root, not an error", async () => {
    expect(await (await get("/", { "x-script-name": "/good" })).text()).toContain(`href="/good/files"`);
    const res = await get("/", { "x-script-name": "/../evil" });
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain(`href="/files"`);
    expect(page).not.toContain("evil");
  });

  test("redirects, htmx redirects and the login's cookies carry the prefix", async () => {
    const anon = await host.anonymous("/files", { headers: { accept: "text/html", ...PROXIED }, redirect: "manual" });
    expect(anon.status).toBe(303);
    expect(anon.headers.get("location")).toBe(`${PREFIX}/login?next=%2Ffiles`);
    const hx = await host.anonymous("/ui/files/list", { headers: { "hx-request": "true", ...PROXIED }, redirect: "manual" });
    expect(hx.headers.get("hx-redirect")).toStartWith(`${PREFIX}/login`);

    // The login form: its CSRF cookie and then the session cookie are scoped to the prefix.
    const form = await host.anonymous("/login", { headers: PROXIED });
    const formCookies = form.headers.getSetCookie();
    expect(formCookies.some((c) => c.startsWith("layerline_csrf=") && c.includes(`Path=${PREFIX};`))).toBe(true);
    const html = await form.text();
    expect(unprefixed(html, PREFIX)).toEqual([]);
    expect(html).toContain(`action="/lay/login"`);
    const token = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    const res = await host.anonymous("/login", {
      method: "POST",
      headers: { cookie: formCookies[0]!.split(";")[0]!, "content-type": "application/x-www-form-urlencoded", ...PROXIED },
      body: new URLSearchParams({ _csrf: token, username: ADMIN.username, password: ADMIN.password, next: "/files" }),
      redirect: "manual",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${PREFIX}/files`);
    const sessionCookie = res.headers.getSetCookie().find((c) => c.startsWith("layerline_session="));
    expect(sessionCookie).toContain(`Path=${PREFIX};`);

    // Without the header: the root, as before.
    const plain = await host.anonymous("/files", { headers: { accept: "text/html" }, redirect: "manual" });
    expect(plain.headers.get("location")).toBe("/login?next=%2Ffiles");
    expect((await host.anonymous("/login")).headers.getSetCookie().some((c) => c.includes("Path=/;"))).toBe(true);
  });

  test("a page that does not exist links home under the prefix", async () => {
    const res = await get("/no-such-page", PROXIED);
    expect(res.status).toBe(404);
    const page = await res.text();
    expect(unprefixed(page, PREFIX)).toEqual([]);
    expect(page).toContain(`href="/lay/"`);
  });

  test("OctoPrint clients: file refs, the upload's Location and the camera links carry the prefix", async () => {
    const origin = host.url;
    const files = await (await host.api("/api/files/local", { headers: PROXIED })).json();
    expect(files.refs?.resource ?? files.files[0].refs.resource).toBeDefined();
    const entry = files.files.find((f: { name: string }) => f.name === file);
    expect(entry.refs.resource).toBe(`${origin}${PREFIX}/api/files/local/${file}`);
    expect(entry.refs.download).toBe(`${origin}${PREFIX}/downloads/files/local/${file}`);
    const res = await host.api("/api/files/local", { method: "POST", headers: PROXIED, body: upload("other.gcode", "G28\n") });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe(`${origin}${PREFIX}/api/files/local/other.gcode`);
    expect((await res.json()).files.local.refs.resource).toBe(`${origin}${PREFIX}/api/files/local/other.gcode`);

    expect((await host.api(`/api/v1/printers/${printer}/camera`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ streamUrl: "http://127.0.0.1:9/stream" }) })).status).toBe(200);
    const settings = await (await host.api("/api/settings", { headers: PROXIED })).json();
    expect(settings.webcam.streamUrl).toStartWith(`${origin}${PREFIX}/api/v1/printers/${printer}/camera/stream`);
    const camera = await (await host.api(`/api/v1/printers/${printer}/camera`, { headers: PROXIED })).json();
    expect(camera.proxy.stream).toBe(`${PREFIX}/api/v1/printers/${printer}/camera/stream`);

    // An app asking for a key is sent to the decision page and polls under the prefix.
    const asked = await host.anonymous("/plugin/appkeys/request", { method: "POST", headers: { "content-type": "application/json", ...PROXIED }, body: JSON.stringify({ app: "Phone" }) });
    expect(asked.headers.get("location")).toStartWith(`${origin}${PREFIX}/plugin/appkeys/request/`);
    expect((await asked.json()).auth_dialog).toStartWith(`${origin}${PREFIX}/plugin/appkeys/auth/`);

    // Without the header: as before.
    const plain = await (await host.api("/api/files/local")).json();
    expect(plain.files.find((f: { name: string }) => f.name === file).refs.resource).toBe(`${origin}/api/files/local/${file}`);
  });

  test("the native API: an upload's Location and thumbnails' URLs carry the prefix", async () => {
    expect(uploadLocation).toBe(`${PREFIX}/api/v1/files/${THUMBED}`);
    const { files } = await (await host.api("/api/v1/files", { headers: PROXIED })).json();
    const thumbs = files.find((f: { path: string }) => f.path === THUMBED).thumbnails;
    expect(thumbs.length).toBeGreaterThan(0);
    for (const t of thumbs) expect(t.url).toStartWith(`${PREFIX}/api/v1/files/${THUMBED}/thumbnails/`);
    const one = await (await host.api(`/api/v1/files/${THUMBED}`, { headers: PROXIED })).json();
    expect(one.thumbnails[0].url).toBe(thumbs[0].url);
    // The URL works through a proxy: without the prefix it is the host's own.
    expect((await host.api(thumbs[0].url.slice(PREFIX.length))).headers.get("content-type")).toStartWith("image/");
    const plain = await (await host.api(`/api/v1/files/${THUMBED}`)).json();
    expect(plain.thumbnails[0].url).toBe(thumbs[0].url.slice(PREFIX.length));
  });

  test("the API docs and the OpenAPI description name the prefix", async () => {
    const docs = await (await get("/api/v1/docs", PROXIED)).text();
    expect(docs).toContain(`${host.url}${PREFIX}/api/v1/`);
    expect(unprefixed(docs, PREFIX)).toEqual([]);
    expect((await (await host.api("/api/v1/openapi.json", { headers: PROXIED })).json()).servers).toEqual([{ url: PREFIX }]);
    expect((await (await host.api("/api/v1/openapi.json")).json()).servers).toEqual([{ url: "/" }]);
  });
});

describe("with no trusted proxy", () => {
  let host: TestHost;
  let trusting: TestHost;
  beforeAll(async () => {
    [host, trusting] = await Promise.all([startTestHost({ trustedProxies: [] }), startTestHost()]);
  }, 30_000);
  afterAll(() => Promise.all([host.close(), trusting.close()]));

  test("the prefix headers of anybody else are ignored: pages, redirects, cookies and refs at the root", async () => {
    const headers = { "x-script-name": PREFIX, "x-forwarded-prefix": PREFIX, accept: "text/html" };
    // The same request from a trusted proxy gets the prefix.
    const believed = await trusting.anonymous("/login", { headers });
    expect(await believed.text()).toContain(`action="/lay/login"`);

    const redirect = await host.anonymous("/files", { headers, redirect: "manual" });
    expect(redirect.headers.get("location")).toBe("/login?next=%2Ffiles");
    const form = await host.anonymous("/login", { headers });
    expect(form.headers.getSetCookie().some((c) => c.includes("Path=/;"))).toBe(true);
    const html = await form.text();
    expect(html).not.toContain("/lay");
    expect(html).toContain(`action="/login"`);
    const files = await (await host.api("/api/files/local", { headers })).json();
    expect(JSON.stringify(files)).not.toContain("/lay");
  });
});
