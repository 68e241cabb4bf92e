/**
 * Pages on a phone (390×844) in Chromium: no settings page (nor the API docs) is wider than the screen, so no field or
 * button is cut off; and no table squeezes a column until its words break into letters read downwards
 * (a table too wide for the screen scrolls instead); the first-run setup wizard fits too.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

const PHONE = { width: 390, height: 844 };
const PAGES = ["/settings/mqtt", "/settings/update", "/settings/diagnostics", "/settings/backup", "/settings/controls", "/settings/tracking", "/account", "/users", "/api/v1/docs"];

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

test("no settings page (nor the API docs) is wider than a phone's screen", async () => {
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

test("table headers and short values stay whole words on a phone", async () => {
  const torus = "ps25_ender3_torus_0.20normal_pla.gcode";
  expect((await upload(host, torus, Bun.file(new URL(`../fixtures/${torus}`, import.meta.url).pathname))).status).toBe(201);
  await host.waitFor("/api/v1/files", (b: any) => JSON.stringify(b).includes('"layerCount"'), 60_000);
  const printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id as string;
  const page = await loggedInPage(browser, host, "/", PHONE);
  const broken: Record<string, string[]> = {};
  for (const path of ["/files", "/users", "/account", `/settings/printers/${printer}/profile`]) {
    await page.goto(host.url + path);
    await page.locator("main table td").first().waitFor();
    // A word of letters and digits (no hyphen to break at) of a header or a cell laid over several lines;
    // file names (td.name) may break anywhere, as they are meant to.
    const words = await page.evaluate(() => {
      const out: string[] = [];
      for (const cell of Array.from(document.querySelectorAll("main :is(th, td):not(.name)"))) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          for (const m of (n.textContent ?? "").matchAll(/[\p{L}\p{N}()/²]{2,15}/gu)) {
            const range = document.createRange();
            range.setStart(n, m.index!);
            range.setEnd(n, m.index! + m[0].length);
            if (new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top))).size > 1) out.push(m[0]);
          }
        }
      }
      return out;
    });
    if (words.length > 0) broken[path] = words.slice(0, 6);
  }
  expect(broken).toEqual({});
  await page.close();
}, 120_000);

test("the first-run setup wizard fits a phone's screen", async () => {
  const fresh = await startTestHost({ setup: false });
  try {
    const page = await browser.newPage({ viewport: PHONE });
    await page.goto(`${fresh.url}/setup`);
    // The connection fieldset holds the port list, whose first option is a long sentence.
    await page.locator('select[name="port"], #setup select').first().waitFor({ state: "attached" });
    const sizes = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      fieldsets: Array.from(document.querySelectorAll("#setup fieldset")).map((f) => Math.round(f.getBoundingClientRect().right)),
    }));
    expect(sizes.page).toBeLessThanOrEqual(PHONE.width);
    for (const right of sizes.fieldsets) expect(right).toBeLessThanOrEqual(PHONE.width);
    await page.close();
  } finally {
    await fresh.close();
  }
}, 60_000);
