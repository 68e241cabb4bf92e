import { describe, expect, test } from "bun:test";
import { compileGrammar } from "../../src/protocol/responses.ts";
import { terminalKind } from "../../src/protocol/terminal-kind.ts";
import { builtInLibrary } from "../helpers/quirks.ts";

const library = await builtInLibrary();
const marlin = compileGrammar(library.get("marlin2"));
const recv = (line: string, grammar = marlin) => terminalKind("recv", line, grammar);
const send = (line: string) => terminalKind("send", line, marlin);

describe("what the terminal filters hide", () => {
  test("temperature reports, auto-reported or answering M105, and the M105 polls", () => {
    expect(recv(" T:22.06 /0.00 B:22.04 /0.00 @:0 B@:0")).toBe("temperature");
    expect(recv("ok T:210.0 /210.0 B:60.0 /60.0 @:64 B@:0")).toBe("temperature");
    expect(send("N12 M105*34")).toBe("temperature");
    expect(send("M105")).toBe("temperature");
  });

  test("SD status lines and the M27 polls, not the card's other replies", () => {
    expect(recv("Not SD printing")).toBe("sd");
    expect(recv("SD printing byte 40960/3145728")).toBe("sd");
    expect(send("N3 M27 S1*87")).toBe("sd");
    expect(recv("File opened: BENCHY.GCO Size: 1234")).toBeUndefined();
    expect(recv("Begin file list")).toBeUndefined();
    expect(recv("Done printing file")).toBeUndefined();
  });

  test("position reports and M114, wait and busy lines", () => {
    expect(recv("X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0")).toBe("position");
    expect(send("N40 M114*21")).toBe("position");
    expect(recv("wait")).toBe("wait");
    expect(recv("echo:busy: processing")).toBe("busy");
  });

  test("everything else stays: oks, errors, echo lines, the moves sent, commands that merely start with a polled code", () => {
    expect(recv("ok")).toBeUndefined();
    expect(recv("ok N8 P16 B3")).toBeUndefined();
    expect(recv("Error:Printer halted. kill() called!")).toBeUndefined();
    expect(recv("echo:  M92 X80.00 Y80.00 Z400.00 E500.00")).toBeUndefined();
    expect(send("N13 G1 X10 Y10 E0.5*99")).toBeUndefined();
    expect(send("M1050")).toBeUndefined();
    expect(send("M155 S2")).toBeUndefined();
  });

  test("read with each firmware's own grammar: Creality's doubled characters, Klipper's and Smoothie's SD status", () => {
    const creality = compileGrammar(library.with("marlin2", ["creality"]));
    expect(recv("TT::27.7627.76  //0.000.00  BB::39.3539.35  //0.000.00  @@::00  BB@@::00", creality)).toBe("temperature");
    expect(recv("Not SD printing.", compileGrammar(library.get("klipper")))).toBe("sd");
    expect(recv("Not currently playing", compileGrammar(library.get("smoothieware")))).toBe("sd");
    expect(recv("Not currently playing")).toBeUndefined(); // not an SD status line for Marlin
  });
});
