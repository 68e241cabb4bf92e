/**
 * Drives a VirtualFirmware on simulated time for tests: send lines, let time pass, and read the
 * output together with the simulated time each line appeared at.
 */
import { frame } from "../../src/protocol/framing.ts";
import { VirtualFirmware, type ExecutedLine } from "../../src/virtual/firmware.ts";
import type { VirtualPrinterOptionsInput } from "../../src/virtual/options.ts";
import type { ResetCause } from "../../src/virtual/personalities.ts";

/** A line the firmware printed and when (simulated ms). */
export interface Timed {
  t: number;
  line: string;
}

/** A firmware plus a fake clock and a record of everything it printed and executed. */
export class Bench {
  readonly fw: VirtualFirmware;
  readonly executed: ExecutedLine[] = [];
  readonly log: Timed[] = [];
  now: number;
  private cursor = 0;

  constructor(options: VirtualPrinterOptionsInput = {}, start = 0, boot = true) {
    this.now = start;
    this.fw = new VirtualFirmware({ ...options, onExecute: (l) => this.executed.push(l) }, start);
    if (boot) {
      this.fw.boot(start);
      this.collect();
      this.cursor = this.log.length; // tests start after the banner
    }
  }

  private collect(): void {
    const out = this.fw.takeOutput();
    if (out === "") return;
    if (!out.endsWith("\n")) throw new Error(`output not newline-terminated: ${JSON.stringify(out)}`);
    for (const line of out.slice(0, -1).split("\n")) this.log.push({ t: this.now, line });
  }

  /** Restarts the firmware now (banner lines go to the log). */
  reboot(cause: ResetCause): this {
    this.fw.boot(this.now, cause);
    this.collect();
    return this;
  }

  /** Writes raw bytes at the current time. */
  write(bytes: string): this {
    this.fw.receive(bytes, this.now);
    this.collect();
    return this;
  }

  /** Writes one line (adds the `\n`). */
  send(line: string): this {
    return this.write(`${line}\n`);
  }

  /** Writes `N<n> <command>*<cs>`. */
  sendN(n: number, command: string): this {
    return this.send(frame(n, command));
  }

  /** Lets time pass to `t`, waking at every event on the way (as the real shell would). */
  advanceTo(t: number): this {
    for (;;) {
      const w = this.fw.nextWakeAt();
      if (w === undefined || w > t) break;
      this.now = Math.max(this.now, w);
      this.fw.advance(this.now);
      this.collect();
    }
    this.now = Math.max(this.now, t);
    this.fw.advance(this.now);
    this.collect();
    return this;
  }

  /** Lets `ms` pass. */
  wait(ms: number): this {
    return this.advanceTo(this.now + ms);
  }

  /** Lines printed since the last call to `take` (or since the banner). */
  take(): string[] {
    const lines = this.log.slice(this.cursor).map((l) => l.line);
    this.cursor = this.log.length;
    return lines;
  }

  /** Timed lines printed since the last call to `take`/`takeTimed`. */
  takeTimed(): Timed[] {
    const lines = this.log.slice(this.cursor);
    this.cursor = this.log.length;
    return lines;
  }

  /** Runs time forward until `predicate` holds for a new line; returns the time it appeared. */
  until(predicate: (line: string) => boolean, limitMs = 3_600_000): Timed {
    const limit = this.now + limitMs;
    let seen = this.log.length;
    for (;;) {
      for (; seen < this.log.length; seen++) if (predicate(this.log[seen]!.line)) return this.log[seen]!;
      const w = this.fw.nextWakeAt();
      if (w === undefined || w > limit) throw new Error("condition not reached");
      this.now = Math.max(this.now, w);
      this.fw.advance(this.now);
      this.collect();
    }
  }
}

/**
 * A minimal ping-pong host that obeys `Resend:` (protocol.md §1.7): one line in flight, history of
 * sent lines, resend from the requested line on the next `ok`, and on silence (nothing pending in
 * the firmware and no `ok`) re-send the last line, as a host does after a communication timeout.
 * Returns the number of timeouts it needed.
 */
export function streamPingPong(bench: Bench, commands: string[], maxSteps = 10_000_000): { timeouts: number; resends: number } {
  const history: string[] = [];
  let nextNew = 1;
  let resendFrom: number | undefined;
  let lastSent = "";
  let timeouts = 0;
  let resends = 0;
  let done = false;
  const sendLine = (text: string) => {
    lastSent = text;
    bench.send(text);
  };
  const sendNext = () => {
    if (resendFrom !== undefined && resendFrom < nextNew) {
      sendLine(history[resendFrom]!);
      resends++;
      resendFrom++;
      if (resendFrom >= nextNew) resendFrom = undefined;
      return;
    }
    resendFrom = undefined;
    if (nextNew > commands.length) {
      done = true;
      return;
    }
    history[nextNew] = frame(nextNew, commands[nextNew - 1]!);
    nextNew++;
    sendLine(history[nextNew - 1]!);
  };
  sendLine(frame(0, "M110 N0"));
  for (let step = 0; step < maxSteps && !done; step++) {
    const lines = bench.take();
    let gotOk = false;
    for (const line of lines) {
      if (line.startsWith("Resend: ")) resendFrom = Number(line.slice(8));
      else if (line === "ok" || line.startsWith("ok ")) gotOk = true;
    }
    if (gotOk) {
      sendNext();
      continue;
    }
    const w = bench.fw.nextWakeAt();
    if (w !== undefined) {
      bench.advanceTo(w);
      continue;
    }
    // Silence: the line (or its ok) was lost. Send the same bytes again.
    timeouts++;
    sendLine(lastSent);
  }
  if (!done) throw new Error("stream did not finish");
  return { timeouts, resends };
}
