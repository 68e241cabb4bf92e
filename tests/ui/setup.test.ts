/**
 * The first visit in a browser: the wizard creates the admin, names the printer and picks the
 * connection, then the dashboard opens logged in; logging out leads to the login page.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
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

/** A fresh host's wizard filled in for the serial printer "Garage Ender", the password confirmed as `confirm`; `then` goes on. */
async function serialWizard(confirm: string, then: (page: Page, fresh: TestHost) => Promise<void>): Promise<void> {
  const fresh = await startTestHost({ setup: false });
  const page = await browser.newPage();
  try {
    await page.goto(`${fresh.url}/setup`);
    await page.fill('input[name="username"]', "maker");
    await page.fill('input[name="password"]', "a long password");
    await page.fill('input[name="confirm"]', confirm);
    await page.fill('input[name="printerName"]', "Garage Ender");
    await page.check('input[name="transport"][value="serial"]');
    await then(page, fresh);
  } finally {
    await page.close();
    await fresh.close();
  }
}

test("first run with a USB printer: Auto-detect is the port offered, and the dashboard says how it is found", async () => {
  await serialWizard("a long password", async (page, fresh) => {
    // No port chosen before: Auto-detect is the choice; the ports found follow it, or a word says there are none.
    await expect(page.locator('select[name="port"]').inputValue()).resolves.toBe("auto");
    await expect(page.locator('select[name="port"] option').first().textContent()).resolves.toContain("Auto-detect");
    const ports = (await page.locator('select[name="port"] option').count()) - 1;
    await expect(page.locator("[data-no-ports]").count()).resolves.toBe(ports === 0 ? 1 : 0);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${fresh.url}/`);
    await expect(page.locator("h1").first().textContent()).resolves.toContain("Garage Ender");
    await expect(page.locator("#live p.muted").first().textContent()).resolves.toContain("Auto-detect");
  });
}, 60_000);

test("a mistake in the wizard keeps what was entered (but not the passwords)", async () => {
  await serialWizard("another long password", async (page, fresh) => {
    await page.selectOption('select[name="baud"]', "250000");
    await page.check('input[name="tracking"][value="on"]');
    // The form is posted and answered with the page again (same URL), the mistake said.
    await Promise.all([page.waitForEvent("load"), page.click('button[type="submit"]')]);
    await expect(page.locator(".form-error").textContent()).resolves.toContain("The two passwords differ");
    await expect(page.locator('input[name="username"]').inputValue()).resolves.toBe("maker");
    await expect(page.locator('input[name="printerName"]').inputValue()).resolves.toBe("Garage Ender");
    await expect(page.locator('input[name="transport"][value="serial"]').isChecked()).resolves.toBe(true);
    await expect(page.locator('select[name="port"]').inputValue()).resolves.toBe("auto");
    await expect(page.locator('select[name="baud"]').inputValue()).resolves.toBe("250000");
    await expect(page.locator('input[name="tracking"][value="on"]').isChecked()).resolves.toBe(true);
    await expect(page.locator('input[name="password"]').inputValue()).resolves.toBe("");
    await expect(page.locator('input[name="confirm"]').inputValue()).resolves.toBe("");
    // Corrected, the same form finishes the setup with the choices made the first time.
    await page.fill('input[name="password"]', "a long password");
    await page.fill('input[name="confirm"]', "a long password");
    await page.click('button[type="submit"]');
    await page.waitForURL(`${fresh.url}/`);
    const key = fresh.accounts.createKey(fresh.accounts.users.byName("maker")!, { name: "t", scope: "full" }).key;
    const { printers } = await (await fresh.api("/api/v1/printers", { headers: { "x-api-key": key } })).json();
    expect(printers.map((p: any) => [p.name, p.transport, p.port, p.baud])).toEqual([["Garage Ender", "serial", "auto", 250000]]);
    expect(fresh.tracking.status().enabled).toBe(true);
  });
}, 60_000);
