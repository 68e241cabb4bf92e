/**
 * The layer viewer in headless Chromium: opened from the files page, moved with the slider, the
 * number box, the buttons and the arrow keys (each showing another layer's SVG); and on the
 * dashboard during a print on the (slowed) virtual printer, following the layer printing while
 * the part already sent grows, until the user moves away from it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, loggedInPage, sseConnected } from "../helpers/browser.ts";
import { layeredGcode } from "../helpers/gcode.ts";
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
  // Enter in the box asked for the layer; it did not submit the form as a page (the address only keeps the choice).
  expect(page.url()).toMatch(/\/files\/viewer\?path=torus\.gcode&layer=28&follow=0$/);
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

/** Starts a print of `file` on the printer and waits until it runs. */
async function startPrint(file: string): Promise<void> {
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational", 30_000);
  expect((await host.post(`/api/v1/printers/${printer}/job`, { file })).status).toBeLessThan(300);
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.job?.file === file && ["starting", "printing"].includes(p.job.state));
}

/** Cancels the printer's print and waits until it has ended and the printer is free. */
async function endPrint(): Promise<void> {
  await host.post(`/api/v1/printers/${printer}/job/cancel`);
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational" && (!p.job || ["done", "cancelled", "failed"].includes(p.job.state)), 30_000);
}

/** The file the page's viewer shows (its form's path). */
const viewedFile = (page: Page, scope = "") => page.locator(`${scope} form.layer-viewer input[name="path"]`).getAttribute("value");

test("following a printer: its print of another file switches the viewer to that file (page: heading, title, address); the print ending keeps it; a viewer that never followed stays", async () => {
  expect((await upload(host, "cube.gcode", layeredGcode({ layers: 12, objects: [{ name: "cube", x: 60, y: 60 }], loops: 3, feedrate: 600 }))).status).toBe(201);
  await host.waitFor("/api/v1/files/cube.gcode", (f: any) => f.analysis?.state === "done", 30_000);
  const dashboard = await loggedInPage(browser, host, "/", { width: 1300, height: 1200 });
  const errors: string[] = [];
  dashboard.on("pageerror", (e) => errors.push(e.message));
  await sseConnected(dashboard);
  const pages: Page[] = [dashboard];
  try {
    await startPrint("torus.gcode");
    // The job panel's viewer, and the torus's own page opened while it prints (it follows that print).
    await dashboard.locator("button.job-layers-open").click();
    await dashboard.locator("#job-viewer .layer-view[data-live]").waitFor({ timeout: 10_000 });
    const followed = await loggedInPage(browser, host, "/files/viewer?path=torus.gcode", { width: 1300, height: 1000 });
    pages.push(followed);
    followed.on("pageerror", (e) => errors.push(e.message));
    await followed.locator(".layer-view[data-live]").waitFor({ timeout: 10_000 });
    await sseConnected(followed);

    await endPrint();
    // Ended: both keep the torus, drawn (no blanking).
    for (const [page, scope] of [[dashboard, "#job-viewer"], [followed, ""]] as const) {
      await page.waitForFunction((s) => !document.querySelector(`${s} .layer-view[data-live]`), scope, { timeout: 10_000 });
      expect(await viewedFile(page, scope)).toBe("torus.gcode");
      expect(await page.locator(`${scope} .layer-view svg`).count()).toBe(1);
    }
    // A viewer opened now, when the torus is not printing: it never followed a print.
    const free = await loggedInPage(browser, host, "/files/viewer?path=torus.gcode&layer=7", { width: 1300, height: 1000 });
    pages.push(free);
    free.on("pageerror", (e) => errors.push(e.message));
    await onLayer(free, 7);
    await sseConnected(free);
    // One opened for the printer, whose slider is then moved by hand (which unticks Follow the print).
    const byHand = await loggedInPage(browser, host, `/files/viewer?path=torus.gcode&printer=${printer}`, { width: 1300, height: 1000 });
    pages.push(byHand);
    byHand.on("pageerror", (e) => errors.push(e.message));
    await sseConnected(byHand);
    await byHand.locator('form.layer-viewer input[type="range"]').fill("4");
    await onLayer(byHand, 4);
    expect((await shown(byHand)).follow).toBe(false);

    await startPrint("cube.gcode");
    // The job panel's viewer becomes the cube's, and follows its print.
    await dashboard.locator('#job-viewer form.layer-viewer input[name="path"][value="cube.gcode"]').waitFor({ state: "attached", timeout: 10_000 });
    await dashboard.locator(`#job-viewer .layer-view[data-live="${printer}"][data-count="12"]`).waitFor({ timeout: 10_000 });
    expect(await dashboard.locator("#job-viewer .layer-follow input").isChecked()).toBe(true);
    expect(await dashboard.locator("#job-viewer .layer-viewer-close").count()).toBe(1);
    // The page that followed the torus: the cube's heading, title, address and layers, following the print on its new stream.
    await followed.locator("h1", { hasText: "cube.gcode" }).waitFor({ timeout: 10_000 });
    expect(await followed.title()).toBe("Layers of cube.gcode · Layerline");
    expect(followed.url()).toBe(`${host.url}/files/viewer?path=cube.gcode&printer=${printer}`);
    await followed.locator(`.layer-view[data-live="${printer}"][data-count="12"]`).waitFor({ timeout: 10_000 });
    expect(await followed.locator('form.layer-viewer input[type="range"]').getAttribute("max")).toBe("12");
    await followed.waitForFunction(() => (document.querySelector("[sse-connect]") as any)?.getAttribute("sse-connect").includes("cube.gcode"));
    await sseConnected(followed);
    const at = Number(await followed.locator(".layer-view").getAttribute("data-current"));
    await followed.waitForFunction((n) => Number((document.querySelector(".layer-view") as HTMLElement).dataset.current) > n, at, { timeout: 30_000 });
    // The page that never followed a print still shows the torus's layer 7.
    expect(await viewedFile(free)).toBe("torus.gcode");
    expect((await shown(free)).layer).toBe(7);
    expect(await free.locator("h1").textContent()).toContain("torus.gcode");
    expect(free.url()).toBe(`${host.url}/files/viewer?path=torus.gcode&layer=7`);
    // The one moved by hand stays, says what the printer prints now and offers to follow it; ticked, it switches.
    await byHand.locator(".layer-other", { hasText: "is printing cube.gcode now" }).waitFor({ timeout: 10_000 });
    expect(await viewedFile(byHand)).toBe("torus.gcode");
    expect((await shown(byHand)).layer).toBe(4);
    await byHand.check('form.layer-viewer input[name="follow"]');
    await byHand.locator("h1", { hasText: "cube.gcode" }).waitFor({ timeout: 10_000 });
    await byHand.locator(`.layer-view[data-live="${printer}"]`).waitFor({ timeout: 10_000 });
    expect(byHand.url()).toBe(`${host.url}/files/viewer?path=cube.gcode&printer=${printer}`);

    await endPrint();
    // The cube's print ended: its viewers keep showing it.
    for (const [page, scope] of [[dashboard, "#job-viewer"], [followed, ""]] as const) {
      await page.waitForFunction((s) => !document.querySelector(`${s} .layer-view[data-live]`), scope, { timeout: 10_000 });
      expect(await viewedFile(page, scope)).toBe("cube.gcode");
      expect(await page.locator(`${scope} .layer-view svg`).count()).toBe(1);
    }
    expect(errors).toEqual([]);
  } finally {
    await endPrint();
    for (const page of pages) await page.close();
  }
}, 120_000);

test("opened before its file's analysis ended: it shows the analysis and loads the layers by itself, without a reload; an analysis error says why", async () => {
  const settings = (onlyWhenIdle: boolean) => host.api("/api/v1/analysis/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ onlyWhenIdle }) });
  // Analyses wait while the printer prints: the viewers open before they end.
  expect((await settings(true)).status).toBe(200);
  const pages: Page[] = [];
  const errors: string[] = [];
  try {
    await startPrint("torus.gcode");
    expect((await upload(host, "later.gcode", layeredGcode({ layers: 5, objects: [{ name: "a", x: 20, y: 20 }] }))).status).toBe(201);
    expect((await upload(host, "later-bad.gcode", "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit,\nsed do eiusmod tempor\n")).status).toBe(201);
    const later = await loggedInPage(browser, host, "/files/viewer?path=later.gcode", { width: 1300, height: 1000 });
    pages.push(later);
    const bad = await loggedInPage(browser, host, "/files/viewer?path=later-bad.gcode", { width: 1300, height: 1000 });
    pages.push(bad);
    for (const page of pages) {
      page.on("pageerror", (e) => errors.push(e.message));
      await page.locator(".layer-view[data-waiting] progress").waitFor();
      expect(await page.locator(".layer-view").textContent()).toContain("is being analysed");
      await sseConnected(page);
      // The arrow keys have no slider to move yet.
      await page.locator("h1").click();
      await page.keyboard.press("ArrowRight");
      // Marks this page: a reload would lose it.
      await page.evaluate(() => ((window as any).notReloaded = true));
    }

    await endPrint();
    // The layers, with their controls, in place of the wait.
    await onLayer(later, 1);
    expect(await later.locator('form.layer-viewer input[type="range"]').getAttribute("max")).toBe("5");
    expect(await later.locator(".layer-facts").textContent()).toContain("Layer 1 of 5");
    await later.locator('form.layer-viewer button[data-step="1"]').click();
    await onLayer(later, 2);
    // The analysis failed: its reason.
    const reason = (await (await host.api("/api/v1/files/later-bad.gcode")).json()).analysis.error.message as string;
    await bad.locator(".layer-view", { hasText: "could not be analysed" }).waitFor({ timeout: 20_000 });
    expect(await bad.locator(".layer-view").textContent()).toContain(reason);
    expect(await bad.locator(".layer-view[data-waiting]").count()).toBe(0);
    for (const page of pages) expect(await page.evaluate(() => (window as any).notReloaded)).toBe(true);
    expect(errors).toEqual([]);
  } finally {
    await endPrint();
    await settings(false);
    for (const page of pages) await page.close();
  }
}, 90_000);

test("made again in place (its file changed, through the wait for its new analysis) or reloaded, the viewer keeps Follow the print unticked, its layer and Travel moves; opened anew it follows", async () => {
  const settings = (onlyWhenIdle: boolean) => host.api("/api/v1/analysis/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ onlyWhenIdle }) });
  expect((await upload(host, "swap.gcode", layeredGcode({ layers: 6, objects: [{ name: "a", x: 40, y: 40 }] }))).status).toBe(201);
  expect((await upload(host, "other.gcode", layeredGcode({ layers: 8, objects: [{ name: "b", x: 50, y: 50 }], loops: 3, feedrate: 600 }))).status).toBe(201);
  for (const f of ["swap.gcode", "other.gcode"]) await host.waitFor(`/api/v1/files/${f}`, (x: any) => x.analysis?.state === "done", 30_000);
  const page = await loggedInPage(browser, host, `/files/viewer?path=swap.gcode&printer=${printer}`, { width: 1300, height: 1000 });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    await sseConnected(page);
    // Moved by hand (which unticks Follow the print), travel moves shown.
    await page.locator('form.layer-viewer input[type="range"]').fill("3");
    await onLayer(page, 3);
    await page.check('form.layer-viewer input[name="travel"]');
    await page.waitForFunction(() => !document.querySelector("form.layer-viewer.htmx-request"));
    expect((await shown(page)).follow).toBe(false);
    await page.evaluate(() => {
      (window as any).notReloaded = true;
      new MutationObserver(() => {
        if (document.querySelector(".layer-view[data-waiting]")) (window as any).waited = true;
      }).observe(document.body, { subtree: true, childList: true });
    });

    // Analyses wait while the printer prints: the file replaced (9 layers) meanwhile is waited for.
    expect((await settings(true)).status).toBe(200);
    await startPrint("other.gcode");
    await page.locator(".layer-other", { hasText: "is printing other.gcode now" }).waitFor({ timeout: 10_000 });
    expect((await upload(host, "swap.gcode", layeredGcode({ layers: 9, objects: [{ name: "a", x: 40, y: 40 }] }))).status).toBe(201);
    await page.waitForFunction(() => (window as any).waited, undefined, { timeout: 10_000 });
    await endPrint();
    // Analysed: the viewer is made again for its 9 layers, in place, with the person's choices
    // (it had not jumped to the other file's print meanwhile).
    await page.waitForFunction(() => {
      const form = document.querySelector("form.layer-viewer");
      const path = form?.querySelector<HTMLInputElement>('input[name="path"]')?.value;
      return path !== "swap.gcode" || form?.querySelector('input[type="range"]')?.getAttribute("max") === "9";
    }, undefined, { timeout: 20_000 });
    expect(await viewedFile(page)).toBe("swap.gcode");
    expect(await page.evaluate(() => (window as any).notReloaded)).toBe(true);
    const after = await shown(page);
    expect(after).toMatchObject({ follow: false, layer: 3, slider: 3 });
    expect(await page.locator('form.layer-viewer input[name="travel"]').isChecked()).toBe(true);

    // Not following: the printer's next print of another file leaves it on its file, saying so.
    await startPrint("other.gcode");
    await page.locator(".layer-other", { hasText: "is printing other.gcode now" }).waitFor({ timeout: 10_000 });
    expect(await viewedFile(page)).toBe("swap.gcode");
    expect((await shown(page)).layer).toBe(3);

    // Reloaded (its address keeps the choices): the same file, layer and choices, not the print of the other file.
    expect(page.url()).toBe(`${host.url}/files/viewer?path=swap.gcode&printer=${printer}&layer=3&follow=0&travel=1`);
    await page.reload();
    await onLayer(page, 3);
    await page.locator(".layer-other", { hasText: "is printing other.gcode now" }).waitFor({ timeout: 10_000 });
    expect(await viewedFile(page)).toBe("swap.gcode");
    expect((await shown(page)).follow).toBe(false);
    expect(await page.locator('form.layer-viewer input[name="travel"]').isChecked()).toBe(true);

    // Opened anew (the Files page's link: no choices in it), a viewer for the printer follows it: the other file's print.
    const fresh = page;
    await fresh.goto(`${host.url}/files/viewer?path=swap.gcode&printer=${printer}`);
    expect(fresh.url()).toBe(`${host.url}/files/viewer?path=other.gcode&printer=${printer}`);
    await fresh.locator("h1", { hasText: "other.gcode" }).waitFor({ timeout: 10_000 });
    expect((await shown(fresh)).follow).toBe(true);
    expect(errors).toEqual([]);
  } finally {
    await endPrint();
    await settings(false);
    await page.close();
  }
}, 120_000);

test("a message in the job panel's viewer (the print's file gone, an SD-only print) follows its printer: it stays a message while nothing it can show prints, and becomes the layers of the next print of a stored file", async () => {
  expect((await upload(host, "gone.gcode", layeredGcode({ layers: 4, objects: [{ name: "g", x: 30, y: 30 }] }))).status).toBe(201);
  expect((await upload(host, "next.gcode", layeredGcode({ layers: 9, objects: [{ name: "n", x: 70, y: 70 }], loops: 3, feedrate: 600 }))).status).toBe(201);
  for (const f of ["gone.gcode", "next.gcode"]) await host.waitFor(`/api/v1/files/${f}`, (x: any) => x.analysis?.state === "done", 30_000);
  // The printer's last print is of a file deleted since: Layers… says so.
  await startPrint("gone.gcode");
  await endPrint();
  expect((await host.api("/api/v1/files/gone.gcode", { method: "DELETE" })).status).toBeLessThan(300);
  const page = await loggedInPage(browser, host, "/", { width: 1300, height: 1200 });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    await sseConnected(page);
    await page.locator("button.job-layers-open").click();
    await page.locator("#job-viewer .layer-message", { hasText: "The file of this print (gone.gcode) has changed or is gone." }).waitFor({ timeout: 10_000 });
    await page.evaluate(() => ((window as any).notReopened = document.querySelector("#job-viewer .layer-viewer")));

    // A print from the SD card of a file the host does not have: still a message, now about that print.
    const card = await (await host.api(`/api/v1/printers/${printer}/sd`)).json();
    const sdOnly = card.files.find((f: any) => f.longName === "layerline-demo.gcode").name as string;
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational", 30_000);
    expect((await host.post(`/api/v1/printers/${printer}/sd/print`, { name: sdOnly })).status).toBe(200);
    await page.locator("#job-viewer .layer-message", { hasText: "is printed from the SD card and is not among the stored files" }).waitFor({ timeout: 10_000 });
    expect(await page.locator("#job-viewer svg").count()).toBe(0);
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational" && p.job?.source === "sd", 30_000);

    // The printer's next print, of a stored file: its layers, following the print, without reopening.
    await startPrint("next.gcode");
    await page.locator('#job-viewer form.layer-viewer input[name="path"][value="next.gcode"]').waitFor({ state: "attached", timeout: 10_000 });
    await page.locator(`#job-viewer .layer-view[data-live="${printer}"][data-count="9"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator("#job-viewer .layer-follow input").isChecked()).toBe(true);
    expect(await page.locator("#job-viewer .layer-viewer-close").count()).toBe(1);
    expect(await page.locator("#job-viewer .layer-message").count()).toBe(0);
    // It follows on, and keeps the file when the print ends.
    await endPrint();
    await page.waitForFunction(() => !document.querySelector("#job-viewer .layer-view[data-live]"), undefined, { timeout: 10_000 });
    expect(await viewedFile(page, "#job-viewer")).toBe("next.gcode");
    expect(await page.locator("#job-viewer .layer-view svg").count()).toBe(1);
    // The message was replaced in place, by itself.
    expect(await page.evaluate(() => !!(window as any).notReopened)).toBe(true);
    expect(errors).toEqual([]);
  } finally {
    await endPrint();
    await page.close();
  }
}, 120_000);
