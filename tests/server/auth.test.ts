/**
 * Access control end to end: every registered route is refused without credentials unless it is
 * on the explicit allow-list, and refused to a key whose scope lacks its permission; unmapped
 * routes need admin; first-run mode; CSRF; sessions; login throttling.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { PERMISSIONS, type Permission } from "../../src/accounts/permissions.ts";
import { authGuard } from "../../src/server/auth/guard.ts";
import { requirementFor, ROUTE_PERMISSIONS } from "../../src/server/auth/route-permissions.ts";
import { hostErrorHandler } from "../../src/server/errors.ts";
import { setupAllowed } from "../../src/server/setup.ts";
import { ADMIN, readyHost, routeUrl, startTestHost, type TestHost } from "../helpers/host.ts";
import { formToken, login, postLogin } from "../helpers/session.ts";

let host: TestHost;
let printer: string;

beforeAll(async () => {
  ({ host, printer } = await readyHost());
}, 30_000);
afterAll(() => host.close());

const concrete = (path: string) => routeUrl(path, printer);

const isAuthRefusal = async (res: Response) => {
  if (res.status === 401) return true;
  if (res.status === 303 && (res.headers.get("location") ?? "").startsWith("/login?next=")) return true;
  if (res.status !== 403) return false;
  const text = await res.text();
  return /needs credentials|permission|not valid|forbidden/i.test(text);
};

describe("every registered route", () => {
  test("answers without credentials only if it is on the explicit allow-list", async () => {
    const routes = host.routes.filter((r) => r.method !== "WS");
    expect(routes.length).toBeGreaterThan(80);
    const open: string[] = [];
    for (const r of routes) {
      const req = requirementFor(r.method, r.path);
      const res = await host.anonymous(concrete(r.path), { method: r.method, redirect: "manual", headers: { "content-type": "application/json" }, body: r.method === "GET" ? undefined : "{}" });
      const refused = await isAuthRefusal(res);
      if ("public" in req) {
        expect({ route: `${r.method} ${r.path}`, refused }).toEqual({ route: `${r.method} ${r.path}`, refused: false });
        open.push(`${r.method} ${r.path}`);
      } else {
        expect({ route: `${r.method} ${r.path}`, refused }).toEqual({ route: `${r.method} ${r.path}`, refused: true });
      }
    }
    // The allow-list is small and each entry says why it is public.
    for (const [key, req] of Object.entries(ROUTE_PERMISSIONS)) if ("public" in req) expect(req.public.length, key).toBeGreaterThan(10);
    // (OctoPrint's public routes count twice: for the default printer and under /printers/:printer.)
    expect(open.length).toBeLessThan(40);
  }, 60_000);

  test("WebSocket routes are public only because they authenticate by message", () => {
    for (const r of host.routes.filter((r) => r.method === "WS")) expect("public" in requirementFor("WS", r.path)).toBe(true);
  });

  test("each route refuses a key whose scope lacks the permission it needs", async () => {
    const admin = host.accounts.users.byName(ADMIN.username)!;
    const keyWithout = new Map<Permission, string>();
    for (const p of PERMISSIONS) {
      const scope = PERMISSIONS.filter((q) => q !== p && q !== "admin").join(",");
      keyWithout.set(p, host.accounts.createKey(admin, { name: `without ${p}`, scope }).key);
    }
    let checked = 0;
    for (const r of host.routes.filter((r) => r.method !== "WS")) {
      const req = requirementFor(r.method, r.path);
      if (!("permission" in req) || req.permission === "login") continue;
      const res = await host.api(concrete(r.path), {
        method: r.method,
        redirect: "manual",
        headers: { "x-api-key": keyWithout.get(req.permission)!, "content-type": "application/json" },
        body: r.method === "GET" ? undefined : "{}",
      });
      expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, status: 403 });
      checked++;
    }
    expect(checked).toBeGreaterThan(60);
  }, 60_000);

  test("a route nobody mapped needs admin (default-deny)", async () => {
    const app = new Elysia()
      .use(hostErrorHandler())
      .use(authGuard({ accounts: host.accounts, printers: host.printers }))
      .get("/api/v1/brand-new-feature", () => ({ ok: true }))
      .listen({ port: 0, hostname: "127.0.0.1" });
    try {
      const url = `http://127.0.0.1:${app.server!.port}/api/v1/brand-new-feature`;
      expect((await fetch(url)).status).toBe(401);
      const admin = host.accounts.users.byName(ADMIN.username)!;
      const operator = host.accounts.createKey(admin, { name: "operator", scope: "operator" }).key;
      expect((await fetch(url, { headers: { "x-api-key": operator } })).status).toBe(403);
      expect((await fetch(url, { headers: { "x-api-key": host.apiKey } })).status).toBe(200);
    } finally {
      app.stop(true);
    }
  });
});

describe("API keys", () => {
  test("accepted as X-Api-Key, Bearer and ?apikey=; a wrong key is refused, not treated as a guest", async () => {
    expect((await host.anonymous("/api/v1/printers", { headers: { "x-api-key": host.apiKey } })).status).toBe(200);
    expect((await host.anonymous("/api/v1/printers", { headers: { authorization: `Bearer ${host.apiKey}` } })).status).toBe(200);
    expect((await host.anonymous(`/api/v1/printers?apikey=${host.apiKey}`)).status).toBe(200);
    const bad = await host.anonymous("/api/v1/printers", { headers: { "x-api-key": "nope" } });
    expect(bad.status).toBe(401);
    expect((await bad.json()).error.code).toBe("invalid_credentials");
  });

  test("a full key restricted to one printer acts on that printer but not on what all printers share", async () => {
    const key = (await (await host.post("/api/v1/apikeys", { name: "farm", scope: "full", printer })).json()).key;
    const h = { "x-api-key": key, "content-type": "application/json" };
    expect((await host.anonymous(`/api/v1/printers/${printer}/profile`, { method: "PATCH", headers: h, body: '{"name":"Own"}' })).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", "/api/v1/users", '{"name":"mallory","password":"correct horse battery","group":"admins"}'],
      ["GET", "/api/v1/users", undefined],
      ["POST", "/api/v1/printers", '{"name":"Third","transport":"virtual"}'],
      ["PUT", "/api/v1/tracking", '{"enabled":true}'],
      ["POST", "/api/v1/update/check", undefined],
      ["POST", "/api/v1/plugins/install", '{"url":"http://127.0.0.1:1/x.tgz"}'],
      ["PUT", "/api/v1/plugins/repository/settings", '{"refreshHours":0}'],
      ["POST", "/api/v1/plugins/repository/refresh", undefined],
      ["POST", "/api/v1/plugins/print-stats/disable", undefined],
      // A plugin's own route: its code may act on anything the host shares.
      ["POST", "/api/v1/plugins/print-stats/anything", "{}"],
    ] as const) {
      const res = await host.anonymous(path, { method, headers: h, body });
      expect([path, res.status]).toEqual([path, 403]);
      expect((await res.json()).error.code).toBe("wrong_printer");
    }
    expect(host.accounts.users.list().map((u) => u.name)).not.toContain("mallory");
    // Reading what is installed and offered is a status view, as README says: only acting is refused.
    for (const path of ["/api/v1/plugins", "/api/v1/plugins/repository"]) expect([path, (await host.anonymous(path, { headers: h })).status]).toEqual([path, 200]);
  });

  test("created through the API: shown once, stored hashed, scoped, restricted to a printer, expiring", async () => {
    const res = await host.post("/api/v1/apikeys", { name: "dashboard", scope: "read-only", printer });
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created.key).toHaveLength(43);
    expect(JSON.stringify(host.db.query("SELECT * FROM api_keys").all())).not.toContain(created.key);
    const list = await (await host.api("/api/v1/apikeys")).json();
    expect(JSON.stringify(list)).not.toContain(created.key);
    const ro = { "x-api-key": created.key, "content-type": "application/json" };
    expect((await host.anonymous(`/api/v1/printers/${printer}`, { headers: ro })).status).toBe(200);
    expect((await host.anonymous(`/api/v1/printers/${printer}/commands`, { method: "POST", headers: ro, body: '{"commands":["M105"]}' })).status).toBe(403);
    // Restricted to one printer.
    await host.post("/api/v1/printers", { name: "Second", transport: "virtual", autoconnect: false });
    const other = await host.anonymous("/api/v1/printers/second", { headers: ro });
    expect(other.status).toBe(403);
    expect((await other.json()).error.code).toBe("wrong_printer");
    expect((await host.anonymous("/printers/second/api/job", { headers: ro })).status).toBe(403);
    const visible = (await (await host.anonymous("/api/v1/printers", { headers: ro })).json()).printers.map((p: any) => p.id);
    expect(visible).toEqual([printer]);
    await host.api("/api/v1/printers/second", { method: "DELETE" });
    // A read-only key cannot mint a wider one.
    const wider = await host.anonymous("/api/v1/apikeys", { method: "POST", headers: ro, body: '{"name":"x","scope":"full"}' });
    expect(wider.status).toBe(403);
    // Revoked keys stop working.
    expect((await host.api(`/api/v1/apikeys/${created.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await host.anonymous(`/api/v1/printers/${printer}`, { headers: ro })).status).toBe(401);
  });

  test("a key narrower than full manages no credentials (it could outlive its revocation); it may revoke itself", async () => {
    const admin = host.accounts.users.byName(ADMIN.username)!;
    const ro = host.accounts.createKey(admin, { name: "dashboard", scope: "read-only" });
    const other = host.accounts.createKey(admin, { name: "slicer", scope: "upload-print" });
    const as = (method: string, path: string, body?: unknown) =>
      host.anonymous(path, { method, headers: { "x-api-key": ro.key, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const refused = async (res: Response) => [res.status, JSON.stringify(await res.json())];
    // Minting a key just as narrow, by the API or the app-keys plugin, is refused: it would survive revoking this one.
    const mint = await as("POST", "/api/v1/apikeys", { name: "spare", scope: "read-only" });
    expect(mint.status).toBe(403);
    expect((await mint.json()).error.code).toBe("scope_too_narrow");
    expect((await refused(await as("POST", "/api/plugin/appkeys", { command: "generate", app: "spare" })))[0]).toBe(403);
    // So is locking its user out: revoking other keys, ending every session.
    expect((await as("DELETE", `/api/v1/apikeys/${other.record.id}`)).status).toBe(403);
    expect((await host.anonymous("/api/v1/me", { headers: { "x-api-key": other.key } })).status).toBe(200);
    expect((await as("POST", "/api/v1/logout-everywhere")).status).toBe(403);
    expect(host.accounts.keys.list(admin.id).filter((k) => k.name === "spare")).toEqual([]);
    // Its own key it may give up.
    expect((await as("DELETE", `/api/v1/apikeys/${ro.record.id}`)).status).toBe(204);
    expect((await as("GET", "/api/v1/me")).status).toBe(401);
    host.accounts.revokeKey(other.record.id);
  });

  test("a key made with an expiring key expires with it at the latest", async () => {
    const admin = host.accounts.users.byName(ADMIN.username)!;
    const expiresAt = Date.now() + 3600_000;
    const parent = host.accounts.createKey(admin, { name: "for a day's work", scope: "full", expiresAt });
    const made = await host.anonymous("/api/v1/apikeys", { method: "POST", headers: { "x-api-key": parent.key, "content-type": "application/json" }, body: JSON.stringify({ name: "child", scope: "read-only" }) });
    expect(made.status).toBe(201);
    const child = await made.json();
    expect(child.expiresAt).toBe(expiresAt);
    const longer = await host.anonymous("/api/v1/apikeys", { method: "POST", headers: { "x-api-key": parent.key, "content-type": "application/json" }, body: JSON.stringify({ name: "child 2", expiresIn: 7 * 86400 }) });
    expect((await longer.json()).expiresAt).toBe(expiresAt);
    for (const id of [parent.record.id, child.id]) host.accounts.revokeKey(id);
  });

  test("an expired key is refused", async () => {
    const admin = host.accounts.users.byName(ADMIN.username)!;
    const { key, record } = host.accounts.createKey(admin, { name: "short", scope: "full", expiresAt: Date.now() + 60_000 });
    expect((await host.anonymous("/api/v1/me", { headers: { "x-api-key": key } })).status).toBe(200);
    host.db.query("UPDATE api_keys SET expires_at = ? WHERE id = ?").run(Date.now() - 1, record.id);
    expect((await host.anonymous("/api/v1/me", { headers: { "x-api-key": key } })).status).toBe(401);
  });
});

describe("browser sessions", () => {
  test("login sets an HttpOnly cookie; pages carry the CSRF token in hx-headers", async () => {
    const res = await postLogin(host, { username: ADMIN.username, password: ADMIN.password, next: "/account" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account");
    const set = res.headers.getSetCookie().find((c) => c.startsWith("layerline_session="))!;
    expect(set).toContain("HttpOnly");
    expect(set).toContain("SameSite=Lax");
  });

  test("the login form refuses a post without its CSRF token, and open redirects", async () => {
    const res = await host.anonymous("/login", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ username: ADMIN.username, password: ADMIN.password }) });
    expect(res.status).toBe(403);
    const evil = await postLogin(host, { username: ADMIN.username, password: ADMIN.password, next: "//evil.example/x" });
    expect(evil.headers.get("location")).toBe("/");
    // Browsers drop tabs and newlines from a Location and read \ as /: each of these leads off-site.
    for (const next of ["/\t/evil.example", "/\\evil.example", "/\\/evil.example", "/\n/evil.example"]) {
      const res = await postLogin(host, { username: ADMIN.username, password: ADMIN.password, next });
      expect({ next, status: res.status, location: res.headers.get("location") }).toEqual({ next, status: 303, location: "/" });
    }
    const kept = await postLogin(host, { username: ADMIN.username, password: ADMIN.password, next: "/files?path=a%20b#top" });
    expect(kept.headers.get("location")).toBe("/files?path=a%20b#top");
    // Already logged in, the login page sends one on at once: the same rule.
    const s = await login(host);
    const on = await host.anonymous(`/login?next=${encodeURIComponent("/\t/evil.example")}`, { headers: { cookie: s.cookie }, redirect: "manual" });
    expect([on.status, on.headers.get("location")]).toEqual([303, "/"]);
  });

  test("state-changing requests with the cookie need the session's CSRF token and the same origin", async () => {
    const s = await login(host);
    const at = `/ui/printers/${printer}/commands`;
    const post = (headers: Record<string, string>) =>
      host.anonymous(at, { method: "POST", headers: { cookie: s.cookie, "content-type": "application/x-www-form-urlencoded", ...headers }, body: "command=M105" });
    expect((await post({})).status).toBe(403);
    expect((await post({ "x-csrf-token": "forged" })).status).toBe(403);
    expect((await post({ "x-csrf-token": s.csrf, origin: "http://evil.example" })).status).toBe(403);
    expect((await post({ "x-csrf-token": s.csrf, "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await post({ "x-csrf-token": s.csrf, "hx-request": "true" })).status).toBe(200);
    // The native API with the cookie follows the same rule.
    const api = await host.anonymous(`/api/v1/printers/${printer}/commands`, { method: "POST", headers: { cookie: s.cookie, "content-type": "application/json" }, body: '{"commands":["M105"]}' });
    expect(api.status).toBe(403);
    expect((await api.json()).error.code).toBe("csrf");
    // Reading needs no token.
    expect((await host.anonymous("/api/v1/printers", { headers: { cookie: s.cookie } })).status).toBe(200);
  });

  test("the files page and the update notice carry the token; their posts without it are refused", async () => {
    const s = await login(host);
    for (const page of ["/files", "/"]) {
      const text = await (await host.anonymous(page, { headers: { cookie: s.cookie } })).text();
      expect({ page, token: text.includes(`&quot;X-CSRF-Token&quot;:&quot;${s.csrf}&quot;`) }).toEqual({ page, token: true });
      expect(text).toContain('hx-get="/ui/update/notice"');
    }
    // A streamed upload (multipart, never parsed for a _csrf field) needs the header.
    const upload = (headers: Record<string, string>) => {
      const form = new FormData();
      form.append("file", new Blob(["G28\n"]), "csrf.gcode");
      return host.anonymous("/ui/files/upload", { method: "POST", headers: { cookie: s.cookie, ...headers }, body: form });
    };
    expect((await upload({})).status).toBe(403);
    expect((await host.api("/api/v1/files/csrf.gcode")).status).toBe(404);
    expect((await upload({ "x-csrf-token": s.csrf })).status).toBe(200);
    expect((await host.api("/api/v1/files/csrf.gcode")).status).toBe(200);
    const form = (path: string, headers: Record<string, string>, body = "") =>
      host.anonymous(path, { method: "POST", headers: { cookie: s.cookie, "content-type": "application/x-www-form-urlencoded", ...headers }, body });
    for (const [path, body] of [["/ui/files/folder", "folder=csrf"], ["/ui/files/remove", "path=csrf.gcode"], ["/ui/update/dismiss", ""], ["/ui/update/check", ""]] as const) {
      expect({ path, status: (await form(path, {}, body)).status }).toEqual({ path, status: 403 });
    }
    expect((await form("/ui/files/folder", { "x-csrf-token": s.csrf }, "folder=csrf")).status).toBe(200);
    expect((await form("/ui/update/dismiss", { "x-csrf-token": s.csrf })).status).toBe(200);
  });

  test("pages without a session do not ask for the update notice (it would send them to the login page)", async () => {
    for (const page of ["/login", "/api/v1/docs"]) expect(await (await host.anonymous(page)).text()).not.toContain("/ui/update/notice");
  });

  test("logout everywhere ends every session of the user", async () => {
    const a = await login(host);
    const b = await login(host);
    const res = await host.anonymous("/account/logout-everywhere", { method: "POST", headers: { cookie: a.cookie, "x-csrf-token": a.csrf }, redirect: "manual" });
    expect(res.status).toBe(303);
    for (const s of [a, b]) {
      const page = await host.anonymous("/", { headers: { cookie: s.cookie }, redirect: "manual" });
      expect(page.status).toBe(303);
      expect(page.headers.get("location")).toStartWith("/login");
    }
  });

  test("pages without a session lead to the login page", async () => {
    const res = await host.anonymous("/users", { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?next=%2Fusers");
    const htmx = await host.anonymous(`/ui/printers/${printer}/connect`, { method: "POST", headers: { "hx-request": "true" } });
    expect(htmx.status).toBe(401);
    expect(htmx.headers.get("hx-redirect")).toStartWith("/login");
  });
});

describe("guests and OctoPrint cookie clients", () => {
  test("anonymous requests get the guests group's permissions, which admins may widen", async () => {
    expect((await host.anonymous("/api/v1/printers")).status).toBe(401);
    host.accounts.users.setGroupPermissions("guests", ["status"]);
    try {
      expect((await host.anonymous("/api/v1/printers")).status).toBe(200);
      expect((await host.anonymous("/api/job")).status).toBe(200);
      expect((await host.anonymous(`/api/v1/printers/${printer}/commands`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"commands":["M105"]}' })).status).toBe(401);
    } finally {
      host.accounts.users.setGroupPermissions("guests", []);
    }
  });

  test("a password login through /api/login gives OctoPrint's readable CSRF cookie for cookie clients", async () => {
    const res = await host.anonymous("/api/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: ADMIN.username, pass: ADMIN.password, remember: true }) });
    expect(res.status).toBe(200);
    const cookies = res.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith("layerline_session="))!.split(";")[0]!;
    const csrfCookie = cookies.find((c) => c.startsWith(`csrf_token_P${host.port}=`))!;
    expect(csrfCookie).not.toContain("HttpOnly");
    const csrf = csrfCookie.split(";")[0]!.split("=")[1]!;
    const command = (headers: Record<string, string>) =>
      host.anonymous("/api/printer/command", { method: "POST", headers: { cookie: session, "content-type": "application/json", ...headers }, body: '{"command":"M105"}' });
    expect((await command({})).status).toBe(403);
    expect((await command({ "x-csrf-token": csrf })).status).toBe(204);
    expect((await res.json())._login_mechanism).toBe("password");
  });
});

describe("login throttling", () => {
  test("repeated failures lock the account for a while, even with the right password", async () => {
    await host.post("/api/v1/users", { username: "victim", password: "victim-password", group: "users" });
    const attempt = (pass: string) => host.anonymous("/api/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "victim", pass }) });
    for (let i = 0; i < 5; i++) expect((await attempt(`wrong-${i}`)).status).toBe(403);
    const locked = await attempt("victim-password");
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    // The browser form is throttled by the same counter.
    const form = await postLogin(host, { username: "victim", password: "victim-password" });
    expect(form.status).toBe(429);
    expect(await form.text()).toContain("Too many failed attempts");
    // Only from where the guesses came: the user, elsewhere (here another client behind the proxy on
    // this machine), still logs in.
    const elsewhere = await host.anonymous("/api/login", { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.77" }, body: JSON.stringify({ user: "victim", pass: "victim-password" }) });
    expect(elsewhere.status).toBe(200);
  }, 30_000);

  test("attempts sent all at once are counted at once: no more than five passwords are ever tried", async () => {
    await host.post("/api/v1/users", { username: "burst", password: "burst-password", group: "users" });
    const attempt = (pass: string) => host.anonymous("/api/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "burst", pass }) });
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => attempt(`guess-${i}`)));
    const tried = answers.filter((a) => a.status !== 429);
    expect(tried.length).toBeLessThanOrEqual(5);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(11);
  }, 30_000);
});

describe("first run", () => {
  test("until an admin exists, pages lead to the wizard and the API answers 403 with a hint", async () => {
    const fresh = await startTestHost({ setup: false });
    try {
      const page = await fresh.anonymous("/", { redirect: "manual" });
      expect(page.status).toBe(303);
      expect(page.headers.get("location")).toBe("/setup");
      const api = await fresh.anonymous("/api/v1/printers");
      expect(api.status).toBe(403);
      const body = await api.json();
      expect(body.error.code).toBe("setup_required");
      expect(body.error.hint).toContain("/api/v1/setup");
      expect((await fresh.anonymous("/api/version")).status).toBe(403);
      expect((await fresh.anonymous("/login", { redirect: "manual" })).status).toBe(303);
      // The wizard: admin, printer name, connection.
      const wizard = await fresh.anonymous("/setup");
      expect(await wizard.text()).toContain("Welcome to Layerline");
      const { token, cookie } = await formToken(fresh, "/setup");
      const form = { _csrf: token, username: "maker", password: "a long password", confirm: "a long password", printerName: "Workshop Ender", transport: "virtual", baud: "115200" };
      const mismatch = await fresh.anonymous("/setup", { method: "POST", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ ...form, confirm: "other" }) });
      expect(mismatch.status).toBe(400);
      const done = await fresh.anonymous("/setup", { method: "POST", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form), redirect: "manual" });
      expect(done.status).toBe(303);
      const session = done.headers.getSetCookie().find((c) => c.startsWith("layerline_session="))!.split(";")[0]!;
      const dashboard = await fresh.anonymous("/", { headers: { cookie: session } });
      expect(dashboard.status).toBe(200);
      expect(await dashboard.text()).toContain("Workshop Ender");
      const printers = (await (await fresh.anonymous("/api/v1/printers", { headers: { cookie: session } })).json()).printers;
      expect(printers.map((p: any) => [p.id, p.isDefault])).toEqual([["workshop-ender", true]]);
      // Done once: the wizard and the API refuse a second admin.
      expect((await fresh.anonymous("/setup", { redirect: "manual" })).headers.get("location")).toBe("/");
      const again = await fresh.anonymous("/api/v1/setup", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ADMIN) });
      expect(again.status).toBe(409);
    } finally {
      await fresh.close();
    }
  }, 30_000);

  test("the wizard offers Auto-detect for the port (chosen when no port is known); the form and the API take it", async () => {
    const fresh = await startTestHost({ setup: false });
    try {
      const page = await (await fresh.anonymous("/setup")).text();
      expect(page).toMatch(/<option value="auto" selected>Auto-detect \(try every serial port and baud rate\)<\/option>/);
      const { token, cookie } = await formToken(fresh, "/setup");
      const form = { _csrf: token, username: "maker", password: "a long password", confirm: "a long password", printerName: "Garage", transport: "serial", port: "auto", baud: "115200" };
      const done = await fresh.anonymous("/setup", { method: "POST", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form), redirect: "manual" });
      expect(done.status).toBe(303);
      const session = done.headers.getSetCookie().find((c) => c.startsWith("layerline_session="))!.split(";")[0]!;
      const printers = (await (await fresh.anonymous("/api/v1/printers", { headers: { cookie: session } })).json()).printers;
      expect(printers.map((p: any) => [p.name, p.transport, p.port])).toEqual([["Garage", "serial", "auto"]]);
      // The dashboard says how it is found.
      expect(await (await fresh.anonymous("/", { headers: { cookie: session } })).text()).toContain("Auto-detect");
    } finally {
      await fresh.close();
    }
    const headless = await startTestHost({ setup: false });
    try {
      const post = (printer: object) =>
        headless.anonymous("/api/v1/setup", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "ops", password: "ops-password", printer }) });
      const bad = await post({ name: "Garage", transport: "serial", port: "COM3" });
      expect(bad.status).toBe(400);
      expect((await bad.json()).error.message).toBe('printer.port: port must be an absolute path such as /dev/ttyUSB0 (or Klipper\'s /tmp/printer), or "auto"');
      const ok = await post({ name: "Garage", transport: "serial", port: "auto" });
      expect(ok.status).toBe(201);
      const { apiKey } = await ok.json();
      const printers = (await (await headless.anonymous("/api/v1/printers", { headers: { "x-api-key": apiKey } })).json()).printers;
      expect(printers.map((p: any) => [p.transport, p.port])).toEqual([["serial", "auto"]]);
    } finally {
      await headless.close();
    }
  }, 60_000);

  test("POST /api/v1/setup returns a full-scope key; with --setup-token it needs the token", async () => {
    const fresh = await startTestHost({ setup: false, setupToken: "s3cret-token" });
    try {
      const post = (headers: Record<string, string>) =>
        fresh.anonymous("/api/v1/setup", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ username: "ops", password: "ops-password" }) });
      expect((await post({})).status).toBe(403);
      expect((await post({ "x-setup-token": "wrong" })).status).toBe(403);
      const ok = await post({ "x-setup-token": "s3cret-token" });
      expect(ok.status).toBe(201);
      const { apiKey } = await ok.json();
      const me = await (await fresh.anonymous("/api/v1/me", { headers: { "x-api-key": apiKey } })).json();
      expect(me.user.group).toBe("admins");
      expect(me.permissions).toContain("admin");
    } finally {
      await fresh.close();
    }
  }, 30_000);

  test("setups racing each other (the wizard and the API) make exactly one admin; the others are refused", async () => {
    const fresh = await startTestHost({ setup: false });
    try {
      const { token, cookie } = await formToken(fresh, "/setup");
      const wizard = fresh.anonymous("/setup", {
        method: "POST",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: token, username: "mallory", password: "a long password", confirm: "a long password", printerName: "Mallory's", transport: "virtual", baud: "115200" }),
        redirect: "manual",
      });
      const api = ["maker", "eve", "trudy"].map((username) =>
        fresh.anonymous("/api/v1/setup", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password: "a long password" }) }),
      );
      const [form, ...answers] = await Promise.all([wizard, ...api]);
      const admins = fresh.accounts.users.list().filter((u) => u.group === "admins");
      expect(admins).toHaveLength(1);
      const won = form.headers.getSetCookie().some((c) => c.startsWith("layerline_session="));
      // Every loser is told so (the API with 409, the wizard by leaving it): never a second admin, never a 500.
      expect(answers.filter((a) => a.status === 201)).toHaveLength(won ? 0 : 1);
      expect(answers.filter((a) => a.status === 409)).toHaveLength(won ? 3 : 2);
      expect(form.status).toBe(303);
    } finally {
      await fresh.close();
    }
  }, 30_000);

  test("without a token, headless setup is accepted from loopback only", () => {
    const ctx = { accounts: { adminExists: () => false }, setupToken: undefined } as never;
    expect(setupAllowed(ctx, "127.0.0.1", undefined, false)).toBeNull();
    expect(setupAllowed(ctx, "::1", undefined, false)).toBeNull();
    expect(setupAllowed(ctx, "192.168.1.20", undefined, false)?.code).toBe("setup_remote");
    // The browser wizard is how a headless Pi is set up from a laptop.
    expect(setupAllowed(ctx, "192.168.1.20", undefined, true)).toBeNull();
  });
});

describe("the local token (how `layerline update` reaches the running host)", () => {
  const running = () => JSON.parse(readFileSync(join(host.dataDir, "update", "running.json"), "utf8")) as { token: string; url: string };

  test("is announced in running.json, readable only by the host's user", () => {
    const file = join(host.dataDir, "update", "running.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(running().token).toMatch(/^[\w-]{43}$/);
    expect(running().url).toBe(host.url);
  });

  test("from loopback it may see the update status and start one, nothing else; a wrong one is refused", async () => {
    const local = (path: string, token = running().token, init: RequestInit = {}) => host.anonymous(path, { ...init, headers: { "x-layerline-local-token": token, ...init.headers } });
    expect((await local("/api/v1/update")).status).toBe(200);
    expect((await local("/api/v1/update/check", undefined, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(200);
    expect((await local("/api/v1/printers")).status).toBe(200);
    const control = await local(`/api/v1/printers/${printer}/commands`, undefined, { method: "POST", headers: { "content-type": "application/json" }, body: '{"commands":["M105"]}' });
    expect(control.status).toBe(403);
    expect((await local("/api/v1/users")).status).toBe(403);
    expect((await local("/api/v1/me")).status).toBe(403); // no user behind it
    const wrong = await local("/api/v1/update", "x".repeat(43));
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error.code).toBe("invalid_credentials");
  });

  test("is refused from any other address", async () => {
    // Requests handed to the app directly have no peer address: not loopback.
    const app = new Elysia().use(hostErrorHandler()).use(authGuard({ accounts: host.accounts, printers: host.printers })).get("/api/v1/update", () => ({ ok: true }));
    const res = await app.handle(new Request("http://layerline.local/api/v1/update", { headers: { "x-layerline-local-token": running().token } }));
    expect(res.status).toBe(401);
  });

  test("each start makes a new one, and a stop takes it away", async () => {
    const other = await startTestHost();
    const file = join(other.dataDir, "update", "running.json");
    const first = JSON.parse(readFileSync(file, "utf8")).token;
    await other.stop();
    expect(existsSync(file)).toBe(false);
    const again = await startTestHost({ dataDir: other.dataDir, setup: false });
    try {
      const second = JSON.parse(readFileSync(file, "utf8")).token;
      expect(second).not.toBe(first);
      expect((await again.anonymous("/api/v1/update", { headers: { "x-layerline-local-token": first } })).status).toBe(401);
      expect((await again.anonymous("/api/v1/update", { headers: { "x-layerline-local-token": second } })).status).toBe(200);
    } finally {
      await again.stop();
      rmSync(other.dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
