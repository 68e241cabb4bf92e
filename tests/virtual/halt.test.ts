import { describe, expect, test } from "bun:test";
import { Bench } from "./harness.ts";

const KILL = ["echo:M112 Shutdown", "Error:Printer halted. kill() called!", "//action:poweroff"];

function ready(options = {}): Bench {
  const b = new Bench(options);
  b.sendN(0, "M110 N0");
  b.take();
  return b;
}

describe("virtual firmware: M112", () => {
  test("prints Marlin's kill lines, then nothing at all", () => {
    const b = ready();
    b.send("M155 S1").send("M104 S200").take();
    b.sendN(1, "M112");
    expect(b.take()).toEqual(KILL);
    b.sendN(2, "M105").send("M105").send("G28").wait(60_000);
    expect(b.take()).toEqual([]);
    expect(b.fw.state.halted).toBe(true);
    expect(b.fw.state.hotends[0]!.target).toBe(0);
    expect(b.fw.nextWakeAt()).toBeUndefined();
  });

  test("acts at once while a command blocks (emergency parser), ahead of queued lines", () => {
    const b = ready();
    b.send("M109 S210").wait(3000).send("G1 X10").take();
    b.sendN(1, "M112");
    expect(b.take()).toEqual(KILL);
    expect(b.executed.map((e) => e.command)).toEqual(["M110 N0", "M109 S210", "M112"]);
  });

  test("without the emergency parser it acts when the line is read", () => {
    const b = ready({ emergencyParser: false });
    b.send("M112");
    expect(b.take()).toEqual(KILL);
    b.send("M105");
    expect(b.take()).toEqual([]);
  });

  test("a reboot brings the firmware back with a fresh banner and line numbering", () => {
    const b = ready();
    b.sendN(1, "M105").send("M112").take();
    b.reboot("software");
    expect(b.take().slice(0, 3)).toEqual(["start", " Software Reset", "Marlin 2.1.2.4"]);
    b.sendN(1, "M105");
    expect(b.take()[0]).toStartWith("ok T:");
    expect(b.fw.state.halted).toBe(false);
  });
});
