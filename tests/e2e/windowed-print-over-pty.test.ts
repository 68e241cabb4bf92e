/**
 * End to end through the real serial path, windowed: the virtual printer (Marlin with
 * ADVANCED_OK) runs in another process on one end of a socat pty pair and damages about 1 % of
 * the lines it receives and loses two; the host keeps up to 4 lines in flight. Every line of a
 * real slicer file must run exactly once, in order, and the link statistics and flight recorder
 * must show what happened.
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
const FAULTS = { corrupt: { probability: 0.01 }, drop: { lines: [3000, 9000] } };

let pty: PtyPair;
let firmware: ReturnType<typeof Bun.spawn>;
let host: TestHost;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "layerline-e2e-window-"));
  pty = await createPtyPair();
  firmware = Bun.spawn(
    ["bun", MAIN, "virtual-printer", "--tty", pty.device, "--log", join(dir, "executed.log"), "--time-scale", "0", "--advanced-ok", "--seed", "9", "--faults", JSON.stringify(FAULTS)],
    { stdout: "inherit", stderr: "inherit" },
  );
  host = await startTestHost({ serial: pty.host, baud: 250000, window: 4 });
}, 30_000);

afterAll(async () => {
  await host?.close();
  firmware?.kill();
  await firmware?.exited;
  await pty?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a windowed print through damaged lines: every line once, in order; the window was 4", async () => {
  const { printers } = await (await host.api("/api/v1/printers")).json();
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
  expect(executed).toEqual(expected);

  const link = done.link;
  expect(link.window).toBe(4);
  expect(link.resendRequests).toBeGreaterThan(80);
  expect(link.resendRatio).toBeGreaterThan(0.005);
  expect(link.ackLatencyP99Ms).toBeGreaterThan(0);
  const trace = await (await host.api(`/api/v1/printers/${id}/trace`)).text();
  expect(trace).toContain('"line":"Resend: ');
  console.log(
    `e2e windowed: ${expected.length} lines in ${seconds.toFixed(2)} s = ${Math.round(expected.length / seconds)} lines/s at window ${link.window}; ` +
      `${link.resendRequests} resend requests, ${link.linesResent} lines resent (${(link.resendRatio * 100).toFixed(2)} %), ack latency p50 ${link.ackLatencyP50Ms} ms / p99 ${link.ackLatencyP99Ms} ms`,
  );
}, 150_000);
