/**
 * The move queue (Marlin's planner buffer): a fixed number of blocks executed one after another.
 * A block's duration is decided when it is queued; blocks run back to back, so each block's end
 * time is known at once. When the buffer is full the next move must wait, which withholds its
 * `ok` and is how a real printer paces the host.
 */

/** Machine position in mm: x, y, z, e. */
export type Vec4 = [number, number, number, number];

/** One queued move. Times are wall-clock ms. */
export interface Block {
  readonly from: Vec4;
  readonly to: Vec4;
  readonly startsAt: number;
  readonly endsAt: number;
}

/** Example: `planner.add(from, to, 250, now)` queues a 250 ms move; `planner.complete(now)` retires done ones. */
export class Planner {
  private blocks: Block[] = [];
  private head = 0;

  constructor(readonly capacity: number) {}

  /** Blocks queued or executing. */
  get length(): number {
    return this.blocks.length - this.head;
  }

  get isFull(): boolean {
    return this.length >= this.capacity;
  }

  get isEmpty(): boolean {
    return this.length === 0;
  }

  /** When the last queued block ends (even if already retired), or undefined before the first. */
  lastEndAt: number | undefined;

  /** Queues a move of `durationMs` (wall clock); it starts when the previous one ends, or now. */
  add(from: Vec4, to: Vec4, durationMs: number, now: number): void {
    const last = this.blocks[this.blocks.length - 1];
    const startsAt = this.length > 0 && last !== undefined ? Math.max(last.endsAt, now) : now;
    this.blocks.push({ from, to, startsAt, endsAt: startsAt + durationMs });
    this.lastEndAt = startsAt + durationMs;
  }

  /** Retires every block that has finished by `now`; returns how many. */
  complete(now: number): number {
    let done = 0;
    while (this.head < this.blocks.length && this.blocks[this.head]!.endsAt <= now) {
      this.head++;
      done++;
    }
    // Compact now and then instead of shifting on every block.
    if (this.head > 64 && this.head * 2 > this.blocks.length) {
      this.blocks = this.blocks.slice(this.head);
      this.head = 0;
    }
    return done;
  }

  /** When the executing block ends, or undefined when idle. */
  nextEndAt(): number | undefined {
    return this.head < this.blocks.length ? this.blocks[this.head]!.endsAt : undefined;
  }

  /** Where the tool is at `now` (linear within the executing block), or undefined when idle. */
  positionAt(now: number): Vec4 | undefined {
    const b = this.blocks[this.head];
    if (b === undefined) return undefined;
    const span = b.endsAt - b.startsAt;
    const f = span > 0 ? Math.min(1, Math.max(0, (now - b.startsAt) / span)) : 1;
    return [0, 1, 2, 3].map((i) => b.from[i]! + (b.to[i]! - b.from[i]!) * f) as Vec4;
  }

  /** Drops every queued block (M410 quick-stop, reset). */
  clear(): void {
    this.blocks = [];
    this.head = 0;
  }
}
