/**
 * Job control in headless Chromium: print a file with three labelled objects on the virtual
 * printer, open the cancel-object map, click an object and see it cancelled in the map and in
 * the live job panel; then the scripts page: edit, save, a bad template's error, reset.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, loggedInPage as login } from "../helpers/browser.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { layeredGcode } from "../helpers/gcode.ts";

const PARTS = [
  { name: "cube_a", x: 30, y: 30, size: 25 },
  { name: "cube_b", x: 90, y: 90, size: 25 },
  { name: "cube_c", x: 150, y: 40, size: 25 },
];

let host: TestHost;
let browser: Browser;
let printer: string;

beforeAll(async () => {
  // Moves take real time (at 10×), so the print is still running while the test clicks.
  host = await startTestHost({ virtual: { timeScale: 10 } });
  printer = host.printers.default()!.id;
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational" && p.firmware !== null);
  const gcode = layeredGcode({ objects: PARTS, layers: 40, loops: 2, thumbnail: { width: 120, height: 90 } });
  expect((await upload(host, "three-cubes.gcode", gcode)).status).toBe(201);
  await host.waitFor("/api/v1/files/three-cubes.gcode", (f: any) => f.analysis?.state === "done");
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await host?.close();
});

/** Accepts the next confirm dialog (hx-confirm). */
const acceptNextDialog = (page: Page) => page.once("dialog", (d) => void d.accept());

test("print, open the map, click an object: it is cancelled in the map and in the job panel", async () => {
  const page = await login(browser, host);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });

  await page.locator('tr[data-file="three-cubes.gcode"] button', { hasText: "Print" }).click();
  await page.locator('.job[data-job-state="printing"]').waitFor({ timeout: 15_000 });
  await page.locator(".job .job-thumb").waitFor();
  await page.locator(".job .job-layer").waitFor({ timeout: 15_000 });
  expect(await page.locator(".job .job-state").textContent()).toBe("Printing");

  await page.getByRole("button", { name: "Cancel an object…" }).click();
  const map = page.locator("#job-objects .object-map");
  await map.locator("svg").waitFor();
  expect(await map.locator("svg g.object").count()).toBe(3);
  expect(await map.locator("svg g.object text").allTextContents()).toEqual(["cube_a", "cube_b", "cube_c"]);

  // Click the object on the map, confirm.
  acceptNextDialog(page);
  await map.locator('svg g.object[data-object="cube_b"] rect').click();
  await map.locator('svg g.object.cancelled[data-object="cube_b"]').waitFor({ timeout: 10_000 });
  await map.locator('li.cancelled[data-object="cube_b"]').waitFor();
  // The live job panel (pushed over SSE) says so too.
  await page.locator(".job .job-cancelled-objects", { hasText: "cube_b" }).waitFor({ timeout: 10_000 });
  const status = await (await host.api(`/api/v1/printers/${printer}`)).json();
  expect(status.job.objects.filter((o: any) => o.cancelled).map((o: any) => o.name)).toEqual(["cube_b"]);

  // The list's buttons cancel by name as well.
  acceptNextDialog(page);
  await map.getByRole("button", { name: "Cancel cube_c" }).click();
  await map.locator('svg g.object.cancelled[data-object="cube_c"]').waitFor({ timeout: 10_000 });
  // Closed, the map stays closed when the job's changes are pushed (below: pause, cancel).
  await map.getByRole("button", { name: "Close" }).click();
  expect(await page.locator("#job-objects > *").count()).toBe(0);

  // Pause, then cancel the print from the panel.
  await page.locator(".job button", { hasText: "Pause" }).click();
  await page.locator('.job[data-job-state="paused"]').waitFor({ timeout: 15_000 });
  await page.locator(".job button", { hasText: "Restart" }).waitFor();
  acceptNextDialog(page);
  await page.locator(".job button", { hasText: "Cancel" }).first().click();
  await page.locator('.job[data-job-state="cancelled"]').waitFor({ timeout: 15_000 });
  await Bun.sleep(300); // the objects push of the job's end comes with the same status
  expect(await page.locator("#job-objects > *").count()).toBe(0);
  expect(errors).toEqual([]);
  await page.close();
}, 120_000);

test("an open map follows cancels from the API and from another browser, and the job's end, without a reload", async () => {
  const at = `/api/v1/printers/${printer}`;
  expect((await host.post(`${at}/job`, { file: "three-cubes.gcode" })).status).toBe(200);
  await host.waitFor(at, (p: any) => p.job?.state === "printing");
  // Two people, each in their own browser, with the map open.
  const pages = [await login(browser, host), await login(browser, host)];
  for (const page of pages) {
    await page.locator('.job[data-job-state="printing"]').waitFor({ timeout: 15_000 });
    await page.getByRole("button", { name: "Cancel an object…" }).click();
    await page.locator("#job-objects .object-map svg").waitFor();
    await page.evaluate(() => ((window as any).notReloaded = true));
  }
  const cancelledOn = (page: Page, name: string) => page.locator(`#job-objects svg g.object.cancelled[data-object="${name}"]`).waitFor({ timeout: 10_000 });

  // From the API: both maps and both lists show it.
  expect((await host.post(`${at}/job/cancel-object`, { name: "cube_a" })).status).toBe(200);
  for (const page of pages) {
    await cancelledOn(page, "cube_a");
    await page.locator('#job-objects li.cancelled[data-object="cube_a"]').waitFor();
  }

  // From the first browser's map: the second one's follows.
  acceptNextDialog(pages[0]!);
  await pages[0]!.locator('#job-objects svg g.object[data-object="cube_c"] rect').click();
  await cancelledOn(pages[1]!, "cube_c");
  expect(await pages[1]!.locator("#job-objects svg g.object.cancelled").count()).toBe(2);
  expect(await pages[1]!.locator('#job-objects svg g.object[data-object="cube_b"]:not(.cancelled)').count()).toBe(1);

  // The print ends: every open map says so.
  expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
  for (const page of pages) {
    await page.locator("#job-objects .object-map", { hasText: "The print has ended." }).waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => (window as any).notReloaded)).toBe(true);
    await page.close();
  }
}, 120_000);

test("the scripts page: edit and save, a bad template's error inline, reset to default", async () => {
  const page = await login(browser, host);
  await page.getByRole("link", { name: "G-code scripts →" }).click();
  await page.waitForURL(`${host.url}/settings/printers/${printer}/scripts`);
  const script = page.locator('form.script[data-event="afterPrintPaused"]');
  expect(await script.locator(".script-default").count()).toBe(1);

  await script.locator("textarea").fill("M117 Paused at layer {{ job.layer }}\nG1 Z{{ position.z + 10 }} F600");
  await script.getByRole("button", { name: "Save" }).click();
  await page.locator('form.script[data-event="afterPrintPaused"] .saved', { hasText: "Saved." }).waitFor();
  expect(await page.locator('form.script[data-event="afterPrintPaused"] .script-default').count()).toBe(0);
  const api = await (await host.api(`/api/v1/printers/${printer}/scripts`)).json();
  expect(api.scripts.afterPrintPaused.text).toBe("M117 Paused at layer {{ job.layer }}\nG1 Z{{ position.z + 10 }} F600");

  await page.locator('form.script[data-event="afterPrintPaused"] textarea').fill("G1 Z{{ nosuch.var }}");
  await page.locator('form.script[data-event="afterPrintPaused"]').getByRole("button", { name: "Save" }).click();
  const error = page.locator('form.script[data-event="afterPrintPaused"] .script-error');
  await error.waitFor();
  expect(await error.textContent()).toContain('there is no variable "nosuch.var"');
  expect(await page.locator('form.script[data-event="afterPrintPaused"] textarea').inputValue()).toBe("G1 Z{{ nosuch.var }}");

  acceptNextDialog(page);
  await page.locator('form.script[data-event="afterPrintPaused"]').getByRole("button", { name: "Reset to default" }).click();
  await page.locator('form.script[data-event="afterPrintPaused"] .saved', { hasText: "Back to the default." }).waitFor();
  expect(await page.locator('form.script[data-event="afterPrintPaused"] textarea').inputValue()).toContain("G1 X0 Y{{ profile.depth }} F6000");
  expect((await (await host.api(`/api/v1/printers/${printer}/scripts`)).json()).scripts.afterPrintPaused.isDefault).toBe(true);
  await page.close();
}, 60_000);
