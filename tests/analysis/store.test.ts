/**
 * The analysis store on a real sqlite file: a result read back through its schema, kept parsed for
 * the next reader (pages and streams read it on every connect), and never served stale — a new
 * analysis, a failed one or a prune replaces what was kept.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyseBytes } from "../../src/analysis/analysis.ts";
import { AnalysisStore } from "../../src/analysis/store.ts";
import { openDatabase } from "../../src/db/database.ts";
import { layeredGcode } from "../helpers/gcode.ts";

const dir = mkdtempSync(join(tmpdir(), "layerline-analysis-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a result is parsed once and kept; a new analysis, an error or a prune is seen at once", () => {
  const db = openDatabase(dir);
  const store = new AnalysisStore(db);
  const one = analyseBytes(new TextEncoder().encode(layeredGcode({ layers: 3, objects: [{ name: "a", x: 20, y: 20 }], size: 10 }))).result;
  const two = analyseBytes(new TextEncoder().encode(layeredGcode({ layers: 5, objects: [{ name: "a", x: 20, y: 20 }, { name: "b", x: 60, y: 60 }], size: 10 }))).result;
  store.saveResult("aaa", one, [], 1);
  const first = store.result("aaa")!;
  expect(first.layers.length).toBe(one.layers.length);
  expect(store.result("aaa")).toBe(first); // kept: the same object, not parsed again

  store.saveResult("aaa", two, [], 2);
  expect(store.result("aaa")!.objects.map((o) => o.name)).toEqual(["a", "b"]);
  store.saveError("aaa", { code: "unreadable", message: "m", hint: "h" }, 3);
  expect(store.result("aaa")).toBeUndefined();

  store.saveResult("aaa", one, [], 4);
  expect(store.result("aaa")).toBeDefined();
  store.prune(); // no file refers to "aaa"
  expect(store.result("aaa")).toBeUndefined();

  // At most a few are kept: the oldest read is parsed again, still right.
  for (const sha of ["s1", "s2", "s3", "s4", "s5"]) store.saveResult(sha, one, [], 5);
  const s1 = store.result("s1")!;
  for (const sha of ["s2", "s3", "s4", "s5"]) store.result(sha);
  expect(store.result("s1")).not.toBe(s1);
  expect(store.result("s1")).toEqual(s1);
  db.close();
});
