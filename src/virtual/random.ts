/**
 * Seeded randomness for the virtual printer. Two flavours: a sequential generator for decisions
 * taken in input order (faults), and a stateless hash for values tied to a point in simulated
 * time (sensor noise), so noise does not depend on how often the shell happened to wake us.
 */

/** mulberry32: small, fast, good enough for simulation. Example: `new SeededRandom(1).next()`. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = (seed ^ 0x9e3779b9) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/**
 * A uniform value in [0, 1) that depends only on its three inputs (murmur3-style mixing).
 * Example: `hash01(seed, heaterIndex, step)` gives the same noise for the same step every run.
 */
export function hash01(seed: number, a: number, b: number): number {
  let h = (seed ^ 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (a >>> 0), 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593);
  h = Math.imul(h ^ (b >>> 0), 0xcc9e2d51);
  h ^= Math.floor(b / 4294967296);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
