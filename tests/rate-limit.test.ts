import { expect, test } from "bun:test";
import { LOG_PER_SECOND, perSecondBudget } from "../src/rate-limit.ts";

test("each key gets its own budget of so many a second, renewed at the next second", () => {
  const may = perSecondBudget(3);
  expect([1000, 1100, 1200, 1300, 1999].map((t) => may("a", t))).toEqual([true, true, true, false, false]);
  expect(may("b", 1999)).toBe(true);
  expect([2000, 2001, 2002, 2003].map((t) => may("a", t))).toEqual([true, true, true, false]);
  expect(LOG_PER_SECOND).toBe(20);
});
