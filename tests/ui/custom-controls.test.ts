/**
 * Custom controls in Chromium: edited on Settings → Custom controls (a mistake shown with its path,
 * the example loaded and saved), then used on the dashboard — a slider fills the fan's parameter,
 * a confirm asks first, the commands appear in the terminal and a read-out follows the printer's
 * reply without a reload; saving again elsewhere changes the panel in place.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage, sseConnected } from "../helpers/browser.ts";
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

test("edit the controls on the settings page, press them on the dashboard, see the terminal and a read-out", async () => {
  const settings = await loggedInPage(browser, host, "/settings/controls");
  expect(await settings.locator("nav.settings-nav a[aria-current=page]").textContent()).toBe("Custom controls");

  await settings.fill("[data-controls-text]", '[{"name": "Slow", "command": "M114", "regex": "(a+)+$", "template": "{0}"}]');
  await settings.click("[data-save]");
  await settings.locator("[data-controls-errors]").waitFor();
  expect(await settings.locator("[data-controls-errors]").textContent()).toContain("controls[0].regex: it repeats a group that repeats itself");

  settings.once("dialog", (d) => void d.accept());
  await settings.click("[data-example]");
  await settings.getByText("press Save to keep it").waitFor();
  expect(await settings.locator("[data-controls-text]").inputValue()).toContain("Preheat PLA");
  expect((await (await host.api("/api/v1/controls")).json()).controls).toEqual([]);
  await settings.click("[data-save]");
  await settings.getByText("Saved.").waitFor();
  expect((await (await host.api("/api/v1/controls")).json()).controls.length).toBe(3);
  await settings.close();

  const page = await loggedInPage(browser, host, "/");
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  await sseConnected(page);
  const terminal = page.locator("#terminal-lines");
  const custom = page.locator("#custom-controls");

  // The fan slider: its value shown beside it and sent with the button.
  const fan = page.locator('form[data-control="1.0"]');
  await fan.locator('input[type="range"]').evaluate((input: HTMLInputElement) => {
    input.value = "128";
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
  expect(await fan.locator("output").textContent()).toBe("128");
  await fan.getByRole("button", { name: "Set fan" }).click();
  await terminal.locator("span.send", { hasText: "M106 S128" }).first().waitFor({ state: "attached" });

  // A confirm asks first: dismissed, nothing is sent; accepted, the command goes.
  page.once("dialog", (d) => {
    expect(d.message()).toBe("Turn the motors off? The printer loses its position.");
    void d.dismiss();
  });
  await custom.getByRole("button", { name: "Motors off" }).click();
  await Bun.sleep(300);
  expect(await terminal.locator("span.send", { hasText: "M84" }).count()).toBe(0);
  page.once("dialog", (d) => void d.accept());
  await custom.getByRole("button", { name: "Motors off" }).click();
  await terminal.locator("span.send", { hasText: "M84" }).first().waitFor({ state: "attached" });

  // The read-out follows the replies to M114 (the host's own position polls match too, as in OctoPrint), live.
  expect(await page.locator("[data-readout]").textContent()).not.toContain("X=21.00");
  await host.post(`/api/v1/printers/${(await (await host.api("/api/v1/printers")).json()).printers[0].id}/commands`, { commands: ["G28", "G1 X21 Y43 Z7 F6000"] });
  await custom.getByRole("button", { name: "Get position" }).click();
  await page.waitForFunction(() => document.querySelector("[data-readout]")?.textContent === "Position: X=21.00 Y=43.00 Z=7.00", undefined, { timeout: 10_000 }).catch(async (e) => {
    console.log("READOUT", await page.locator("[data-readout]").evaluate((el) => el.outerHTML), await terminal.evaluate((t) => t.textContent!.slice(-1500)));
    throw e;
  });

  // Saved again elsewhere: the panel changes in place.
  expect((await host.api("/api/v1/controls", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ controls: [{ name: "Beep", command: "M300" }] }) })).status).toBe(200);
  await custom.getByRole("button", { name: "Beep" }).waitFor();
  expect(await custom.getByRole("button", { name: "Set fan" }).count()).toBe(0);
  await custom.getByRole("button", { name: "Beep" }).click();
  await terminal.locator("span.send", { hasText: "M300" }).first().waitFor({ state: "attached" });
  await page.close();
}, 90_000);
