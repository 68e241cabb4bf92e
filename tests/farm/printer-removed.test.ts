/**
 * A printer removed while a farm copy is open on it (the removal overtook a start the dispatcher
 * had just recorded and asked for): its job events never come, so the copy goes back to the queue
 * instead of counting as printing for ever. Real host; the dispatcher's step is taken by hand on a
 * file that fits no printer, so nothing else dispatches it meanwhile.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { FARM_PRINTER_REMOVED_REASON } from "../../src/farm/queue.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost();
}, 30_000);
afterAll(() => host.close());

test("a copy open on a removed printer goes back to the queue", async () => {
  const res = await host.post("/api/v1/printers", { name: "Spare", transport: "virtual" });
  expect(res.status).toBe(201);
  const spare = ((await res.json()) as { id: string }).id;
  // At X 240: off every 200 mm bed, so the dispatcher leaves it alone.
  expect((await upload(host, "wide.gcode", layeredGcode({ layers: 2, objects: [{ name: "a", x: 240, y: 20 }] }))).status).toBe(201);
  const item = (await (await host.post("/api/v1/farm/queue", { file: "wide.gcode" })).json()).item.id as string;
  host.farm.recordStart(item, spare, "wide.gcode");
  expect((await (await host.api("/api/v1/farm/queue")).json()).items[0]).toMatchObject({ printing: 1, remaining: 0 });

  expect((await host.api(`/api/v1/printers/${spare}`, { method: "DELETE" })).status).toBe(204);
  const back = await host.waitFor("/api/v1/farm/queue", (q: any) => q.items[0]?.remaining === 1, 5_000);
  expect(back.items[0]).toMatchObject({ printing: 0, printed: 0, remaining: 1 });
  expect(back.recent[0]).toMatchObject({ printer: spare, outcome: "failed", reason: FARM_PRINTER_REMOVED_REASON });
}, 30_000);
