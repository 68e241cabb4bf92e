import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { buildRegistry } from "../../src/registry/build.ts";
import { startRegistryService, type RegistryService } from "../../src/registry/service.ts";
import { entriesFolder, STATS_7D, STATS_30D, tempDir } from "./helpers.ts";

let work: string;
let entries: string;
let service: RegistryService;
let browser: Browser;

beforeAll(async () => {
  work = tempDir();
  entries = await entriesFolder({ fromIndex: true });
  await buildRegistry({ entriesDir: entries, outDir: join(work, "site"), stats7d: STATS_7D, stats30d: STATS_30D });
  service = await startRegistryService({ dataDir: join(work, "data"), siteDir: join(work, "site"), port: 0, host: "127.0.0.1", log: () => {} });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await service?.stop();
  rmSync(work, { recursive: true, force: true });
  rmSync(entries, { recursive: true, force: true });
});

test("the website's search filters the plugin list as one types, keeps the query in the address, and links to plugin pages", async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Pictures point at other sites; the test stays on loopback.
  await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  await page.goto(service.url);
  await expect(page.locator("#count").textContent()).resolves.toBe("302");
  await expect(page.locator('[data-ranking="popular"] li').count()).resolves.toBe(10);

  await page.fill("#q", "psu control");
  await page.waitForFunction(() => document.getElementById("count")!.textContent !== "302");
  const visible = await page.locator("#all li:not([hidden])").evaluateAll((items) => items.map((li) => li.getAttribute("data-text")!));
  const hidden = await page.locator("#all li[hidden]").evaluateAll((items) => items.map((li) => li.getAttribute("data-text")!));
  expect(visible.length).toBeGreaterThan(3);
  expect(visible.length + hidden.length).toBe(302);
  for (const text of visible) expect(text.includes("psu") && text.includes("control")).toBe(true);
  for (const text of hidden) expect(text.includes("psu") && text.includes("control")).toBe(false);
  expect(await page.locator("#count").textContent()).toBe(String(visible.length));
  expect(new URL(page.url()).searchParams.get("q")).toBe("psu control");

  await page.fill("#q", "bltouch");
  await page.waitForFunction(() => document.getElementById("count")!.textContent === "1");
  await page.click("#all li:not([hidden]) a.title");
  await page.waitForURL(/\/plugins\/BLTouch\/$/);
  await expect(page.locator("h1").first().textContent()).resolves.toBe("OctoPrint-BLTouch");
  await expect(page.locator(".usage .likes").textContent()).resolves.toBe("0");

  // A shared link with ?q= opens already filtered.
  await page.goto(`${service.url}/?q=octoklipper`);
  await page.waitForFunction(() => document.getElementById("count")!.textContent === "1");
  expect(errors).toEqual([]);
}, 60_000);
