/**
 * Several printers in headless Chromium: the overview (`/printers`) lists every printer and
 * follows each one live (a print starting shows its file and progress, pause/resume/cancel from
 * the card, a queue waiting for the bed to be cleared), the top bar's dots show each printer's
 * state on a one-printer dashboard and on the queue page, and a read-only user and a key restricted to one printer see
 * only what they may.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { loggedInPage, sseConnected as connected } from "../helpers/browser.ts";
import { printerStatus, stopPrinting as stop, uiFarm } from "../helpers/farm.ts";
import type { TestHost } from "../helpers/host.ts";

let host: TestHost, first: string, second: string, browser: Browser, close: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ host, first, second, browser, close } = await uiFarm());
  await host.accounts.addUser("reader", "reader-password", "readonly");
}, 60_000);
afterAll(() => close?.());

const status = (id: string) => printerStatus(host, id);
const stopPrinting = (id: string) => stop(host, id);
const card = (page: Page, id: string) => page.locator(`article.printer-card[data-printer="${id}"]`);
const dot = (page: Page, id: string) => page.locator(`nav a[data-printer="${id}"] .nav-dot`);

describe("all printers at a glance", () => {
  test("the overview lists every printer and follows a print on one of them live, with pause, resume and cancel", async () => {
    const page = await loggedInPage(browser, host, "/printers");
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await connected(page);
    await expect(page.locator("article.printer-card h2").allTextContents()).resolves.toEqual(["Virtual printer", "Second"]);
    for (const id of [first, second]) await card(page, id).locator('.badge[data-state="operational"]').waitFor();
    await expect(card(page, second).locator(".card-job").count()).resolves.toBe(0);
    // The top bar: all printers, then each printer with its state as a dot.
    await expect(page.locator('nav a[href="/printers"].active').count()).resolves.toBe(1);
    await expect(dot(page, second).getAttribute("title")).resolves.toBe("Second: Ready");
    await page.evaluate(() => ((window as any).notReloaded = true));

    expect((await host.post(`/api/v1/printers/${second}/job`, { file: "long.gcode" })).status).toBe(200);
    const secondCard = card(page, second);
    await secondCard.locator('.badge[data-state="printing"]').waitFor({ timeout: 10_000 });
    await secondCard.locator(".card-job strong", { hasText: "long.gcode" }).waitFor();
    // Progress appears and moves on without a reload; the other printer's card stays as it was.
    const pct = async () => Number((await secondCard.locator(".completion").textContent())!.replace(" %", ""));
    const before = await pct();
    await page.waitForFunction((b) => Number(document.querySelector('article[data-printer="second"] .completion')?.textContent?.replace(" %", "")) > b, before, { timeout: 20_000 });
    expect(await pct()).toBeGreaterThan(before);
    await expect(secondCard.locator(".time-left").textContent()).resolves.toMatch(/left$/);
    await expect(card(page, first).locator('.badge[data-state="operational"]').count()).resolves.toBe(1);
    await dot(page, second).and(page.locator('[data-state="printing"]')).waitFor();

    // Pause from the card: the card and the dot say so (a paused print needs the user).
    await secondCard.locator("button", { hasText: "Pause" }).click();
    await secondCard.locator('.card-job[data-job-state="paused"]').waitFor({ timeout: 10_000 });
    await dot(page, second).and(page.locator('[data-attention="true"]')).waitFor();
    await expect(dot(page, second).getAttribute("title")).resolves.toBe("Second: Paused — the print is paused");
    await secondCard.locator("button", { hasText: "Resume" }).click();
    await secondCard.locator('.card-job[data-job-state="printing"]').waitFor({ timeout: 10_000 });
    // Cancel asks first.
    page.once("dialog", (d) => void d.accept());
    await secondCard.locator("button", { hasText: "Cancel" }).click();
    await secondCard.locator(".card-job-last", { hasText: "long.gcode (Cancelled)" }).waitFor({ timeout: 20_000 });
    await expect(page.evaluate(() => (window as any).notReloaded)).resolves.toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  test("a printer added while the overview is open gets its card", async () => {
    const page = await loggedInPage(browser, host, "/printers");
    await connected(page);
    expect((await host.post("/api/v1/printers", { name: "Third", transport: "virtual" })).status).toBe(201);
    await card(page, "third").waitFor({ timeout: 10_000 });
    await card(page, "third").locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
    expect((await host.api("/api/v1/printers/third", { method: "DELETE" })).status).toBe(204);
    await card(page, "third").waitFor({ state: "detached", timeout: 10_000 });
    await page.close();
  }, 60_000);

  test("a one-printer dashboard's top bar shows the other printer's state live, and when it needs attention", async () => {
    const page = await loggedInPage(browser, host, `/?printer=${first}`);
    await connected(page);
    await expect(page.locator(`nav a[data-printer="${first}"].active`).count()).resolves.toBe(1);
    await expect(dot(page, second).getAttribute("data-state")).resolves.toBe("operational");
    expect((await host.post(`/api/v1/printers/${second}/job`, { file: "long.gcode" })).status).toBe(200);
    await dot(page, second).and(page.locator('[data-state="printing"][data-attention="false"]')).waitFor({ timeout: 10_000 });
    expect((await host.post(`/api/v1/printers/${second}/job/pause`)).status).toBe(200);
    await dot(page, second).and(page.locator('[data-state="paused"][data-attention="true"]')).waitFor({ timeout: 10_000 });
    await expect(dot(page, second).getAttribute("title")).resolves.toContain("paused");
    // This printer's own panel is unaffected.
    await expect(page.locator('#live .badge[data-state="operational"]').count()).resolves.toBe(1);
    await stopPrinting(second);
    await dot(page, second).and(page.locator('[data-state="operational"][data-attention="false"]')).waitFor({ timeout: 10_000 });
    await page.close();
  }, 60_000);

  test("the queue page's printer links lead to each queue and carry the same dots, kept live", async () => {
    const page = await loggedInPage(browser, host, `/queue?printer=${first}`);
    await connected(page);
    await expect(page.locator(`nav a[data-printer="${first}"].active`).getAttribute("href")).resolves.toBe(`/queue?printer=${first}`);
    await expect(page.locator(`nav a[data-printer="${second}"]`).getAttribute("href")).resolves.toBe(`/queue?printer=${second}`);
    await expect(dot(page, second).getAttribute("title")).resolves.toBe("Second: Ready");
    expect((await host.post(`/api/v1/printers/${second}/job`, { file: "long.gcode" })).status).toBe(200);
    await dot(page, second).and(page.locator('[data-state="printing"][data-attention="false"]')).waitFor({ timeout: 10_000 });
    expect((await host.post(`/api/v1/printers/${second}/job/pause`)).status).toBe(200);
    await dot(page, second).and(page.locator('[data-state="paused"][data-attention="true"]')).waitFor({ timeout: 10_000 });
    // The page's own panel still follows its own printer's queue over the same connection.
    expect((await host.post(`/api/v1/printers/${first}/queue`, { file: "short.gcode" })).status).toBe(201);
    await page.locator('#queue-panel tr[data-file="short.gcode"]').waitFor({ timeout: 10_000 });
    await host.api(`/api/v1/printers/${first}/queue`, { method: "DELETE" });
    await stopPrinting(second);
    await dot(page, second).and(page.locator('[data-state="operational"][data-attention="false"]')).waitFor({ timeout: 10_000 });
    await page.close();
  }, 60_000);

  test("a queue waiting for the bed to be cleared shows on the card and the dot until it is confirmed", async () => {
    const page = await loggedInPage(browser, host, "/printers");
    await connected(page);
    expect((await host.post(`/api/v1/printers/${second}/queue`, { file: "long.gcode" })).status).toBe(201);
    await card(page, second).locator('.card-queue[data-queue-state="idle"]', { hasText: "Queue: 1 waiting" }).waitFor({ timeout: 10_000 });
    expect((await host.post(`/api/v1/printers/${second}/queue/start`)).status).toBe(200);
    await card(page, second).locator(".card-job strong", { hasText: "long.gcode" }).waitFor({ timeout: 10_000 });
    // Cancelled: the queue waits for the bed to be cleared, whatever its mode.
    await stopPrinting(second);
    await card(page, second).locator('.card-queue[data-queue-state="awaiting-confirmation"]', { hasText: "Waiting for the bed to be cleared (long.gcode)" }).waitFor({ timeout: 10_000 });
    await expect(dot(page, second).getAttribute("title")).resolves.toBe("Second: Ready — the queue is waiting for the bed to be cleared");
    expect((await host.post(`/api/v1/printers/${second}/queue/confirm`)).status).toBe(200);
    await card(page, second).locator(".card-queue").waitFor({ state: "detached", timeout: 10_000 });
    await dot(page, second).and(page.locator('[data-attention="false"]')).waitFor({ timeout: 10_000 });
    await page.close();
  }, 60_000);

  test("a read-only user sees every printer but no controls", async () => {
    expect((await host.post(`/api/v1/printers/${second}/job`, { file: "long.gcode" })).status).toBe(200);
    const page = await loggedInPage(browser, host, "/printers", undefined, { username: "reader", password: "reader-password" });
    await connected(page);
    await card(page, second).locator('.badge[data-state="printing"]').waitFor({ timeout: 10_000 });
    await expect(page.locator("article.printer-card").count()).resolves.toBe(2);
    await expect(page.locator("article.printer-card button").count()).resolves.toBe(0);
    // What is pushed to it has no controls either.
    await page.waitForFunction(() => document.querySelector('article[data-printer="second"] .completion'), undefined, { timeout: 10_000 });
    await expect(page.locator("article.printer-card button").count()).resolves.toBe(0);
    await page.close();
    await stopPrinting(second);
  }, 60_000);

  test("a key restricted to one printer sees only that printer: overview, its stream, the dashboard and the files page", async () => {
    const key = (await (await host.post("/api/v1/apikeys", { name: "second only", scope: "full", printer: second })).json()).key as string;
    const as = (path: string, init: RequestInit = {}) => host.anonymous(path, { ...init, headers: { "x-api-key": key, ...init.headers } });
    const overview = await (await as("/printers")).text();
    expect(overview).toContain('data-printer="second"');
    expect(overview).not.toContain(`data-printer="${first}"`);
    expect(overview).not.toContain("Virtual printer");
    // One printer: no printer links at all.
    expect(overview).not.toContain('href="/printers"');

    // Its stream pushes that printer's card and dot only.
    const reader = (await as("/ui/printers/events")).body!.getReader();
    let text = "";
    for (const deadline = Date.now() + 3000; Date.now() < deadline && !text.includes("event: nav-second"); ) {
      const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      if (!chunk || chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    await reader.cancel();
    expect(text).toContain("event: card-second");
    expect(text).toContain("event: nav-second");
    expect(text).not.toContain(`card-${first}`);
    expect(text).not.toContain(`nav-${first}`);

    // The dashboard: its own printer by default, never another one.
    const own = await (await as("/")).text();
    expect(own).toContain("<h1>Second</h1>");
    expect(own).not.toContain("Virtual printer");
    const other = await as(`/?printer=${first}`, { redirect: "manual" });
    expect(other.status).toBe(303);
    expect(other.headers.get("location")).toBe("/");

    // The files page offers (and prints on) that printer only.
    const detail = await (await as("/ui/files/detail?path=short.gcode")).text();
    expect(detail).toContain('<option value="second"');
    expect(detail).not.toContain(`<option value="${first}"`);
    const refused = await (await as("/ui/files/print", { method: "POST", body: new URLSearchParams({ path: "short.gcode", printer: first }) })).text();
    expect(refused).toContain(`There is no printer &quot;${first}&quot;`);
    expect((await status(first)).job).toBeNull();
  }, 30_000);
});
