/**
 * The real serial path for tests: a socat pty pair, the virtual printer in its own process on one
 * end (logging every command it executes), and a test host on the other at 250000 baud.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostOptions } from "../../src/host.ts";
import { startTestHost, type TestHost } from "./host.ts";
import { createPtyPair, type PtyPair } from "./pty.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

export interface PtyPrinter {
  pty: PtyPair;
  host: TestHost;
  /** The printer's id on the host. */
  printer: string;
  /** The host's data folder. */
  dataDir: string;
  /** Every command the firmware executed so far, in order. */
  executed(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Starts all three and waits until the printer is connected, identified and its card listed. `printerArgs` go to
 * `layerline virtual-printer` (default: instant timing); `options` may depend on where the pty is.
 */
export async function startPtyPrinter(
  options: Partial<HostOptions> | ((pty: PtyPair) => Partial<HostOptions>) = {},
  printerArgs: string[] = ["--time-scale", "0"],
): Promise<PtyPrinter> {
  const dir = mkdtempSync(join(tmpdir(), "layerline-pty-printer-"));
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const log = join(dir, "executed.log");
  const pty = await createPtyPair();
  const firmware = Bun.spawn(["bun", MAIN, "virtual-printer", "--tty", pty.device, "--log", log, ...printerArgs], { stdout: "ignore", stderr: "inherit" });
  const host = await startTestHost({ dataDir, serial: pty.host, baud: 250000, ...(typeof options === "function" ? options(pty) : options) });
  const printer = ((await (await host.api("/api/v1/printers")).json()) as { printers: { id: string }[] }).printers[0]!.id;
  // Connected once the connect sequence (auto-reports, SD listing) is through: nothing else is sent then.
  await host.waitFor(`/api/v1/printers/${printer}`, (p: { state: string; firmware: unknown; sd: { files: unknown[] } }) => p.state === "operational" && p.firmware !== null && p.sd.files.length > 0);
  return {
    pty,
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
