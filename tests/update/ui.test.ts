/**
 * The update notice in a real browser (headless Chromium): it loads on every page, shows the
 * release notes, and a result notice can be dismissed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { manifestFor, ReleaseServer, throwawayKey } from "./helpers.ts";

let dir: string;
let host: TestHost;
let server: ReleaseServer;
let browser: Browser;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "layerline-update-ui-"));
  const key = throwawayKey(dir);
  server = new ReleaseServer();
  const binary = join(dir, "layerline");
  writeFileSync(binary, "binary");
  host = await startTestHost({ update: { publicKey: key.publicKey } });
  const url = server.publish("ui", await manifestFor(binary, { version: "9.1.0", key: key.privateKey, notes: "Faster uploads.\nA new terminal." }), { file: binary });
  await host.post("/api/v1/update/check", { url });
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await host?.close();
  server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a new release is announced on the dashboard with its notes", async () => {
  const page = await loggedInPage(browser, host);
  const notice = page.locator("#update-notice .update-notice");
  await notice.waitFor({ timeout: 15_000 });
  await expect(notice.textContent()).resolves.toContain("Layerline 9.1.0 is available");
  await page.click(".release-notes summary");
  await expect(page.locator(".release-notes .notes").textContent()).resolves.toBe("Faster uploads.\nA new terminal.");
  // This test host runs from source, so the notice explains why it cannot install instead of a button.
  await expect(notice.textContent()).resolves.toContain("runs from source");
  await page.close();
}, 30_000);

test("the outcome of an update is shown until dismissed", async () => {
  host.update.settings.setLastResult({ outcome: "rolled-back", from: "9.0.0", to: "9.1.0", at: Date.now(), reason: "the printer “Ender” did not reconnect", dismissed: false });
  const page = await loggedInPage(browser, host);
  const notice = page.locator('.update-notice[data-kind="error"]');
  await notice.waitFor({ timeout: 15_000 });
  await expect(notice.textContent()).resolves.toContain("The update to Layerline 9.1.0 failed and was undone");
  await expect(notice.textContent()).resolves.toContain("the printer “Ender” did not reconnect");
  await page.click('#update-notice .update-notice button:has-text("Dismiss")');
  await page.locator('.update-notice[data-kind="error"]').waitFor({ state: "detached", timeout: 10_000 });
  expect(host.update.settings.lastResult()?.dismissed).toBe(true);
  await page.close();
}, 30_000);
