import { describe, expect, test } from "bun:test";
import type { VirtualPrinterOptionsInput } from "../../src/virtual/options.ts";
import { Bench, streamPingPong } from "./harness.ts";

// A session that exercises noise (heating), autoreports, moves, busy lines and random faults.
function session(options: VirtualPrinterOptionsInput): { output: string; executed: string } {
  const b = new Bench({ faults: { corrupt: { probability: 0.1 }, drop: { probability: 0.05 } }, ...options });
  const cmds = ["M155 S1", "M104 S200", "M140 S60", "G28", "M109 S200", "M190 S60", "M155 S0", "M302 P1"];
  for (let i = 0; i < 200; i++) cmds.push(`G1 X${i % 50} Y${(i * 3) % 40} E0.1 F3000`);
  cmds.push("M400", "M105", "M114");
  streamPingPong(b, cmds);
  return {
    output: b.log.map((l) => `${l.t} ${l.line}`).join("\n"),
    executed: b.executed.map((e) => `${e.n} ${e.command}`).join("\n"),
  };
}

describe("virtual firmware: determinism", () => {
  test("same options, same inputs at the same times: byte-identical output", () => {
    const a = session({ seed: 42 });
    const b = session({ seed: 42 });
    expect(a.output.length).toBeGreaterThan(10_000);
    expect(b.output).toBe(a.output);
    expect(b.executed).toBe(a.executed);
  });

  test("the seed is what varies it", () => {
    const a = session({ seed: 42 });
    const c = session({ seed: 43 });
    expect(c.output).not.toBe(a.output);
    expect(c.executed.split("\n").map((l) => l.split(" ").slice(1).join(" "))).toEqual(
      a.executed.split("\n").map((l) => l.split(" ").slice(1).join(" ")),
    );
  });

  test("how often the shell wakes the firmware does not change the output", () => {
    const run = (tick: number) => {
      const b = new Bench({ seed: 5 });
      b.send("M104 S210").send("M155 S1");
      for (let t = tick; t < 30_000; t += tick) b.advanceTo(t);
      b.advanceTo(30_000);
      b.send("M105");
      return b.log.map((l) => `${l.t} ${l.line}`);
    };
    expect(run(7)).toEqual(run(1000));
  });
});
