/**
 * The outline of a print (src/analysis/hull.ts): the streamed hull against a brute-force check on
 * random points, the corner cases (nothing, one point, a line, repeated points), and a hostile
 * file's millions of points on a circle kept to a bounded outline that still reaches as far.
 */
import { describe, expect, test } from "bun:test";
import { convexHull, farthestFrom, HullBuilder } from "../../src/analysis/hull.ts";

/** A seeded generator (mulberry32): the same points every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const streamed = (points: [number, number][]) => {
  const b = new HullBuilder();
  for (const [x, y] of points) b.add(x, y);
  return b.result();
};
const cross = (o: number[], a: number[], b: number[]) => (a[0]! - o[0]!) * (b[1]! - o[1]!) - (a[1]! - o[1]!) * (b[0]! - o[0]!);

describe("the outline", () => {
  test("random points: every point inside, every corner one of them, convex and counter-clockwise", () => {
    const rnd = random(42);
    // Clustered like a print (most inside), with a few far ones late in the stream.
    const points: [number, number][] = Array.from({ length: 20_000 }, (_, i) => (i % 997 === 0 ? [rnd() * 300 - 50, rnd() * 300 - 50] : [100 + rnd() * 50, 80 + rnd() * 40]));
    const hull = streamed(points);
    const keys = new Set(points.map(([x, y]) => `${x},${y}`));
    for (const c of hull) expect(keys.has(`${c[0]},${c[1]}`)).toBe(true);
    for (let i = 0; i < hull.length; i++) expect(cross(hull[i]!, hull[(i + 1) % hull.length]!, hull[(i + 2) % hull.length]!)).toBeGreaterThan(0);
    for (const p of points) for (let i = 0; i < hull.length; i++) expect(cross(hull[i]!, hull[(i + 1) % hull.length]!, p)).toBeGreaterThanOrEqual(-1e-9);
    // Streamed in batches or all at once: the same outline.
    const flat = points.flat();
    const once = convexHull(flat);
    expect(hull.flat()).toEqual(once);
  });

  test("nothing, a point, a line, the same point again", () => {
    expect(streamed([])).toEqual([]);
    expect(streamed([[3, 4]])).toEqual([[3, 4]]);
    expect(streamed([[3, 4], [3, 4], [3, 4]])).toEqual([[3, 4]]);
    expect(streamed([[0, 0], [5, 5], [10, 10], [2, 2]])).toEqual([[0, 0], [10, 10]]);
    expect(farthestFrom([], 0, 0)).toBe(0);
  });

  test("the farthest point from any centre is a corner's", () => {
    const square: [number, number][] = [[0, 0], [10, 0], [10, 10], [0, 10], [5, 5], [2, 8]];
    const hull = streamed(square);
    expect(hull).toHaveLength(4);
    expect(farthestFrom(hull, 0, 0)).toBeCloseTo(Math.SQRT2 * 10, 9);
    expect(farthestFrom(hull, 5, 5)).toBeCloseTo(Math.SQRT2 * 5, 9);
  });

  test("a hostile file's million points on a circle: a bounded outline that reaches as far", () => {
    const n = 1_000_000;
    const b = new HullBuilder();
    const started = performance.now();
    for (let i = 0; i < n; i++) b.add(100 * Math.cos((2 * Math.PI * i * 7919) / n), 100 * Math.sin((2 * Math.PI * i * 7919) / n));
    const hull = b.result();
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(hull.length).toBeLessThanOrEqual(2048);
    expect(farthestFrom(hull, 0, 0)).toBeCloseTo(100, 6);
    // Off-centre too: the thinned outline is within a hundredth of a millimetre of the circle's reach.
    expect(Math.abs(farthestFrom(hull, 30, -40) - 150)).toBeLessThan(0.01);
  });
});
