import { describe, expect, test } from "bun:test";
import { Bench } from "./harness.ts";

function ready(options = {}): Bench {
  const b = new Bench(options);
  b.sendN(0, "M110 N0");
  b.take();
  return b;
}

// 100 mm at F6000 (100 mm/s) = exactly 1 s per move.
function oneSecondMoves(b: Bench, count: number): void {
  for (let i = 0; i < count; i++) b.send(`G1 X${i % 2 === 0 ? 100 : 0} F6000`);
}

describe("virtual firmware: moves and the planner", () => {
  test("a move's duration is distance / feedrate; M400 waits for it", () => {
    const b = ready();
    b.send("G1 X100 F6000").send("M400");
    expect(b.take()).toEqual(["ok"]);
    expect(b.fw.state.plannerLength).toBe(1);
    const ok = b.until((l) => l === "ok");
    expect(ok.t).toBe(1000);
    expect(b.fw.state.plannerLength).toBe(0);
  });

  test("F persists between moves and is in mm/min", () => {
    const b = ready();
    b.send("G1 X10 F600").send("G1 X20").send("M400");
    expect(b.until((l) => l === "ok").t).toBe(2000); // 2 × 10 mm at 10 mm/s
  });

  test("with a full planner the ok for the next move waits until a block finishes", () => {
    const b = ready();
    oneSecondMoves(b, 16);
    expect(b.take()).toEqual(Array(16).fill("ok"));
    expect(b.fw.state.plannerLength).toBe(16);
    b.send("G1 X100 F6000");
    expect(b.take()).toEqual([]);
    expect(b.fw.state.blockedOn).toBe("G1 X100 F6000");
    b.advanceTo(999);
    expect(b.take()).toEqual([]);
    b.advanceTo(1000);
    expect(b.take()).toEqual(["ok"]);
    expect(b.fw.state.plannerLength).toBe(16);
  });

  test("back-pressure paces a host: after the planner fills, one ok per finished block", () => {
    const b = ready();
    const okTimes: number[] = [];
    let sent = 0;
    b.send("G1 X100 F6000");
    sent++;
    while (okTimes.length < 30) {
      const lines = b.takeTimed();
      const oks = lines.filter((l) => l.line === "ok");
      for (const ok of oks) okTimes.push(ok.t);
      if (oks.length > 0) {
        b.send(`G1 X${sent % 2 === 0 ? 100 : 0} F6000`);
        sent++;
      } else {
        b.advanceTo(b.fw.nextWakeAt()!);
      }
    }
    expect(okTimes.slice(0, 16)).toEqual(Array(16).fill(0));
    expect(okTimes.slice(16, 20)).toEqual([1000, 2000, 3000, 4000]);
  });

  test("extrusion-only moves take time and fill the planner too", () => {
    const b = ready();
    b.send("M302 P1").send("M83").send("G1 E10 F600").send("M400"); // 10 mm at 10 mm/s
    expect(b.until((l) => l === "ok").t).toBe(1000);
    b.take();
    for (let i = 0; i < 16; i++) b.send("G1 E1 F600");
    b.send("G1 E1 F600");
    expect(b.take().length).toBe(16);
    expect(b.until((l) => l === "ok").t).toBe(1100);
  });

  test("cold extrusion is refused like Marlin: the E part is dropped with a warning", () => {
    const b = ready();
    b.send("G1 X10 E5 F600").send("M114");
    expect(b.take()).toEqual(["echo: cold extrusion prevented", "ok", "X:10.00 Y:0.00 Z:0.00 E:5.00 Count X:800 Y:0 Z:0", "ok"]);
    b.wait(1000); // the X move itself still runs
    b.send("G1 E10 F600").send("M400");
    expect(b.take()).toEqual(["echo: cold extrusion prevented", "ok", "ok"]); // nothing to wait for
  });

  test("G4 dwells (P ms, S s) after the moves finish", () => {
    const b = ready();
    b.send("G4 P500");
    expect(b.until((l) => l === "ok").t).toBe(500);
    b.send("G1 X100 F6000").send("G4 S2");
    const t0 = b.now;
    b.take();
    expect(b.until((l) => l === "ok").t - t0).toBe(3000);
  });

  test("a long blocking command prints busy lines every 2 s (M113 changes it)", () => {
    const b = ready();
    b.send("G4 S5");
    b.until((l) => l === "ok");
    expect(b.takeTimed()).toEqual([
      { t: 2000, line: "echo:busy: processing" },
      { t: 4000, line: "echo:busy: processing" },
      { t: 5000, line: "ok" },
    ]);
    b.send("M113 S1").send("M113").send("G4 S3");
    b.until((l) => l === "ok");
    expect(b.take()).toEqual(["ok", "echo:M113 S1", "ok", "echo:busy: processing", "echo:busy: processing", "ok"]);
  });

  test("G28 homes in simulated time, reports the position, then acknowledges", () => {
    const b = ready();
    b.send("G1 Z10 F600").send("G28");
    expect(b.take()).toEqual(["ok"]);
    const ok = b.until((l) => l === "ok");
    const out = b.take();
    expect(out.at(-2)).toBe("X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0");
    expect(out).toContain("echo:busy: processing");
    // the Z move (2 s at the 5 mm/s Z limit), then homing X, Y and Z from 10 mm
    expect(ok.t).toBeGreaterThan(5000);
    expect(ok.t).toBeLessThan(12000);
  });

  test("M114, G92, G91 and M83 follow Marlin's coordinate rules", () => {
    const b = ready({ timeScale: 0 });
    b.send("G1 X10 Y20 Z5 F3000").send("G92 X0 E0").send("M114");
    expect(b.take()).toEqual(["ok", "ok", "X:0.00 Y:20.00 Z:5.00 E:0.00 Count X:800 Y:1600 Z:2000", "ok"]);
    b.send("G91").send("G1 X5").send("G90").send("M83").send("M302 P1").send("G1 E2").send("G1 E2").send("M114");
    expect(b.take().at(-2)).toBe("X:5.00 Y:20.00 Z:5.00 E:4.00 Count X:1200 Y:1600 Z:2000");
    b.send("G28 X").send("M114");
    expect(b.take().at(-2)).toBe("X:0.00 Y:20.00 Z:5.00 E:4.00 Count X:0 Y:1600 Z:2000");
  });

  test("timeScale scales moves and dwells proportionally", () => {
    const b = ready({ timeScale: 50 });
    b.send("G1 X100 F6000").send("M400");
    expect(b.until((l) => l === "ok").t).toBe(20);
    b.send("G4 S2");
    const t0 = b.now;
    expect(b.until((l) => l === "ok").t - t0).toBe(40);
  });

  test("instant mode: moves, dwells and homing take no time", () => {
    const b = ready({ timeScale: 0 });
    for (let i = 0; i < 100; i++) b.send(`G1 X${i} Y${i} F1200`);
    b.send("G4 S30").send("G28").send("M400");
    const out = b.take();
    expect(out.filter((l) => l === "ok").length).toBe(103);
    expect(b.fw.state.plannerLength).toBe(0);
    expect(b.now).toBe(0);
    expect(b.fw.nextWakeAt()).toBeUndefined();
  });

  test("M410 (emergency parser) drops queued moves; the position is where the tool stopped", () => {
    const b = ready();
    oneSecondMoves(b, 16);
    b.send("G1 X100 F6000"); // blocked on a full planner
    b.wait(500).take();
    b.send("M410");
    expect(b.take()).toEqual(["ok", "ok"]);
    expect(b.fw.state.plannerLength).toBe(0);
    expect(b.fw.state.position.x).toBeCloseTo(50, 5);
  });
});
