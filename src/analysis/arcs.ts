/**
 * G2/G3 arcs as chords, one rule for the analyser (which plans the chords' motion) and the layer
 * viewer (which draws them), so what is drawn is what was measured. Pure.
 * Example: `planArc(0, 0, 20, 0, 10, 0, NaN, false)` is the half circle of radius 10 around (10, 0),
 * counter-clockwise, in 32 chords of about 1 mm.
 */

/** Arcs are cut into chords of about this length (Marlin's MM_PER_ARC_SEGMENT). */
export const ARC_SEGMENT_MM = 1;
/**
 * And at most one chord per degree: a wide arc's 1 mm chords meet at angles too small to slow the
 * head, so more of them change nothing but the time taken (a hostile file of circles a kilometre
 * wide would otherwise cost 10,000 chords per line).
 */
export const ARC_SEGMENT_ANGLE = Math.PI / 180;

export interface ArcPlan {
  cx: number;
  cy: number;
  radius: number;
  /** Angle of the start point around the centre, and the signed sweep to the end (radians). */
  start: number;
  sweep: number;
  /** How many chords; chord `s` (1…segments) ends at `arcPoint(plan, s)`, the last at the target. */
  segments: number;
}

/**
 * The arc from (x0, y0) to (tx, ty): centre offsets `i`/`j` from the start (NaN when the line has
 * neither: then `r`, the radius form, whose negative value takes the long way round), clockwise
 * for G2. Null when it is no arc (no centre given, or a radius too short to reach the target):
 * the firmware then moves straight, and so does the caller.
 */
export function planArc(x0: number, y0: number, tx: number, ty: number, i: number, j: number, r: number, clockwise: boolean): ArcPlan | null {
  let cx: number;
  let cy: number;
  if (!Number.isNaN(i) || !Number.isNaN(j)) {
    cx = x0 + (Number.isNaN(i) ? 0 : i);
    cy = y0 + (Number.isNaN(j) ? 0 : j);
  } else if (!Number.isNaN(r)) {
    // Radius form: the centre on the perpendicular bisector of the chord, on the side that makes
    // the arc shorter than a half circle for R > 0 and longer for R < 0 (Marlin's G2_G3.cpp).
    const mx = (tx - x0) / 2;
    const my = (ty - y0) / 2;
    const half = Math.hypot(mx, my);
    if (half === 0 || Math.abs(r) < half) return null;
    const h = Math.sqrt(r * r - half * half) * (clockwise !== r < 0 ? -1 : 1);
    cx = x0 + mx - (h * my) / half;
    cy = y0 + my + (h * mx) / half;
  } else return null;
  const radius = Math.hypot(x0 - cx, y0 - cy);
  const start = Math.atan2(y0 - cy, x0 - cx);
  let sweep = Math.atan2(ty - cy, tx - cx) - start;
  if (clockwise) {
    if (sweep >= 0) sweep -= 2 * Math.PI;
  } else if (sweep <= 0) sweep += 2 * Math.PI;
  const length = Math.abs(sweep) * radius;
  const segments = Math.max(1, Math.min(Math.ceil(length / ARC_SEGMENT_MM), Math.ceil(Math.abs(sweep) / ARC_SEGMENT_ANGLE)));
  return { cx, cy, radius, start, sweep, segments };
}

/** Where chord `s` of the arc ends (not for the last: that one ends exactly at the target). */
export function arcPoint(plan: ArcPlan, s: number): [number, number] {
  const angle = plan.start + plan.sweep * (s / plan.segments);
  return [plan.cx + plan.radius * Math.cos(angle), plan.cy + plan.radius * Math.sin(angle)];
}
