/**
 * Cameras in headless Chromium: the camera settings page saves a camera, and the dashboard and the
 * /printers card then show its picture through the host's own stream (ffmpeg's testsrc as the
 * camera); a camera that is down says why under the picture.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestCamera, type TestCamera } from "../helpers/camera.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

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
