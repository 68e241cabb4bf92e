/**
 * The farm queue on the overview page in headless Chromium, with two virtual printers: a file
 * that fits no printer shows why and is removed; three copies of a part go to both printers and
 * print, live; the third waits until "Bed cleared" is pressed on a printer's card, then prints
 * there; the section lists which printer printed each copy. Each card's Auto-start box sits
 * beside its label.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { loggedInPage, sseConnected } from "../helpers/browser.ts";
import { uiFarm } from "../helpers/farm.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { upload, type TestHost } from "../helpers/host.ts";

let host: TestHost, second: string, browser: Browser, close: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ host, second, browser, close } = await uiFarm());
  const part = layeredGcode({ layers: 3, objects: [{ name: "a", x: 20, y: 20 }] });
  const wide = layeredGcode({ layers: 3, objects: [{ name: "a", x: 240, y: 20 }] });
  for (const [name, text] of [["part.gcode", part], ["wide.gcode", wide]] as const) expect((await upload(host, name, text)).status).toBe(201);
  for (const name of ["part.gcode", "wide.gcode"]) await host.waitFor(`/api/v1/files/${name}`, (f: any) => f.analysis?.state === "done");
}, 60_000);
afterAll(() => close?.());

test("each card's Auto-start checkbox sits beside its label", async () => {
  const page = await loggedInPage(browser, host, "/printers", { width: 1200, height: 1000 });
  const boxes = page.locator("form.farm-auto label");
  expect(await boxes.count()).toBe(2);
  for (const label of await boxes.all()) {
    const gap = await label.evaluate((l) => {
      const box = l.querySelector("input")!.getBoundingClientRect();
      const text = document.createRange();
      text.selectNodeContents(l);
      text.setStartAfter(l.querySelector("input")!);
      return { width: box.width, gap: text.getBoundingClientRect().left - box.right };
    });
    // A checkbox its own size (not form.inline's 6rem text-field width), the words right after it.
    expect(gap.width).toBeLessThan(24);
    expect(gap.gap).toBeLessThan(12);
  }
  await page.close();
});

test("add files to the farm queue, see why one waits, print copies on both printers, clear a bed from its card", async () => {
  const page = await loggedInPage(browser, host, "/printers", { width: 1200, height: 1000 });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await sseConnected(page);
  const section = page.locator("#farm-queue");
  await section.locator(".farm-empty").waitFor();
  const add = async (file: string, copies: number) => {
    await section.locator('select[name="file"]').selectOption(file);
    await section.locator('input[name="copies"]').first().fill(String(copies));
    await section.locator(".farm-add button").click();
    await section.locator(`tr[data-file="${file}"]`).waitFor();
  };

  // Too wide for either bed: it stays queued, with the reason on its row.
  await add("wide.gcode", 1);
  await expect(section.locator('tr[data-file="wide.gcode"] .farm-waiting').textContent()).resolves.toContain("Fits no printer: Virtual printer: it spans X");
  await section.locator('button[aria-label="Remove wide.gcode"]').click();
  await section.locator('tr[data-file="wide.gcode"]').waitFor({ state: "detached" });

  // Three copies: both printers take one and print it; the third waits for a bed.
  await add("part.gcode", 3);
  const row = section.locator('tr[data-file="part.gcode"]');
  await row.locator(".farm-progress", { hasText: "2 printed" }).waitFor({ timeout: 30_000 });
  await expect(row.locator(".farm-waiting").textContent()).resolves.toContain("waiting for the bed to be cleared");
  await expect(row.locator(".farm-run").allTextContents()).resolves.toEqual(expect.arrayContaining(["Virtual printer: printed", "Second: printed"]));
  // The second printer's card says its bed has a print on it; "Bed cleared" lets it take the third.
  const secondCard = page.locator(`article.printer-card[data-printer="${second}"]`);
  await secondCard.locator('.card-farm[data-bed="printed"]').waitFor();
  await secondCard.locator("button", { hasText: "Bed cleared" }).click();
  await row.waitFor({ state: "detached", timeout: 30_000 });
  await expect(section.locator(".farm-recent li").count()).resolves.toBe(3);
  await expect(section.locator(".farm-recent li").first().textContent()).resolves.toContain("Second: printed");
  await secondCard.locator('.card-farm[data-bed="printed"]').waitFor();

  // Auto-start on the card's checkbox reaches the farm queue.
  await secondCard.locator('input[name="autoStart"]').check();
  await host.waitFor("/api/v1/farm/queue", (q: any) => q.printers.find((p: any) => p.id === second).autoStart === true);
  expect(errors).toEqual([]);
  await page.close();
}, 90_000);
