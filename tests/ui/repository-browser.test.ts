/**
 * The repository browser in Chromium over the real OctoPrint index (301 plugins): every plugin
 * can be reached page by page with the query kept; the sort measures are explained; and with
 * Layerline gone, typing a search says so instead of doing nothing. The index URL field is wide
 * enough to read the URL in it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

const INDEX = new URL("../fixtures/octoprint-plugins.json", import.meta.url).pathname;

let host: TestHost | undefined;
let browser: Browser;
let server: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => (new URL(req.url).pathname === "/plugins.json" ? new Response(Bun.file(INDEX)) : new Response("not found", { status: 404 })) });
  host = await startTestHost();
  await host.api("/api/v1/plugins/repository/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ url: `http://127.0.0.1:${server.port}/plugins.json` }) });
  await host.waitFor("/api/v1/plugins/repository", (b: any) => b.repository.entries === 301);
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
  server?.stop(true);
});

test("every plugin can be reached: 'Show more' appends the next results of the same search and sort", async () => {
  const page = await loggedInPage(browser, host!, "/plugins/repository");
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await expect(page.locator(".sort-help").textContent()).resolves.toContain("Trending: installs in the last 7 days against the weekly average of the last 30");
  await page.selectOption('select[name="sort"]', "title");
  await page.locator(".repo-results > li.repo-item").first().and(page.locator('[data-id="thespaghettidetective"]')).waitFor();
  await expect(page.locator("#repo-results > p.muted").textContent()).resolves.toBe("301 plugins.");
  const items = page.locator(".repo-results > li.repo-item");
  expect(await items.count()).toBe(50);
  for (const [count, label] of [[100, "Show 50 more (251 not shown)"], [150, "Show 50 more (201 not shown)"], [200, "Show 50 more (151 not shown)"], [250, "Show 50 more (101 not shown)"], [300, "Show 50 more (51 not shown)"], [301, "Show 1 more (1 not shown)"]] as const) {
    await page.locator(".repo-more button", { hasText: label }).click();
    await page.waitForFunction((n) => document.querySelectorAll(".repo-results > li.repo-item").length === n, count);
  }
  await expect(page.locator(".repo-more").count()).resolves.toBe(0);
  // All 301, each once, in title order, as the API sorts them.
  const shown = await items.evaluateAll((els) => els.map((e) => e.getAttribute("data-id")));
  const api = (await (await host!.api("/api/v1/plugins/repository?sort=title")).json()) as { results: { id: string }[] };
  expect(shown).toEqual(api.results.map((r) => r.id));

  // A search with more than one page keeps its query and filters on the next.
  await page.fill('input[name="q"]', "octoprint");
  await page.check('input[name="hideAbandoned"]');
  await page.locator(".repo-more button").waitFor();
  const total = Number((await page.locator("#repo-results > p.muted").textContent())!.match(/^(\d+) plugins/)![1]);
  expect(total).toBeGreaterThan(50);
  await page.locator(".repo-more button").click();
  await page.waitForFunction((n) => document.querySelectorAll(".repo-results > li.repo-item").length === n, Math.min(100, total));
  const searched = (await (await host!.api("/api/v1/plugins/repository?q=octoprint&sort=title&hideAbandoned=1")).json()) as { total: number; results: { id: string }[] };
  expect(searched.total).toBe(total);
  expect(await items.evaluateAll((els) => els.map((e) => e.getAttribute("data-id")))).toEqual(searched.results.slice(0, 100).map((r) => r.id));
  expect(errors).toEqual([]);
  await page.close();
}, 90_000);

test("the index URL can be read in its field, on a laptop and on a phone", async () => {
  for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
    const page = await loggedInPage(browser, host!, "/plugins/repository", viewport);
    const url = page.locator('.repo-settings input[name="url"]');
    expect(await url.inputValue()).toBe(`http://127.0.0.1:${server.port}/plugins.json`);
    // On a laptop the whole URL shows (form.inline's 6rem showed "http://127"); on a phone the field
    // is most of the card's width and stays on screen.
    const box = await url.evaluate((input: HTMLInputElement) => ({ full: input.scrollWidth <= input.clientWidth, width: input.getBoundingClientRect().width, right: input.getBoundingClientRect().right }));
    if (viewport.width > 600) expect(box.full).toBe(true);
    else expect(box.width).toBeGreaterThan(200);
    expect(box.right).toBeLessThanOrEqual(viewport.width);
    await page.close();
  }
}, 60_000);

test("with Layerline gone, a search says it could not be reached (once), instead of doing nothing", async () => {
  const page = await loggedInPage(browser, host!, "/plugins/repository");
  await page.locator("#repo-results > p.muted", { hasText: "301 plugins." }).waitFor();
  await host!.close();
  host = undefined;
  await page.fill('input[name="q"]', "octolapse");
  const toast = page.locator("#toasts .toast.error");
  await toast.waitFor({ timeout: 5_000 });
  await expect(toast.textContent()).resolves.toBe("Layerline could not be reached, so nothing was done. Check that it is running and that this device is on the network, then try again.");
  await page.fill('input[name="q"]', "octolapse timelapse");
  await page.waitForTimeout(1_000);
  expect(await toast.count()).toBe(1);
  await page.close();
}, 60_000);
