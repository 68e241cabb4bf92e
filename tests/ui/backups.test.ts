/**
 * Settings → Backup in Chromium: create a backup, see it listed, download it, restore it from the
 * file after confirming (a host inside the tests applies it at its next start), a damaged file
 * refused with a toast in words, and delete.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { openArchive } from "../../src/archive/archive.ts";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), "layerline-backup-ui-"));
beforeAll(async () => {
  host = await startTestHost();
  await upload(host, "cube.gcode", "G28\nG1 X10\n");
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("create, download, restore with a confirmation, refuse a damaged file, delete", async () => {
  const page = await loggedInPage(browser, host, "/settings/backup");
  expect(await page.locator("nav.settings-nav a[aria-current=page]").textContent()).toBe("Backup");
  await page.waitForSelector("[data-empty]");
  await page.click("[data-create]");
  const row = page.locator("#backup-list tr[data-backup]");
  await row.waitFor();
  const name = (await row.getAttribute("data-backup"))!;
  expect(name).toMatch(/^layerline-backup-.+\.tar\.gz$/);

  const download = page.waitForEvent("download");
  await row.locator("[data-download]").click();
  const saved = join(dir, name);
  await (await download).saveAs(saved);
  const archive = openArchive(new Uint8Array(await Bun.file(saved).arrayBuffer()), { maxTotalBytes: 2 ** 30, maxFileBytes: 2 ** 30, maxEntries: 10_000 });
  expect(new TextDecoder().decode(archive.read("files/cube.gcode"))).toBe("G28\nG1 X10\n");

  // A damaged file: refused in words, nothing staged.
  const junk = join(dir, "junk.tar.gz");
  writeFileSync(junk, new Uint8Array(await Bun.file(saved).arrayBuffer()).subarray(0, 200));
  page.once("dialog", (d) => void d.accept());
  await page.setInputFiles("[data-restore-file]", junk);
  await page.click("[data-restore]");
  const error = page.locator("#toasts .toast.error");
  await error.waitFor();
  expect(await error.textContent()).toContain("not a usable backup");
  expect(existsSync(join(host.dataDir, "restore", "staged"))).toBe(false);

  // Dismissing the confirmation sends nothing.
  page.once("dialog", (d) => void d.dismiss());
  await page.setInputFiles("[data-restore-file]", saved);
  await page.click("[data-restore]");
  await Bun.sleep(300);
  expect(await page.locator("[data-restore-accepted]").count()).toBe(0);

  page.once("dialog", (d) => void d.accept());
  await page.click("[data-restore]");
  const accepted = page.locator("[data-restore-accepted]");
  await accepted.waitFor();
  expect(await accepted.textContent()).toContain("restored when Layerline next starts");
  expect(existsSync(join(host.dataDir, "restore", "staged", "files", "cube.gcode"))).toBe(true);

  page.once("dialog", (d) => void d.accept());
  await row.locator("[data-delete]").click();
  await page.waitForSelector("[data-empty]");
  expect(existsSync(join(host.dataDir, "backups", name))).toBe(false);
  await page.close();
}, 60_000);
