/**
 * The account pages as a logged-in person uses them: API keys (shown once), password, users and
 * groups (admins), and that non-admins cannot reach the users page.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readyHost, type TestHost } from "../helpers/host.ts";
import { login, type BrowserSession } from "../helpers/session.ts";

let host: TestHost;
let admin: BrowserSession;

beforeAll(async () => {
  ({ host } = await readyHost());
  admin = await login(host);
}, 30_000);
afterAll(() => host.close());

const form = (s: BrowserSession, path: string, fields: Record<string, string | string[]>) => {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries({ _csrf: s.csrf, ...fields })) for (const x of [v].flat()) body.append(k, x);
  return host.anonymous(path, { method: "POST", headers: { cookie: s.cookie, "content-type": "application/x-www-form-urlencoded" }, body, redirect: "manual" });
};

test("an API key made on the account page is shown once and works with its scope", async () => {
  const res = await form(admin, "/account/keys", { name: "Phone", scope: "read-only", printer: "", expires: "30" });
  expect(res.status).toBe(201);
  const page = await res.text();
  const key = /<p class="secret" id="new-key">([\w-]+)<\/p>/.exec(page)![1]!;
  expect((await host.anonymous("/api/v1/me", { headers: { "x-api-key": key } })).status).toBe(200);
  const later = await (await host.anonymous("/account", { headers: { cookie: admin.cookie } })).text();
  expect(later).toContain("Phone");
  expect(later).not.toContain(key);
  const id = /data-key="([\w-]+)"/.exec(later)![1]!;
  await form(admin, `/account/keys/${id}/revoke`, {});
  expect((await host.anonymous("/api/v1/me", { headers: { "x-api-key": key } })).status).toBe(401);
});

test("admins add users, change groups and group permissions; operators cannot see the users page", async () => {
  expect((await form(admin, "/users", { username: "olga", password: "olga-password", group: "users" })).status).toBe(201);
  const olga = await login(host, "olga", "olga-password");
  expect((await host.anonymous("/users", { headers: { cookie: olga.cookie } })).status).toBe(403);
  // Operators may print; take "print" away from the group and it is gone at once.
  const printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
  const pause = () => host.anonymous(`/api/v1/printers/${printer}/job/pause`, { method: "POST", headers: { cookie: olga.cookie, "x-csrf-token": olga.csrf } });
  expect((await pause()).status).toBe(409); // allowed, but nothing is printing
  await form(admin, "/groups/users", { permissions: ["status", "control"] });
  expect((await pause()).status).toBe(403);
  // Read-only group: the dashboard shows, but actions are refused.
  const id = /data-user="olga"[\s\S]*?action="\/users\/([\w-]+)\/group"/.exec(await (await host.anonymous("/users", { headers: { cookie: admin.cookie } })).text())![1]!;
  await form(admin, `/users/${id}/group`, { group: "readonly" });
  expect((await host.anonymous("/", { headers: { cookie: olga.cookie } })).status).toBe(200);
  expect((await host.anonymous(`/ui/printers/${printer}/connect`, { method: "POST", headers: { cookie: olga.cookie, "x-csrf-token": olga.csrf } })).status).toBe(403);
  // The last admin stays.
  const adminId = /data-user="admin"[\s\S]*?action="\/users\/([\w-]+)\/group"/.exec(await (await host.anonymous("/users", { headers: { cookie: admin.cookie } })).text())![1]!;
  const demote = await form(admin, `/users/${adminId}/group`, { group: "users" });
  expect(demote.status).toBe(409);
  expect(await demote.text()).toContain("only admin");
});

test("changing one's password needs the current one and ends the session", async () => {
  const s = await login(host);
  expect((await form(s, "/account/password", { current: "wrong", password: "another long one" })).status).toBe(403);
  const ok = await form(s, "/account/password", { current: "correct horse battery", password: "another long one" });
  expect(ok.status).toBe(303);
  expect((await host.anonymous("/", { headers: { cookie: s.cookie }, redirect: "manual" })).status).toBe(303);
  await login(host, "admin", "another long one");
});

test("an expiry too far to be a date is refused with a reason, and the account page keeps working", async () => {
  await host.post("/api/v1/users", { username: "kate", password: "kate-password", group: "users" });
  const kate = await login(host, "kate", "kate-password");
  for (const expires of ["99999999", "1e308"]) {
    const res = await form(kate, "/account/keys", { name: "Forever-ish", scope: "read-only", printer: "", expires });
    expect({ expires, status: res.status }).toEqual({ expires, status: 400 });
    expect(await res.text()).toContain("within 10 years at most");
  }
  expect((await host.anonymous("/account", { headers: { cookie: kate.cookie } })).status).toBe(200);
  const api = await host.post("/api/v1/apikeys", { name: "Forever-ish", expiresIn: 11 * 365 * 86400 });
  expect(api.status).toBe(400);
});

test("the setup form posted with a body of another shape, once set up, leads home instead of failing", async () => {
  await host.post("/api/v1/users", { username: "lars", password: "lars-password", group: "users" });
  const lars = await login(host, "lars", "lars-password");
  for (const [type, body] of [["text/plain", "zzz"], ["application/json", "[1]"], ["application/json", "null"]] as const) {
    const res = await host.anonymous("/setup", { method: "POST", headers: { cookie: lars.cookie, "x-csrf-token": lars.csrf, "content-type": type }, body, redirect: "manual" });
    expect({ type, body, status: res.status }).toEqual({ type, body, status: 303 });
  }
});

test("/settings leads to the first settings page the viewer may open", async () => {
  await host.post("/api/v1/users", { username: "otto", password: "otto-password", group: "admins" });
  const admin = await login(host, "otto", "otto-password");
  const res = await host.anonymous("/settings", { headers: { cookie: admin.cookie }, redirect: "manual" });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/settings/tracking");
  // An operator may not change usage statistics: its first settings page is Updates (to read).
  await host.post("/api/v1/users", { username: "mona", password: "mona-password", group: "users" });
  const mona = await login(host, "mona", "mona-password");
  const own = await host.anonymous("/settings", { headers: { cookie: mona.cookie }, redirect: "manual" });
  expect(own.headers.get("location")).toBe("/settings/update");
  expect((await host.anonymous("/settings", { redirect: "manual" })).status).toBe(303); // to the login
});

test("a page that does not exist says so with the user's own top bar", async () => {
  await host.post("/api/v1/users", { username: "pia", password: "pia-password", group: "users" });
  const pia = await login(host, "pia", "pia-password");
  const res = await host.anonymous("/no/such/page", { headers: { cookie: pia.cookie, accept: "text/html" } });
  expect(res.status).toBe(404);
  const page = await res.text();
  expect(page).toContain("There is nothing at /no/such/page.");
  expect(page).toContain('data-user="pia"');
  // Without a session: the same page, no user menu.
  const anonymous = await (await host.anonymous("/no/such/page", { headers: { accept: "text/html" } })).text();
  expect(anonymous).toContain("There is nothing at /no/such/page.");
  expect(anonymous).not.toContain("data-user=");
});
