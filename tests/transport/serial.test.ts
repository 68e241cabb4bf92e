/**
 * The serial transport against real ttys: socat makes a pty pair, Layerline opens one end through
 * SerialTransport (our binding + termios via bun:ffi), and the test plays the printer on the other.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LinuxTtyBinding, listLinuxSerialPorts, type LinuxTtyPort } from "../../src/transport/binding.ts";
import { SerialTransport, listSerialPorts, transportErrorFor } from "../../src/transport/serial.ts";
import { configureTty, getBaudRate, getLineSettings } from "../../src/transport/termios.ts";
import { TransportError, type TransportHandlers } from "../../src/transport/transport.ts";
import { createPtyPair, type PtyPair } from "../helpers/pty.ts";

const SERIAL_TS = join(import.meta.dir, "../../src/transport/serial.ts");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** Deterministic bytes where a dropped, duplicated or reordered block shows up as a mismatch. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function firstMismatch(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Accumulates bytes from some source and lets a test wait for a given count. */
class Inbox {
  private chunks: Uint8Array[] = [];
  private count = 0;
  private wake: (() => void) | undefined;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk.slice()); // the producer may reuse its buffer
    this.count += chunk.length;
    this.wake?.();
  }

  get length(): number {
    return this.count;
  }

  /** Resolves with exactly `n` bytes (keeping any surplus), or rejects after `timeoutMs`. */
  async take(n: number, timeoutMs = 20_000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.count < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${this.count} of ${n} bytes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    const all = concat(this.chunks);
    this.chunks = all.length > n ? [all.slice(n)] : [];
    this.count = all.length - n;
    return all.subarray(0, n);
  }
}

/** The printer's end of the pty pair, handled with plain node:fs and Bun's stream, not our code. */
class DeviceEnd {
  readonly fd: number;
  readonly inbox = new Inbox();
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private pumping = false;

  constructor(path: string) {
    this.fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    this.reader = Bun.file(this.fd).stream().getReader();
  }

  /** Starts reading; until then bytes pile up in the kernel and the host's writes stall. */
  startReading(): void {
    if (this.pumping) return;
    this.pumping = true;
    void (async () => {
      for (;;) {
        const { done, value } = await this.reader.read().catch(() => ({ done: true, value: undefined }));
        if (done || value === undefined) return;
        this.inbox.push(value);
      }
    })();
  }

  async read(n: number, timeoutMs?: number): Promise<Uint8Array> {
    this.startReading();
    return this.inbox.take(n, timeoutMs);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      try {
        offset += writeSync(this.fd, bytes, offset, bytes.length - offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        await Bun.sleep(1);
      }
    }
  }

  async close(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
    closeSync(this.fd);
  }
}

/** Handlers that record everything the transport reports. */
function recorder() {
  const inbox = new Inbox();
  const closed: TransportError[] = [];
  let onClosed: (() => void) | undefined;
  const handlers: TransportHandlers = {
    data: (chunk) => inbox.push(chunk),
    closed: (error) => {
      closed.push(error);
      onClosed?.();
    },
  };
  const whenClosed = (timeoutMs = 10_000) =>
    new Promise<TransportError>((resolve, reject) => {
      if (closed.length > 0) return resolve(closed[0]);
      const timer = setTimeout(() => reject(new Error("handlers.closed was not called")), timeoutMs);
      onClosed = () => {
        clearTimeout(timer);
        resolve(closed[0]);
      };
    });
  return { inbox, closed, handlers, whenClosed };
}

function ttyFdCount(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (realpathSync(`/proc/self/fd/${fd}`).startsWith("/dev/pts/")) n++;
    } catch {
      // fds that vanish while we look are not ours to count
    }
  }
  return n;
}

const isRoot = process.getuid?.() === 0;
const setpriv = Bun.which("setpriv");

/** Runs `code` in a separate Bun process as user nobody; returns its stdout parsed as JSON. */
async function runAsNobody(code: string): Promise<Record<string, unknown>> {
  if (setpriv === null) throw new Error("setpriv is needed to drop root");
  const proc = Bun.spawn(
    [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", code],
    { env: { ...process.env, HOME: tmpdir() }, stdout: "pipe", stderr: "pipe" },
  );
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  const line = out.trim().split("\n").at(-1) ?? "";
  if (!line.startsWith("{")) throw new Error(`child printed ${JSON.stringify(out)}; stderr ${err}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/** Child-process script: open `path` raw with node:fs and with SerialTransport, report both. */
function openReport(path: string): string {
  return `
    import { openSync, closeSync, constants } from "node:fs";
    import { SerialTransport } from ${JSON.stringify(SERIAL_TS)};
    const report = {};
    try { closeSync(openSync(${JSON.stringify(path)}, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK)); report.raw = "opened"; }
    catch (e) { report.raw = e.code; }
    const t = new SerialTransport({ path: ${JSON.stringify(path)}, baudRate: 115200 });
    try { await t.open({ data() {}, closed() {} }); report.transport = "opened"; await t.close(); }
    catch (e) { report.transport = e.code; report.message = e.message; report.isTransportError = e.name === "TransportError"; }
    console.log(JSON.stringify(report));`;
}

let pty: PtyPair;
let device: DeviceEnd | undefined;
const transports: SerialTransport[] = [];

function transport(baudRate = 250_000, extra: { hupcl?: boolean } = {}): SerialTransport {
  const t = new SerialTransport({ path: pty.host, baudRate, ...extra });
  transports.push(t);
  return t;
}

function deviceEnd(): DeviceEnd {
  device = new DeviceEnd(pty.device);
  return device;
}

beforeEach(async () => {
  pty = await createPtyPair();
});

afterEach(async () => {
  for (const t of transports.splice(0)) await t.close();
  await device?.close();
  device = undefined;
  await pty.close();
});

describe("baud rate", () => {
  for (const baudRate of [115_200, 250_000]) {
    test(`opening at ${baudRate} sets ${baudRate} in the kernel (TCGETS2 read-back)`, async () => {
      const t = transport(baudRate);
      expect(t.description).toBe(`${pty.host} @ ${baudRate}`);
      await t.open(recorder().handlers);
      expect(await t.actualBaudRate()).toBe(baudRate);
    });
  }

  test("the termios layer sets standard and custom rates, raw 8N1, and reads them back", () => {
    // The device end was set up by socat, not by us: its rate starts as something else.
    const fd = openSync(pty.device, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    try {
      expect(getBaudRate(fd)).not.toBe(250_000);
      for (const baudRate of [250_000, 115_200, 12_345, 1_000_000, 9600]) {
        configureTty(fd, { baudRate });
        expect(getBaudRate(fd)).toBe(baudRate);
      }
      expect(getLineSettings(fd)).toEqual({
        baudRate: 9600,
        hupcl: false,
        dataBits: 8,
        stopBits: 1,
        parity: "none",
        rtscts: false,
        xon: false,
        xoff: false,
        xany: false,
        raw: true,
      });
      // (The pty driver forces CS8 without parity, so data bits and parity cannot be shown here.)
      configureTty(fd, { baudRate: 57_600, hupcl: true, stopBits: 2, rtscts: true, xon: true, xoff: true });
      expect(getLineSettings(fd)).toMatchObject({ baudRate: 57_600, hupcl: true, stopBits: 2, rtscts: true, xon: true, xoff: true });
    } finally {
      closeSync(fd);
    }
  });

  /** Settings the kernel keeps for the host pty after we closed it (a pty keeps them while socat lives). */
  function settingsLeftBy(): ReturnType<typeof getLineSettings> {
    const fd = openSync(pty.host, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    try {
      return getLineSettings(fd);
    } finally {
      closeSync(fd);
    }
  }

  test("SerialTransport leaves HUPCL off by default (no AVR reset on close), raw 8N1, no flow control", async () => {
    const t = transport(250_000);
    await t.open(recorder().handlers);
    await t.close();
    expect(settingsLeftBy()).toEqual({
      baudRate: 250_000,
      hupcl: false,
      dataBits: 8,
      stopBits: 1,
      parity: "none",
      rtscts: false,
      xon: false,
      xoff: false,
      xany: false,
      raw: true,
    });
  });

  test("SerialTransport sets HUPCL when asked", async () => {
    const t = transport(115_200, { hupcl: true });
    await t.open(recorder().handlers);
    await t.close();
    expect(settingsLeftBy()).toMatchObject({ baudRate: 115_200, hupcl: true, raw: true });
  });

  for (const baudRate of [0, -9600, 2.5, 2 ** 33]) {
    test(`a baud rate of ${baudRate} is refused with bad_baud`, async () => {
      const error = await transport(baudRate).open(recorder().handlers).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).code).toBe("bad_baud");
      expect((error as TransportError).message).toContain(String(baudRate));
    });
  }
});

describe("data flow", () => {
  test("bytes flow both ways, in order", async () => {
    const rec = recorder();
    const t = transport();
    await t.open(rec.handlers);
    const dev = deviceEnd();
    await t.write(encoder.encode("M115\n"));
    await t.write(encoder.encode("G28\n"));
    expect(decoder.decode(await dev.read(9))).toBe("M115\nG28\n");
    await dev.write(encoder.encode("FIRMWARE_NAME:Marlin\nok\n"));
    await dev.write(encoder.encode("ok\n"));
    expect(decoder.decode(await rec.inbox.take(27))).toBe("FIRMWARE_NAME:Marlin\nok\nok\n");
  });

  test("binary bytes pass unchanged (no CR/LF translation, no XON/XOFF eaten, no echo)", async () => {
    const rec = recorder();
    const t = transport();
    await t.open(rec.handlers);
    const dev = deviceEnd();
    const all = new Uint8Array(256).map((_, i) => i);
    await t.write(all);
    expect(await dev.read(256)).toEqual(all);
    await dev.write(all);
    expect(await rec.inbox.take(256)).toEqual(all);
    await Bun.sleep(50);
    expect(rec.inbox.length).toBe(0); // nothing echoed back by either tty
  });

  test("a 2 MiB write stalls on a full kernel buffer (EAGAIN) and still arrives whole and in order", async () => {
    const rec = recorder();
    const t = transport();
    await t.open(rec.handlers);
    const dev = deviceEnd();
    const payload = pattern(2 * 1024 * 1024, 7);
    const written = t.write(payload);
    // Nobody reads yet: the pty and socat buffers fill up and the write has to wait and retry.
    await Bun.sleep(100);
    expect(t.writeStalls).toBeGreaterThan(0);
    const received = await dev.read(payload.length);
    await written;
    expect(firstMismatch(received, payload)).toBe(-1);
    expect(rec.closed).toEqual([]);
  });

  test("5000 small writes fired without waiting keep their order", async () => {
    const t = transport();
    await t.open(recorder().handlers);
    const dev = deviceEnd();
    const lines = Array.from({ length: 5000 }, (_, i) => `N${i} G1 X${i % 200} Y${(i * 7) % 200}*${i % 97}\n`);
    dev.startReading(); // 100+ KB is more than the pty buffers hold
    await Promise.all(lines.map((line) => t.write(encoder.encode(line))));
    const expected = lines.join("");
    const received = decoder.decode(await dev.read(encoder.encode(expected).length));
    expect(received).toBe(expected);
  });

  test("receiveNow hands over bytes at once, or says false after its timeout when none come", async () => {
    const rec = recorder();
    const t = transport();
    await t.open(rec.handlers);
    const dev = deviceEnd();
    const started = performance.now();
    expect(t.receiveNow(30)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    await dev.write(encoder.encode("ok\n"));
    // Within the call: the bytes are in the handler before receiveNow returns.
    let got = false;
    for (let i = 0; i < 50 && !got; i++) got = t.receiveNow(100) || rec.inbox.length > 0;
    expect(decoder.decode(await rec.inbox.take(3, 1))).toBe("ok\n");
  });

  test("bytes taken by receiveNow and by the event loop's reader keep their order (bursts of 800 KB)", async () => {
    // The device sends numbered lines in bursts; the host takes some of them from inside its data
    // handler (as the printer thread does while a print streams) and the rest the usual way.
    const lines = Array.from({ length: 120_000 }, (_, i) => `${i} ok\n`).join("");
    const payload = encoder.encode(lines);
    const received: Uint8Array[] = [];
    let total = 0;
    let direct = 0;
    let inHandler = false;
    const t = transport();
    await t.open({
      data: (chunk) => {
        received.push(chunk.slice());
        total += chunk.length;
        if (inHandler) {
          direct++;
          return;
        }
        inHandler = true;
        try {
          for (let k = 0; k < 8 && t.receiveNow(1); k++);
        } finally {
          inHandler = false;
        }
      },
      closed: () => undefined,
    });
    const dev = deviceEnd();
    for (let offset = 0; offset < payload.length; offset += 4096) {
      await dev.write(payload.subarray(offset, offset + 4096));
      if ((offset >> 12) % 16 === 0) await Bun.sleep(1);
    }
    const deadline = Date.now() + 20_000;
    while (total < payload.length && Date.now() < deadline) await Bun.sleep(5);
    expect(firstMismatch(concat(received), payload)).toBe(-1);
    expect(direct).toBeGreaterThan(0); // the direct path was taken, not only the reader
  }, 60_000);

  test("1 MiB from the device arrives whole and in order", async () => {
    const rec = recorder();
    const t = transport();
    await t.open(rec.handlers);
    const dev = deviceEnd();
    const payload = pattern(1024 * 1024, 99);
    await dev.write(payload);
    const received = await rec.inbox.take(payload.length);
    expect(firstMismatch(received, payload)).toBe(-1);
  });
});

describe("errors", () => {
  test("a path that does not exist rejects with not_found naming the path", async () => {
    const path = join(dirname(pty.host), "ttyUSB99");
    const error = await new SerialTransport({ path, baudRate: 115_200 })
      .open(recorder().handlers)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    const te = error as TransportError;
    expect(te.code).toBe("not_found");
    expect(te.message).toBe(`Serial device ${path} does not exist`);
    expect(te.hint).toContain("/dev/serial/by-id");
  });

  test("a regular file is not a serial device", async () => {
    const path = join(dirname(pty.host), "not-a-tty");
    writeFileSync(path, "G28\n");
    const error = (await new SerialTransport({ path, baudRate: 115_200 })
      .open(recorder().handlers)
      .catch((e: unknown) => e)) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error.code).toBe("not_found");
    expect(error.message).toBe(`${path} is not a serial device`);
  });

  test.skipIf(isRoot && setpriv === null)("a tty without permission rejects with permission and the dialout hint", async () => {
    const tty = realpathSync(pty.host);
    chmodSync(tty, 0o000);
    if (isRoot) {
      // Root ignores file modes, so the attempt is made by a child process running as nobody.
      const report = await runAsNobody(openReport(tty));
      expect(report).toMatchObject({ raw: "EACCES", transport: "permission", isTransportError: true });
      expect(report.message).toBe(`No permission to open ${tty}`);
    } else {
      const error = (await new SerialTransport({ path: tty, baudRate: 115_200 })
        .open(recorder().handlers)
        .catch((e: unknown) => e)) as TransportError;
      expect(error).toBeInstanceOf(TransportError);
      expect(error.code).toBe("permission");
      expect(error.hint).toContain("usermod -aG dialout");
    }
  });

  test("errno names map to the transport codes", () => {
    const path = "/dev/ttyUSB0";
    const cases: Array<[string, string]> = [
      ["ENOENT", "not_found"],
      ["ENXIO", "not_found"],
      ["ENODEV", "not_found"],
      ["ENOTTY", "not_found"],
      ["EACCES", "permission"],
      ["EPERM", "permission"],
      ["EBUSY", "busy"],
      ["EAGAIN", "busy"],
      ["EINVAL", "bad_baud"],
      ["EIO", "io"],
      ["HANGUP", "closed"],
      ["ECANCELED", "closed"],
    ];
    for (const [errno, code] of cases) {
      const error = Object.assign(new Error(`${errno}: failed, open '${path}'`), { code: errno });
      const mapped = transportErrorFor(error, path, 250_000);
      expect([errno, mapped.code]).toEqual([errno, code]);
      expect(mapped.message).toContain(path);
      expect(mapped.hint.length).toBeGreaterThan(20);
    }
    expect(transportErrorFor(Object.assign(new Error("x"), { code: "EACCES" }), path, 1).hint).toContain(
      "sudo usermod -aG dialout $USER",
    );
    expect(transportErrorFor(new Error("weird"), path, 1).code).toBe("io");
  });

  test("a second open of the same port is refused with busy", async () => {
    await transport().open(recorder().handlers);
    const error = (await transport().open(recorder().handlers).catch((e: unknown) => e)) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error.code).toBe("busy");
    expect(error.message).toBe(`${pty.host} is in use by another program`);
  });

  test.skipIf(!isRoot || setpriv === null)("TIOCEXCL makes the kernel refuse other (non-root) opens", async () => {
    const tty = realpathSync(pty.host);
    chmodSync(tty, 0o666);
    // Control: without us holding it, nobody can open it.
    expect(await runAsNobody(openReport(tty))).toMatchObject({ raw: "opened", transport: "opened" });
    await transport().open(recorder().handlers);
    expect(await runAsNobody(openReport(tty))).toMatchObject({ raw: "EBUSY", transport: "busy" });
  });
});

describe("link lifetime", () => {
  test("closed fires with a TransportError when socat dies", async () => {
    const rec = recorder();
    const t = transport();
    await t.open(rec.handlers);
    await pty.close();
    const error = await rec.whenClosed();
    expect(error).toBeInstanceOf(TransportError);
    expect(error.code).toBe("closed");
    expect(error.message).toContain(pty.host);
    await Bun.sleep(50);
    expect(rec.closed).toHaveLength(1);
    const writeError = await t.write(encoder.encode("M105\n")).catch((e: unknown) => e);
    expect(writeError).toBeInstanceOf(TransportError);
  });

  test("a write in flight when the link dies rejects, and closed fires once", async () => {
    const rec = recorder();
    const t = transport();
    await t.open(rec.handlers);
    const written = t.write(pattern(4 * 1024 * 1024, 3)).catch((e: unknown) => e);
    await Bun.sleep(50);
    await pty.close();
    const error = await written;
    expect(error).toBeInstanceOf(TransportError);
    expect(["io", "closed"]).toContain((error as TransportError).code);
    await rec.whenClosed();
    await Bun.sleep(50);
    expect(rec.closed).toHaveLength(1);
  });

  test("the port can be opened again after the link came back", async () => {
    const rec = recorder();
    const t = transport();
    await t.open(rec.handlers);
    await pty.close();
    await rec.whenClosed();
    pty = await createPtyPair();
    const reopened = new SerialTransport({ path: pty.host, baudRate: 250_000 });
    transports.push(reopened);
    await reopened.open(recorder().handlers);
    const dev = deviceEnd();
    await reopened.write(encoder.encode("M105\n"));
    expect(decoder.decode(await dev.read(5))).toBe("M105\n");
  });

  test("close() is clean: no closed call, the port is released, no fd leaks", async () => {
    const before = ttyFdCount();
    for (let i = 0; i < 20; i++) {
      const rec = recorder();
      const t = new SerialTransport({ path: pty.host, baudRate: i % 2 ? 115_200 : 250_000 });
      await t.open(rec.handlers);
      await t.write(encoder.encode(`N${i}\n`));
      await t.close();
      await t.close(); // idempotent
      expect(rec.closed).toEqual([]);
      const writeError = (await t.write(encoder.encode("x")).catch((e: unknown) => e)) as TransportError;
      expect(writeError).toBeInstanceOf(TransportError);
      expect(writeError.code).toBe("closed");
    }
    expect(ttyFdCount()).toBe(before);
    const dev = deviceEnd();
    const expected = Array.from({ length: 20 }, (_, i) => `N${i}\n`).join("");
    expect(decoder.decode(await dev.read(expected.length))).toBe(expected);
  });

  test("close() during a stalled write rejects it with closed and does not call handlers.closed", async () => {
    const rec = recorder();
    const t = transport();
    await t.open(rec.handlers);
    const written = t.write(pattern(4 * 1024 * 1024, 5)).catch((e: unknown) => e);
    await Bun.sleep(50);
    await t.close();
    const error = (await written) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error.code).toBe("closed");
    await Bun.sleep(50);
    expect(rec.closed).toEqual([]);
  });
});

describe("binding", () => {
  let port: LinuxTtyPort | undefined;
  afterEach(async () => {
    if (port?.isOpen) await port.close();
    port = undefined;
  });

  test("a pending read rejects with canceled on close", async () => {
    port = await LinuxTtyBinding.open({ path: pty.host, baudRate: 250_000 });
    const reading = port.read(Buffer.alloc(64), 0, 64).catch((e: unknown) => e);
    await Bun.sleep(20);
    await port.close();
    expect(await reading).toMatchObject({ canceled: true });
  });

  test("a stalled write rejects with canceled on close", async () => {
    port = await LinuxTtyBinding.open({ path: pty.host, baudRate: 250_000 });
    const writing = port.write(Buffer.from(pattern(4 * 1024 * 1024, 1))).catch((e: unknown) => e);
    await Bun.sleep(50);
    expect(port.writeStalls).toBeGreaterThan(0);
    await port.close();
    expect(await writing).toMatchObject({ canceled: true });
  });

  test("read fills the caller's buffer at the offset and never returns 0 bytes", async () => {
    port = await LinuxTtyBinding.open({ path: pty.host, baudRate: 250_000 });
    const dev = deviceEnd();
    await dev.write(encoder.encode("ok T:21.0 /0.0\n"));
    const buffer = Buffer.alloc(32, 0x2e);
    const first = await port.read(buffer, 4, 2);
    expect(first.bytesRead).toBe(2);
    const second = await port.read(buffer, 6, 26);
    expect(second.bytesRead).toBeGreaterThan(0);
    expect(buffer.subarray(0, 6 + second.bytesRead).toString()).toBe("....ok T:21.0 /0.0\n".slice(0, 6 + second.bytesRead));
  });

  test("update changes the rate, getBaudRate reads it back", async () => {
    port = await LinuxTtyBinding.open({ path: pty.host, baudRate: 115_200 });
    expect(await port.getBaudRate()).toEqual({ baudRate: 115_200 });
    await port.update({ baudRate: 250_000 });
    expect(await port.getBaudRate()).toEqual({ baudRate: 250_000 });
    expect(port.openOptions.baudRate).toBe(250_000);
    await expect(port.update({ baudRate: 0 })).rejects.toMatchObject({ code: "EINVAL" });
  });

  test("flush discards input received but not read", async () => {
    port = await LinuxTtyBinding.open({ path: pty.host, baudRate: 250_000 });
    const dev = deviceEnd();
    await dev.write(encoder.encode("stale\n"));
    await Bun.sleep(50);
    await port.flush();
    await dev.write(encoder.encode("fresh\n"));
    const buffer = Buffer.alloc(64);
    const { bytesRead } = await port.read(buffer, 0, 64);
    expect(buffer.subarray(0, bytesRead).toString()).toBe("fresh\n");
  });

  test("drain waits for queued writes", async () => {
    port = await LinuxTtyBinding.open({ path: pty.host, baudRate: 250_000 });
    const dev = deviceEnd();
    dev.startReading();
    const payload = pattern(512 * 1024, 11);
    let writeDone = false;
    void port.write(Buffer.from(payload)).then(() => (writeDone = true));
    await port.drain();
    expect(writeDone).toBe(true);
  });

  test("modem lines: a pty has none, and get/set say so instead of pretending", async () => {
    port = await LinuxTtyBinding.open({ path: pty.host, baudRate: 250_000 });
    await expect(port.get()).rejects.toMatchObject({ code: "ENOTTY" });
    await expect(port.set({ dtr: false })).rejects.toMatchObject({ code: "ENOTTY" });
  });

  test("1.5 stop bits and unknown parity are refused before touching the device", async () => {
    await expect(LinuxTtyBinding.open({ path: pty.host, baudRate: 9600, stopBits: 1.5 })).rejects.toMatchObject({ code: "EINVAL" });
    await expect(LinuxTtyBinding.open({ path: pty.host, baudRate: 9600, parity: "sometimes" })).rejects.toMatchObject({ code: "EINVAL" });
  });
});

describe("port listing", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "layerline-devtree-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function file(path: string, text = ""): void {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  function link(path: string, target: string): void {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    symlinkSync(target, join(root, path));
  }

  test("finds USB, CDC and real UART ports, resolves by-id links, reads USB ids from sysfs", () => {
    for (const name of ["ttyUSB0", "ttyACM1", "ttyACM10", "ttyS0", "ttyS1", "ttyS2", "ttyAMA0", "tty5", "ttyXRUSB0", "console"]) {
      file(`dev/${name}`);
    }
    // The kernel's consoles (a Pi's serial console, a VM's ttyS2) are not offered.
    file("sys/class/tty/console/active", "tty1 ttyAMA0 ttyS2\n");
    file("sys/class/tty/ttyS2/type", "4\n");
    link("dev/serial/by-id/usb-Prusa_Research_Original_Prusa_MK4_CZPX1234-if00", "../../ttyACM1");
    link("dev/serial/by-id/usb-Exar_XR21V1410-if00", "../../ttyXRUSB0");
    link("dev/serial/by-id/usb-unplugged-if00", "../../ttyACM7");
    file("sys/class/tty/ttyS0/type", "4\n");
    file("sys/class/tty/ttyS1/type", "0\n");
    const usb = "sys/devices/pci0000:00/0000:00:14.0/usb1/1-1";
    file(`${usb}/idVendor`, "2c99\n");
    file(`${usb}/idProduct`, "000d\n");
    file(`${usb}/manufacturer`, "Prusa Research (prusa3d.com)\n");
    file(`${usb}/serial`, "CZPX1234\n");
    mkdirSync(join(root, usb, "1-1:1.0"), { recursive: true });
    link("sys/class/tty/ttyACM1/device", join(root, usb, "1-1:1.0"));

    const dev = realpathSync(join(root, "dev"));
    const ports = listLinuxSerialPorts({ dev: join(root, "dev"), sys: join(root, "sys") });
    expect(ports.map((p) => p.path)).toEqual(
      ["ttyACM1", "ttyACM10", "ttyS0", "ttyUSB0", "ttyXRUSB0"].map((n) => join(dev, n)),
    );
    expect(ports[0]).toEqual({
      path: join(dev, "ttyACM1"),
      manufacturer: "Prusa Research (prusa3d.com)",
      serialNumber: "CZPX1234",
      pnpId: "usb-Prusa_Research_Original_Prusa_MK4_CZPX1234-if00",
      locationId: "1-1",
      productId: "000d",
      vendorId: "2c99",
      byIdPath: join(dev, "serial/by-id/usb-Prusa_Research_Original_Prusa_MK4_CZPX1234-if00"),
    });
    expect(ports[4].byIdPath).toBe(join(dev, "serial/by-id/usb-Exar_XR21V1410-if00"));
    expect(ports[1].vendorId).toBeUndefined();
  });

  test("listSerialPorts on this machine returns only existing terminals", async () => {
    const ports = await listSerialPorts();
    for (const p of ports) {
      expect(p.path).toMatch(/^\//);
      expect(statSync(p.path).isCharacterDevice()).toBe(true);
    }
  });

  test("extra patterns add the terminals they match, once, and nothing that is not a terminal", async () => {
    const pty = await createPtyPair();
    const dir = dirname(pty.host);
    try {
      writeFileSync(join(dir, "hostess"), "a regular file is not a port");
      const paths = async (extra: string[]) => (await listSerialPorts(extra)).map((p) => p.path).filter((p) => p.startsWith(dir));
      expect(await paths([join(dir, "ho*")])).toEqual([pty.host]);
      expect(await paths([join(dir, "*"), pty.device])).toEqual([pty.device, pty.host]);
      expect(await paths([join(dir, "hostess"), join(dir, "missing"), "/no/such/folder/*"])).toEqual([]);
    } finally {
      await pty.close();
    }
  });
});
