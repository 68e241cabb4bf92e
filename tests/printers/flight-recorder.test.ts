/**
 * The flight recorder's JSONL: written for every line on the wire, so it is built without
 * `toFixed` and `JSON.stringify` on the usual lines; the text must stay exactly what those give.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FlightRecorder, fixed3, type TraceDirection } from "../../src/printers/flight-recorder.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** What a trace line is by definition. */
const reference = (t: number, dir: TraceDirection, line: string) => `{"t":${t.toFixed(3)},"dir":"${dir}","line":${JSON.stringify(line)}}\n`;

test("fixed3 is toFixed(3), digit for digit, for wall-clock times and anything else", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const times: number[] = [0, 0.0005, 1.5, 999.9995, 123.4565, -3.25, NaN, Infinity, 2 ** 32, 2 ** 52, 2 ** 53];
  for (let i = 0; i < 20_000; i++) times.push(1_795_294_869_280 + random() * 1e9, 2 ** 32 + random() * 2 ** 51);
  // Halves and near-halves of the third decimal, where rounding decides.
  for (let i = 0; i < 2000; i++) for (const f of [0.0005, 0.0015, 0.4995, 0.9995, 0.99949999, 0.999999]) times.push(1_700_000_000_000 + i * 977 + f);
  for (const t of times) expect([t, fixed3(t)]).toEqual([t, t.toFixed(3)]);
});

test("the ring and the log file hold exactly the reference JSONL, escapes and all", async () => {
  const dir = mkdtempSync(join(tmpdir(), "layerline-recorder-"));
  dirs.push(dir);
  const recorder = new FlightRecorder({ name: "p", dir, capacity: 64 });
  const lines = ["ok", "N12 G1 X1.5 Y2*97", 'echo:"quoted"', "back\\slash", "tab\there", "température", "\u0001bell", "del\x7f", "😀", ""];
  const expected: string[] = [];
  const dirsUsed: TraceDirection[] = ["send", "recv", "info"];
  lines.forEach((line, i) => {
    const t = 1_795_294_869_280.1234 + i * 0.0375;
    recorder.record(dirsUsed[i % 3]!, line, t);
    expected.push(reference(t, dirsUsed[i % 3]!, line));
  });
  expect(recorder.jsonl()).toBe(expected.join(""));
  await recorder.flush();
  expect(readFileSync(join(dir, "serial-p.jsonl"), "utf8")).toBe(expected.join(""));
  for (const [i, entry] of recorder.entries().entries()) expect(entry.line).toBe(lines[i]!);
});

test("after the ring came round, JSONL starts at the oldest line still held", () => {
  const recorder = new FlightRecorder({ name: "p", capacity: 4 });
  for (let i = 0; i < 10; i++) recorder.record("send", `G1 X${i}`, 1_795_294_869_280 + i);
  expect(recorder.jsonl()).toBe([6, 7, 8, 9].map((i) => reference(1_795_294_869_280 + i, "send", `G1 X${i}`)).join(""));
  expect(recorder.since(8).map((e) => e.line)).toEqual(["G1 X8", "G1 X9"]);
  expect(recorder.since(0, 1).map((e) => e.line)).toEqual(["G1 X9"]);
});
