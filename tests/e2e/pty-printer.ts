/**
 * The virtual printer in its own process on one end of a socat pty pair, logging every command
 * it runs, and a test host with a serial printer on the other end.
 */
import { expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clean } from "../../src/protocol/framing.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { createPtyPair, type PtyPair } from "../helpers/pty.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

export interface PtyPrinter {
  pty: PtyPair;
  host: TestHost;
  /** The commands the printer ran so far, in order. */
  executed(): Promise<string[]>;
  close(): Promise<void>;
}

/** `printerArgs` go to `layerline virtual-printer`; the host connects at 250000 baud. */
export async function startPtyPrinter(printerArgs: string[], window?: number): Promise<PtyPrinter> {
  const dir = mkdtempSync(join(tmpdir(), "layerline-e2e-"));
  const log = join(dir, "executed.log");
  const pty = await createPtyPair();
  const firmware = Bun.spawn(["bun", MAIN, "virtual-printer", "--tty", pty.device, "--log", log, ...printerArgs], { stdout: "inherit", stderr: "inherit" });
  const host = await startTestHost({ serial: pty.host, baud: 250000, ...(window === undefined ? {} : { window }) });
  return {
    pty,
    host,
    executed: async () => (await Bun.file(log).text()).split("\n").filter(Boolean),
    async close() {
      await host.close();
      firmware.kill();
      await firmware.exited;
      await pty.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Prints a real slicer file and checks that the printer ran every line of it exactly once, in
 * order; returns the printer's final status and how long the print took.
 */
export async function printTorusExactlyOnce(printer: PtyPrinter): Promise<{ status: any; seconds: number; lines: number }> {
  const { host } = printer;
  const { printers } = await (await host.api("/api/v1/printers")).json();
  const id = printers[0].id;
  // Connected once the connect sequence (auto-reports, SD listing) is through.
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && p.firmware !== null && p.sd.available);
  expect((await upload(host, "torus.gcode", Bun.file(TORUS))).status).toBe(201);
  const logBefore = (await printer.executed()).length;
  const started = performance.now();
  expect((await host.post(`/api/v1/printers/${id}/job`, { file: "torus.gcode" })).status).toBe(200);
  const status = await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state !== "printing", 120_000);
  const seconds = (performance.now() - started) / 1000;
  expect(status.job.state).toBe("done");
  const expected = (await Bun.file(TORUS).text()).split("\n").map(clean).filter(Boolean);
  // With temperature auto-report on, the host injects nothing during a print.
  expect((await printer.executed()).slice(logBefore)).toEqual(expected);
  return { status, seconds, lines: expected.length };
}
