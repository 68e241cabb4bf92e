import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { clean } from "../../src/protocol/framing.ts";
import { Bench, streamPingPong } from "./harness.ts";

const TORUS = "/work/shared/data/gcode/ps25_ender3_torus_0.20normal_pla.gcode";

function program(count: number): string[] {
  const lines = ["G90", "M83", "G92 E0", "M302 P1"];
  for (let i = 0; lines.length < count; i++) lines.push(`G1 X${(i % 200) + 1} Y${(i * 7) % 200} E0.05 F6000`);
  return lines;
}

function commandsOf(b: Bench): string[] {
  return b.executed.map((e) => e.command);
}

describe("virtual firmware: executed log", () => {
  test("every accepted line runs exactly once, in order (clean link)", () => {
    const cmds = program(500);
    const b = new Bench({ timeScale: 0 });
    const r = streamPingPong(b, cmds);
    expect(commandsOf(b)).toEqual(["M110 N0", ...cmds]);
    expect(b.executed.slice(1).map((e) => e.n)).toEqual(cmds.map((_, i) => i + 1));
    expect(r).toEqual({ timeouts: 0, resends: 0 });
  });

  test("corrupted lines (explicit and every n-th) are resent and still run once", () => {
    const cmds = program(400);
    const b = new Bench({ timeScale: 0, faults: { corrupt: { lines: [3, 50, 51, 300], every: 37 } } });
    const r = streamPingPong(b, cmds);
    expect(commandsOf(b)).toEqual(["M110 N0", ...cmds]);
    expect(b.fw.state.faults.corrupted).toBeGreaterThanOrEqual(14);
    expect(r.resends).toBe(b.fw.state.faults.corrupted);
    const errors = b.log.filter((l) => l.line.startsWith("Error:checksum mismatch"));
    expect(errors.length).toBe(b.fw.state.faults.corrupted);
  });

  test("lost lines are recovered by the host's timeout resend and still run once", () => {
    const cmds = program(300);
    const b = new Bench({ timeScale: 0, faults: { drop: { lines: [1, 10, 250], every: 41 } } });
    const r = streamPingPong(b, cmds);
    expect(commandsOf(b)).toEqual(["M110 N0", ...cmds]);
    expect(b.fw.state.faults.dropped).toBeGreaterThanOrEqual(10);
    expect(r.timeouts).toBe(b.fw.state.faults.dropped);
  });

  test("random corruption and loss together, at realistic speed, with moves in the planner", () => {
    const cmds = program(600);
    const b = new Bench({ seed: 11, timeScale: 1, faults: { corrupt: { probability: 0.05 }, drop: { probability: 0.03 } } });
    streamPingPong(b, cmds);
    expect(commandsOf(b)).toEqual(["M110 N0", ...cmds]);
    const { corrupted, dropped } = b.fw.state.faults;
    expect(corrupted).toBeGreaterThan(10);
    expect(dropped).toBeGreaterThan(5);
  });

  test("a whole slicer file streams at link speed in instant mode", () => {
    const cmds = readFileSync(TORUS, "utf8").split("\n").map(clean).filter((l) => l !== "");
    const b = new Bench({ timeScale: 0, faults: { corrupt: { every: 500 } } });
    const started = performance.now();
    streamPingPong(b, cmds);
    const elapsed = performance.now() - started;
    expect(commandsOf(b)).toEqual(["M110 N0", ...cmds]);
    expect(b.log.some((l) => l.line.startsWith("echo:Unknown command"))).toBe(false);
    expect(elapsed).toBeLessThan(5000);
  });
});
