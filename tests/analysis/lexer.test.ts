import { describe, expect, test } from "bun:test";
import { E_BIT, F_BIT, G, LexedLine, M, NONE, T, WORD, X_BIT, Y_BIT, Z_BIT, lex } from "../../src/analysis/lexer.ts";

const enc = new TextEncoder();
function lexed(text: string): LexedLine {
  const line = new LexedLine();
  const bytes = enc.encode(text);
  lex(bytes, 0, bytes.length, line);
  return line;
}
const val = (l: LexedLine, letter: string) => l.values[letter.charCodeAt(0) - 65];

describe("G-code lexer", () => {
  test("command, parameters and comment", () => {
    const l = lexed("G1 X10.5 Y-3 E.25 F1800 ; perimeter");
    expect([l.letter, l.code, l.sub]).toEqual([G, 1, -1]);
    expect(l.mask).toBe(X_BIT | Y_BIT | E_BIT | F_BIT);
    expect([val(l, "X"), val(l, "Y"), val(l, "E"), val(l, "F")]).toEqual([10.5, -3, 0.25, 1800]);
    expect(l.comment).toBeGreaterThan(0);
  });

  test("no spaces, lower case, line numbers, checksums, sub-codes, exponents", () => {
    expect(val(lexed("G1X1Y2Z3"), "Z")).toBe(3);
    const lower = lexed("g1 x5 e-1.5");
    expect([lower.letter, val(lower, "X"), val(lower, "E")]).toEqual([G, 5, -1.5]);
    const numbered = lexed("N123 G1 Z0.2*57");
    expect([numbered.letter, numbered.code, val(numbered, "Z")]).toEqual([G, 1, 0.2]);
    expect(numbered.mask).toBe(Z_BIT);
    const sub = lexed("M862.3 P \"MK3S\"");
    expect([sub.letter, sub.code, sub.sub]).toEqual([M, 862, 3]);
    expect(val(lexed("G1 X1e2"), "X")).toBe(100);
    expect(val(lexed("G1 X+2.5"), "X")).toBe(2.5);
  });

  test("glued comments, flags without values, tools, words, blanks", () => {
    const wipe = lexed("G1 F8640;_WIPE");
    expect([wipe.letter, val(wipe, "F"), wipe.mask]).toEqual([G, 8640, F_BIT]);
    const home = lexed("G28 X Y");
    expect(home.mask).toBe(X_BIT | Y_BIT);
    const tool = lexed("T1");
    expect([tool.letter, tool.code]).toEqual([T, 1]);
    expect(lexed("T?").letter).toBe(NONE);
    expect(lexed("EXCLUDE_OBJECT_START NAME=part_1").letter).toBe(WORD);
    expect(lexed("   ").letter).toBe(NONE);
    expect(lexed("; only a comment").comment).toBe(1);
    expect(lexed("G1 X1 (rs274 comment) Y2").mask).toBe(X_BIT | Y_BIT);
  });
});
