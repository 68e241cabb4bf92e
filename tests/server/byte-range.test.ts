import { expect, test } from "bun:test";
import { byteRange } from "../../src/server/byte-range.ts";

test("one range: a part, clipped to the file; suffix ranges count from the end", () => {
  expect(byteRange("bytes=2-21", 100)).toEqual({ kind: "part", start: 2, end: 21 });
  expect(byteRange("bytes=90-", 100)).toEqual({ kind: "part", start: 90, end: 99 });
  expect(byteRange("bytes=90-500", 100)).toEqual({ kind: "part", start: 90, end: 99 });
  expect(byteRange("bytes=-10", 100)).toEqual({ kind: "part", start: 90, end: 99 });
  expect(byteRange("bytes=-500", 100)).toEqual({ kind: "part", start: 0, end: 99 });
  expect(byteRange("Bytes = 0-0", 100)).toEqual({ kind: "part", start: 0, end: 0 });
});

test("nothing satisfiable: 416", () => {
  expect(byteRange("bytes=100-", 100)).toEqual({ kind: "unsatisfiable" });
  expect(byteRange("bytes=-0", 100)).toEqual({ kind: "unsatisfiable" });
  expect(byteRange("bytes=0-", 0)).toEqual({ kind: "unsatisfiable" });
  expect(byteRange("bytes=200-300, 400-", 100)).toEqual({ kind: "unsatisfiable" });
});

test("malformed headers, other units and several ranges are ignored: the whole file", () => {
  for (const h of ["bytes=abc", "bytes=5-2", "bytes=-", "bytes=", "items=0-5", "0-5", "bytes=1-2-3", "bytes=0-1, 5-9", "bytes=0-1, x"]) {
    expect(byteRange(h, 100)).toEqual({ kind: "whole" });
  }
});
