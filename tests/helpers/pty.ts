import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Two linked pseudo-terminals made by socat: bytes written to one end come out of the other. */
export interface PtyPair {
  /** Path of the end the host (Layerline) opens. */
  readonly host: string;
  /** Path of the end the device (e.g. the virtual printer) opens. */
  readonly device: string;
  /** Stops socat and removes the links. */
  close(): Promise<void>;
}

/**
 * Starts `socat` with a raw pty pair and waits until both links exist.
 * Example: `const pty = await createPtyPair(); ...; await pty.close();`
 */
export async function createPtyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), "layerline-pty-"));
  const host = join(dir, "host");
  const device = join(dir, "device");
  const proc = Bun.spawn(
    ["socat", `pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${device}`],
    { stdout: "ignore", stderr: "pipe" },
  );
  const deadline = Date.now() + 5000;
  while (!(existsSync(host) && existsSync(device))) {
    if (proc.exitCode !== null) {
      const err = await new Response(proc.stderr).text();
      throw new Error(`socat exited early (${proc.exitCode}): ${err}`);
    }
    if (Date.now() > deadline) {
      proc.kill();
      throw new Error("socat did not create the pty links within 5 s");
    }
    await Bun.sleep(10);
  }
  return {
    host,
    device,
    async close() {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
