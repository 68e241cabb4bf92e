/**
 * End to end through the real serial path, windowed: the virtual printer (Marlin with
 * ADVANCED_OK) runs in another process on one end of a socat pty pair and damages about 1 % of
 * the lines it receives and loses two; the host keeps up to 4 lines in flight. Every line of a
 * real slicer file must run exactly once, in order, and the link statistics and flight recorder
 * must show what happened.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { TestHost } from "../helpers/host.ts";
import { printTorusExactlyOnce, startPtyPrinter, type PtyPrinter } from "./pty-printer.ts";

const FAULTS = { corrupt: { probability: 0.01 }, drop: { lines: [3000, 9000] } };

let printer: PtyPrinter;
let host: TestHost;

beforeAll(async () => {
  printer = await startPtyPrinter({ window: 4 }, ["--time-scale", "0", "--advanced-ok", "--seed", "9", "--faults", JSON.stringify(FAULTS)]);
  host = printer.host;
}, 30_000);

afterAll(() => printer?.close());

test("a windowed print through damaged lines: every line once, in order; the window was 4", async () => {
  const { status: done, seconds, lines } = await printTorusExactlyOnce(printer);
  const id = done.id;
  const link = done.link;
  expect(link.window).toBe(4);
  expect(link.resendRequests).toBeGreaterThan(80);
  expect(link.resendRatio).toBeGreaterThan(0.005);
  expect(link.ackLatencyP99Ms).toBeGreaterThan(0);
  const trace = await (await host.api(`/api/v1/printers/${id}/trace`)).text();
  expect(trace).toContain('"line":"Resend: ');
  console.log(
    `e2e windowed: ${lines} lines in ${seconds.toFixed(2)} s = ${Math.round(lines / seconds)} lines/s at window ${link.window}; ` +
      `${link.resendRequests} resend requests, ${link.linesResent} lines resent (${(link.resendRatio * 100).toFixed(2)} %), ack latency p50 ${link.ackLatencyP50Ms} ms / p99 ${link.ackLatencyP99Ms} ms`,
  );
}, 150_000);
