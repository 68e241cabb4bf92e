import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { frame } from "../../src/protocol/framing.ts";
import { SerialTransport } from "../../src/transport/serial.ts";
import { runVirtualPrinterOnTty, type VirtualPrinterOnTty } from "../../src/virtual/pty.ts";
import { createPtyPair, type PtyPair } from "../helpers/pty.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// Opens the host end and collects lines; resolves `waitFor` once a matching line arrives.
async function hostEnd(path: string) {
  const lines: string[] = [];
  let partial = "";
  let wake: (() => void) | undefined;
  const host = new SerialTransport({ path, baudRate: 115200 });
  await host.open({
    data: (chunk) => {
      const parts = (partial + Buffer.from(chunk).toString("latin1")).split("\n");
      partial = parts.pop()!;
      lines.push(...parts);
      wake?.();
    },
    closed: () => undefined,
  });
  cleanups.push(() => host.close());
  const waitFor = async (match: (l: string) => boolean, timeoutMs = 5000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines.find(match);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) throw new Error(`no matching line; got ${JSON.stringify(lines)}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  };
  return { host, lines, waitFor };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "layerline-vp-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function ptyPair(): Promise<PtyPair> {
  const pty = await createPtyPair();
  cleanups.push(() => pty.close());
  return pty;
}

describe("virtual printer on a pty", () => {
  test("runVirtualPrinterOnTty answers the hello through the real serial path and logs commands", async () => {
    const pty = await ptyPair();
    const log = join(tempDir(), "executed.log");
    const printer: VirtualPrinterOnTty = await runVirtualPrinterOnTty(pty.device, { timeScale: 0 }, { log });
    cleanups.push(() => printer.close());
    const { host, waitFor, lines } = await hostEnd(pty.host);
    await host.write(new TextEncoder().encode("N0 M110 N0*125\n"));
    expect(await waitFor((l) => l === "ok")).toBe("ok");
    await host.write(new TextEncoder().encode(`${frame(1, "M115")}\n${frame(2, "G1 X5 F600")}\n`));
    await waitFor((l) => l.startsWith("Cap:CONFIG_EXPORT"));
    await waitFor(() => lines.filter((x) => x === "ok").length >= 3);
    expect(lines.some((l) => l.startsWith("Error"))).toBe(false);
    expect(readFileSync(log, "utf8")).toBe("M110 N0\nM115\nG1 X5 F600\n");
  });

  test("the CLI entry serves a tty until it is stopped", async () => {
    const pty = await ptyPair();
    const log = join(tempDir(), "cli.log");
    const proc = Bun.spawn(
      ["bun", join(import.meta.dir, "../../src/virtual/pty.ts"), "--tty", pty.device, "--log", log, "--time-scale", "0", "--corrupt-lines", "2"],
      { stdout: "ignore", stderr: "pipe" },
    );
    cleanups.push(async () => {
      proc.kill();
      await proc.exited;
    });
    // The printer announces itself on stderr once the tty is open.
    const reader = proc.stderr.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("virtual printer on");
    reader.releaseLock();
    const { host, waitFor, lines } = await hostEnd(pty.host);
    await host.write(new TextEncoder().encode("N0 M110 N0*125\nN1 M105*38\nN2 M105*37\n"));
    await waitFor((l) => l === "Resend: 2");
    await host.write(new TextEncoder().encode("N2 M105*37\n"));
    await waitFor(() => lines.filter((x) => x.startsWith("ok T:")).length >= 2);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(readFileSync(log, "utf8")).toBe("M110 N0\nM105\nM105\n");
  });
});
