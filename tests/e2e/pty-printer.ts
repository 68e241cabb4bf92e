/**
 * Prints over the real serial path (tests/helpers/pty-printer.ts) and checks what the printer ran.
 */
import { expect } from "bun:test";
import { clean } from "../../src/protocol/framing.ts";
import { upload, jobEnded } from "../helpers/host.ts";
import type { PtyPrinter } from "../helpers/pty-printer.ts";

export { startPtyPrinter, type PtyPrinter } from "../helpers/pty-printer.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

/**
 * Prints a real slicer file and checks that the printer ran every line of it exactly once, in
 * order; returns the printer's final status and how long the print took.
 */
export async function printTorusExactlyOnce(printer: PtyPrinter): Promise<{ status: any; seconds: number; lines: number }> {
  const { host, printer: id } = printer;
  // Connected once the connect sequence (auto-reports, SD listing) is through.
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && p.firmware !== null && p.sd.available);
  expect((await upload(host, "torus.gcode", Bun.file(TORUS))).status).toBe(201);
  const logBefore = (await printer.executed()).length;
  const started = performance.now();
  expect((await host.post(`/api/v1/printers/${id}/job`, { file: "torus.gcode" })).status).toBe(200);
  const status = await host.waitFor(`/api/v1/printers/${id}`, jobEnded, 120_000);
  const seconds = (performance.now() - started) / 1000;
  expect(status.job.state).toBe("done");
  const expected = (await Bun.file(TORUS).text()).split("\n").map(clean).filter(Boolean);
  // With temperature auto-report on, the host injects nothing during a print.
  expect((await printer.executed()).slice(logBefore)).toEqual(expected);
  return { status, seconds, lines: expected.length };
}
