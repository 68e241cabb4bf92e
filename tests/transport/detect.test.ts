/**
 * Port and baud-rate auto-detection: fake ports for the rate logic (a pty carries bytes at any
 * "rate", so wrong rates cannot be made real there), and real ptys for the probing itself.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { detectPrinter, type ProbeLink } from "../../src/transport/detect.ts";
import { TransportError } from "../../src/transport/transport.ts";
import { runVirtualPrinterOnTty, type VirtualPrinterOnTty } from "../../src/virtual/pty.ts";
import { createPtyPair, type PtyPair } from "../helpers/pty.ts";

/** A fake port: answers the hello at `rightBaud` (after `delayMs`), sends noise at other rates. */
function fakePort(rightBaud: number | undefined, log: string[], delayMs = 10): (path: string, baud: number) => ProbeLink {
  return (path, first) => {
    let baud = first;
    let onData: (chunk: Uint8Array) => void = () => {};
    return {
      async open(cb) {
        onData = cb;
        log.push(`${path} open ${baud}`);
      },
      async setBaudRate(b) {
        baud = b;
        log.push(`${path} rate ${b}`);
      },
      async write() {
        const answer = baud === rightBaud ? "ok\n" : rightBaud === undefined ? "" : "\xfe\x80\x91\xff\x13\x02\xf0";
        if (answer) setTimeout(() => onData(Buffer.from(answer, "latin1")), delayMs);
      },
      async close() {
        log.push(`${path} close`);
      },
    };
  };
}

describe("auto-detection, rate logic", () => {
  test("garbage means a wrong rate: the next is tried at once; the port stays open while the rate changes", async () => {
    const log: string[] = [];
    const found = await detectPrinter({ ports: ["/dev/ttyUSB0"], open: fakePort(250000, log), firstWaitMs: 5000, waitMs: 5000 });
    expect(found).toEqual({ port: "/dev/ttyUSB0", baud: 250000 });
    expect(log).toEqual(["/dev/ttyUSB0 open 115200", "/dev/ttyUSB0 rate 250000", "/dev/ttyUSB0 close"]);
  });

  test("with several ports, all are probed at once (115200 and 250000 only) and the one that answers wins", async () => {
    const log: string[] = [];
    const open = (path: string, baud: number) => (path === "/dev/ttyACM0" ? fakePort(115200, log, 50) : fakePort(undefined, log))(path, baud);
    const started = performance.now();
    const found = await detectPrinter({ ports: ["/dev/ttyUSB0", "/dev/ttyACM0"], open, firstWaitMs: 300, waitMs: 300 });
    expect(found).toEqual({ port: "/dev/ttyACM0", baud: 115200 });
    expect(log.filter((l) => l.includes("rate")).every((l) => l.endsWith("250000"))).toBe(true);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test("a hello that goes unanswered is sent again while the port is waited on (§3.2)", async () => {
    const log: string[] = [];
    const answering = fakePort(115200, log);
    let writes = 0;
    const deaf = (path: string, baud: number): ProbeLink => {
      const link = answering(path, baud);
      // The first hello is lost (garbage on the line, a board still starting).
      return { ...link, write: async (d) => (++writes === 1 ? undefined : link.write(d)) };
    };
    const found = await detectPrinter({ ports: ["/dev/ttyUSB0"], open: deaf, firstWaitMs: 5000 });
    expect(found).toEqual({ port: "/dev/ttyUSB0", baud: 115200 });
    expect(writes).toBe(2);
  });

  test("no answer anywhere is a clear not_found naming what was tried", async () => {
    const err = await detectPrinter({ ports: ["/dev/ttyUSB0"], bauds: [115200, 250000], open: fakePort(undefined, []), firstWaitMs: 50, waitMs: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err.code).toBe("not_found");
    expect(err.message).toContain("/dev/ttyUSB0 at 115200, 250000 baud");
  });
});

describe("auto-detection on real ptys", () => {
  let printerPty: PtyPair;
  let silentPty: PtyPair;
  let printer: VirtualPrinterOnTty;
  beforeAll(async () => {
    printerPty = await createPtyPair();
    silentPty = await createPtyPair();
    printer = await runVirtualPrinterOnTty(printerPty.device, { timeScale: 0 });
  }, 20_000);
  afterAll(async () => {
    await printer?.close();
    await printerPty?.close();
    await silentPty?.close();
  });

  test("finds the port with a printer among silent ones", async () => {
    const found = await detectPrinter({ ports: [silentPty.host, printerPty.host], firstWaitMs: 3000, waitMs: 500 });
    expect(found).toEqual({ port: printerPty.host, baud: 115200 });
  }, 20_000);
});
