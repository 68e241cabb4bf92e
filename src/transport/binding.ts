/**
 * A `@serialport/stream` binding for Linux ttys that works under Bun: the fd is opened with
 * node:fs, configured through our bun:ffi termios layer, read with Bun's poll-driven file stream
 * and written with non-blocking writes. (serialport's own native addon panics under Bun.)
 */
import { closeSync, constants, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { isatty } from "node:tty";
// The package's exports map has no "types" entry, so only require-mode resolution finds its .d.ts.
import type {
  BindingInterface,
  BindingPortInterface,
  OpenOptions,
  PortInfo,
  PortStatus,
  SetOptions,
  UpdateOptions,
} from "@serialport/bindings-interface" with { "resolution-mode": "require" };
import {
  configureTty,
  flushTty,
  getBaudRate,
  getModemLines,
  lockExclusive,
  outputQueueLength,
  readWithin,
  setBaudRate,
  setBreak,
  setModemLines,
  unlockExclusive,
  type TtySettings,
} from "./termios.ts";

/** An error from the binding; `canceled` marks operations cut short by our own close(). */
export class PortError extends Error {
  constructor(
    /** errno-style code: "HANGUP" when the other end went away, "ENOTTY", "EINVAL", "ECANCELED"... */
    readonly code: string,
    message: string,
    readonly canceled = false,
  ) {
    super(message);
    this.name = "PortError";
  }
}

/** What `list()` reports: serialport's fields plus the stable /dev/serial/by-id link, if any. */
export interface LinuxPortInfo extends PortInfo {
  /** e.g. /dev/serial/by-id/usb-Prusa_Research_Original_Prusa_i3_MK3_CZPX1234-if00; survives replugging. */
  byIdPath: string | undefined;
}

// A full kernel buffer is waited out with growing sleeps, capped so a stall costs little latency.
const WRITE_RETRY_MAX_MS = 8;
// On close, queued output gets this long to leave; a tty close can otherwise block the thread for
// the driver's closing_wait (30 s on many USB adapters) if the device stopped accepting data.
const CLOSE_DRAIN_MS = 500;
const RELEASE_WAIT_MS = 1000;
// Received bytes we hold for a consumer that is not reading before we stop pulling from the tty.
const READ_QUEUE_LIMIT = 1024 * 1024;

function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined; // no /proc: we cannot watch for the dup, close() just does not wait
  }
}

/** This process's descriptors open on the tty `ttyName` (its path as /proc shows it); none without /proc. */
function descriptorsOn(ttyName: string): number[] {
  let fds: string[];
  try {
    fds = readdirSync("/proc/self/fd");
  } catch {
    return [];
  }
  return fds.map(Number).filter((fd) => fdTarget(fd) === ttyName);
}

function processHolds(ttyName: string): boolean {
  return descriptorsOn(ttyName).length > 0;
}

/**
 * Closes every descriptor of this process open on the tty at `path` but `keep`: the ones a
 * printer's thread held when it was stopped from outside (its own cannot be closed by it any more).
 */
export function releaseTty(path: string | null | undefined, keep = -1): void {
  if (!path) return;
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    return;
  }
  for (const fd of descriptorsOn(target)) {
    if (fd === keep) continue;
    try {
      closeSync(fd);
    } catch {
      // already gone
    }
  }
}

// Bun's file stream reads through its own dup of our fd and closes that dup a few milliseconds
// after cancel(). Until then the tty is not really closed (no HUPCL, a reopen races a stale
// reader), so close() waits for it, bounded in case some other code has the tty open too.
async function waitUntilReleased(ttyName: string | undefined): Promise<void> {
  if (ttyName === undefined) return;
  const deadline = Date.now() + RELEASE_WAIT_MS;
  while (processHolds(ttyName) && Date.now() < deadline) await Bun.sleep(1);
}

/** One read of Bun's stream of the tty. */
type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>;

/** What {@link LinuxTtyPort.write} returns when every byte went to the kernel at once (the usual case). */
export const WRITTEN: Promise<void> = Promise.resolve();

/** Where {@link LinuxTtyPort.listen} sends what arrives. */
export interface PortListener {
  /** Bytes as Bun read them from the tty. */
  data(chunk: Uint8Array): void;
  /** No more bytes will come: the other end hung up or a read failed (not called after close()). */
  end(error: Error): void;
}

function canceled(message: string): PortError {
  return new PortError("ECANCELED", message, true);
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return undefined;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** One open tty. Created by {@link LinuxTtyBinding.open}. */
export class LinuxTtyPort implements BindingPortInterface {
  isOpen = true;
  /** How many times a write found the kernel buffer full and had to wait (diagnostics). */
  writeStalls = 0;
  /** The error that ended the port on its own (read/write failure or hang-up), if any. */
  failure: Error | undefined;

  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private next: Promise<ReadResult>;
  // receiveNow()'s read buffer; what it reads is copied out, so one serves every call.
  private readonly scratch = new Uint8Array(4096);
  // Chunks received and not yet handed out; the first is consumed from `headOffset` on.
  private readonly received: Uint8Array[] = [];
  private headOffset = 0;
  private receivedBytes = 0;
  // Why no more data will come (hang-up or read error); reported once `received` is empty.
  private ended: Error | undefined;
  private wakeRead: (() => void) | undefined;
  private resumePump: (() => void) | undefined;
  private reading = false;
  // Push mode (listen()): chunks go straight to the listener instead of waiting for read().
  private listener: PortListener | undefined;
  // Tail of the write queue; writes run strictly one after another to keep byte order.
  private writeTail: Promise<void> = Promise.resolve();
  // Writes queued behind a full kernel buffer; while there are any, new writes queue behind them.
  private queuedWrites = 0;
  private readonly ttyName: string | undefined;

  constructor(
    /** The open file descriptor of the tty. */
    readonly fd: number,
    readonly openOptions: Required<OpenOptions>,
  ) {
    this.ttyName = fdTarget(fd);
    // Bun polls the fd (epoll) and hands over whatever one read() returned; no sleeping loop.
    this.reader = Bun.file(fd).stream().getReader();
    this.next = this.reader.read();
    void this.pump();
  }

  // The only consumer of Bun's stream, so flush() can see and drop everything received so far.
  // `next` is the one read of Bun's stream in flight; receiveNow() may take its result first.
  private async pump(): Promise<void> {
    for (;;) {
      const current = this.next;
      const result = await current.catch((error: unknown) => asError(error));
      if (!this.isOpen || this.ended) return; // closed, or what receiveNow() took ended the port
      if (current !== this.next) continue; // receiveNow() took it
      this.readNextUnlessEnded(result);
      if (!this.accept(result)) return;
      // Nobody is consuming: stop reading so the kernel buffer (and flow control) holds the rest.
      if (this.receivedBytes >= READ_QUEUE_LIMIT) await new Promise<void>((resolve) => (this.resumePump = resolve));
    }
  }

  // The next read of Bun's stream, unless this result ended it: a read of an ended stream rejects
  // with nobody to hear it (an unhandled rejection).
  private readNextUnlessEnded(result: ReadResult | Error): void {
    if (!(result instanceof Error) && !result.done) this.next = this.reader.read();
  }

  // One result of Bun's stream: bytes to the listener (or the queue); false once the port ended.
  private accept(result: ReadResult | Error): boolean {
    // A tty whose other end went away answers reads with EIO (a pty) or end of file: both are a hang-up.
    if (result instanceof Error && (result as NodeJS.ErrnoException).code !== "EIO") {
      this.end(result);
      return false;
    }
    if (result instanceof Error || result.done) {
      this.end(new PortError("HANGUP", `${this.openOptions.path} hung up (unplugged, reset or closed by the other end)`));
      return false;
    }
    if (result.value.length > 0) {
      if (this.listener) this.listener.data(result.value);
      else {
        this.received.push(result.value);
        this.receivedBytes += result.value.length;
        this.wake();
      }
    }
    return true;
  }

  /**
   * For a listener that expects an answer within microseconds (a print streaming to a fast
   * printer): waits up to `timeoutMs` for bytes, blocking this thread, and hands them to the
   * listener now instead of on a later turn of the event loop. Bytes Bun's reader already has go
   * first, so the order is kept. False when nothing came in time (the event loop then takes over).
   */
  receiveNow(timeoutMs: number): boolean {
    if (!this.isOpen || !this.listener || this.ended) return false;
    // Bun's stream settles a read at once when it holds bytes; only when it holds none may the
    // fd be read directly, or later bytes would overtake earlier ones.
    const status = Bun.peek.status(this.next);
    if (status !== "pending") {
      const settled = Bun.peek(this.next) as ReadResult | unknown;
      const result = status === "fulfilled" ? (settled as ReadResult) : asError(settled);
      this.readNextUnlessEnded(result);
      return this.accept(result);
    }
    const n = readWithin(this.fd, this.scratch, timeoutMs);
    if (n === 0) return false;
    this.listener.data(this.scratch.slice(0, n));
    return true;
  }

  private end(error: Error): void {
    this.ended ??= error;
    if (this.listener) {
      this.failure ??= this.ended;
      this.listener.end(this.ended);
    }
    this.wake();
  }

  /**
   * Hands every chunk to `listener` as it arrives (what was received before comes first) instead
   * of keeping it for read(): one call per chunk, no copy, no promise. A serial link's hot path;
   * read() is for `@serialport/stream`, which this port then must not be given to.
   */
  listen(listener: PortListener): void {
    this.listener = listener;
    for (let head = this.received.shift(); head !== undefined; head = this.received.shift()) {
      listener.data(this.headOffset ? head.subarray(this.headOffset) : head);
      this.headOffset = 0;
    }
    this.receivedBytes = 0;
    const resume = this.resumePump;
    this.resumePump = undefined;
    resume?.();
    if (this.ended) {
      this.failure ??= this.ended;
      listener.end(this.ended);
    }
  }

  private wake(): void {
    const wake = this.wakeRead;
    this.wakeRead = undefined;
    wake?.();
  }

  /** Copies received bytes into `buffer`; waits until at least one byte is there. */
  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    if (!this.isOpen) throw canceled("Read canceled: the port is closed");
    if (this.reading) throw new PortError("EBUSY", "Only one read may be pending at a time");
    this.reading = true;
    try {
      while (this.receivedBytes === 0) {
        if (this.ended !== undefined) {
          this.failure ??= this.ended;
          throw this.ended;
        }
        await new Promise<void>((resolve) => (this.wakeRead = resolve));
        if (!this.isOpen) throw canceled("Read canceled: the port is closed");
      }
      let bytesRead = 0;
      while (bytesRead < length && this.received.length > 0) {
        const head = this.received[0];
        const n = Math.min(length - bytesRead, head.length - this.headOffset);
        buffer.set(head.subarray(this.headOffset, this.headOffset + n), offset + bytesRead);
        bytesRead += n;
        this.headOffset += n;
        if (this.headOffset === head.length) {
          this.received.shift();
          this.headOffset = 0;
        }
      }
      this.receivedBytes -= bytesRead;
      if (this.receivedBytes < READ_QUEUE_LIMIT) {
        const resume = this.resumePump;
        this.resumePump = undefined;
        resume?.();
      }
      return { buffer, bytesRead };
    } finally {
      this.reading = false;
    }
  }

  private discardReceived(): void {
    this.received.length = 0;
    this.headOffset = 0;
    this.receivedBytes = 0;
    const resume = this.resumePump;
    this.resumePump = undefined;
    resume?.();
  }

  /**
   * Hands all of `buffer` to the kernel, waiting out EAGAIN; resolves when the last byte is queued.
   * With nothing queued before it, the bytes go out at once and {@link WRITTEN} comes back: a
   * printer's line costs one write(2) and no promise.
   */
  write(buffer: Uint8Array): Promise<void> {
    if (this.queuedWrites === 0) {
      if (!this.isOpen) return Promise.reject(canceled("Write canceled: the port is closed"));
      let written = 0;
      try {
        written = writeSync(this.fd, buffer);
      } catch (error) {
        if (errorCode(error) !== "EAGAIN") {
          this.failure ??= asError(error);
          return Promise.reject(error);
        }
      }
      if (written === buffer.length) return WRITTEN;
      buffer = buffer.subarray(written);
    }
    this.queuedWrites++;
    const result = this.writeTail.then(() => this.writeAll(buffer)).finally(() => {
      this.queuedWrites--;
    });
    this.writeTail = result.catch(() => undefined);
    return result;
  }

  private async writeAll(data: Uint8Array): Promise<void> {
    let offset = 0;
    let wait = 1;
    while (offset < data.length) {
      if (!this.isOpen) throw canceled("Write canceled: the port is closed");
      try {
        offset += writeSync(this.fd, data, offset, data.length - offset);
        wait = 1;
      } catch (error) {
        if (!this.isOpen) throw canceled("Write canceled: the port is closed");
        if (errorCode(error) !== "EAGAIN") {
          this.failure ??= asError(error);
          throw error;
        }
        this.writeStalls++;
        await Bun.sleep(wait);
        wait = Math.min(wait * 2, WRITE_RETRY_MAX_MS);
      }
    }
  }

  /** Changes the baud rate. */
  async update(options: UpdateOptions): Promise<void> {
    this.assertOpen();
    setBaudRate(this.fd, options.baudRate);
    this.openOptions.baudRate = options.baudRate;
  }

  /** Sets DTR/RTS (default on) and break (default off), as the interface asks on every call. */
  async set(options: SetOptions): Promise<void> {
    this.assertOpen();
    setModemLines(this.fd, { dtr: options.dtr ?? true, rts: options.rts ?? true });
    setBreak(this.fd, options.brk ?? false);
  }

  /** Reads the device's CTS/DSR/DCD lines. */
  async get(): Promise<PortStatus> {
    this.assertOpen();
    const { cts, dsr, dcd } = getModemLines(this.fd);
    return { cts, dsr, dcd };
  }

  /** The rate the kernel reports (TCGETS2), exact for custom rates like 250000. */
  async getBaudRate(): Promise<{ baudRate: number }> {
    this.assertOpen();
    return { baudRate: getBaudRate(this.fd) };
  }

  /** Discards unread input (the kernel's and what we already pulled in) and unsent output. */
  async flush(): Promise<void> {
    this.assertOpen();
    this.discardReceived();
    flushTty(this.fd);
    // Bytes Bun read from the kernel just before the flush reach us one task later; drop those too.
    await new Promise((resolve) => setImmediate(resolve));
    this.discardReceived();
  }

  /** Waits for pending writes, then until the driver has sent everything. */
  async drain(): Promise<void> {
    await this.writeTail;
    this.assertOpen();
    await this.waitForOutput(Number.POSITIVE_INFINITY);
  }

  /** Closes the fd; pending reads and writes reject with `canceled`. */
  async close(): Promise<void> {
    this.assertOpen();
    this.isOpen = false;
    this.wake(); // a pending read() sees isOpen=false and rejects with canceled
    await this.writeTail; // the write loop sees isOpen=false and stops within one retry wait
    try {
      // Output the kernel already took is delivered, not discarded; only a stuck queue is dropped.
      if (this.failure !== undefined || !(await this.waitForOutput(CLOSE_DRAIN_MS))) flushTty(this.fd);
      // The locks belong to the open file description, which Bun's reader dup (below) shares.
      if (this.openOptions.lock) unlockExclusive(this.fd);
    } catch {
      // A vanished device fails these calls; closing the fd is all that is left to do.
    }
    this.discardReceived();
    await this.reader.cancel().catch(() => undefined);
    closeSync(this.fd);
    await waitUntilReleased(this.ttyName);
  }

  // Resolves true once the driver's output queue is empty, false if the timeout came first.
  private async waitForOutput(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (let queued = outputQueueLength(this.fd); queued > 0; queued = outputQueueLength(this.fd)) {
      if (Date.now() >= deadline) return false;
      // Sleep about as long as the queue takes on the wire (10 bits per byte), within 1..50 ms.
      const ms = (queued * 10 * 1000) / this.openOptions.baudRate;
      await Bun.sleep(Math.min(50, Math.max(1, ms)));
    }
    return true;
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new PortError("EBADF", "Port is not open");
  }
}

function settingsFrom(options: OpenOptions): Required<OpenOptions> {
  const parity = options.parity ?? "none";
  if (!["none", "even", "odd", "mark", "space"].includes(parity)) {
    throw new PortError("EINVAL", `Unknown parity "${parity}"`);
  }
  if (options.stopBits === 1.5) throw new PortError("EINVAL", "1.5 stop bits are not supported on Linux");
  return {
    path: options.path,
    baudRate: options.baudRate,
    dataBits: options.dataBits ?? 8,
    lock: options.lock ?? true,
    stopBits: options.stopBits ?? 1,
    parity,
    rtscts: options.rtscts ?? false,
    xon: options.xon ?? false,
    xoff: options.xoff ?? false,
    xany: options.xany ?? false,
    hupcl: options.hupcl ?? true,
  };
}

function ttySettings(options: Required<OpenOptions>): TtySettings {
  return {
    baudRate: options.baudRate,
    hupcl: options.hupcl,
    dataBits: options.dataBits,
    stopBits: options.stopBits === 2 ? 2 : 1,
    parity: options.parity as TtySettings["parity"],
    rtscts: options.rtscts,
    xon: options.xon,
    xoff: options.xoff,
    xany: options.xany,
  };
}

/** Where {@link listLinuxSerialPorts} looks; tests point these at a fixture tree. */
export interface DeviceRoots {
  dev: string;
  sys: string;
}

const SERIAL_NAME = /^tty(USB|ACM|AMA|S)\d+$/;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

// 8250 drivers register ttyS0..31 whether or not a UART is there; absent ones report type 0.
function isRealUart(roots: DeviceRoots, name: string): boolean {
  const type = readText(join(roots.sys, "class/tty", name, "type"));
  return type !== undefined && type !== "0";
}

// Walks up from the tty's sysfs device to the USB device, which carries the ids and strings.
function usbInfo(roots: DeviceRoots, name: string): Partial<PortInfo> {
  let dir: string;
  try {
    dir = realpathSync(join(roots.sys, "class/tty", name, "device"));
  } catch {
    return {};
  }
  for (let depth = 0; depth < 5 && dir !== dirname(dir); depth++, dir = dirname(dir)) {
    const vendorId = readText(join(dir, "idVendor"));
    if (vendorId === undefined) continue;
    return {
      vendorId,
      productId: readText(join(dir, "idProduct")),
      manufacturer: readText(join(dir, "manufacturer")),
      serialNumber: readText(join(dir, "serial")),
      locationId: basename(dir),
    };
  }
  return {};
}

/**
 * Serial ports present on this machine: USB adapters (ttyUSB*), USB CDC boards (ttyACM*), SoC UARTs
 * (ttyAMA*), ttyS* only when a UART really exists, and anything /dev/serial/by-id points at. A UART
 * that is the kernel's console (a Pi's `console=serial0`, a VM's ttyS0) is left out: probing it
 * would type G-code into a login prompt and change the console's line settings.
 */
export function listLinuxSerialPorts(roots: DeviceRoots = { dev: "/dev", sys: "/sys" }): LinuxPortInfo[] {
  let dev: string;
  try {
    dev = realpathSync(roots.dev); // canonical, so by-id targets compare equal to listed names
  } catch {
    return [];
  }
  const byIdDir = join(dev, "serial/by-id");
  const byIdFor = new Map<string, string>(); // real device path → first by-id link to it
  for (const link of listDir(byIdDir).sort()) {
    try {
      const target = realpathSync(join(byIdDir, link));
      if (!byIdFor.has(target)) byIdFor.set(target, join(byIdDir, link));
    } catch {
      // A dangling link: the device is already gone.
    }
  }
  const consoles = new Set((readText(join(roots.sys, "class/tty/console/active")) ?? "").split(/\s+/));
  const devices = new Set(
    listDir(dev)
      .filter((name) => SERIAL_NAME.test(name) && !consoles.has(name))
      .filter((name) => !name.startsWith("ttyS") || isRealUart(roots, name))
      .map((name) => join(dev, name)),
  );
  // by-id also covers USB adapters with vendor drivers and unusual names (ttyXRUSB*, ttyCH343USB*).
  for (const target of byIdFor.keys()) devices.add(target);
  const ports: LinuxPortInfo[] = [];
  for (const path of devices) {
    const byIdPath = byIdFor.get(path);
    const usb = usbInfo(roots, basename(path));
    ports.push({
      path,
      manufacturer: usb.manufacturer,
      serialNumber: usb.serialNumber,
      pnpId: byIdPath === undefined ? undefined : basename(byIdPath),
      locationId: usb.locationId,
      productId: usb.productId,
      vendorId: usb.vendorId,
      byIdPath,
    });
  }
  return ports.sort((a, b) => a.path.localeCompare(b.path, "en", { numeric: true }));
}

/** Whether `fd` is open on the tty at `path` in this process (false without /proc). */
export function isOpenOn(fd: number, path: string): boolean {
  try {
    return fdTarget(fd) === realpathSync(path);
  } catch {
    return false;
  }
}

/**
 * A binding that takes up a tty this process already has open as `fd` (another thread opened and
 * configured it): no open, no locking, no change to its settings or modem lines.
 */
export function adoptingBinding(fd: number): typeof LinuxTtyBinding {
  return {
    ...LinuxTtyBinding,
    async open(options) {
      if (!isatty(fd)) throw new PortError("EBADF", `${options.path} is no longer open (descriptor ${fd})`);
      return new LinuxTtyPort(fd, settingsFrom(options));
    },
  };
}

/** The binding to pass to `SerialPortStream` as `binding`. */
export const LinuxTtyBinding: BindingInterface<LinuxTtyPort, OpenOptions, LinuxPortInfo> = {
  async list() {
    return listLinuxSerialPorts();
  },

  async open(options) {
    const settings = settingsFrom(options);
    // O_NOCTTY: a printer must never become our controlling terminal. O_NONBLOCK: open does not
    // wait for carrier, and reads/writes never block the JS thread.
    const fd = openSync(settings.path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    try {
      if (!isatty(fd)) throw new PortError("ENOTTY", `${settings.path} is not a serial device`);
      if (settings.lock) lockExclusive(fd);
      configureTty(fd, ttySettings(settings));
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return new LinuxTtyPort(fd, settings);
  },
};
