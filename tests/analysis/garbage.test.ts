/** Bad input never crashes the analyser: it ends in a clear AnalysisError, or a result with warnings. */
import { describe, expect, test } from "bun:test";
import { analyseBytes, AnalysisError } from "../../src/analysis/analysis.ts";
import { fixture, motion } from "./helpers.ts";

function errorOf(bytes: Uint8Array): AnalysisError {
  try {
    analyseBytes(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(AnalysisError);
    expect((e as AnalysisError).message.length).toBeGreaterThan(10);
    expect((e as AnalysisError).hint.length).toBeGreaterThan(5);
    return e as AnalysisError;
  }
  throw new Error("expected an AnalysisError");
}

/** A deterministic pseudo-random generator (xorshift), so failures can be reproduced. */
function random(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

describe("files that are not (complete) G-code", () => {
  test("empty", () => expect(errorOf(new Uint8Array(0)).code).toBe("empty"));

  test("random binary data", () => {
    const rnd = random(7);
    const bytes = new Uint8Array(200_000).map(() => Math.floor(rnd() * 256));
    expect(errorOf(bytes).code).toBe("binary");
  });

  test("text that is not G-code", () => {
    const text = "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit,\nsed do eiusmod tempor\n".repeat(50);
    expect(errorOf(new TextEncoder().encode(text)).code).toBe("not_gcode");
  });

  test("Klipper macro calls and extended commands are G-code, not garbage", () => {
    // As the Voron file of ../shared/data/gcode calls its start and end macros.
    const gcode = "print_start EXTRUDER=240 BED=100 CHAMBER=0\nSET_PRESSURE_ADVANCE ADVANCE=0.05\nBED_MESH_CALIBRATE\nM83\nG1 X10 E1 F600\nprint_end\n";
    const { result } = analyseBytes(new TextEncoder().encode(gcode));
    expect(result.warnings).toEqual([]);
    expect(result.filament[0]!.length).toBe(1);
    expect(motion("Lorem ipsum, dolor sit amet.\nG1 X1\n").badLines).toBe(1);
  });

  test("binary G-code (.bgcode)", () => {
    const bytes = new Uint8Array([0x47, 0x43, 0x44, 0x45, 1, 0, 0, 0, 1, 0, 0, 0]);
    expect(errorOf(bytes).code).toBe("bgcode");
  });

  test("a slicer file cut short (an interrupted copy)", async () => {
    const whole = await fixture("ps25_ender3_torus_0.20normal_pla.gcode");
    const e = errorOf(whole.subarray(0, Math.floor(whole.length * 0.6)));
    expect(e.code).toBe("truncated");
    expect(e.message).toContain("PrusaSlicer");
  });

  test("a line of megabytes without a newline", () => {
    const bytes = new Uint8Array(3_000_000).fill(0x20);
    bytes.set(new TextEncoder().encode("G1 X1 Y1 F600\n"), 0);
    const { result } = analyseBytes(bytes, {}, 64 * 1024);
    expect(result.warnings.join(" ")).toMatch(/line break/);
  });

  test("fuzz: mutated real files give a result or an AnalysisError, never anything else", async () => {
    const base = await fixture("ps25_flsun_qqspro_delta_screw_0.20quality_pla_g3arcs_thumb.gcode");
    const rnd = random(42);
    for (let round = 0; round < 40; round++) {
      const bytes = base.slice();
      const edits = 1 + Math.floor(rnd() * 200);
      for (let i = 0; i < edits; i++) {
        const at = Math.floor(rnd() * bytes.length);
        const kind = rnd();
        if (kind < 0.5) bytes[at] = Math.floor(rnd() * 128); // any ASCII, including digits, letters and newlines
        else if (kind < 0.8) bytes[at] = "0123456789.-+eE XYZEFGMTIJR;\n"[Math.floor(rnd() * 29)]!.charCodeAt(0);
        else bytes.copyWithin(at, Math.floor(rnd() * bytes.length), Math.floor(rnd() * bytes.length));
      }
      const cut = rnd() < 0.3 ? bytes.subarray(0, Math.floor(rnd() * bytes.length)) : bytes;
      try {
        const { result } = analyseBytes(cut, {}, 1 + Math.floor(rnd() * 100_000));
        expect(Number.isFinite(result.estimatedTime)).toBe(true);
        expect(JSON.stringify(result).includes("NaN")).toBe(false);
      } catch (e) {
        expect(e).toBeInstanceOf(AnalysisError);
      }
    }
  }, 60_000);
});
