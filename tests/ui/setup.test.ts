/**
 * The first visit in a browser: the wizard creates the admin, names the printer and picks the
 * connection, then the dashboard opens logged in; logging out leads to the login page.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../helpers/browser.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let browser: Browser;

beforeAll(async () => {
  host = await startTestHost({ setup: false });
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
});

test("first run: wizard → dashboard → log out → log in", async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${host.url}/account`);
  await page.waitForURL(/\/setup$/);
  await page.fill('input[name="username"]', "maker");
  await page.fill('input[name="password"]', "a long password");
  await page.fill('input[name="confirm"]', "a long password");
  await page.fill('input[name="printerName"]', "Garage MK3");
  await page.check('input[name="transport"][value="virtual"]');
  if (process.env.LAYERLINE_SCREENSHOTS) await page.screenshot({ path: `${process.env.LAYERLINE_SCREENSHOTS}/setup.png`, fullPage: true });
  await page.click('button[type="submit"]');
  await page.waitForURL(`${host.url}/`);
  await expect(page.locator("h1").first().textContent()).resolves.toContain("Garage MK3");
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  await expect(page.locator("[data-user]").first().textContent()).resolves.toBe("maker");
  if (process.env.LAYERLINE_SCREENSHOTS) await page.screenshot({ path: `${process.env.LAYERLINE_SCREENSHOTS}/dashboard.png` });
  // An htmx action works with the session's CSRF token.
  await page.click('button[hx-vals*="G28"]');
  await expect(page.locator("#toasts .toast.error").count()).resolves.toBe(0);
  await page.click('button:has-text("Log out")');
  await page.waitForURL(/\/login/);
  await page.fill('input[name="username"]', "maker");
  await page.fill('input[name="password"]', "a long password");
  await page.click('button[type="submit"]');
  await page.waitForURL(`${host.url}/`);
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);

test("first run with a USB printer: Auto-detect is the port offered, and the dashboard says how it is found", async () => {
  const fresh = await startTestHost({ setup: false });
  const page = await browser.newPage();
  try {
    await page.goto(`${fresh.url}/setup`);
    await page.fill('input[name="username"]', "maker");
    await page.fill('input[name="password"]', "a long password");
    await page.fill('input[name="confirm"]', "a long password");
    await page.fill('input[name="printerName"]', "Garage Ender");
    await page.check('input[name="transport"][value="serial"]');
    // No port chosen before: Auto-detect is the choice; the ports found follow it, or a word says there are none.
    await expect(page.locator('select[name="port"]').inputValue()).resolves.toBe("auto");
    await expect(page.locator('select[name="port"] option').first().textContent()).resolves.toContain("Auto-detect");
    const ports = (await page.locator('select[name="port"] option').count()) - 1;
    await expect(page.locator("[data-no-ports]").count()).resolves.toBe(ports === 0 ? 1 : 0);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${fresh.url}/`);
    await expect(page.locator("h1").first().textContent()).resolves.toContain("Garage Ender");
    await expect(page.locator("#live p.muted").first().textContent()).resolves.toContain("Auto-detect");
  } finally {
    await page.close();
    await fresh.close();
  }
}, 60_000);
