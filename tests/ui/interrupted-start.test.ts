/**
 * Several printers in headless Chromium: starting a print on a printer with an interrupted print
 * on offer asks first — on the dashboard, the files page and the queue — while the API starts it
 * (and discards the interrupted one) without asking.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, readyHost, upload, type TestHost } from "../helpers/host.ts";

// A layered file to have been interrupted, and a short one to print instead.
const LONG = layeredGcode({ layers: 60, loops: 3, objects: [{ name: "a", x: 20, y: 20, size: 40 }] });
const SHORT = "G28\nG1 X10 Y10 F3000\nG1 X20 Y20\n";

let host: TestHost;
let first: string;
const SECOND = "second";
let browser: Browser;

beforeAll(async () => {
  ({ host, printer: first } = await readyHost({ virtual: { timeScale: 20 } }));
  expect((await host.post("/api/v1/printers", { name: "Second", transport: "virtual" })).status).toBe(201);
  await host.waitFor(`/api/v1/printers/${SECOND}`, (p: any) => p.state === "operational");
  for (const [name, text] of [["long.gcode", LONG], ["short.gcode", SHORT]] as const) expect((await upload(host, name, text)).status).toBe(201);
  await host.waitFor("/api/v1/files/long.gcode", (f: any) => f.analysis?.state === "done");
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
});

const connected = (page: Page) => page.waitForFunction(() => (document.querySelector("[sse-connect]") as any)?.["htmx-internal-data"]?.sseEventSource?.readyState === 1);
const status = async (id: string) => (await (await host.api(`/api/v1/printers/${id}`)).json()) as any;
async function stopPrinting(id: string) {
  if (!jobEnded(await status(id)) && (await status(id)).job) await host.post(`/api/v1/printers/${id}/job/cancel`);
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && (p.job === null || jobEnded(p)), 30_000);
}

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
  /** Clicks `button`; the dialog it opens is dismissed (accept false) or accepted; returns its message. */
  async function answer(page: Page, click: () => Promise<void>, accept: boolean): Promise<string> {
    const dialog = page.waitForEvent("dialog", { timeout: 5_000 });
    const clicked = click();
    const d = await dialog;
    const message = d.message();
    await (accept ? d.accept() : d.dismiss());
    await clicked;
    return message;
  }
  /** The printer started nothing since `job` (its latest job's id, if any) and still offers the interrupted print. */
  async function nothingStarted(id: string, job: string | undefined) {
    await Bun.sleep(500);
    const s = await status(id);
    expect(s.interrupted).toMatchObject({ file: "long.gcode" });
    expect(s.job?.id).toBe(job);
  }
  const QUESTION = /\? The interrupted print of long\.gcode is then discarded and can no longer be resumed\.$/;

  test("the dashboard's Print button asks first; declining keeps the interrupted print", async () => {
    await stopPrinting(first);
    await offerInterrupted(first);
    const page = await loggedInPage(browser, host, `/?printer=${first}`);
    await connected(page);
    await page.locator(".interrupted").waitFor();
    const print = page.locator('#files tr[data-file="short.gcode"] button', { hasText: "Print" });
    const job = (await status(first)).job?.id;
    expect(await answer(page, () => print.click(), false)).toMatch(/^Print short\.gcode\? The interrupted print of long\.gcode is then discarded and can no longer be resumed\.$/);
    await nothingStarted(first, job);
    expect(await answer(page, () => print.click(), true)).toMatch(QUESTION);
    await host.waitFor(`/api/v1/printers/${first}`, (p: any) => p.job?.file === "short.gcode" && p.interrupted === null);
    await stopPrinting(first);
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
    await form.locator("select").selectOption(SECOND);
    let asked = false;
    const onDialog = (d: any) => ((asked = true), void d.dismiss());
    page.on("dialog", onDialog);
    await form.locator("button").click();
    await page.locator("#toasts .toast", { hasText: "Printing short.gcode on Second" }).waitFor({ timeout: 10_000 });
    page.off("dialog", onDialog);
    expect(asked).toBe(false);
    await stopPrinting(SECOND);

    await form.locator("select").selectOption(first);
    const job = (await status(first)).job?.id;
    expect(await answer(page, () => form.locator("button").click(), false)).toBe("Print short.gcode on Virtual printer? The interrupted print of long.gcode is then discarded and can no longer be resumed.");
    await nothingStarted(first, job);
    await answer(page, () => form.locator("button").click(), true);
    await host.waitFor(`/api/v1/printers/${first}`, (p: any) => p.job?.file === "short.gcode" && p.interrupted === null);
    await stopPrinting(first);
    await page.close();
  }, 60_000);

  test("the queue's start asks first", async () => {
    await offerInterrupted(first);
    expect((await host.post(`/api/v1/printers/${first}/queue`, { file: "short.gcode" })).status).toBe(201);
    const page = await loggedInPage(browser, host, `/queue?printer=${first}`);
    const start = page.locator("#queue-panel button", { hasText: "Start the queue" });
    const job = (await status(first)).job?.id;
    expect(await answer(page, () => start.click(), false)).toMatch(/^Start the queue\? /);
    await nothingStarted(first, job);
    expect(await answer(page, () => start.click(), true)).toMatch(QUESTION);
    await host.waitFor(`/api/v1/printers/${first}`, (p: any) => p.job?.file === "short.gcode" && p.interrupted === null);
    await stopPrinting(first);
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
