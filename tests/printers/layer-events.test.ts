/**
 * Layer changes are events of their own (timelapses capture on them) without dragging the status
 * along: a fast print of many thin layers sends one `layer` event per layer on /api/v1/events,
 * while the printer's status keeps its usual pace. (Sending the status with every layer once made
 * every page and API listener get one per layer, ten times the traffic under load.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, readyHost, upload, type TestHost } from "../helpers/host.ts";

const LAYERS = 200;
let host: TestHost;
let printer: string;
beforeAll(async () => {
  ({ host, printer } = await readyHost({ virtual: { timeScale: 0 } }));
}, 30_000);
afterAll(() => host.close());

test("one layer event per layer, and far fewer status pushes than layers", async () => {
  expect((await upload(host, "thin.gcode", layeredGcode({ layers: LAYERS, objects: [{ name: "a", x: 20, y: 20 }], size: 20, feedrate: 1200 }))).status).toBe(201);
  await host.waitFor("/api/v1/files/thin.gcode", (f: any) => f.analysis?.state === "done");
  const reader = (await host.api(`/api/v1/events?printer=${printer}`)).body!.getReader();
  expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "thin.gcode" })).status).toBe(200);
  let text = "";
  const decoder = new TextDecoder();
  while (!text.includes('"type":"job","state":"done"')) {
    const chunk = await Promise.race([reader.read(), Bun.sleep(30_000).then(() => null)]);
    if (!chunk || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  await reader.cancel();
  expect((await (await host.api(`/api/v1/printers/${printer}`)).json()).job.state).toBe("done");
  const blocks = text.split("\n\n");
  const layers = blocks.filter((b) => b.startsWith("event: event") && b.includes('"type":"layer"')).map((b) => JSON.parse(b.slice(b.indexOf("data: ") + 6)).event.current);
  expect(layers).toEqual(Array.from({ length: LAYERS }, (_, i) => i + 1));
  const statuses = blocks.filter((b) => b.startsWith("event: status")).length;
  expect(statuses).toBeLessThan(LAYERS / 2);
}, 60_000);
