import { describe, expect, test } from "bun:test";
import { compareVersions, isRange, parseVersion, satisfies } from "../../src/plugins/semver.ts";

describe("versions", () => {
  test("parse and order, pre-releases before their release", () => {
    expect(parseVersion("1.2.3")).toEqual({ major: 1, minor: 2, patch: 3, pre: [] });
    expect(parseVersion("v2.0.0-rc.1+build.5")).toEqual({ major: 2, minor: 0, patch: 0, pre: ["rc", "1"] });
    for (const bad of ["1.2", "1.2.3.4", "01.2.3", "x", ""]) expect(parseVersion(bad)).toBeNull();
    const sorted = ["1.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0-alpha.beta", "1.0.0-rc.1", "0.9.9", "1.0.1", "1.0.0-beta.11", "1.0.0-beta.2"].sort(compareVersions);
    expect(sorted).toEqual(["0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1"]);
  });
});

describe("ranges", () => {
  const cases: [range: string, yes: string[], no: string[]][] = [
    ["^1.0.0", ["1.0.0", "1.4.2", "1.99.0"], ["0.9.9", "2.0.0", "2.0.0-beta", "1.1.0-beta"]],
    ["^1.2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0"]],
    ["^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"]],
    ["^0.0.3", ["0.0.3"], ["0.0.4"]],
    ["~1.2.3", ["1.2.3", "1.2.9"], ["1.3.0", "1.2.2"]],
    ["~1", ["1.0.0", "1.9.0"], ["2.0.0"]],
    [">=1.0.0 <2", ["1.0.0", "1.5.0"], ["2.0.0", "0.1.0"]],
    [">= 1.2.0", ["1.2.0", "3.0.0"], ["1.1.0"]],
    ["1.x", ["1.0.0", "1.7.3"], ["2.0.0"]],
    ["1.2.x", ["1.2.0", "1.2.7"], ["1.3.0"]],
    ["*", ["0.0.1", "9.9.9"], ["1.0.0-beta"]],
    ["", ["1.0.0"], []],
    ["1.2 - 1.4", ["1.2.0", "1.4.9"], ["1.5.0", "1.1.9"]],
    ["1.2.3 - 1.4.0", ["1.2.3", "1.4.0"], ["1.4.1"]],
    ["^1.0.0 || ^2.0.0", ["1.3.0", "2.1.0"], ["3.0.0"]],
    ["=1.0.0", ["1.0.0"], ["1.0.1"]],
    ["1.0.0", ["1.0.0"], ["1.0.1"]],
    [">1.2", ["1.3.0"], ["1.2.9"]],
    ["<=1.2", ["1.2.9"], ["1.3.0"]],
    [">=1.0.0-beta.2 <2", ["1.0.0-beta.3", "1.0.0"], ["1.0.0-beta.1", "1.1.0-beta.1"]],
  ];
  for (const [range, yes, no] of cases) {
    test(range || '""', () => {
      for (const v of yes) expect(`${v} ${satisfies(v, range)}`).toBe(`${v} true`);
      for (const v of no) expect(`${v} ${satisfies(v, range)}`).toBe(`${v} false`);
    });
  }
  test("nonsense is not a range and matches nothing", () => {
    for (const bad of ["^", "abc", "1.2.3.4", ">=x.y", "~>1.0"]) {
      expect(isRange(bad)).toBe(false);
      expect(satisfies("1.0.0", bad)).toBe(false);
    }
    expect(satisfies("not-a-version", "*")).toBe(false);
  });
});
