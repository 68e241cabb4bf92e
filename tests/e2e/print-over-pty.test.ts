/**
 * End to end through the real serial path: the host opens one end of a socat pty pair at
 * 250000 baud; the virtual printer runs in another process on the other end and logs every
 * command it executes. Every non-comment line of a real slicer file must arrive exactly once,
 * in order.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clean } from "../../src/protocol/framing.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { createPtyPair, type PtyPair } from "../helpers/pty.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;
const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

let pty: PtyPair;
let firmware: ReturnType<typeof Bun.spawn>;
let host: TestHost;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "layerline-e2e-"));
  pty = await createPtyPair();
  firmware = Bun.spawn(["bun", MAIN, "virtual-printer", "--tty", pty.device, "--log", join(dir, "executed.log"), "--time-scale", "0"], {
    stdout: "inherit",
    stderr: "inherit",
  });
  host = await startTestHost({ serial: pty.host, baud: 250000 });
}, 30_000);

afterAll(async () => {
  await host?.close();
  firmware?.kill();
  await firmware?.exited;
  await pty?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a real file prints through a pty: every line reaches the firmware exactly once, in order", async () => {
  const { printers } = await (await host.api("/api/v1/printers")).json();
  expect(printers).toHaveLength(1);
  expect(printers[0]).toMatchObject({ transport: "serial", port: pty.host, baud: 250000 });
  const id = printers[0].id;
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && p.firmware !== null);

  expect((await upload(host, "torus.gcode", Bun.file(TORUS))).status).toBe(201);
  const logBefore = (await Bun.file(join(dir, "executed.log")).text()).split("\n").filter(Boolean).length;
  const started = performance.now();
  expect((await host.post(`/api/v1/printers/${id}/job`, { file: "torus.gcode" })).status).toBe(200);
  const done = await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state !== "printing", 120_000);
  const seconds = (performance.now() - started) / 1000;
  expect(done.job.state).toBe("done");

  const expected = (await Bun.file(TORUS).text()).split("\n").map(clean).filter(Boolean);
  const executed = (await Bun.file(join(dir, "executed.log")).text()).split("\n").filter(Boolean).slice(logBefore);
  // With temperature auto-report on, the host injects nothing during a print.
  expect(executed.length).toBe(expected.length);
  expect(executed).toEqual(expected);
  console.log(`e2e: ${expected.length} lines in ${seconds.toFixed(2)} s = ${Math.round(expected.length / seconds)} lines/s over a pty at 250000 baud`);
}, 150_000);
