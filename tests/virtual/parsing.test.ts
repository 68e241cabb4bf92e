import { describe, expect, test } from "bun:test";
import { emergencyCommand } from "../../src/virtual/emergency.ts";
import { FaultInjector } from "../../src/virtual/faults.ts";
import { parseCommand } from "../../src/virtual/gcode.ts";
import { LineSplitter } from "../../src/virtual/lines.ts";
import { parseVirtualPrinterOptions } from "../../src/virtual/options.ts";
import { frame, unframe } from "../../src/protocol/framing.ts";

describe("G-code command parser", () => {
  test("command word and parameters, with or without spaces", () => {
    const a = parseCommand("G1 X10.5 Y-2 E.3 F1800");
    expect([a.letter, a.code, a.value("X"), a.value("Y"), a.value("E"), a.value("F"), a.value("Z")]).toEqual([
      "G", 1, 10.5, -2, 0.3, 1800, undefined,
    ]);
    const b = parseCommand("G1X10Y20");
    expect([b.value("X"), b.value("Y")]).toEqual([10, 20]);
    const c = parseCommand("M106");
    expect([c.word, c.has("S"), c.value("S")]).toEqual(["M106", false, undefined]);
    expect(parseCommand("M862.3 P \"MK3S\"").subcode).toBe(3);
    expect(parseCommand("M117 Hello world").args).toBe("Hello world");
    expect(parseCommand("T1").code).toBe(1);
    expect(parseCommand("HELLO").letter).toBe("?");
  });
});

describe("emergency parser", () => {
  test.each([
    ["M112", "M112"],
    ["N61 M112*22", "M112"],
    ["  M108", "M108"],
    ["N5 M410*1", "M410"],
    ["M1125", "M112"], // Marlin's state machine ignores what follows the code
    ["M11", undefined],
    ["G1 M112", undefined],
    ["; M112", undefined],
  ])("%p → %p", (line, expected) => {
    expect(emergencyCommand(line)).toBe(expected as never);
  });
});

describe("line splitter", () => {
  test("joins lines across chunks and splits on CR and LF", () => {
    const s = new LineSplitter();
    const out: string[] = [];
    for (const chunk of ["G1 X", "1\r", "\nM10", "5", "\nM114"]) s.push(chunk, (l) => out.push(l));
    expect(out).toEqual(["G1 X1", "", "M105"]);
    s.push("\n", (l) => out.push(l));
    expect(out.at(-1)).toBe("M114");
  });
});

describe("fault injector", () => {
  test("corruption always breaks the checksum, never the line number, and spares unnumbered lines", () => {
    const f = new FaultInjector(parseVirtualPrinterOptions({ faults: { corrupt: { probability: 0.5 } } }).faults, 9);
    let hits = 0;
    for (let n = 1; n <= 2000; n++) {
      const line = frame(n, `G1 X${n} Y${n * 2} E0.0${n % 10}`);
      const r = f.onLine(line);
      if (r.fault === "none") continue;
      expect(r.fault).toBe("corrupt");
      const got = r.line;
      hits++;
      const u = unframe(got);
      expect(u.lineNumber).toBe(n);
      expect(u.checksumOk).toBe(false);
    }
    expect(hits).toBeGreaterThan(800);
    expect(f.onLine("G1 X1")).toEqual({ fault: "none", line: "G1 X1" });
  });

  test("explicit lines are hit on first reception only", () => {
    const f = new FaultInjector(parseVirtualPrinterOptions({ faults: { drop: { lines: [2] } } }).faults, 1);
    expect(f.onLine(frame(1, "M105")).fault).toBe("none");
    expect(f.onLine(frame(2, "M105")).fault).toBe("drop");
    expect(f.onLine(frame(2, "M105")).fault).toBe("none");
  });

  test("reply faults damage or lose lines the firmware sends; each kind keeps its own decisions", () => {
    const both = new FaultInjector(parseVirtualPrinterOptions({ faults: { dropReply: { every: 3 }, corruptReply: { probability: 0.2 } } }).faults, 4);
    const dropOnly = new FaultInjector(parseVirtualPrinterOptions({ faults: { dropReply: { every: 3 } } }).faults, 4);
    const a = Array.from({ length: 30 }, () => both.onReply("ok"));
    const b = Array.from({ length: 30 }, () => dropOnly.onReply("ok"));
    expect(a.map((x) => x === undefined)).toEqual(b.map((x) => x === undefined));
    expect(a.filter((x) => x !== undefined && x !== "ok").length).toBeGreaterThan(0);
    expect(both.counts().dropReply).toBe(10);
  });
});
