/**
 * Several printers in headless Chromium: starting a print on a printer with an interrupted print
 * on offer asks first — on the dashboard (Print, and the job panel's Restart), the files page and
 * the queue — while the API starts it
 * (and discards the interrupted one) without asking.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { loggedInPage, sseConnected as connected } from "../helpers/browser.ts";
import { printerStatus, stopPrinting as stop, uiFarm } from "../helpers/farm.ts";
import type { TestHost } from "../helpers/host.ts";

let host: TestHost, first: string, second: string, browser: Browser, close: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ host, first, second, browser, close } = await uiFarm());
}, 60_000);
afterAll(() => close?.());

const status = (id: string) => printerStatus(host, id);
const stopPrinting = (id: string) => stop(host, id);

describe("starting a print while an interrupted one is on offer", () => {
  /** Offers an interrupted print of long.gcode (stopped at its third layer) on printer `id`, as after a crash. */
  async function offerInterrupted(id: string) {
    const entry = await (await host.api("/api/v1/files/long.gcode")).json();
    const analysis = await (await host.api("/api/v1/files/long.gcode/analysis")).json();
    const layer = analysis.layers[2];
    const state = { x: 20, y: 20, z: layer.z, e: 0, relative: false, extruderMode: "relative" as const, feedrate: 1800, fan: 0, tool: 0, targets: {}, extruded: 10 };
    host.jobs.checkpoint(id, {
      jobId: `before-the-crash-${Date.now()}`,
      file: "long.gcode",
      sha256: entry.sha256,
      source: "host",
      size: entry.size,
      startedAt: Date.now() - 60_000,
      printTime: 55,
      offset: layer.offset + 100,
      line: 300,
      layer: { index: 2, count: analysis.layers.length, offset: layer.offset, z: layer.z, state },
      state,
      temperatures: {},
      cancelled: [],
      paused: false,
      at: Date.now() - 5_000,
    });
    host.jobs.opened(host.printers.get(id)!);
    await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.interrupted?.resumable === true);
  }
  /** Clicks; answers the dialog the click opens (dismissed or accepted); returns its question. */
  async function answer(page: Page, click: () => Promise<void>, accept: boolean): Promise<string> {
    const dialog = page.waitForEvent("dialog", { timeout: 5_000 });
    const clicked = click();
    const d = await dialog;
    const message = d.message();
    await (accept ? d.accept() : d.dismiss());
    await clicked;
    return message;
  }
  /**
   * Clicks a control that starts short.gcode on the first printer twice: declining its question
   * starts nothing and keeps the interrupted print; accepting starts the print and discards it.
   * Returns the question asked.
   */
  async function declineThenAccept(page: Page, click: () => Promise<void>): Promise<string> {
    const job = (await status(first)).job?.id;
    const question = await answer(page, click, false);
    await Bun.sleep(500);
    const s = await status(first);
    expect(s.interrupted).toMatchObject({ file: "long.gcode" });
    expect(s.job?.id).toBe(job);
    expect(await answer(page, click, true)).toBe(question);
    await host.waitFor(`/api/v1/printers/${first}`, (p: any) => p.job?.file === "short.gcode" && p.interrupted === null);
    await stopPrinting(first);
    return question;
  }
  const DISCARDED = "The interrupted print of long.gcode is then discarded and can no longer be resumed.";
  /** The first printer's dashboard, idle, with an interrupted print of long.gcode on offer. */
  async function dashboardOffering(): Promise<Page> {
    await stopPrinting(first);
    await offerInterrupted(first);
    const page = await loggedInPage(browser, host, `/?printer=${first}`);
    await connected(page);
    await page.locator(".interrupted").waitFor();
    return page;
  }

  test("the dashboard's Print button asks first; declining keeps the interrupted print", async () => {
    const page = await dashboardOffering();
    const print = page.locator('#files tr[data-file="short.gcode"] button', { hasText: "Print" });
    expect(await declineThenAccept(page, () => print.click())).toBe(`Print short.gcode? ${DISCARDED}`);
    // With nothing on offer, the file list pushed since asks nothing.
    await page.locator(".interrupted").waitFor({ state: "detached" });
    await expect(print.getAttribute("hx-confirm")).resolves.toBeNull();
    await page.close();
  }, 60_000);

  test("the files page asks first for the printer chosen", async () => {
    await offerInterrupted(first);
    const page = await loggedInPage(browser, host, "/files");
    await page.locator('tr[data-file="short.gcode"] td.name a').click();
    const form = page.locator("#file-detail form.print");
    await form.waitFor();
    // The other printer has nothing on offer: printing there asks nothing.
    await form.locator("select").selectOption(second);
    let asked = false;
    const onDialog = (d: any) => ((asked = true), void d.dismiss());
    page.on("dialog", onDialog);
    await form.locator("button").click();
    await page.locator("#toasts .toast", { hasText: "Printing short.gcode on Second" }).waitFor({ timeout: 10_000 });
    page.off("dialog", onDialog);
    expect(asked).toBe(false);
    await stopPrinting(second);

    await form.locator("select").selectOption(first);
    expect(await declineThenAccept(page, () => form.locator("button").click())).toBe(`Print short.gcode on Virtual printer? ${DISCARDED}`);
    await page.close();
  }, 60_000);

  test("the queue's start asks first", async () => {
    await offerInterrupted(first);
    expect((await host.post(`/api/v1/printers/${first}/queue`, { file: "short.gcode" })).status).toBe(201);
    const page = await loggedInPage(browser, host, `/queue?printer=${first}`);
    const start = page.locator("#queue-panel button", { hasText: "Start the queue" });
    expect(await declineThenAccept(page, () => start.click())).toBe(`Start the queue? ${DISCARDED}`);
    await page.close();
  }, 60_000);

  test("the job panel's Restart asks first", async () => {
    // The last print (short.gcode) ended; a crash left long.gcode interrupted.
    const page = await dashboardOffering();
    const restart = () => page.locator("#live .job button", { hasText: "Restart" }).click();
    expect(await declineThenAccept(page, restart)).toBe(`Print this file again from the beginning? ${DISCARDED}`);
    // Nothing on offer any more: the plain question.
    await page.locator(".interrupted").waitFor({ state: "detached" });
    await expect(page.locator("#live .job button", { hasText: "Restart" }).getAttribute("hx-confirm")).resolves.toBe("Print this file again from the beginning?");
    await page.close();
  }, 60_000);

  test("the API starts a print without asking and discards the interrupted one (slicers print unattended)", async () => {
    await offerInterrupted(first);
    expect((await host.post(`/api/v1/printers/${first}/job`, { file: "short.gcode" })).status).toBe(200);
    await host.waitFor(`/api/v1/printers/${first}`, (p: any) => p.job?.file === "short.gcode" && p.interrupted === null);
    await stopPrinting(first);
    expect((await host.api(`/api/v1/printers/${first}/job/interrupted`)).status).toBe(404);
  }, 30_000);
});
