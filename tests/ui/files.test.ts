/** The files page in headless Chromium: upload (button and drag and drop), live analysis, search, sort, details, actions. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const FLSUN = "ps25_flsun_qqspro_delta_screw_0.20quality_pla_g3arcs_thumb.gcode";
const TORUS = "ps25_ender3_torus_0.20normal_pla.gcode";

let host: TestHost;
let browser: Browser;

beforeAll(async () => {
  host = await startTestHost();
  browser = await launchBrowser();
  const { printers } = await (await host.api("/api/v1/printers")).json();
  await host.waitFor(`/api/v1/printers/${printers[0].id}`, (p: any) => p.state === "operational");
  // Files are planned with the default printer's machine limits, which its firmware reports once connected.
  await host.waitFor(`/api/v1/printers/${printers[0].id}/profile`, (p: any) => p.profile.limits !== undefined);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
});

/** Polls `read` until it equals `expected` (or times out, then asserts the last value). */
async function eventually<T>(read: () => Promise<T>, expected: T, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = await read();
  while (!Bun.deepEquals(last, expected) && Date.now() < deadline) {
    await Bun.sleep(50);
    last = await read();
  }
  expect(last as unknown).toEqual(expected as unknown);
}

async function open(): Promise<{ page: Page; errors: string[] }> {
  const page = await loggedInPage(browser, host, "/files", { width: 1400, height: 1000 });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The push channel is open before we act.
  await page.waitForFunction(() => (document.querySelector("[sse-connect]") as any)?.["htmx-internal-data"]?.sseEventSource?.readyState === 1);
  return { page, errors };
}

test("upload with the button and by dropping a file; analysis and thumbnails appear live", async () => {
  const { page, errors } = await open();
  await page.setInputFiles('#file-upload input[type="file"]', FIXTURES + FLSUN);
  await page.click('#file-upload button[type="submit"]');
  const row = page.locator(`tr[data-file="${FLSUN}"]`);
  await row.waitFor({ timeout: 15_000 });
  await page.locator(`tr[data-file="${FLSUN}"][data-analysis="done"]`).waitFor({ timeout: 20_000 });
  // Planned with the virtual printer's limits (Z at 5 mm/s, E at 25 mm/s), not the delta's from the slicer.
  await expect(row.locator("td.time").textContent()).resolves.toBe("12m 44s");
  const thumb = row.locator("td.thumb img");
  await eventually(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), 260);

  // Drag and drop a second file onto the upload area.
  const bytes = [...(await Bun.file(FIXTURES + TORUS).bytes())];
  const transfer = await page.evaluateHandle(
    ({ bytes, name }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], name));
      return dt;
    },
    { bytes, name: "dropped-torus.gcode" },
  );
  await page.dispatchEvent("#file-upload", "dragover", { dataTransfer: transfer });
  await page.dispatchEvent("#file-upload", "drop", { dataTransfer: transfer });
  await page.locator('tr[data-file="dropped-torus.gcode"][data-analysis="done"]').waitFor({ timeout: 20_000 });
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);

test("search and sort by name", async () => {
  await upload(host, "aaa-first.gcode", "G1 X1 F600\nG1 X2 E1\n");
  const { page } = await open();
  await page.fill('input[name="q"]', "torus");
  const rows = () => page.locator("tr[data-file]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-file")));
  await eventually(rows, ["dropped-torus.gcode"]);
  await page.fill('input[name="q"]', "");
  await page.selectOption('select[name="sort"]', "name");
  await eventually(rows, ["aaa-first.gcode", "dropped-torus.gcode", FLSUN]);
  await page.close();
}, 30_000);

test("details: slicer figures beside ours; print on a printer, rename, download, copy, move, delete", async () => {
  const { page, errors } = await open();
  page.on("dialog", (d) => d.accept());
  await page.locator(`tr[data-file="${FLSUN}"] td.name a`).click();
  const detail = page.locator("#file-detail");
  await detail.locator(".compare").waitFor();
  await expect(detail.locator('tr[data-row="time"]').textContent()).resolves.toContain("12m 0s"); // PrusaSlicer's own figure
  await expect(detail.locator('tr[data-row="layers"] td').nth(1).textContent()).resolves.toBe("130");
  await expect(detail.locator('[data-row="dimensions"]').textContent()).resolves.toMatch(/× .* × .* mm/);
  await expect(detail.locator(".tools tr[data-tool]").count()).resolves.toBe(1);
  // Per tool as PrusaSlicer counts it (327.60 mm), the purge arc of the start G-code apart.
  await expect(detail.locator('.tools tr[data-tool="0"] td.printed').textContent()).resolves.toBe("328 mm");
  await expect(detail.locator('.tools tr[data-tool="0"] td.slicer').textContent()).resolves.toBe("328 mm");
  await expect(detail.locator('tr[data-row="filament"]').textContent()).resolves.toContain("+ 26 mm start/end G-code");
  await expect(detail.locator("img.preview").getAttribute("width")).resolves.toBe("260");

  // Print it on the (only, virtual) printer.
  await detail.locator("form.print button").click();
  await page.locator("#toasts .toast", { hasText: "Printing" }).waitFor({ timeout: 10_000 });

  // Rename the dropped file, move it into a new folder, then delete it.
  await page.locator('tr[data-file="dropped-torus.gcode"] td.name a').click();
  await detail.locator('[data-detail="dropped-torus.gcode"]').waitFor();
  await detail.locator('input[name="name"]').fill("ring.gcode");
  await detail.locator('button:text("Rename")').click();
  await detail.locator('[data-detail="ring.gcode"]').waitFor();
  // Download it with the page's own session, and copy it into a folder.
  const [download] = await Promise.all([page.waitForEvent("download"), detail.locator('a:text("Download")').click()]);
  expect(download.suggestedFilename()).toBe("ring.gcode");
  expect(await Bun.file((await download.path())!).text()).toBe(await Bun.file(FIXTURES + TORUS).text());
  await detail.locator('input[name="destination"]').fill("copies/");
  await detail.locator('button:text("Copy")').click();
  await detail.locator('[data-detail="copies/ring.gcode"]').waitFor();
  await page.locator('tr[data-file="copies/ring.gcode"]').waitFor({ timeout: 10_000 });
  await page.locator('tr[data-file="ring.gcode"] td.name a').click();
  await detail.locator('[data-detail="ring.gcode"]').waitFor();
  await detail.locator('input[name="destination"]').fill("rings/");
  await detail.locator('button:text("Move")').click();
  await detail.locator('[data-detail="rings/ring.gcode"]').waitFor();
  await page.locator('#folder-tree a[data-folder="rings"]').waitFor({ timeout: 10_000 });
  await detail.locator('button:text("Delete")').click();
  await page.locator('tr[data-file="rings/ring.gcode"]').waitFor({ state: "detached", timeout: 10_000 });

  // The idle-only setting is one click away.
  await page.check('.analysis-settings input[name="onlyWhenIdle"]');
  await page.locator("#toasts .toast", { hasText: "only while no printer" }).waitFor();
  expect((await (await host.api("/api/v1/analysis")).json()).settings.onlyWhenIdle).toBe(true);
  await page.uncheck('.analysis-settings input[name="onlyWhenIdle"]');
  await page.locator("#toasts .toast", { hasText: "as soon as they arrive" }).waitFor();

  // A new folder appears in the tree; opening it shows only its files.
  await page.fill('.new-folder input[name="folder"]', "parts/brackets");
  await page.click('.new-folder button[type="submit"]');
  await page.locator('#folder-tree a[data-folder="parts/brackets"]').waitFor({ timeout: 10_000 });
  await page.click('#folder-tree a[data-folder="parts/brackets"]');
  await page.locator('#file-table p.muted', { hasText: "No files here" }).waitFor();
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);
