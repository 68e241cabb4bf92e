import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { clean, frame } from "../../src/protocol/framing.ts";
import { TransportError } from "../../src/transport/transport.ts";
import type { ExecutedLine } from "../../src/virtual/options.ts";
import { VirtualTransport } from "../../src/virtual/transport.ts";

const TORUS = "/work/shared/data/gcode/ps25_ender3_torus_0.20normal_pla.gcode";

// Collects the transport's output as lines and lets a test wait for one.
class Reader {
  lines: string[] = [];
  private partial = "";
  private waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];

  data = (chunk: Uint8Array) => {
    const text = this.partial + Buffer.from(chunk).toString("latin1");
    const parts = text.split("\n");
    this.partial = parts.pop()!;
    for (const line of parts) {
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve(line);
        return false;
      });
    }
  };

  next(match: (l: string) => boolean, timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for a line")), timeoutMs);
      this.waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }
}

const open: VirtualTransport[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

function transport(...args: ConstructorParameters<typeof VirtualTransport>): VirtualTransport {
  const t = new VirtualTransport(...args);
  open.push(t);
  return t;
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe("VirtualTransport", () => {
  test("boots on open and answers asynchronously, never inside write", async () => {
    const r = new Reader();
    let inWrite = false;
    let reentrant = false;
    const t = transport({ timeScale: 0 });
    await t.open({
      data: (c) => {
        if (inWrite) reentrant = true;
        r.data(c);
      },
      closed: () => undefined,
    });
    await r.next((l) => l === "echo:SD card ok");
    expect(r.lines[0]).toBe("start");
    inWrite = true;
    const written = t.write(bytes("N0 M110 N0*125\n"));
    inWrite = false;
    await written;
    expect(await r.next((l) => l === "ok")).toBe("ok");
    expect(reentrant).toBe(false);
  });

  test("timer-driven output arrives without any writes (autoreport, busy, delayed ok)", async () => {
    const r = new Reader();
    const t = transport({ timeScale: 1 });
    await t.open({ data: r.data, closed: () => undefined });
    await t.write(bytes("M155 S1\nG4 P300\n"));
    const started = performance.now();
    await r.next((l) => l === "ok"); // M155
    await r.next((l) => l === "ok"); // G4 after 300 ms
    const dwell = performance.now() - started;
    expect(dwell).toBeGreaterThanOrEqual(290);
    expect(dwell).toBeLessThan(1000);
    expect(await r.next((l) => l.startsWith(" T:"), 2000)).toMatch(/^ T:\d+\.\d{2} \/0\.00 B:/);
  });

  test("write on a closed transport rejects; reopening resets the printer like DTR", async () => {
    const t = transport({ timeScale: 0 });
    await expect(t.write(bytes("M105\n"))).rejects.toBeInstanceOf(TransportError);
    const r = new Reader();
    await t.open({ data: r.data, closed: () => undefined });
    await r.next((l) => l === "echo:SD card ok");
    await t.close();
    const r2 = new Reader();
    await t.open({ data: r2.data, closed: () => undefined });
    await r2.next((l) => l === "echo:SD card ok");
    expect(r2.lines.slice(0, 2)).toEqual(["start", " External Reset"]);
  });

  test("streams a 456 KB slicer file in instant mode, every line executed once", async () => {
    const cmds = readFileSync(TORUS, "utf8").split("\n").map(clean).filter((l) => l !== "");
    const executed: ExecutedLine[] = [];
    const t = transport({ timeScale: 0 }, (l) => executed.push(l));
    let next = 0;
    let partial = "";
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      void t.open({
        data: (chunk) => {
          const parts = (partial + Buffer.from(chunk).toString("latin1")).split("\n");
          partial = parts.pop()!;
          for (const line of parts) {
            if (line.startsWith("Error") || line.startsWith("Resend")) reject(new Error(line));
            if (line !== "ok" && !line.startsWith("ok ")) continue;
            if (next === cmds.length) resolve();
            else {
              next++;
              void t.write(bytes(`${frame(next, cmds[next - 1]!)}\n`));
            }
          }
        },
        closed: () => undefined,
      });
      void t.write(bytes("N0 M110 N0*125\n"));
    });
    const elapsed = performance.now() - started;
    expect(executed.map((e) => e.command)).toEqual(["M110 N0", ...cmds]);
    expect(elapsed).toBeLessThan(10_000);
  });
});
