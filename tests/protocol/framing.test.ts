import { describe, expect, test } from "bun:test";
import { checksum, clean, frame, unframe } from "../../src/protocol/framing.ts";

describe("framing (protocol.md §1.1)", () => {
  test("checksums match the worked examples", () => {
    const examples: [string, number][] = [
      ["N0 M110 N0", 125],
      ["N-1 M110 N-1", 125],
      ["N1 M115", 39],
      ["N2 M155 S2", 97],
      ["N13 M105", 21],
      ["N12 G1 X14 Y10 E0.7", 82],
      ["N23 M109 S210", 90],
      ["N30 M23 benchy.gco", 95],
      ["N61 M112", 22],
    ];
    for (const [line, cs] of examples) expect(checksum(line)).toBe(cs);
  });

  test("frame numbers and checksums a command", () => {
    expect(frame(1, "M115")).toBe("N1 M115*39");
    expect(frame(12, "G1 X14 Y10 E0.7")).toBe("N12 G1 X14 Y10 E0.7*82");
    expect(frame(-1, "M110 N-1")).toBe("N-1 M110 N-1*125");
  });

  test("frame's checksum is the checksum of the whole framed body, for any line number", () => {
    for (const n of [0, 1, 9, 10, 11, 99, 100, 1234, 65535, 999_999, 2 ** 31 - 1])
      for (const command of ["M115", "G1 X14 Y10 E0.7", "M117 Température 100%"]) {
        const body = `N${n} ${command}`;
        expect(frame(n, command)).toBe(`${body}*${checksum(body)}`);
      }
  });

  test("clean strips comments and whitespace; comment-only lines become empty", () => {
    expect(clean("G1 X1 Y2 ; move")).toBe("G1 X1 Y2");
    expect(clean("  ;LAYER_CHANGE")).toBe("");
    expect(clean("   ")).toBe("");
    expect(clean("G1 F8640;_WIPE")).toBe("G1 F8640");
  });

  test("unframe recovers the parts and verifies the checksum", () => {
    expect(unframe("N12 G1 X14 Y10 E0.7*82")).toEqual({ lineNumber: 12, command: "G1 X14 Y10 E0.7", claimed: 82, checksumOk: true });
    expect(unframe("N12 G1 X14 Y10 E0.7*83").checksumOk).toBe(false);
    expect(unframe("M105")).toEqual({ lineNumber: undefined, command: "M105", claimed: undefined, checksumOk: false });
    expect(unframe("N4 M105").claimed).toBeUndefined();
  });
});
