import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, loggedInPage as login } from "../helpers/browser.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

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

async function dashboard(): Promise<Page> {
  const page = await login(browser, host);
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  return page;
}

const send = async (page: Page, command: string) => {
  await page.fill('.terminal input[name="command"]', command);
  await page.press('.terminal input[name="command"]', "Enter");
};

test("the terminal hides the printer's periodic reports, as each browser chooses, and keeps the choice", async () => {
  const page = await dashboard();
  const terminal = page.locator("#terminal-lines");
  // The virtual Marlin auto-reports its SD status every second (M27 S1), temperatures every two.
  await terminal.locator(".k-sd").first().waitFor({ state: "attached", timeout: 10_000 });
  await terminal.locator(".k-temperature").first().waitFor({ state: "attached", timeout: 10_000 });
  expect(await terminal.locator(".k-sd").first().isVisible()).toBe(false);
  expect(await terminal.locator(".k-temperature").first().isVisible()).toBe(false);
  expect(await terminal.locator("span", { hasText: "FIRMWARE_NAME" }).first().isVisible()).toBe(true);

  await page.getByLabel("SD status").uncheck();
  await terminal.locator(".k-sd", { hasText: "Not SD printing" }).first().waitFor({ state: "visible" });

  // Another visit in this browser: its choice stands, the other boxes as they were.
  await page.reload();
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  expect(await page.getByLabel("SD status").isChecked()).toBe(false);
  expect(await page.getByLabel("temperatures").isChecked()).toBe(true);
  await terminal.locator(".k-sd").last().waitFor({ state: "visible", timeout: 10_000 });
  expect(await terminal.locator(".k-temperature").last().isVisible()).toBe(false);
  await page.close();
}, 60_000);

test("the terminal stays where its reader scrolled to, and follows new lines again from the bottom", async () => {
  const page = await dashboard();
  const terminal = page.locator("#terminal-lines");
  // The connection's replies (M503's settings and more) overflow the terminal's height.
  await page.waitForFunction(() => {
    const t = document.getElementById("terminal-lines")!;
    return t.scrollHeight > t.clientHeight * 2;
  });
  await terminal.evaluate((t) => (t.scrollTop = 0));
  await send(page, "M117 reading back");
  await terminal.locator("span", { hasText: "M117 reading back" }).first().waitFor({ state: "attached" });
  await Bun.sleep(500); // pushes after it too
  expect(await terminal.evaluate((t) => t.scrollTop)).toBe(0);

  await terminal.evaluate((t) => (t.scrollTop = t.scrollHeight));
  await send(page, "M117 following");
  await terminal.locator("span", { hasText: "M117 following" }).first().waitFor({ state: "attached" });
  await page.waitForFunction(() => {
    const t = document.getElementById("terminal-lines")!;
    return t.scrollHeight - t.scrollTop - t.clientHeight < 24;
  });
  await page.close();
}, 60_000);

test("↑ and ↓ in the command box bring back the commands sent before", async () => {
  const page = await dashboard();
  const input = page.locator('.terminal input[name="command"]');
  await send(page, "M117 first");
  await page.locator("#terminal-lines span", { hasText: "M117 first" }).first().waitFor({ state: "attached" });
  await send(page, "M115");
  await page.locator("#terminal-lines span", { hasText: "M115" }).first().waitFor({ state: "attached" });
  await expect(input.inputValue()).resolves.toBe(""); // the form was reset after sending
  await input.press("ArrowUp");
  await expect(input.inputValue()).resolves.toBe("M115");
  await input.press("ArrowUp");
  await expect(input.inputValue()).resolves.toBe("M117 first");
  await input.press("ArrowDown");
  await expect(input.inputValue()).resolves.toBe("M115");
  await input.press("ArrowDown");
  await expect(input.inputValue()).resolves.toBe("");
  await page.close();
}, 60_000);
