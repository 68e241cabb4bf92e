/** The queue page in headless Chromium: add files, reorder, the mode, start, and "the bed is clear". */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { readyHost, upload, type TestHost } from "../helpers/host.ts";

const SMALL = "G28\nG1 X10 Y10 F3000\nG1 X20 Y20\n";

let host: TestHost;
let printer: string;
let browser: Browser;

beforeAll(async () => {
  ({ host, printer } = await readyHost());
  for (const name of ["first.gcode", "second.gcode"]) await upload(host, name, SMALL);
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
});

test("queue two files, put the second first, print in confirm mode, confirm the bed is clear", async () => {
  const page = await loggedInPage(browser, host, "/queue", { width: 1200, height: 900 });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.waitForFunction(() => (document.querySelector("[sse-connect]") as any)?.["htmx-internal-data"]?.sseEventSource?.readyState === 1);
  const files = () => page.locator(".queue-items tr[data-file]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-file")));

  for (const name of ["first.gcode", "second.gcode"]) {
    await page.selectOption('.queue-add select[name="file"]', name);
    await page.click(".queue-add button");
    await page.locator(`.queue-items tr[data-file="${name}"]`).waitFor();
  }
  expect(await files()).toEqual(["first.gcode", "second.gcode"]);
  await page.click('button[aria-label="Move second.gcode up"]');
  await page.waitForFunction(() => document.querySelector(".queue-items tr[data-file]")?.getAttribute("data-file") === "second.gcode");
  expect(await files()).toEqual(["second.gcode", "first.gcode"]);
  expect((await (await host.api(`/api/v1/printers/${printer}/queue`)).json()).items.map((i: any) => i.file)).toEqual(["second.gcode", "first.gcode"]);

  await page.selectOption('select[name="mode"]', "confirm");
  await host.waitFor(`/api/v1/printers/${printer}/queue`, (q: any) => q.mode === "confirm");
  await page.click("text=Start the queue");
  // The print ends at once on the instant printer; the page is told and asks for the bed.
  await page.locator('[data-queue-state="awaiting-confirmation"]').waitFor({ timeout: 10_000 });
  await expect(page.locator(".confirm-bed").textContent()).resolves.toContain("second.gcode");
  expect(await files()).toEqual(["first.gcode"]);
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");
  await page.click(".confirm-bed button");
  await page.locator(".queue-empty").waitFor({ timeout: 10_000 });
  await page.locator('[data-queue-state="awaiting-confirmation"]').waitFor({ timeout: 10_000 });
  await expect(page.locator(".confirm-bed").textContent()).resolves.toContain("first.gcode");
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");
  await page.click(".confirm-bed button");
  await page.locator('[data-queue-state="idle"]').waitFor({ timeout: 10_000 });

  // The navigation leads to the history page, whose filters reload the results.
  await page.click('header a[href="/history"]');
  await page.locator("#history-results").waitFor();
  await page.selectOption('select[name="outcome"]', "failed");
  await page.locator('#history-results a.export[href*="outcome=failed"]').waitFor();
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);
