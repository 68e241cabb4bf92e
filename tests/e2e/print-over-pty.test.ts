/**
 * End to end through the real serial path: the host opens one end of a socat pty pair at
 * 250000 baud; the virtual printer runs in another process on the other end and logs every
 * command it executes. Every non-comment line of a real slicer file must arrive exactly once,
 * in order.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { printTorusExactlyOnce, startPtyPrinter, type PtyPrinter } from "./pty-printer.ts";

let printer: PtyPrinter;

beforeAll(async () => {
  printer = await startPtyPrinter();
}, 30_000);

afterAll(() => printer?.close());

test("a real file prints through a pty: every line reaches the firmware exactly once, in order", async () => {
  const { printers } = await (await printer.host.api("/api/v1/printers")).json();
  expect(printers).toHaveLength(1);
  expect(printers[0]).toMatchObject({ transport: "serial", port: printer.pty.host, baud: 250000 });
  const { seconds, lines } = await printTorusExactlyOnce(printer);
  console.log(`e2e: ${lines} lines in ${seconds.toFixed(2)} s = ${Math.round(lines / seconds)} lines/s over a pty at 250000 baud`);
}, 150_000);
