/**
 * Port and baud-rate auto-detection (`--serial auto`, protocol.md §3.2): every candidate port is
 * probed at once; on each, the likely baud rates are tried in turn by writing a bare newline and
 * the hello (`N0 M110 N0*125`) and waiting for a line that contains `start` or starts with `ok`
 * (`wait` counts too: a missed ok). Undecodable bytes mean a wrong rate: the next one is tried at
 * once. The port stays open while the rate changes, so a board that resets on open (DTR) is
 * reset once, and the first wait is long enough for it to boot. The first port that answers wins.
 */
import { listSerialPorts, SerialTransport } from "./serial.ts";
import { TransportError } from "./transport.ts";

/** The most likely rates first (OctoPrint's order); with several ports only the first two. */
export const BAUD_CANDIDATES = [115200, 250000, 230400, 57600, 38400, 19200, 9600];

/** What a probe needs from a port. */
export interface ProbeLink {
  open(onData: (chunk: Uint8Array) => void): Promise<void>;
  setBaudRate(baud: number): Promise<void>;
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

export interface DetectOptions {
  /** Ports to try; default: the serial ports present now (see listSerialPorts). */
  ports?: string[];
  /** Terminals to try besides the system's serial ports when `ports` is not given. */
  extraPorts?: readonly string[];
  bauds?: number[];
  /** Wait for the first answer on a port (a board reset by opening it needs ~2 s to boot). */
  firstWaitMs?: number;
  /** Wait at each further rate. */
  waitMs?: number;
  /** How a port is opened (tests pass fakes). */
  open?: (path: string, baud: number) => ProbeLink;
}

export interface Detected {
  port: string;
  baud: number;
}

const HELLO = "\nN0 M110 N0*125\n";
/** The hello goes out again after this long without an answer (garbage on the line may eat one, §3.2). */
const HELLO_AGAIN_MS = 2000;

function serialLink(path: string, baud: number): ProbeLink {
  const t = new SerialTransport({ path, baudRate: baud });
  return {
    open: (onData) => t.open({ data: onData, closed: () => undefined }),
    setBaudRate: (b) => t.setBaudRate(b),
    write: (text) => t.write(new TextEncoder().encode(text)),
    close: () => t.close(),
  };
}

/** Whether received bytes look like a printer at the right rate: printable lines. */
function verdict(text: string): "answer" | "garbage" | "nothing" {
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "").trim();
    if (line.includes("start") || /^ok(\s|$)/.test(line) || line === "wait") return "answer";
  }
  let bad = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 10 && c !== 13 && c !== 9) || c > 126) bad++;
  }
  return bad > 2 && bad * 10 > text.length ? "garbage" : "nothing";
}

/** Probes one port through its rates; resolves with the rate that answered, or undefined. */
async function probe(port: string, bauds: number[], options: DetectOptions, stopped: () => boolean): Promise<number | undefined> {
  const link = (options.open ?? serialLink)(port, bauds[0]!);
  let received = "";
  let wake: (() => void) | undefined;
  try {
    await link.open((chunk) => {
      received += Buffer.from(chunk).toString("latin1");
      wake?.();
    });
  } catch {
    return undefined; // busy, gone, no permission: not our printer
  }
  try {
    for (let i = 0; i < bauds.length && !stopped(); i++) {
      if (i > 0) await link.setBaudRate(bauds[i]!);
      received = "";
      await link.write(HELLO);
      let helloAt = Date.now();
      const deadline = helloAt + (i === 0 ? (options.firstWaitMs ?? 5000) : (options.waitMs ?? 2000));
      let seen: "answer" | "garbage" | "nothing" = "nothing";
      while (Date.now() < deadline && !stopped()) {
        seen = verdict(received);
        if (seen !== "nothing") break;
        if (Date.now() - helloAt >= HELLO_AGAIN_MS) {
          await link.write(HELLO);
          helloAt = Date.now();
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(100, deadline - Date.now()));
        });
        wake = undefined;
      }
      if (seen === "answer") return bauds[i];
    }
    return undefined;
  } finally {
    await link.close().catch(() => undefined);
  }
}

/**
 * Finds the printer: the first port and rate that answer. Throws a {@link TransportError} with
 * the ports tried when none does.
 */
export async function detectPrinter(options: DetectOptions = {}): Promise<Detected> {
  const ports = options.ports ?? (await listSerialPorts(options.extraPorts)).map((p) => p.path);
  if (ports.length === 0) {
    throw new TransportError("not_found", "No serial port found to look for a printer on", "Plug the printer in and switch it on, then connect again.");
  }
  const bauds = options.bauds ?? (ports.length > 1 ? BAUD_CANDIDATES.slice(0, 2) : BAUD_CANDIDATES);
  let found: Detected | undefined;
  await Promise.all(
    ports.map(async (port) => {
      const baud = await probe(port, bauds, options, () => found !== undefined);
      if (baud !== undefined && !found) found = { port, baud };
    }),
  );
  if (found) return found;
  throw new TransportError(
    "not_found",
    `No printer answered on ${ports.join(", ")} at ${bauds.join(", ")} baud`,
    "Check that the printer is switched on and its USB cable carries data; if you know its port and rate, give them instead of auto.",
  );
}
