import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage as login } from "../helpers/browser.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

let host: TestHost;
let browser: Browser;

beforeAll(async () => {
  host = await startTestHost();
  browser = await launchBrowser();
}, 60_000);
const loggedInPage = () => login(browser, host);

afterAll(async () => {
  await browser?.close();
  await host?.close();
});

test("the dashboard shows the live virtual printer, uploads a file and prints it", async () => {
  const page = await loggedInPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));

  // The virtual printer is connected and its temperatures arrive over SSE.
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  await page.locator('tr[data-heater="tool0"] .actual').waitFor();
  await expect(page.locator("h1").first().textContent()).resolves.toContain("Virtual printer");

  // Temperatures update live: set a target and watch the row change without reloading.
  await page.fill('input[name="tool0"]', "190");
  await page.click('form[hx-post$="/temperature"] button[type="submit"]:not([name])');
  await page.locator('tr[data-heater="tool0"] td', { hasText: "190 °C" }).waitFor({ timeout: 10_000 });

  // Upload through the form; the file list updates in place.
  await page.setInputFiles('#upload input[type="file"]', TORUS);
  await page.click('#upload button[type="submit"]');
  const row = page.locator('tr[data-file="ps25_ender3_torus_0.20normal_pla.gcode"]');
  await row.waitFor({ timeout: 15_000 });

  // Print it and watch it run to the end.
  await row.locator("button", { hasText: "Print" }).click();
  await page.locator('.job[data-job-state="printing"], .job[data-job-state="done"]').first().waitFor({ timeout: 10_000 });
  await page.locator('.job[data-job-state="done"]').waitFor({ timeout: 60_000 });
  await expect(page.locator(".job .completion").textContent()).resolves.toBe("100.0 %");

  // The terminal shows the traffic. (It keeps the last 300 lines, so after a 15,000-line print
  // the handshake's M110 is only still there if pushes were dropped: assert on the print's lines.)
  // Its lines come in batches of their own, so the end's note may follow the "done" badge.
  await page.locator("#terminal-lines", { hasText: "Job done" }).waitFor({ timeout: 5_000 });
  const terminal = (await page.locator("#terminal-lines").textContent()) ?? "";
  expect(terminal).toMatch(/› N\d+ G1 /);
  expect(terminal).toContain("Job done");
  expect(errors).toEqual([]);
  await page.close();
}, 120_000);

test("an action that fails explains why in a toast", async () => {
  const page = await loggedInPage();
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  await page.click('form[hx-post$="/temperature"] button[type="submit"]:not([name])'); // no value typed
  await expect(page.locator("#toasts .toast.error").textContent()).resolves.toContain("Enter a target temperature");
  await page.close();
}, 30_000);
