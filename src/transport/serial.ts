/**
 * The serial transport: a printer on a Linux tty (/dev/ttyUSB0, /dev/ttyACM0, ...), driven through
 * `@serialport/stream` with our own Bun-compatible binding.
 */
import { SerialPortStream } from "@serialport/stream";
import { Glob } from "bun";
import { readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { adoptingBinding, LinuxTtyBinding, listLinuxSerialPorts, PortError, WRITTEN, type LinuxPortInfo, type LinuxTtyPort } from "./binding.ts";
import { TransportError, type Transport, type TransportHandlers } from "./transport.ts";

/** Where and how fast to talk; the line is always raw 8N1 without flow control. */
export interface SerialTransportOptions {
  /** Device path, e.g. /dev/ttyUSB0 or a /dev/serial/by-id link. */
  path: string;
  baudRate: number;
  /** Drop DTR on close (resets Arduino-style boards). Default false: closing leaves the printer alone. */
  hupcl?: boolean;
  /** Take up this descriptor of the tty, already open and configured (a stopped printer thread's), instead of opening it. */
  adopt?: number;
}

/**
 * Where Klipper puts its pseudo-tty by default (its `-I` option): older installs `/tmp/printer`,
 * KIAUH/MainsailOS installs `~/printer_data/comms/klippy.serial`.
 */
const KLIPPER_PSEUDO_TTYS = ["/tmp/printer", join(homedir(), "printer_data/comms/klippy.serial")];

/**
 * Serial ports worth offering for a printer, for auto-detection and the connect dialog: the
 * system's serial devices, Klipper's pseudo-tty, and the terminals that match `extra` (absolute
 * paths; `*`, `?` and `[…]` allowed in the last part), such as a udev alias.
 */
export async function listSerialPorts(extra: readonly string[] = []): Promise<LinuxPortInfo[]> {
  const ports = await LinuxTtyBinding.list();
  const known = new Set(ports.map((p) => p.path));
  for (const path of [...KLIPPER_PSEUDO_TTYS, ...extra].flatMap(matchingTerminals)) {
    if (known.has(path)) continue;
    known.add(path);
    ports.push({ path, manufacturer: undefined, serialNumber: undefined, pnpId: undefined, locationId: undefined, productId: undefined, vendorId: undefined, byIdPath: undefined });
  }
  return ports;
}

/** The character devices (after links) a pattern names; nothing else is offered as a port. */
function matchingTerminals(pattern: string): string[] {
  const dir = dirname(pattern);
  const glob = new Glob(basename(pattern));
  let names: string[];
  try {
    names = /[*?[]/.test(basename(pattern)) ? readdirSync(dir).filter((n) => glob.match(n)).sort() : [basename(pattern)];
  } catch {
    return []; // the folder is not there (yet)
  }
  return names.map((n) => join(dir, n)).filter((path) => {
    try {
      return statSync(path).isCharacterDevice();
    } catch {
      return false;
    }
  });
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return undefined;
}

// @serialport/stream's typings lose the port type (its own import of the binding interface does
// not resolve under ESM resolution), so it is named here, once.
function portOf(stream: SerialPortStream<typeof LinuxTtyBinding> | undefined): LinuxTtyPort | undefined {
  return stream?.port as LinuxTtyPort | undefined;
}

function portsHint(): string {
  let ports: LinuxPortInfo[];
  try {
    ports = listLinuxSerialPorts();
  } catch {
    ports = [];
  }
  const where = "/dev/serial/by-id, /dev/ttyUSB*, /dev/ttyACM*, /dev/ttyAMA*, /dev/ttyS*";
  if (ports.length === 0) return `No serial devices found under ${where}.`;
  const names = ports.map((p) => (p.byIdPath === undefined ? p.path : `${p.byIdPath} → ${p.path}`));
  return `Serial devices present now under ${where}: ${names.join(", ")}.`;
}

/**
 * Turns whatever the binding, node:fs or termios threw into a {@link TransportError} with a sentence
 * a user can act on. Keyed on errno names, so it covers open, configure, read and write failures.
 */
export function transportErrorFor(error: unknown, path: string, baudRate: number): TransportError {
  if (error instanceof TransportError) return error;
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return new TransportError(
        "not_found",
        `Serial device ${path} does not exist`,
        `Check that the printer is plugged in and switched on, and the USB cable carries data. ${portsHint()}`,
      );
    case "ENXIO":
    case "ENODEV":
      return new TransportError(
        "not_found",
        `Serial device ${path} has no hardware behind it`,
        `The device node exists but no device answers; replug the printer. ${portsHint()}`,
      );
    case "ENOTTY":
    case "EISDIR":
      return new TransportError(
        "not_found",
        `${path} is not a serial device`,
        `Choose a serial port such as /dev/ttyUSB0 or /dev/ttyACM0. ${portsHint()}`,
      );
    case "EACCES":
    case "EPERM":
      return new TransportError(
        "permission",
        `No permission to open ${path}`,
        "Add your user to the dialout group: `sudo usermod -aG dialout $USER`, then log out and in again.",
      );
    case "EBUSY":
    case "EWOULDBLOCK":
    case "EAGAIN":
      return new TransportError(
        "busy",
        `${path} is in use by another program`,
        "Close other programs using the printer (OctoPrint, Pronterface, Cura, another Layerline). " +
          "ModemManager also grabs new USB serial devices: `sudo systemctl disable --now ModemManager`.",
      );
    case "EINVAL":
      return new TransportError(
        "bad_baud",
        // termios already words these as "Baud rate N is not supported by the driver (...)"
        detail.startsWith("Baud rate ") ? `${path}: b${detail.slice(1)}` : `${path} cannot run at ${baudRate} baud: ${detail}`,
        "Use the rate set in the printer firmware (usually 115200 or 250000). " +
          "Some cheap USB adapters cannot do non-standard rates such as 250000.",
      );
    case "HANGUP":
      return new TransportError(
        "closed",
        `${path} hung up`,
        "The printer was unplugged, switched off or reset, or the other end closed the link. " +
          "Check the USB cable and power, then connect again.",
      );
    case "ECANCELED":
      return new TransportError("closed", `The connection to ${path} was closed`, "Connect again to continue.");
    default:
      return new TransportError(
        "io",
        `Lost the connection to ${path}: ${detail}`,
        "The device stopped responding, most likely it was unplugged or lost power. " +
          "Check the USB cable and power, then connect again.",
      );
  }
}

/** A printer on a serial port. */
export class SerialTransport implements Transport {
  readonly description: string;
  private stream: SerialPortStream<typeof LinuxTtyBinding> | undefined;
  private lost: TransportError | undefined;
  private closed: ((error: TransportError) => void) | undefined;

  constructor(private readonly options: SerialTransportOptions) {
    this.description = `${options.path} @ ${options.baudRate}`;
  }

  /** Opens and configures the port; rejects with a TransportError naming the path and a fix. */
  async open(handlers: TransportHandlers): Promise<void> {
    const { path, baudRate } = this.options;
    if (this.stream !== undefined) {
      throw new TransportError("busy", `${path} is already open`, "Close the connection before opening it again.");
    }
    const stream = new SerialPortStream({
      binding: this.options.adopt === undefined ? LinuxTtyBinding : adoptingBinding(this.options.adopt),
      path,
      baudRate,
      hupcl: this.options.hupcl ?? false,
      autoOpen: false,
    });
    // Errors of our own calls come back to their callbacks; this keeps any other one handled.
    stream.on("error", () => undefined);
    try {
      await new Promise<void>((resolve, reject) => stream.open((error) => (error ? reject(error) : resolve())));
    } catch (error) {
      throw transportErrorFor(error, path, baudRate);
    }
    this.stream = stream;
    this.lost = undefined;
    this.closed = handlers.closed;
    // The bytes bypass the stream's Readable and Writable: every chunk goes from the port to
    // `handlers.data`, every write straight to the port (a line costs one write(2), no stream
    // machinery, no copy). The stream still opens, configures and closes the port.
    portOf(stream)!.listen({ data: handlers.data, end: (error) => this.linkLost(stream, error) });
  }

  /** The link died on its own (hang-up, failed read or write): closes the port, then reports it once. */
  private linkLost(stream: SerialPortStream<typeof LinuxTtyBinding>, error: unknown): void {
    if (this.stream !== stream) return; // closed by us, or already reported
    this.stream = undefined; // allows open() again to reconnect
    const lost = transportErrorFor(portOf(stream)?.failure ?? error, this.options.path, this.options.baudRate);
    this.lost = lost;
    const closed = this.closed;
    if (stream.isOpen) stream.close(() => closed?.(lost));
    else closed?.(lost);
  }

  /** Queues bytes; resolves once the kernel has all of them. Order is kept across calls. */
  write(bytes: Uint8Array): Promise<void> {
    const { path, baudRate } = this.options;
    const stream = this.stream;
    if (stream === undefined || !stream.isOpen) {
      return Promise.reject(
        this.lost ?? new TransportError("closed", `${path} is not open`, "Connect to the printer first."),
      );
    }
    const written = portOf(stream)!.write(bytes);
    if (written === WRITTEN) return written;
    return written.catch((error: unknown) => {
      if (!(error instanceof PortError && error.canceled)) this.linkLost(stream, error);
      throw this.lost ?? transportErrorFor(portOf(stream)?.failure ?? error, path, baudRate);
    });
  }

  /** The open tty's descriptor (for the thread that may have to take it over), or undefined. */
  get fd(): number | undefined {
    return portOf(this.stream)?.fd;
  }

  receiveNow(timeoutMs: number): boolean {
    return portOf(this.stream)?.receiveNow(timeoutMs) ?? false;
  }

  /** Closes the port; pending writes reject with code "closed" and handlers.closed is not called. */
  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    if (stream === undefined || !stream.isOpen) return;
    await new Promise<void>((resolve) => stream.close(() => resolve()));
  }

  /** Changes the rate of the open port without closing it (no DTR reset). */
  async setBaudRate(baudRate: number): Promise<void> {
    const stream = this.stream;
    if (stream === undefined || !stream.isOpen) {
      throw new TransportError("closed", `${this.options.path} is not open`, "Connect to the printer first.");
    }
    await new Promise<void>((resolve, reject) =>
      stream.update({ baudRate }, (error) => (error ? reject(transportErrorFor(error, this.options.path, baudRate)) : resolve())),
    );
  }

  /** The rate the kernel actually runs the port at (TCGETS2 read-back), for diagnostics. */
  async actualBaudRate(): Promise<number> {
    const port = portOf(this.stream);
    if (port === undefined || !port.isOpen) {
      throw new TransportError("closed", `${this.options.path} is not open`, "Connect to the printer first.");
    }
    return (await port.getBaudRate()).baudRate;
  }

  /** How often writes found the kernel buffer full and waited; high counts mean a slow link. */
  get writeStalls(): number {
    return portOf(this.stream)?.writeStalls ?? 0;
  }
}
