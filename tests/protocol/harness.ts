/**
 * Drives a ProtocolEngine like the controller does, with a fake clock, and records everything.
 */
import type { EngineEvent, ProtocolEngine } from "../../src/protocol/engine.ts";

export class EngineHarness {
  now = 0;
  sent: string[] = [];
  events: EngineEvent[] = [];
  constructor(readonly engine: ProtocolEngine) {}
  private drain() {
    this.sent.push(...this.engine.takeOutgoing());
    this.events.push(...this.engine.takeEvents());
  }
  open() {
    this.engine.open(this.now);
    this.drain();
    return this;
  }
  recv(...lines: string[]) {
    for (const l of lines) this.engine.receive(l, this.now);
    this.drain();
    return this;
  }
  send(command: string, tag?: number) {
    this.engine.enqueue(command, this.now, tag);
    this.drain();
    return this;
  }
  /** Lets `ms` pass, ticking at every deadline on the way (as the controller's timer does). */
  advance(ms: number) {
    const end = this.now + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      const d = this.engine.nextDeadline();
      if (d === undefined || d > end) break;
      this.now = Math.max(this.now, d);
      this.engine.tick(this.now);
      this.drain();
    }
    this.now = end;
    this.engine.tick(this.now);
    this.drain();
    return this;
  }
  /** Lines sent since the last call. */
  take(): string[] {
    const s = this.sent;
    this.sent = [];
    return s;
  }
  acked(): number[] {
    return this.events.flatMap((e) => (e.type === "acked" ? [e.tag] : []));
  }
  of<T extends EngineEvent["type"]>(type: T) {
    return this.events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type);
  }
}
