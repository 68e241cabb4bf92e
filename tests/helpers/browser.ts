/**
 * Headless Chromium for the UI tests (Debian's chromium driven by playwright-core), and pages
 * logged in through the login form as a person would.
 */
import { chromium, type Browser, type Page } from "playwright-core";
import { ADMIN, type TestHost } from "./host.ts";

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Opens `path`, which leads to the login page; logs in (as the admin by default) and lands on `path`. */
export async function loggedInPage(browser: Browser, host: TestHost, path = "/", viewport?: { width: number; height: number }, user = ADMIN): Promise<Page> {
  const page = await browser.newPage(viewport ? { viewport } : {});
  await page.goto(host.url + path);
  await page.waitForURL(/\/login/);
  await page.fill('input[name="username"]', user.username);
  await page.fill('input[name="password"]', user.password);
  await page.click('button[type="submit"]');
  await page.waitForURL(host.url + path);
  return page;
}

/** Waits until the page's SSE connection (its `sse-connect` element's) is open. */
export async function sseConnected(page: Page): Promise<void> {
  await page.waitForFunction(() => (document.querySelector("[sse-connect]") as any)?.["htmx-internal-data"]?.sseEventSource?.readyState === 1);
}
