/**
 * The dashboard's printer parts in headless Chromium: link statistics update live, the SD card
 * lists its files and prints one, a file is copied to the card, the printer's dialog is answered,
 * and the send window is set.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let browser: Browser;
let id: string;

beforeAll(async () => {
  host = await startTestHost({ virtual: { timeScale: 20, advancedOk: true } });
  browser = await launchBrowser();
  id = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && p.sd.files.length > 0);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
});

test("link card, SD card (print, copy), prompt, window", async () => {
  await upload(host, "square.gcode", "G90\nG1 X10 Y10 F3000\nG1 X20 Y10\nG1 X20 Y20\nG1 X10 Y20\n");
  const page = await loggedInPage(browser, host);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });

  // Link statistics, with the window opened by ADVANCED_OK.
  await page.locator('#link [data-stat="window"]', { hasText: "4 (up to 4)" }).waitFor({ timeout: 10_000 });
  await expect(page.locator('#link [data-stat="ack-latency"]').textContent()).resolves.toMatch(/p50 [\d.]+ ms/);

  // The SD card: print the demo file from it and watch it finish.
  const demo = page.locator('tr[data-sd-file="LAYERL~1.GCO"]');
  await demo.waitFor({ timeout: 10_000 });
  await expect(demo.textContent()).resolves.toContain("layerline-demo.gcode");
  await demo.locator("button", { hasText: "Print" }).click();
  await page.locator('.job[data-job-state="printing"], .job[data-job-state="done"]').first().waitFor({ timeout: 10_000 });
  await expect(page.locator(".job").textContent()).resolves.toContain("(SD card)");
  await page.locator('.job[data-job-state="done"]').waitFor({ timeout: 60_000 });

  // Copy a stored file to the card; it appears in the list.
  await page.selectOption('.sd-copy select[name="file"]', "square.gcode");
  await page.click('.sd-copy button[type="submit"]');
  await page.locator('tr[data-sd-file="SQUARE.GCO"]').waitFor({ timeout: 20_000 });

  // The printer asks (M0): the dialog shows in the live panel and is answered from there.
  await host.post(`/api/v1/printers/${id}/commands`, { commands: ["M0 Remove the purge line"] });
  const dialog = page.locator(".prompt");
  await dialog.waitFor({ timeout: 10_000 });
  await expect(dialog.textContent()).resolves.toContain("Remove the purge line");
  await dialog.locator("button", { hasText: "Continue" }).click();
  await dialog.waitFor({ state: "detached", timeout: 10_000 });
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.prompt === null);

  // The window setting.
  await page.fill('.window-form input[name="window"]', "2");
  await page.click('.window-form button[type="submit"]');
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.window === 2 && p.link.maxWindow === 2);
  await page.locator('#link [data-stat="window"]', { hasText: "2 (up to 2)" }).waitFor({ timeout: 10_000 });
  expect(errors).toEqual([]);
  await page.close();
}, 120_000);
