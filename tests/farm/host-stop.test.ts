/**
 * A farm copy that ends while the host is stopping is recorded: the farm stops starting copies
 * first, but it must go on following the printers' jobs until the printers have stopped, or a
 * copy that printed well in that moment goes back to the queue at the next start and is printed
 * twice. Real host, real virtual printer; the print is made to end inside the stop by holding the
 * step before the printers stop (the plugins') until it has.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, startTestHost, upload, waitUntil } from "../helpers/host.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-farm-stop-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test("a copy that finishes while the host stops counts as printed after the restart", async () => {
  const host = await startTestHost({ dataDir, virtual: { timeScale: 20 } });
  const printer = ((await (await host.api("/api/v1/printers")).json()).printers[0].id) as string;
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");
  expect((await upload(host, "part.gcode", layeredGcode({ layers: 4, objects: [{ name: "a", x: 20, y: 20 }] }))).status).toBe(201);
  await host.waitFor("/api/v1/files/part.gcode", (f: any) => f.analysis?.state === "done");
  expect((await host.post("/api/v1/farm/queue", { file: "part.gcode", copies: 1 })).status).toBe(201);
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "printing");

  // The print ends after the farm stopped starting copies and before the printers stop.
  const stopPlugins = host.plugins.stop.bind(host.plugins);
  host.plugins.stop = async () => {
    await waitUntil(async () => host.printers.get(printer)!.status, (s) => jobEnded(s), 60_000);
    return stopPlugins();
  };
  await host.close();

  const again = await startTestHost({ dataDir });
  try {
    const queue = await again.waitFor("/api/v1/farm/queue", (q: any) => q.recent.length > 0);
    expect(queue.recent.map((r: any) => [r.printer, r.outcome])).toEqual([[printer, "done"]]);
    expect(queue.items).toEqual([]);
    expect(queue.printers.find((p: any) => p.id === printer)).toMatchObject({ bed: "printed" });
  } finally {
    await again.close();
  }
}, 120_000);
