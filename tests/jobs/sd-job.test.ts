/**
 * A print from the printer's SD card gets the same controls and progress as one from the host,
 * once the host knows the card's file (here: a file of the same name and size in its files):
 * layers and objects from its analysis, time left from earlier prints of it (history feeds the
 * estimate, for the next print from the host too), pause, restart from the beginning, cancel,
 * and history rows with its hash.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, startTestHost, upload, type TestHost } from "../helpers/host.ts";

const GCODE = layeredGcode({ layers: 6, objects: [{ name: "left", x: 20, y: 20 }, { name: "right", x: 60, y: 20 }], feedrate: 1200 });
let host: TestHost;
let at: string;

beforeAll(async () => {
  host = await startTestHost({ virtual: { timeScale: 10, sdFiles: [{ name: "cubes.gcode", content: GCODE }] } });
  at = `/api/v1/printers/${host.printers.default()!.id}`;
  await host.waitFor(at, (p: any) => p.state === "operational" && p.sd.files.length > 0);
  expect((await upload(host, "cubes.gcode", GCODE)).status).toBe(201);
  await host.waitFor("/api/v1/files/cubes.gcode", (f: any) => f.analysis?.state === "done");
}, 30_000);
afterAll(() => host?.close());

test("an SD print of a file the host knows: layers, objects, time left from earlier prints; pause, restart, cancel; history", async () => {
  const sha = ((await (await host.api("/api/v1/files/cubes.gcode")).json()) as any).sha256 as string;
  // An earlier print of the file, from the host.
  expect((await host.post(`${at}/job`, { file: "cubes.gcode" })).status).toBe(200);
  expect((await host.waitFor(at, jobEnded, 60_000)).job.state).toBe("done");

  const card = ((await (await host.api(at)).json()) as any).sd.files.find((f: any) => f.longName === "cubes.gcode");
  expect((await host.post(`${at}/sd/print`, { name: card.name })).status).toBe(200);
  const running = await host.waitFor(at, (p: any) => p.job?.source === "sd" && p.job.state === "printing" && p.job.layer !== null && p.progress.timeLeft !== null);
  expect(running.job).toMatchObject({ sha256: sha, objects: [{ name: "left", cancelled: false }, { name: "right", cancelled: false }] });
  expect(running.job.layer.count).toBe(6);
  expect(running.progress.timeLeftOrigin).toMatch(/^history/);

  expect((await host.post(`${at}/job/pause`)).status).toBe(200);
  const paused = await host.waitFor(at, (p: any) => p.job?.state === "paused");
  expect((await host.post(`${at}/job/restart`)).status).toBe(200);
  const again = await host.waitFor(at, (p: any) => p.job?.source === "sd" && p.job.id !== paused.job.id && p.job.state === "printing");
  expect(again.job.file).toBe(card.name);
  expect(again.progress.bytesSent).toBeLessThan(paused.progress.bytesSent + 1);

  expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
  expect((await host.waitFor(at, jobEnded)).job.state).toBe("cancelled");
  const history = (await (await host.api("/api/v1/history?limit=3")).json()) as any;
  expect(history.items.map((i: any) => [i.source, i.outcome, i.sha256])).toEqual([
    ["sd", "cancelled", sha],
    ["sd", "cancelled", sha],
    ["host", "done", sha],
  ]);
  expect(history.items[1].reason).toBe("Restarted from the beginning.");

  // The next host print of the file starts from its average print time too.
  expect((await host.post(`${at}/job`, { file: "cubes.gcode" })).status).toBe(200);
  const next = await host.waitFor(at, (p: any) => p.job?.source === "host" && p.job.state === "printing" && p.progress.timeLeft !== null);
  expect(next.progress.timeLeftOrigin).toMatch(/^history/);
  expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
  await host.waitFor(at, jobEnded);
}, 120_000);
