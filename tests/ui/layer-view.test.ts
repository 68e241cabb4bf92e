/**
 * The layer viewer in headless Chromium: opened from the files page, moved with the slider, the
 * number box, the buttons and the arrow keys (each showing another layer's SVG); and on the
 * dashboard during a print on the (slowed) virtual printer, following the layer printing while
 * the part already sent grows, until the user moves away from it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, loggedInPage, sseConnected } from "../helpers/browser.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

let host: TestHost;
let browser: Browser;
let printer: string;

beforeAll(async () => {
  // A quarter of real time: a layer of the torus takes several seconds, time enough to watch it grow.
  host = await startTestHost({ virtual: { timeScale: 4 } });
  browser = await launchBrowser();
  printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");
  expect((await upload(host, "torus.gcode", Bun.file(TORUS))).status).toBe(201);
  await host.waitFor("/api/v1/files/torus.gcode", (f: any) => f.analysis?.state === "done", 30_000);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
});

/** What the viewer shows now. */
const shown = (page: Page) =>
  page.evaluate(() => {
    const view = document.querySelector(".layer-view") as HTMLElement | null;
    const svg = view?.querySelector("svg") as SVGElement | null;
    return {
      layer: Number(svg?.dataset.layer ?? 0),
      current: Number(view?.dataset.current ?? -1),
      live: view?.dataset.live ?? null,
      done: Number(svg?.dataset.done ?? -1),
      pending: Number(svg?.dataset.pending ?? -1),
      slider: Number((document.querySelector('form.layer-viewer input[name="layer"]') as HTMLInputElement | null)?.value ?? 0),
      follow: (document.querySelector('form.layer-viewer input[name="follow"]') as HTMLInputElement | null)?.checked ?? null,
    };
  });

/** Waits until the viewer's SVG is of layer `n`. */
const onLayer = (page: Page, n: number) => page.locator(`.layer-view svg[data-layer="${n}"]`).waitFor({ timeout: 10_000 });

test("from the files page: the slider, the number box, the buttons and the arrow keys each show another layer", async () => {
  const page = await loggedInPage(browser, host, "/files", { width: 1300, height: 1000 });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.locator('tr[data-file="torus.gcode"] td.name a').click();
  await page.locator('#file-detail a:text("View layers")').click();
  await page.waitForURL(/\/files\/viewer\?path=torus\.gcode$/);
  await onLayer(page, 1);
  const first = await page.locator(".layer-svg .extrusion path").first().getAttribute("d");
  expect(await page.locator(".layer-facts").textContent()).toContain("Layer 1 of 28");

  // The slider.
  await page.locator('form.layer-viewer input[type="range"]').fill("10");
  await onLayer(page, 10);
  expect(await page.locator(".layer-facts").textContent()).toContain("Layer 10 of 28 · Z 2 mm");
  expect(await page.locator(".layer-svg .extrusion path").first().getAttribute("d")).not.toBe(first);
  expect(await page.locator(".layer-svg .previous path").count()).toBe(1);
  expect(await page.inputValue("form.layer-viewer .layer-number")).toBe("10");
  // The arrow keys (focus elsewhere than a field), the buttons, the number box.
  await page.locator("h1").click();
  await page.keyboard.press("ArrowRight");
  await onLayer(page, 11);
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  await onLayer(page, 9);
  await page.locator('form.layer-viewer button[data-step="1"]').click();
  await onLayer(page, 10);
  await page.locator("form.layer-viewer .layer-number").fill("28");
  await page.locator("form.layer-viewer .layer-number").press("Enter");
  await onLayer(page, 28);
  expect((await shown(page)).slider).toBe(28);
  // Enter in the box asked for the layer; it did not submit the form as a page.
  expect(page.url()).toMatch(/\/files\/viewer\?path=torus\.gcode$/);
  // Past the last layer there is none: the slider stays at the end.
  await page.locator('form.layer-viewer button[data-step="1"]').click();
  await page.waitForTimeout(300);
  expect((await shown(page)).layer).toBe(28);
  // Travel moves on request; not a print of this file, so nothing to follow.
  expect(await page.locator(".layer-svg .travel").count()).toBe(0);
  await page.check('form.layer-viewer input[name="travel"]');
  await page.locator(".layer-svg .travel path").waitFor();
  expect(await page.locator("form.layer-viewer .layer-follow").isVisible()).toBe(false);
  expect(errors).toEqual([]);
  await page.close();
  // On a phone's screen it fits.
  const phone = await loggedInPage(browser, host, "/files/viewer?path=torus.gcode&layer=5", { width: 375, height: 667 });
  await phone.locator(".layer-svg").waitFor();
  expect(await phone.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
  await phone.close();
}, 60_000);

test("on the dashboard during a print: it follows the layer printing and the printed part grows; moving away stops following", async () => {
  const page = await loggedInPage(browser, host, "/", { width: 1300, height: 1200 });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await sseConnected(page);
  expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "torus.gcode" })).status).toBeLessThan(300);
  try {
    await page.locator("button.job-layers-open").click();
    await page.locator('#job-viewer .layer-view[data-live]').waitFor({ timeout: 10_000 });
    expect(await page.locator("#job-viewer .layer-follow").isVisible()).toBe(true);

    // Watch it: within a layer the solid part grows, and the viewer moves on with the print.
    const seen: Awaited<ReturnType<typeof shown>>[] = [];
    let grewWithinLayer = false;
    let followedOn = false;
    const until = Date.now() + 60_000;
    while (Date.now() < until && !(grewWithinLayer && followedOn)) {
      const s = await shown(page);
      const last = seen.at(-1);
      if (last && s.layer === last.layer && s.current === s.layer && s.done > last.done) grewWithinLayer = true;
      if (last && last.current >= 1 && s.layer > last.layer && s.layer === s.current) followedOn = true;
      seen.push(s);
      await page.waitForTimeout(400);
    }
    expect({ grewWithinLayer, followedOn, last: seen.at(-1) }).toMatchObject({ grewWithinLayer: true, followedOn: true });
    const now = seen.at(-1)!;
    expect(now.slider).toBe(now.layer);
    expect(now.follow).toBe(true);
    // The live figures beside it.
    expect(await page.locator("#job-viewer .layer-live").textContent()).toMatch(/Printing on Virtual printer: layer \d+ of 28/);

    // Moving away by hand stops following: the print goes on, the picture stays on the layer chosen, all faint.
    await page.locator('#job-viewer input[type="range"]').fill("25");
    await onLayer(page, 25);
    expect((await shown(page)).follow).toBe(false);
    const printing = (await shown(page)).current;
    // The page heard of the print moving on to the next layer meanwhile.
    await page.waitForFunction((layer) => Number((document.querySelector(".layer-view") as HTMLElement).dataset.current) > layer, printing, { timeout: 30_000 });
    const away = await shown(page);
    expect(away.layer).toBe(25);
    expect(away.done).toBe(0);
    // Following again goes back to the layer printing.
    await page.check('#job-viewer input[name="follow"]');
    await page.waitForFunction(() => {
      const view = document.querySelector(".layer-view") as HTMLElement;
      return Number(view.dataset.layer) === Number(view.dataset.current);
    }, undefined, { timeout: 10_000 });
    expect((await shown(page)).slider).toBeLessThan(25);

    // Closed, it is gone (and asks for nothing more).
    await page.locator("#job-viewer .layer-viewer-close").click();
    expect(await page.locator("#job-viewer form").count()).toBe(0);
    expect(errors).toEqual([]);
  } finally {
    await host.post(`/api/v1/printers/${printer}/job/cancel`);
    await page.close();
  }
}, 120_000);
