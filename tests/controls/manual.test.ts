import { describe, expect, test } from "bun:test";
import { extrudeGcode, homeGcode, jogGcode } from "../../src/controls/manual.ts";

describe("manual control G-code", () => {
  test("a relative jog goes back to absolute mode; the slowest axis sets the default speed", () => {
    expect(jogGcode({ x: 10, y: -5 })).toEqual(["G91", "G1 X10 Y-5 F6000", "G90"]);
    expect(jogGcode({ x: 1, z: 0.1 })).toEqual(["G91", "G1 X1 Z0.1 F200", "G90"]);
  });

  test("an absolute jog, a given speed rounded, and no axes at all", () => {
    expect(jogGcode({ x: 100, absolute: true, speed: 1234.6 })).toEqual(["G90", "G1 X100 F1235"]);
    expect(jogGcode({ speed: true })).toEqual([]);
  });

  test("homing names each axis; extrusion is relative E and restores absolute E and XYZ", () => {
    expect(homeGcode(["x", "z"])).toEqual(["G28 X0 Z0"]);
    expect(extrudeGcode(-2)).toEqual(["G91", "M83", "G1 E-2 F300", "M82", "G90"]);
    expect(extrudeGcode(5, 150.4)).toEqual(["G91", "M83", "G1 E5 F150", "M82", "G90"]);
  });
});
