import { describe, expect, test } from "bun:test";
import { defaultLimits, type MachineLimits } from "../../src/analysis/limits.ts";
import { MOVE_PRINT, MOVE_TRAVEL, MotionPlanner } from "../../src/analysis/planner.ts";

/** A planner with 1000 mm/s² everywhere and 10 mm/s jerk on X/Y, fast axes. */
function planner(patch: Partial<MachineLimits> = {}): MotionPlanner {
  const base = defaultLimits();
  return new MotionPlanner({
    ...base,
    maxFeedrate: { x: 500, y: 500, z: 5, e: 100 },
    maxAcceleration: { x: 10_000, y: 10_000, z: 1000, e: 10_000 },
    maxJerk: { x: 10, y: 10, z: 0.4, e: 5 },
    printAcceleration: 1000,
    travelAcceleration: 1000,
    retractAcceleration: 1000,
    maxPrintAcceleration: 1000,
    maxTravelAcceleration: 1000,
    maxRetractAcceleration: 1000,
    ...patch,
  });
}

// A 100 mm move at 50 mm/s from and to the jerk speed (10 mm/s), 1000 mm/s²:
// 0.04 s to accelerate over 1.2 mm, the same to brake, 97.6 mm cruising at 50 mm/s.
const STRAIGHT_100 = 0.04 + 0.04 + 97.6 / 50;

describe("motion planner", () => {
  test("a single move is a trapezoid from and to the jerk speed", () => {
    const p = planner();
    p.move(100, 0, 0, 0, 50, MOVE_TRAVEL, 0);
    expect(p.finish()).toBeCloseTo(STRAIGHT_100, 9);
  });

  test("look-ahead: two collinear halves take exactly as long as the whole", () => {
    const p = planner();
    p.move(50, 0, 0, 0, 50, MOVE_TRAVEL, 0);
    p.move(50, 0, 0, 0, 50, MOVE_TRAVEL, 10);
    expect(p.finish()).toBeCloseTo(STRAIGHT_100, 9);
  });

  test("a 90° corner slows to the jerk speed", () => {
    const p = planner();
    p.move(50, 0, 0, 0, 50, MOVE_TRAVEL, 0);
    p.move(0, 50, 0, 0, 50, MOVE_TRAVEL, 10);
    expect(p.finish()).toBeCloseTo(2 * (0.08 + 47.6 / 50), 9);
  });

  test("a short move never reaches its feed rate (triangle profile)", () => {
    const p = planner();
    p.move(1, 0, 0, 0, 100, MOVE_PRINT, 0);
    const peak = Math.sqrt(100 + 2 * 1000 * 0.5);
    expect(p.finish()).toBeCloseTo((2 * (peak - 10)) / 1000, 9);
  });

  test("axis limits cap the feed rate (M203) and the acceleration (M201)", () => {
    const p = planner();
    p.move(0, 0, 10, 0, 100, MOVE_TRAVEL, 0); // Z at most 5 mm/s
    expect(p.finish()).toBeGreaterThan(10 / 5);
    const q = planner({ maxAcceleration: { x: 100, y: 10_000, z: 1000, e: 10_000 } });
    q.move(100, 0, 0, 0, 50, MOVE_TRAVEL, 0);
    expect(q.finish()).toBeCloseTo(0.4 + 0.4 + 76 / 50, 9); // 100 mm/s² on X: 12 mm to reach 50 mm/s
  });

  test("M204 values are clamped to the machine's maximum, and travel uses its own", () => {
    const p = planner();
    p.setPrintAcceleration(5000);
    expect(p.printAcceleration).toBe(1000);
    p.setTravelAcceleration(100);
    p.move(100, 0, 0, 0, 50, MOVE_TRAVEL, 0);
    const slow = p.finish();
    const q = planner();
    q.setTravelAcceleration(100);
    q.move(100, 0, 0, 0.5, 50, MOVE_PRINT, 0);
    expect(slow).toBeGreaterThan(q.finish());
  });

  test("junction deviation (M205 J) corners at sqrt(a·jd·sin(θ/2)/(1−sin(θ/2)))", () => {
    const p = planner({ junctionDeviation: 0.05, maxJerk: { x: 1000, y: 1000, z: 1000, e: 1000 } });
    p.move(50, 0, 0, 0, 50, MOVE_TRAVEL, 0);
    p.move(0, 50, 0, 0, 50, MOVE_TRAVEL, 10);
    const s = Math.sqrt(0.5);
    const v = Math.sqrt((1000 * 0.05 * s) / (1 - s));
    // Starting and ending at full speed (the jerk is no limit here), braking to v at the corner.
    const brake = (50 - v) / 1000;
    const brakeDist = (50 * 50 - v * v) / 2000;
    expect(p.finish()).toBeCloseTo(2 * (brake + (50 - brakeDist) / 50), 6);
  });

  test("dwells add their time; marks resolve to the elapsed time at their byte offset", () => {
    const p = planner();
    p.mark(0);
    p.move(100, 0, 0, 0, 50, MOVE_TRAVEL, 0);
    p.mark(100);
    p.synchronize(4);
    p.mark(150);
    p.move(100, 0, 0, 0, 50, MOVE_TRAVEL, 200);
    p.mark(300);
    const total = p.finish();
    expect(total).toBeCloseTo(2 * STRAIGHT_100 + 4, 9);
    expect(p.markTimes[0]).toBe(0);
    expect(p.markTimes[1]).toBeCloseTo(STRAIGHT_100 + 4, 9); // the wait happened before the next move
    expect(p.markTimes[2]).toBeCloseTo(STRAIGHT_100 + 4, 9);
    expect(p.markTimes[3]).toBeCloseTo(total, 9);
  });

  test("planning in batches matches planning at once for a long path", () => {
    // 1000 segments of a polygon: the queue is re-planned every 256 blocks.
    const p = planner();
    let t = 0;
    for (let i = 0; i < 1000; i++) {
      const a = (i * 2 * Math.PI) / 100;
      p.move(Math.cos(a), Math.sin(a), 0, 0.05, 40, MOVE_PRINT, i);
      t += 1 / 40;
    }
    const total = p.finish();
    // Gentle 3.6° turns keep the speed up: close to distance / feed rate.
    expect(total).toBeGreaterThan(t);
    expect(total).toBeLessThan(t * 1.01);
  });
});
