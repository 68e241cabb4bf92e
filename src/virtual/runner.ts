/**
 * The imperative shell around {@link VirtualFirmware}: the real clock, one timer armed at the
 * firmware's next wake time (re-armed after every event, never a fixed polling interval), and
 * delivery of whatever the firmware printed. Shared by the in-process transport and the pty.
 */
import { VirtualFirmware } from "./firmware.ts";
import type { VirtualPrinterOptionsInput } from "./options.ts";
import type { ResetCause } from "./personalities.ts";

/** Example: `const r = new FirmwareRunner(opts, (text) => send(text)); r.start(); r.input("M105\n");` */
export class FirmwareRunner {
  readonly firmware: VirtualFirmware;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedFor: number | undefined;
  private running = false;

  /** `deliver` receives the firmware's output text; it is called synchronously after each event. */
  constructor(
    options: VirtualPrinterOptionsInput,
    private readonly deliver: (text: string) => void,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.firmware = new VirtualFirmware(options, clock());
  }

  /** Boots the firmware (banner) and starts the timer. */
  start(cause: ResetCause = "power-up"): void {
    this.running = true;
    this.firmware.boot(this.clock(), cause);
    this.afterEvent();
  }

  /** Bytes from the host (one char per byte). */
  input(bytes: string): void {
    if (!this.running) return;
    this.firmware.receive(bytes, this.clock());
    this.afterEvent();
  }

  /** Stops the timer; the firmware keeps its state for a later `start`. */
  stop(): void {
    this.running = false;
    this.disarm();
  }

  private afterEvent(): void {
    const out = this.firmware.takeOutput();
    if (out.length > 0) this.deliver(out);
    this.arm();
  }

  private arm(): void {
    if (!this.running) return;
    const at = this.firmware.nextWakeAt();
    if (at === this.armedFor && this.timer !== undefined) return;
    this.disarm();
    if (at === undefined) return;
    this.armedFor = at;
    this.timer = setTimeout(() => this.wake(), Math.max(0, Math.ceil(at - this.clock())));
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = undefined;
  }

  private wake(): void {
    this.timer = undefined;
    this.armedFor = undefined;
    if (!this.running) return;
    this.firmware.advance(this.clock());
    this.afterEvent();
  }
}
