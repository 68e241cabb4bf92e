/**
 * The outline of what a file prints: the convex hull of the X/Y points its extruding moves reach,
 * kept as the file streams. The farm queue's fit on a round bed needs the farthest printed point from
 * the bed's centre, and where that centre is depends on the printer (0,0 on a delta, the middle
 * of the bed on others), not on the file: the farthest point of a shape from any point is one of
 * its hull's corners, so the hull answers for every centre, exactly. A box's corners would not
 * (a round part of nearly the bed's diameter has box corners far off a round bed).
 *
 * Cheap on the usual file: a point inside the hull so far (almost all of them, after the first
 * layer) is dropped after a binary search; the others are gathered and merged in batches
 * (Andrew's monotone chain). Pure; no I/O.
 */

/** Points gathered before they are merged into the hull. */
const BATCH = 512;
/**
 * The most corners kept. Real outlines have a few hundred (a round part's arcs as 1 mm chords);
 * past this the hull is thinned to its extreme corners in THIN_DIRECTIONS directions, each a
 * true corner, so a hostile file of millions of points on a circle costs neither memory nor time.
 */
const MAX_CORNERS = 2048;
const THIN_DIRECTIONS = 1024;

/** Twice the signed area of (o, a, b): > 0 when b is left of o→a. */
const cross = (ox: number, oy: number, ax: number, ay: number, bx: number, by: number) => (ax - ox) * (by - oy) - (ay - oy) * (bx - ox);

export class HullBuilder {
  /** Corners, counter-clockwise, as x0, y0, x1, y1, … */
  private hull: number[] = [];
  private pending: number[] = [];
  /** A box inside the hull: most points (infill) fall in it, and need no other test. */
  private inner = [Infinity, -Infinity, Infinity, -Infinity];
  private lastX = NaN;
  /** The wedge of the last point tested (see `inside`). */
  private wedge = 1;
  private lastY = NaN;

  add(x: number, y: number): void {
    // A printing move starts where the one before ended.
    if (x === this.lastX && y === this.lastY) return;
    this.lastX = x;
    this.lastY = y;
    const b = this.inner;
    if ((x >= b[0]! && x <= b[1]! && y >= b[2]! && y <= b[3]!) || this.inside(x, y)) return;
    this.pending.push(x, y);
    if (this.pending.length >= BATCH * 2) this.merge();
  }

  /** The hull's corners, counter-clockwise (empty when nothing was added; 1 or 2 for a point or a line). */
  result(): [number, number][] {
    this.merge();
    const out: [number, number][] = [];
    for (let i = 0; i < this.hull.length; i += 2) out.push([this.hull[i]!, this.hull[i + 1]!]);
    return out;
  }

  /** Whether (x, y) is inside the hull or on its edge: O(log n), by the wedge from corner 0. */
  private inside(x: number, y: number): boolean {
    const h = this.hull;
    const n = h.length / 2;
    if (n < 3) return false;
    const x0 = h[0]!;
    const y0 = h[1]!;
    if (cross(x0, y0, h[2]!, h[3]!, x, y) < 0 || cross(x0, y0, h[2 * n - 2]!, h[2 * n - 1]!, x, y) > 0) return false;
    // The wedge (corner lo, corner lo + 1) that holds the point: the last one found (the next
    // point is usually near), else by bisection.
    let lo = this.wedge;
    if (lo >= n - 1 || cross(x0, y0, h[2 * lo]!, h[2 * lo + 1]!, x, y) < 0 || cross(x0, y0, h[2 * lo + 2]!, h[2 * lo + 3]!, x, y) > 0) {
      lo = 1;
      let hi = n - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (cross(x0, y0, h[2 * mid]!, h[2 * mid + 1]!, x, y) >= 0) lo = mid;
        else hi = mid;
      }
      this.wedge = lo;
    }
    return cross(h[2 * lo]!, h[2 * lo + 1]!, h[2 * lo + 2]!, h[2 * lo + 3]!, x, y) >= 0;
  }

  private merge(): void {
    if (this.pending.length === 0) return;
    const points = this.hull.concat(this.pending);
    this.pending = [];
    this.hull = convexHull(points);
    if (this.hull.length > MAX_CORNERS * 2) this.hull = thin(this.hull, THIN_DIRECTIONS);
    this.inner = this.innerBox();
  }

  /**
   * The hull's bounding box shrunk about the corners' mean until its corners are inside the hull
   * (a convex shape holds the box then): a bisection of the scale, a few dozen point tests.
   */
  private innerBox(): number[] {
    const h = this.hull;
    const n = h.length / 2;
    const none = [Infinity, -Infinity, Infinity, -Infinity];
    if (n < 3) return none;
    let cx = 0;
    let cy = 0;
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let i = 0; i < n; i++) {
      const x = h[2 * i]!;
      const y = h[2 * i + 1]!;
      cx += x / n;
      cy += y / n;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
    const box = (s: number) => [cx + (x0 - cx) * s, cx + (x1 - cx) * s, cy + (y0 - cy) * s, cy + (y1 - cy) * s];
    const fits = (b: number[]) => this.inside(b[0]!, b[2]!) && this.inside(b[1]!, b[2]!) && this.inside(b[0]!, b[3]!) && this.inside(b[1]!, b[3]!);
    let lo = 0;
    let hi = 1;
    for (let k = 0; k < 12; k++) {
      const mid = (lo + hi) / 2;
      if (fits(box(mid))) lo = mid;
      else hi = mid;
    }
    return lo > 0 ? box(lo) : none;
  }
}

/** The convex hull (counter-clockwise, no collinear or repeated corners) of points given as x0, y0, x1, y1, … */
export function convexHull(flat: readonly number[]): number[] {
  const n = flat.length / 2;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => flat[2 * a]! - flat[2 * b]! || flat[2 * a + 1]! - flat[2 * b + 1]!);
  // Andrew's monotone chain: the lower chain left to right, the upper one back.
  const chain = (indices: Iterable<number>): number[] => {
    const c: number[] = [];
    for (const i of indices) {
      const x = flat[2 * i]!;
      const y = flat[2 * i + 1]!;
      while (c.length >= 4 && cross(c[c.length - 4]!, c[c.length - 3]!, c[c.length - 2]!, c[c.length - 1]!, x, y) <= 0) c.length -= 2;
      c.push(x, y);
    }
    return c;
  };
  const lower = chain(order);
  const upper = chain(order.toReversed());
  // Each chain's last point is the other's first.
  const out = lower.slice(0, -2).concat(upper.slice(0, -2));
  // All points the same: one corner.
  if (out.length === 4 && out[0] === out[2] && out[1] === out[3]) return out.slice(0, 2);
  return out.length > 0 ? out : lower;
}

/**
 * The corners that are farthest in `directions` evenly spread directions (each a corner of the
 * hull, in the same order). The extreme corner moves on counter-clockwise as the direction turns,
 * so one walk round the hull finds them all.
 */
function thin(hull: number[], directions: number): number[] {
  const n = hull.length / 2;
  const dot = (i: number, ux: number, uy: number) => hull[2 * (i % n)]! * ux + hull[2 * (i % n) + 1]! * uy;
  let j = 0;
  for (let i = 1; i < n; i++) if (dot(i, 1, 0) > dot(j, 1, 0)) j = i;
  const kept: number[] = [];
  for (let k = 0; k < directions; k++) {
    const a = (2 * Math.PI * k) / directions;
    const ux = Math.cos(a);
    const uy = Math.sin(a);
    let steps = 0;
    while (steps++ < n && dot(j + 1, ux, uy) >= dot(j, ux, uy)) j++;
    const at = j % n;
    if (kept[kept.length - 1] !== at && kept[0] !== at) kept.push(at);
  }
  return kept.flatMap((i) => [hull[2 * i]!, hull[2 * i + 1]!]);
}

/** The farthest a hull's corners are from (cx, cy): the farthest any point of the shape is. */
export function farthestFrom(hull: readonly (readonly [number, number])[], cx: number, cy: number): number {
  let far = 0;
  for (const [x, y] of hull) far = Math.max(far, Math.hypot(x - cx, y - cy));
  return far;
}
