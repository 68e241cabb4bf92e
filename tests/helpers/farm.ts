/**
 * A small print farm for multi-printer tests: a host with two virtual printers at 20× real time
 * (its default one and "second"), a long layered file (analysed) and a short one.
 */
import { expect } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser } from "./browser.ts";
import { layeredGcode } from "./gcode.ts";
import { jobEnded, readyHost, upload, type TestHost } from "./host.ts";

/** Long enough to watch at 20× (about a minute), with layers to be interrupted at. */
export const LONG = layeredGcode({ layers: 60, loops: 3, objects: [{ name: "a", x: 20, y: 20, size: 40 }] });
export const SHORT = "G28\nG1 X10 Y10 F3000\nG1 X20 Y20\n";

export async function farmHost(): Promise<{ host: TestHost; first: string; second: string }> {
  const { host, printer: first } = await readyHost({ virtual: { timeScale: 20 } });
  const res = await host.post("/api/v1/printers", { name: "Second", transport: "virtual" });
  expect(res.status).toBe(201);
  const second = ((await res.json()) as { id: string }).id;
  // Identified too: the farm gives no work to a printer before it knows what firmware it runs.
  for (const id of [first, second]) await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && p.firmware !== null);
  for (const [name, text] of [["long.gcode", LONG], ["short.gcode", SHORT]] as const) expect((await upload(host, name, text)).status).toBe(201);
  await host.waitFor("/api/v1/files/long.gcode", (f: any) => f.analysis?.state === "done");
  return { host, first, second };
}

/** The farm and a headless browser to look at it; `close()` ends both. */
export async function uiFarm(): Promise<{ host: TestHost; first: string; second: string; browser: Browser; close(): Promise<void> }> {
  const farm = await farmHost();
  const browser = await launchBrowser();
  return { ...farm, browser, close: async () => (await browser.close(), await farm.host.close()) };
}

/** The printer's status as the API gives it. */
export async function printerStatus(host: TestHost, id: string): Promise<any> {
  return (await host.api(`/api/v1/printers/${id}`)).json();
}

/** Cancels the printer's job if one runs, and waits until the printer is idle. */
export async function stopPrinting(host: TestHost, id: string): Promise<void> {
  const s = await printerStatus(host, id);
  if (s.job && !jobEnded(s)) await host.post(`/api/v1/printers/${id}/job/cancel`);
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && (p.job === null || jobEnded(p)), 30_000);
}
