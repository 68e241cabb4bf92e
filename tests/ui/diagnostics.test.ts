/**
 * Settings → Diagnostics in Chromium: the findings load when the page opens, Run again runs the
 * checks again, the support bundle downloads; and with a problem (a printer's pty held by another
 * program) the dashboard shows a notice that leads to the page, problems first.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { createPtyPair, type PtyPair } from "../helpers/pty.ts";

let host: TestHost;
let browser: Browser;
let pty: PtyPair | undefined;
let holder: Bun.Subprocess | undefined;
beforeAll(async () => {
  host = await startTestHost({ diagnostics: { firstDelayMs: 3_600_000 } });
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  holder?.kill();
  await pty?.close();
  await browser?.close();
  await host?.close();
});

test("the page runs the checks as it opens, and again on Run again; the bundle downloads", async () => {
  expect(host.diagnostics.latest()).toBeNull();
  const page = await loggedInPage(browser, host, "/settings/diagnostics");
  await page.waitForSelector("#diagnostics-report [data-summary]");
  expect(await page.textContent("[data-summary]")).toMatch(/Nothing wrong found|problem/);
  const first = await page.getAttribute("#diagnostics-report", "data-at");
  await page.click("[data-run-again]");
  await page.waitForFunction((at) => document.querySelector("#diagnostics-report")?.getAttribute("data-at") !== at, first);
  expect(await page.locator('[data-finding="storage.writable"]').count()).toBe(1);
  const download = page.waitForEvent("download");
  await page.click("[data-bundle]");
  expect((await download).suggestedFilename()).toMatch(/^layerline-support-.+\.tar\.gz$/);
  await page.close();
}, 60_000);

test("a problem shows on the dashboard, and its link opens the page with the problem on top", async () => {
  pty = await createPtyPair();
  holder = Bun.spawn(["bash", "-c", `exec 3<>"$0"; exec sleep 120`, pty.host], { stdout: "ignore", stderr: "ignore" });
  while ((await Bun.file(`/proc/${holder.pid}/comm`).text().catch(() => "")).trim() !== "sleep") await Bun.sleep(20);
  const res = await host.post("/api/v1/printers", { name: "Held", transport: "serial", port: pty.host, autoconnect: false });
  const { id } = (await res.json()) as { id: string };
  await host.diagnostics.run();

  const page = await loggedInPage(browser, host, "/");
  const notice = page.locator("#diagnostics-notice");
  await notice.waitFor({ state: "visible" });
  expect(await notice.textContent()).toContain("Other programs using");
  await notice.locator('a[href="/settings/diagnostics"]').click();
  await page.waitForURL(`${host.url}/settings/diagnostics`);
  const firstGroup = page.locator("details.diagnostics-group").first();
  expect(await firstGroup.getAttribute("data-group")).toBe("problem");
  expect(await firstGroup.getAttribute("open")).not.toBeNull();
  const item = page.locator(`[data-finding="serial.${id}.busy"]`);
  expect(await item.textContent()).toContain(`kill ${holder.pid}`);
  expect(await item.isVisible()).toBe(true);
  await page.close();
}, 60_000);
