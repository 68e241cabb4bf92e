import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { parseVirtualPrinterOptions } from "../../src/virtual/options.ts";
import { VirtualFirmware } from "../../src/virtual/firmware.ts";

describe("virtual printer options", () => {
  test("defaults describe the embedded printer", () => {
    const o = parseVirtualPrinterOptions();
    const off = { lines: [], every: 0, probability: 0 };
    expect(o).toEqual({
      seed: 1,
      timeScale: 1,
      extruders: 1,
      plannerBlocks: 16,
      ambient: 22,
      emergencyParser: true,
      machineName: "Layerline Virtual",
      faults: {
        corrupt: off,
        drop: off,
        corruptReply: off,
        dropReply: off,
        missingOkAfterResend: off,
        spuriousResend: off,
        reset: off,
        silence: { ...off, ms: 5000 },
        busyHeater: { ...off, ms: 5000 },
      },
      personality: "marlin2",
      advancedOk: false,
      baudRate: 0,
      rxBufferBytes: 0,
      gluedDeleteOk: false,
      cancelObjects: true,
      noMotionBeforeHoming: false,
      sdCard: true,
      sdFiles: [expect.objectContaining({ name: "layerline-demo.gcode" })],
    });
  });

  test("0 and Infinity both mean instant", () => {
    expect(parseVirtualPrinterOptions({ timeScale: 0 }).timeScale).toBe(0);
    expect(parseVirtualPrinterOptions({ timeScale: Infinity }).timeScale).toBe(Infinity);
  });

  test.each([
    [{ timeScale: -1 }],
    [{ timeScale: 5000 }],
    [{ extruders: 0 }],
    [{ faults: { corrupt: { every: 1 } } }],
    [{ faults: { drop: { probability: 0.9 } } }],
    [{ faults: { corupt: {} } }],
    [{ sped: 2 }],
    [{ personality: "grbl" }],
    [{ faults: { silence: { ms: -1 } } }],
  ])("rejects %j", (input) => {
    expect(() => parseVirtualPrinterOptions(input as never)).toThrow(v.ValiError);
    expect(() => new VirtualFirmware(input as never, 0)).toThrow(v.ValiError);
  });
});
