/**
 * Open pages follow their viewer's rights: when an admin reduces a user's permissions, or the
 * user's sessions end, pages already open drop the controls (or go to the login page) without
 * the user reloading them — the live pages through their own stream, every other page (settings,
 * plugins, account, history, …) through the small stream that carries only that.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage, sseConnected } from "../helpers/browser.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

const BOB = { username: "bob", password: "correct horse battery staple" };
let host: TestHost;
let browser: Browser;

beforeAll(async () => {
  host = await startTestHost();
  expect((await host.post("/api/v1/users", { username: BOB.username, password: BOB.password, group: "users" })).status).toBe(201);
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
});

const bob = () => host.accounts.users.byName(BOB.username)!;

test("a user moved to read-only loses the controls on the open dashboard, files and queue pages", async () => {
  const dashboard = await loggedInPage(browser, host, "/", undefined, BOB);
  await sseConnected(dashboard);
  const files = await loggedInPage(browser, host, "/files", undefined, BOB);
  await sseConnected(files);
  const queue = await loggedInPage(browser, host, "/queue", undefined, BOB);
  await sseConnected(queue);
  const homeAll = dashboard.locator("button", { hasText: "Home all" });
  await homeAll.waitFor();
  const newFolder = files.locator('form[hx-post="/ui/files/folder"]');
  await newFolder.waitFor();
  const queueUpload = queue.locator('form[hx-post*="/ui/queue/"], form[action*="/ui/queue/"]');
  const queueControls = await queueUpload.count();

  host.accounts.setGroup(bob(), "readonly");

  await homeAll.waitFor({ state: "detached", timeout: 10_000 });
  await newFolder.waitFor({ state: "detached", timeout: 10_000 });
  if (queueControls > 0) await queueUpload.first().waitFor({ state: "detached", timeout: 10_000 });
  // Still logged in, still showing the printer: only the controls went.
  await dashboard.locator('tr[data-heater="tool0"]').waitFor();
  expect(dashboard.url()).toBe(`${host.url}/`);
  for (const page of [dashboard, files, queue]) await page.context().close();
}, 60_000);

test("pages of a session that ended elsewhere go to the login page; another user's change leaves them alone", async () => {
  host.accounts.setGroup(bob(), "users");
  const page = await loggedInPage(browser, host, "/", undefined, BOB);
  await sseConnected(page);
  const homeAll = page.locator("button", { hasText: "Home all" });
  await homeAll.waitFor();
  let reloads = 0;
  page.on("load", () => reloads++);
  // The admin's own rights change: nothing happens on Bob's page.
  host.accounts.logoutEverywhere(host.accounts.users.byName("admin")!.id);
  await Bun.sleep(500);
  expect(reloads).toBe(0);
  // Bob's sessions end everywhere (as "Log out everywhere" on another device does).
  host.accounts.logoutEverywhere(bob().id);
  await page.waitForURL(/\/login/, { timeout: 10_000 });
  await page.context().close();
}, 60_000);

test("a page without a live stream (plugins) reloads too: an admin moved to operator loses the install form, still on the page", async () => {
  const CAROL = { username: "carol", password: "another horse battery staple" };
  expect((await host.post("/api/v1/users", { username: CAROL.username, password: CAROL.password, group: "admins" })).status).toBe(201);
  const page = await loggedInPage(browser, host, "/plugins", undefined, CAROL);
  await sseConnected(page);
  const install = page.locator('form[hx-post="/ui/plugins/install"]').first();
  await install.waitFor();
  host.accounts.setGroup(host.accounts.users.byName(CAROL.username)!, "users");
  await install.waitFor({ state: "detached", timeout: 10_000 });
  await page.locator("h1", { hasText: "Plugins" }).waitFor();
  expect(page.url()).toBe(`${host.url}/plugins`);
  await page.context().close();
}, 60_000);

test("the account page of a session ended elsewhere goes to the login page", async () => {
  const page = await loggedInPage(browser, host, "/account", undefined, BOB);
  await sseConnected(page);
  host.accounts.logoutEverywhere(bob().id);
  await page.waitForURL(/\/login/, { timeout: 10_000 });
  await page.context().close();
}, 60_000);
