/**
 * Pages show each user only the controls they may use: every action a page (or a fragment, or
 * the dashboard's pushed live panel) offers is one the guard lets that user call, judged from the
 * route table itself — for a read-only user, an operator and an admin (who still sees them all).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DEFAULT_GROUP_PERMISSIONS, type Permission } from "../../src/accounts/permissions.ts";
import { ROUTE_PERMISSIONS } from "../../src/server/auth/route-permissions.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { readyHost, upload, type TestHost } from "../helpers/host.ts";
import { login, type BrowserSession } from "../helpers/session.ts";

/** The registered POST routes as patterns to match a page's action URLs against. */
const POST_ROUTES = Object.keys(ROUTE_PERMISSIONS)
  .filter((k) => k.startsWith("POST "))
  .map((k) => {
    const pattern = k.slice(5);
    const regex = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[a-z_]+/g, "[^/]+").replace("*", ".*")}$`);
    return { key: k, regex, literal: !pattern.includes(":") && !pattern.includes("*") };
  })
  // A literal route wins over a pattern that also matches (as the router does).
  .sort((a, b) => Number(b.literal) - Number(a.literal));

/** Every action a page offers: htmx posts and plain form posts, as "POST pattern" keys. */
function actions(page: string): string[] {
  const urls = [...page.matchAll(/hx-post="([^"]+)"/g), ...page.matchAll(/<form[^>]*method="post"[^>]*action="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, "&").split("?")[0]!);
  return urls.map((url) => POST_ROUTES.find((r) => r.regex.test(decodeURIComponent(url)))?.key ?? `POST ${url} (unknown)`);
}

/** The actions on `page` that `permissions` do not allow. */
function forbidden(page: string, permissions: readonly Permission[]): string[] {
  return actions(page).filter((key) => {
    const r = ROUTE_PERMISSIONS[key];
    if (!r) return true;
    return "permission" in r && r.permission !== "login" && !permissions.includes(r.permission);
  });
}

let host: TestHost;
let printer: string;
let admin: BrowserSession;
const as = (s: BrowserSession, path: string) => host.anonymous(path, { headers: { cookie: s.cookie } });
const page = async (s: BrowserSession, path: string) => {
  const res = await as(s, path);
  expect(res.status).toBe(200);
  return res.text();
};

/** The first `live` fragment the dashboard's push channel sends this session. */
async function pushedLivePanel(s: BrowserSession): Promise<string> {
  const reader = (await as(s, `/ui/events?printer=${printer}`)).body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
      const block = text.split("\n\n").find((b) => b.startsWith("event: live\n"));
      if (block) return block.split("\n").slice(1).map((l) => l.slice(6)).join("\n");
      const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      if (!chunk || chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    throw new Error("no live panel pushed within 5 s");
  } finally {
    await reader.cancel();
  }
}

/** Every page and fragment with controls, as `s` sees it. */
async function everyPage(s: BrowserSession): Promise<Record<string, string>> {
  const paths = [
    "/",
    "/printers",
    "/files",
    "/ui/files/detail?path=cube.gcode",
    "/queue",
    `/ui/queue/${printer}/panel`,
    "/history",
    "/plugins",
    "/ui/plugins/list",
    "/plugins/webhook-notifier",
    "/plugins/repository",
    `/settings/printers/${printer}/scripts`,
    `/settings/printers/${printer}/profile`,
    "/ui/update/notice",
    "/settings/update",
    "/ui/update/status",
    "/account",
  ];
  const pages: Record<string, string> = {};
  for (const path of paths) pages[path] = await page(s, path);
  pages["pushed live panel"] = await pushedLivePanel(s);
  return pages;
}

beforeAll(async () => {
  // A printer that takes time to move, so a print is still running while the last test looks.
  ({ host, printer } = await readyHost({ virtual: { timeScale: 20 } }));
  admin = await login(host);
  await host.waitFor(`/api/v1/printers/${printer}/sd`, (sd: any) => sd.files.length > 0);
  expect((await upload(host, "cube.gcode", layeredGcode({ layers: 40, loops: 3, objects: [{ name: "left", x: 20, y: 20, size: 30 }, { name: "right", x: 120, y: 120, size: 30 }] }))).status).toBe(201);
  expect((await host.post(`/api/v1/printers/${printer}/queue`, { file: "cube.gcode" })).status).toBe(201);
  host.update.settings.setLastResult({ outcome: "updated", from: "1.0.0", to: "1.1.0", at: Date.now(), reason: null, dismissed: false });
  await host.accounts.addUser("reader", "reader-password", "readonly");
  await host.accounts.addUser("operator", "operator-password", "users");
}, 30_000);
afterAll(() => host?.close());

describe("controls follow the viewer's permissions", () => {
  test("a read-only user is offered no action it may not take, no link to users, and settings only to read", async () => {
    const reader = await login(host, "reader", "reader-password");
    const pages = await everyPage(reader);
    for (const [path, html] of Object.entries(pages)) expect({ path, forbidden: forbidden(html, DEFAULT_GROUP_PERMISSIONS.readonly) }).toEqual({ path, forbidden: [] });
    expect(pages["/"]).not.toContain("Emergency stop");
    expect(pages["/"]).not.toContain('href="/settings/tracking"');
    expect(pages["/"]).not.toContain('href="/users"');
    // What it may see stays: the printer's state, its files, the SD card's files, the queue, the scripts (read-only).
    expect(pages["/"]).toContain('data-state="operational"');
    expect(pages["/"]).toContain('data-file="cube.gcode"');
    expect(pages["/"]).toContain("data-sd-file=");
    expect(pages["/queue"]).toContain('data-file="cube.gcode"');
    expect(pages[`/settings/printers/${printer}/scripts`]).toContain("readonly>");
    expect(pages[`/settings/printers/${printer}/profile`]).toContain('<fieldset class="bare" disabled>');
    // Plugin settings and logs need the "plugins" permission, as in the API.
    expect(pages["/plugins/webhook-notifier"]).not.toContain("<h2>Log</h2>");
    expect(pages["/ui/update/notice"]).toContain("Updated to Layerline 1.1.0");
    // Settings → Updates is theirs to read (as GET /api/v1/update), without its form or buttons.
    expect(pages["/"]).toContain('<a href="/settings/update">Settings</a>');
    expect(pages["/settings/update"]).toContain("installed Layerline 1.1.0 (from 1.0.0)");
    expect(pages["/settings/update"]).not.toContain('id="update-settings"');
    expect(pages["/settings/update"]).not.toContain("Check now");
    expect(pages["/settings/update"]).not.toContain('href="/settings/tracking"');
  }, 30_000);

  test("the update settings' actions refuse a user without the update permission", async () => {
    const reader = await login(host, "reader", "reader-password");
    const before = await (await host.api("/api/v1/update")).json();
    const post = (path: string, body = "") =>
      host.anonymous(path, { method: "POST", headers: { cookie: reader.cookie, "x-csrf-token": reader.csrf, "hx-request": "true", "content-type": "application/x-www-form-urlencoded" }, body });
    const change = await post("/ui/update/settings", "channel=beta&source=custom&url=http%3A%2F%2F127.0.0.1%3A1%2Frelease.json&checkHours=1&selfTestSeconds=60");
    expect(change.status).toBe(403);
    expect(await change.text()).toContain("“update” permission");
    expect((await post("/ui/update/check")).status).toBe(403);
    expect((await post("/ui/update/start")).status).toBe(403);
    const after = await (await host.api("/api/v1/update")).json();
    expect({ url: after.url, channel: after.channel, checkHours: after.checkHours, check: after.check }).toEqual({ url: before.url, channel: before.channel, checkHours: before.checkHours, check: before.check });
  }, 30_000);

  test("an operator may print, control and manage files, but not settings, plugins or updates", async () => {
    const operator = await login(host, "operator", "operator-password");
    const pages = await everyPage(operator);
    for (const [path, html] of Object.entries(pages)) expect({ path, forbidden: forbidden(html, DEFAULT_GROUP_PERMISSIONS.users) }).toEqual({ path, forbidden: [] });
    for (const key of ["POST /ui/printers/:id/emergency-stop", "POST /ui/printers/:id/commands", "POST /ui/files", "POST /ui/files/delete", "POST /ui/printers/:id/job"]) {
      expect(actions(pages["/"]!)).toContain(key);
    }
    expect(actions(pages["pushed live panel"]!)).toContain("POST /ui/printers/:id/emergency-stop");
    expect(actions(pages["/ui/files/detail?path=cube.gcode"]!)).toEqual(expect.arrayContaining(["POST /ui/files/print", "POST /ui/queue/add", "POST /ui/files/remove"]));
    expect(actions(pages["/queue"]!)).toContain("POST /ui/queue/:id/items/:item/remove");
    expect(pages["/"]).not.toContain('href="/settings/tracking"');
    expect(actions(pages["/settings/update"]!).filter((a) => a.startsWith("POST /ui/update"))).toEqual([]);
  }, 30_000);

  test("an admin is offered every control", async () => {
    const pages = await everyPage(admin);
    const offered = new Set(Object.values(pages).flatMap(actions));
    for (const key of [
      "POST /ui/printers/:id/emergency-stop",
      "POST /ui/printers/:id/window",
      "POST /ui/printers/:id/sd/upload",
      "POST /ui/files/settings",
      "POST /ui/queue/:id/mode",
      "POST /ui/plugins/install",
      "POST /ui/plugins/:id/disable",
      "POST /ui/plugins/:id/settings",
      "POST /ui/plugins/repository/settings",
      "POST /ui/printers/:id/scripts",
      "POST /ui/printers/:id/profile/limits",
      "POST /ui/update/dismiss",
      "POST /ui/update/check",
      "POST /ui/update/settings",
      "POST /account/keys",
    ]) {
      expect(offered).toContain(key);
    }
    expect([...offered].filter((k) => k.endsWith("(unknown)"))).toEqual([]);
    expect(pages["/"]).toContain('href="/settings/tracking"');
    expect(pages["/"]).toContain('href="/users"');
  }, 30_000);

  test("during a print: job and object controls for those who may print, none for a read-only user", async () => {
    const reader = await login(host, "reader", "reader-password");
    const operator = await login(host, "operator", "operator-password");
    await host.waitFor("/api/v1/files/cube.gcode", (f: any) => f.analysis?.state === "done", 20_000);
    expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "cube.gcode" })).status).toBe(200);
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.job?.state === "printing");
    try {
      const fragments = async (s: BrowserSession) => ({ dashboard: await page(s, "/"), live: await pushedLivePanel(s), map: await page(s, `/ui/printers/${printer}/job/objects`) });
      const seen = await fragments(reader);
      for (const [where, html] of Object.entries(seen)) expect({ where, forbidden: forbidden(html, DEFAULT_GROUP_PERMISSIONS.readonly) }).toEqual({ where, forbidden: [] });
      expect(seen.map).toContain('data-object="left"');
      expect(seen.dashboard).not.toContain("Cancel an object…");
      const operated = await fragments(operator);
      expect(actions(operated.live)).toEqual(expect.arrayContaining(["POST /ui/printers/:id/job/pause", "POST /ui/printers/:id/job/cancel"]));
      expect(operated.live).toContain("Cancel an object…");
      expect(actions(operated.map)).toContain("POST /ui/printers/:id/job/cancel-object");
    } finally {
      await host.post(`/api/v1/printers/${printer}/job/cancel`);
    }
  }, 60_000);
});
