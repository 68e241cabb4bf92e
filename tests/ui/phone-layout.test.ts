/**
 * The settings pages on a phone (390×844) in Chromium: nothing is wider than the screen, so no
 * field or button is cut off or needs sideways scrolling.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

const PHONE = { width: 390, height: 844 };
const PAGES = ["/settings/mqtt", "/settings/update", "/settings/diagnostics", "/settings/backup", "/settings/controls", "/settings/tracking", "/account", "/users"];

let host: TestHost;
let browser: Browser;
beforeAll(async () => {
  host = await startTestHost();
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
});

test("no settings page is wider than a phone's screen", async () => {
  const page = await loggedInPage(browser, host, "/", PHONE);
  const wide: Record<string, string[]> = {};
  for (const path of PAGES) {
    await page.goto(host.url + path);
    // Elements reaching past the right edge, outside any box that scrolls or clips them.
    const past = await page.evaluate(() => {
      const out: string[] = [];
      for (const el of Array.from(document.querySelectorAll("main *")) as HTMLElement[]) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.right <= innerWidth + 1) continue;
        let clipped = false;
        for (let p = el.parentElement; p && !clipped; p = p.parentElement) clipped = getComputedStyle(p).overflowX !== "visible";
        if (!clipped) out.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""} reaches ${Math.round(box.right)}px`);
      }
      return out;
    });
    if (past.length > 0 || (await page.evaluate(() => document.documentElement.scrollWidth > innerWidth))) wide[path] = past.slice(0, 5);
  }
  expect(wide).toEqual({});
  await page.close();
}, 120_000);
