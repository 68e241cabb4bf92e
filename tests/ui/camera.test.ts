/**
 * Cameras in headless Chromium: the camera settings page saves a camera, and the dashboard and the
 * /printers card then show its picture through the host's own stream (ffmpeg's testsrc as the
 * camera); a camera that is down says why under the picture; timelapse settings and the
 * Timelapse page with a video rendered from a print.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestCamera, type TestCamera } from "../helpers/camera.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, startTestHost, upload, type TestHost } from "../helpers/host.ts";

let host: TestHost, camera: TestCamera, browser: Browser, printer: string;
beforeAll(async () => {
  [host, camera, browser] = await Promise.all([startTestHost(), startTestCamera(), launchBrowser()]);
  printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
  await camera?.stop();
});

/** Waits until the page's camera picture has decoded a frame; returns its size and where it came from. */
const pictureShown = (page: import("playwright-core").Page) =>
  page.waitForFunction(() => {
    const img = document.querySelector("img.camera-picture") as HTMLImageElement | null;
    return img && img.naturalWidth > 0 ? { width: img.naturalWidth, height: img.naturalHeight, src: img.getAttribute("src") } : null;
  }, undefined, { timeout: 20_000 }).then((h) => h.jsonValue());

test("a camera set on its settings page shows live on the dashboard and the printers overview, through the host", async () => {
  const page = await loggedInPage(browser, host, `/settings/printers/${printer}/camera`);
  await expect(page.locator("img.camera-picture").count()).resolves.toBe(0);
  await page.fill('input[name="streamUrl"]', camera.streamUrl);
  await page.selectOption('select[name="ratio"]', "4:3");
  await page.click('#camera-form button[type="submit"]');
  await page.locator("#camera-form .saved").waitFor();
  expect(host.webcam.camera(printer)).toMatchObject({ streamUrl: camera.streamUrl, ratio: "4:3" });

  await page.goto(`${host.url}/?printer=${printer}`);
  const shown = await pictureShown(page);
  expect(shown).toEqual({ width: 320, height: 240, src: `/api/v1/printers/${printer}/camera/stream` });
  // The browser never talks to the camera itself: the page names only the host's URL.
  expect(await page.content()).not.toContain(camera.base);

  await page.goto(`${host.url}/printers`);
  expect((await pictureShown(page))?.width).toBe(320);
  await page.close();
}, 60_000);

test("a camera that is down says why under the picture", async () => {
  const gone = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = gone.port;
  await gone.stop(true);
  host.webcam.configure(printer, { streamUrl: `http://127.0.0.1:${port}/?action=stream` });
  const page = await loggedInPage(browser, host, `/?printer=${printer}`);
  const caption = page.locator("figure.camera .camera-problem");
  await caption.waitFor({ state: "visible", timeout: 20_000 });
  expect(await caption.textContent()).toContain("could not be reached");
  await page.close();
  host.webcam.configure(printer, { streamUrl: camera.streamUrl });
}, 60_000);

test("timelapse settings on the Camera page; the Timelapse page shows the rendered video and deletes it", async () => {
  expect((await upload(host, "tiny.gcode", layeredGcode({ layers: 3, objects: [{ name: "a", x: 50, y: 50 }] }))).status).toBe(201);
  await host.waitFor("/api/v1/files/tiny.gcode", (f: any) => f.analysis?.state === "done");
  const page = await loggedInPage(browser, host, `/settings/printers/${printer}/camera`);
  await page.selectOption('#timelapse-form select[name="mode"]', "layer");
  await page.fill('#timelapse-form input[name="fps"]', "5");
  await page.click('#timelapse-form button[type="submit"]');
  await page.locator("#timelapse-form .saved").waitFor();
  expect(host.timelapse.config(printer)).toMatchObject({ mode: "layer", fps: 5 });

  expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "tiny.gcode" })).status).toBe(200);
  await host.waitFor(`/api/v1/printers/${printer}`, jobEnded, 60_000);
  await page.goto(`${host.url}/timelapse`);
  const video = page.locator("figure.timelapse video");
  await video.waitFor({ timeout: 30_000 });
  const name = await page.locator("figure.timelapse").getAttribute("data-name");
  expect(name).toStartWith(`${printer}_tiny_`);
  // The browser plays it from the host (Range requests): its duration is 4 frames at 5 fps.
  const duration = await video.evaluate((v: HTMLVideoElement) => new Promise<number>((resolve) => { v.onloadedmetadata = () => resolve(v.duration); v.preload = "metadata"; v.load(); }));
  expect(duration).toBeCloseTo(0.8, 1);
  page.on("dialog", (d) => d.accept());
  await page.click("figure.timelapse button");
  await page.locator("figure.timelapse").waitFor({ state: "detached" });
  expect((await (await host.api("/api/v1/timelapse")).json()).files).toEqual([]);
  await page.close();
}, 90_000);
