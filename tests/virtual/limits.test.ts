/**
 * The virtual printer's machine limits: M503 reports the very feed rates its moves obey, in each
 * personality's words; M201/M203/M204/M205 change them (and the report, and the moves); a reboot
 * puts the defaults back. The host engine reads back what the firmware says.
 */
import { describe, expect, test } from "bun:test";
import { defaultLimits } from "../../src/analysis/limits.ts";
import { LimitsReportReader } from "../../src/protocol/machine-limits.ts";
import { virtualPrinterReport } from "../helpers/limits.ts";
import { Bench } from "./harness.ts";
import { connect } from "./sim.ts";

function ready(options = {}): Bench {
  const b = new Bench(options);
  b.sendN(0, "M110 N0");
  b.take();
  return b;
}

/** What the host reads from a report. */
function parsed(lines: string[]) {
  const r = new LimitsReportReader();
  for (const l of lines) r.line(l);
  return r.take();
}

describe("virtual printer: machine limits", () => {
  test("Marlin: M503 reports Marlin's default limits, which the moves obey (Z at 5 mm/s)", () => {
    const b = ready();
    b.send("M503");
    const report = b.take();
    expect(report.at(-1)).toBe("ok");
    expect(report).toContain("echo:  M203 X300.00 Y300.00 Z5.00 E25.00");
    expect(parsed(report)).toEqual(virtualPrinterReport());
    // 10 mm of Z asked at 20 mm/s runs at 5 mm/s: 2 s.
    b.send("G1 Z10 F1200").send("M400");
    expect(b.until((l) => l === "ok").t).toBe(2000);
  });

  test("M203 changes the limit the moves obey and the report; M201/M204/M205 are kept and reported", () => {
    const b = ready();
    b.send("M203 Z10").send("M201 X500 Y500").send("M204 P800 T1200").send("M205 X8 Z0.4 J0");
    b.take();
    b.send("M503");
    const report = parsed(b.take());
    expect(report?.maxFeedrate).toEqual({ x: 300, y: 300, z: 10, e: 25 });
    expect(report?.maxAcceleration).toEqual({ x: 500, y: 500, z: 100, e: 10000 });
    expect(report).toMatchObject({ printAcceleration: 800, travelAcceleration: 1200, maxJerk: { x: 8, y: 8, z: 0.4, e: 5 } });
    const start = b.now;
    b.send("G1 Z10 F1200").send("M400");
    expect(b.until((l) => l === "ok").t - start).toBe(1000);
  });

  test("Prusa: its wording, with a silent-mode set the host leaves aside", () => {
    const b = ready({ personality: "prusa" });
    b.send("M203 X200 Y200 Z12 E120");
    b.take();
    b.send("M503");
    const lines = b.take();
    expect(lines).toContain("echo:Maximum feedrates - stealth (mm/s):");
    expect(lines).toContain("echo:  M203 X172.00 Y172.00 Z12.00 E120.00");
    expect(parsed(lines)?.maxFeedrate).toEqual({ x: 200, y: 200, z: 12, e: 120 });
    expect(parsed(lines)?.maxAcceleration).toEqual(defaultLimits().maxAcceleration);
  });

  test("a reboot brings back the defaults (no EEPROM)", () => {
    const b = ready();
    b.send("M203 Z20");
    b.reboot("watchdog");
    b.sendN(0, "M110 N0");
    b.take();
    b.send("M503");
    expect(parsed(b.take())?.maxFeedrate?.z).toBe(5);
  });

  test("Klipper has no M503", () => {
    const b = ready({ personality: "klipper" });
    b.send("M503");
    expect(b.take()).toEqual(['// Unknown command:"M503"', "ok"]);
  });

  test("the host engine reads what the virtual printer reports", () => {
    const { sim } = connect({ personality: "marlin2" });
    sim.send("M203 Z7.5");
    expect(sim.engine.queryLimits(sim.now)).toBe(true);
    expect(sim.run(() => sim.engine.outstanding() === 0, 10_000)).toBe(true);
    expect(sim.engine.limits?.maxFeedrate).toEqual({ x: 300, y: 300, z: 7.5, e: 25 });
  });
});
