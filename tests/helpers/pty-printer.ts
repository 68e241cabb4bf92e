/**
 * The real serial path for tests: a socat pty pair, the virtual printer in its own process on one
 * end (logging every command it executes), and a test host on the other at 250000 baud.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostOptions } from "../../src/host.ts";
import { startTestHost, type TestHost } from "./host.ts";
import { createPtyPair } from "./pty.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

export interface PtyPrinter {
  host: TestHost;
  /** The printer's id on the host. */
  printer: string;
  /** The host's data folder. */
  dataDir: string;
  /** Every command the firmware executed so far, in order. */
  executed(): Promise<string[]>;
  close(): Promise<void>;
}

/** Starts all three and waits until the printer is connected and identified. */
export async function startPtyPrinter(options: Partial<HostOptions> = {}): Promise<PtyPrinter> {
  const dir = mkdtempSync(join(tmpdir(), "layerline-pty-printer-"));
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const log = join(dir, "executed.log");
  const pty = await createPtyPair();
  const firmware = Bun.spawn(["bun", MAIN, "virtual-printer", "--tty", pty.device, "--log", log, "--time-scale", "0"], { stdout: "ignore", stderr: "ignore" });
  const host = await startTestHost({ dataDir, serial: pty.host, baud: 250000, ...options });
  const printer = ((await (await host.api("/api/v1/printers")).json()) as { printers: { id: string }[] }).printers[0]!.id;
  await host.waitFor(`/api/v1/printers/${printer}`, (p: { state: string; firmware: unknown }) => p.state === "operational" && p.firmware !== null);
  return {
    host,
    printer,
    dataDir,
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
