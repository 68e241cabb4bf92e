/**
 * The fault kinds that are not plain line damage, each against the host engine, and the
 * realistic timing mode (baud-rate wire, 128-byte receive buffer, real-time planner).
 */
import { describe, expect, test } from "bun:test";
import type { EngineEvent } from "../../src/protocol/engine.ts";
import { connect, smallSegments } from "./sim.ts";

const moves = (n: number) => Array.from({ length: n }, (_, i) => `G1 X${(i % 100) + 1} Y${(i * 3) % 100} F6000`);

describe("faults against the host", () => {
  test("a reset mid-print is detected: the engine reports it and re-synchronises", () => {
    const { sim, events } = connect({ faults: { reset: { lines: [100] } } });
    sim.stream(moves(500)[Symbol.iterator]());
    sim.run(() => events.some((e) => e.type === "reset"), 60_000);
    expect(events.filter((e) => e.type === "reset")).toHaveLength(1);
    // Back in step with the rebooted board: identified again, numbering from the start.
    expect(sim.run(() => sim.engine.identified, 60_000)).toBe(true);
    expect(sim.engine.state).toBe("operational");
  });

  test("a silence longer than every timeout ends in an explained error", () => {
    const { sim, events } = connect({ faults: { silence: { lines: [50], ms: 600_000 } } });
    sim.stream(moves(200)[Symbol.iterator]());
    sim.run(() => sim.engine.state === "error", 1_000_000);
    const state = events.filter((e) => e.type === "state").at(-1) as Extract<EngineEvent, { type: "state" }>;
    expect(state.problem?.code).toBe("timeout");
    expect(state.problem?.message).toMatch(/nothing received for \d+ s while waiting for "(G1|M105)/);
  });

  test("a busy heater holds a line for a minute with keep-alives: no timeout, no error", () => {
    const { sim, executed } = connect({ faults: { busyHeater: { lines: [20, 40], ms: 60_000 } } });
    const before = executed.length;
    const p = moves(100);
    sim.stream(p[Symbol.iterator]());
    expect(sim.run(() => sim.jobFinished && sim.engine.outstanding() === 0, 1_000_000)).toBe(true);
    expect(sim.engine.stats.timeouts).toBe(0);
    // The first keep-alive makes the host set their interval (M113 S2), between two job lines.
    expect(executed.slice(before).filter((c) => c !== "M113 S2")).toEqual(p);
  });

  test("a missing ok after a resend request is made up by the timer", () => {
    const { sim, executed, events } = connect({ faults: { corrupt: { lines: [30, 60] }, missingOkAfterResend: { every: 2 } } });
    const before = executed.length;
    const p = moves(80);
    sim.stream(p[Symbol.iterator]());
    expect(sim.run(() => sim.jobFinished && sim.engine.outstanding() === 0, 60_000)).toBe(true);
    expect(executed.slice(before)).toEqual(p);
    expect(sim.firmware.state.faults.missingOkAfterResend).toBe(1);
    expect(events.some((e) => e.type === "notice" && e.message.includes("assuming a lost ok"))).toBe(false);
  });
});

describe("realistic timing: 0.2 mm segments at 60 mm/s over 115200 baud", () => {
  function run(window: number) {
    const { sim } = connect({ timeScale: 1, advancedOk: true, baudRate: 115200, rxBufferBytes: 128 }, window);
    const before = sim.firmware.state;
    sim.stream(smallSegments(3000));
    expect(sim.run(() => sim.jobFinished && sim.engine.outstanding() === 0, 600_000)).toBe(true);
    const after = sim.firmware.state;
    return { underruns: after.underruns - before.underruns, overruns: after.overruns, window: sim.engine.stats.window };
  }

  test("one line in flight starves the planner; the window keeps it fed without overrunning the receive buffer", () => {
    const pingPong = run(1);
    const windowed = run(8);
    expect(pingPong.underruns).toBeGreaterThan(1000);
    expect(windowed.underruns).toBe(0);
    expect(windowed.overruns).toBe(0);
    expect(windowed.window).toBe(4); // Marlin's BUFSIZE, from ADVANCED_OK
  });
});
