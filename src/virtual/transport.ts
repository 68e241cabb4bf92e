/**
 * The built-in virtual printer as a {@link Transport}: bytes written go to an in-process
 * {@link VirtualFirmware}; its output comes back through `handlers.data`, always asynchronously
 * (never inside `write`), so the protocol engine sees the same shape of events as with a tty.
 */
import { Buffer } from "node:buffer";
import { TransportError, type Transport, type TransportHandlers } from "../transport/transport.ts";
import type { VirtualFirmware } from "./firmware.ts";
import type { ExecutedLine, VirtualPrinterOptionsInput } from "./options.ts";
import { FirmwareRunner } from "./runner.ts";

/** Example: `const t = new VirtualTransport({ timeScale: 0 }); await t.open(handlers);` */
export class VirtualTransport implements Transport {
  readonly description = "virtual";
  private readonly runner: FirmwareRunner;
  private handlers: TransportHandlers | undefined;
  private outbox: string[] = [];
  private deliveryScheduled = false;
  private opened = false;

  /** Options are validated here (throws on bad options); `onExecute` sees every executed command. */
  constructor(options: VirtualPrinterOptionsInput = {}, onExecute?: (line: ExecutedLine) => void) {
    const merged: VirtualPrinterOptionsInput = onExecute === undefined ? options : { ...options, onExecute };
    this.runner = new FirmwareRunner(merged, (text) => this.enqueue(text));
  }

  /** The simulated firmware, for status views and tests. */
  get firmware(): VirtualFirmware {
    return this.runner.firmware;
  }

  /** Powers the printer on (first open) or resets it like a DTR pulse (later opens): banner follows. */
  async open(handlers: TransportHandlers): Promise<void> {
    if (this.handlers !== undefined) {
      throw new TransportError("busy", "The virtual printer is already open", "Close the connection before opening it again.");
    }
    this.handlers = handlers;
    this.runner.start(this.opened ? "external" : "power-up");
    this.opened = true;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.handlers === undefined) {
      throw new TransportError("closed", "The virtual printer is not open", "Connect to the printer first.");
    }
    this.runner.input(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1"));
  }

  async close(): Promise<void> {
    this.runner.stop();
    this.handlers = undefined;
    this.outbox = [];
  }

  // setImmediate rather than a microtask: a host that answers every `ok` with the next line would
  // otherwise chain microtasks for a whole instant-mode print and starve timers and I/O.
  private enqueue(text: string): void {
    this.outbox.push(text);
    if (this.deliveryScheduled) return;
    this.deliveryScheduled = true;
    setImmediate(() => {
      this.deliveryScheduled = false;
      const handlers = this.handlers;
      const text = this.outbox.join("");
      this.outbox = [];
      if (handlers !== undefined && text.length > 0) handlers.data(Buffer.from(text, "latin1"));
    });
  }
}
