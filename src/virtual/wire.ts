/**
 * One direction of a serial line at a baud rate: bytes leave one after another, each taking ten
 * bit times (8N1), so a line sent while the wire is busy waits for the bytes ahead of it. With
 * baud 0 the wire is instant. Pure: times are passed in.
 */
export class Wire {
  private readonly byteMs: number;
  private freeAt = 0;

  constructor(baudRate: number) {
    this.byteMs = baudRate > 0 ? 10_000 / baudRate : 0;
  }

  get instant(): boolean {
    return this.byteMs === 0;
  }

  /**
   * Puts `bytes` on the wire at `now`; returns when the byte at each offset in `marks` has arrived
   * (offsets are 0-based, the arrival of byte i is the end of its 10 bits).
   * Example: at 115200 baud `send(34, 0, [33])[0]` ≈ 2.95 ms.
   */
  send(bytes: number, now: number, marks: number[]): number[] {
    const start = Math.max(now, this.freeAt);
    this.freeAt = start + bytes * this.byteMs;
    return marks.map((i) => start + (i + 1) * this.byteMs);
  }

  /** When the last byte sent so far will have arrived. */
  get busyUntil(): number {
    return this.freeAt;
  }
}
