/**
 * The flight recorder's JSONL: written for every line on the wire, so it is built without
 * `toFixed` and `JSON.stringify` on the usual lines; the text must stay exactly what those give.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FlightRecorder, type TraceDirection } from "../../src/printers/flight-recorder.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** What a trace line is by definition. */
const reference = (t: number, dir: TraceDirection, line: string) => `{"t":${t.toFixed(3)},"dir":"${dir}","line":${JSON.stringify(line)}}\n`;

test("times are toFixed(3), digit for digit: wall-clock times across seconds, rounding halves, and any other", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const times: number[] = [];
  let t = 1_795_294_869_280.1234;
  for (let i = 0; i < 30_000; i++) times.push((t += random() < 0.01 ? random() * 5000 : random() * 0.5));
  // Halves and near-halves of the third decimal, where rounding decides, and carries into the next second.
  for (let i = 0; i < 2000; i++) for (const f of [0.0005, 0.0015, 0.4995, 0.9995, 0.99949999, 0.999999]) times.push(1_800_000_000_000 + i * 977 + f);
  times.push(1_800_000_999_999.9996, 1_800_001_000_000.0004, 2 ** 32 + 0.0005, 2 ** 52 - 0.5, 2 ** 52, 2 ** 53);
  times.sort((a, b) => a - b);
  const recorder = new FlightRecorder({ name: "p", capacity: times.length });
  for (const time of times) recorder.record("recv", "ok", time);
  expect(recorder.jsonl()).toBe(times.map((time) => reference(time, "recv", "ok")).join(""));
  // Times that are not wall-clock times (a replay from 0, say) take toFixed itself.
  const small = new FlightRecorder({ name: "p" });
  for (const time of [0, 0.0005, 1.5, 123.4565, 999.9995]) small.record("send", "G1", time);
  expect(small.jsonl()).toBe([0, 0.0005, 1.5, 123.4565, 999.9995].map((time) => reference(time, "send", "G1")).join(""));
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

test("a large batch with long and escaped lines (lone surrogates too) is the reference JSONL", () => {
  const recorder = new FlightRecorder({ name: "p", capacity: 5000 });
  const lines = Array.from({ length: 3000 }, (_, i) => (i % 500 === 7 ? `echo:${'"\\\u0002é'.repeat(5000)}\ud800` : `N${i} G1 X${i}.125 Y${i % 97} E0.0421*${i % 256}`));
  const expected = lines.map((line, i) => {
    recorder.record("send", line, 1_795_294_869_280.5 + i);
    return reference(1_795_294_869_280.5 + i, "send", line);
  });
  expect(recorder.jsonl()).toBe(expected.join(""));
});

test("after the ring came round, JSONL starts at the oldest line still held", () => {
  const recorder = new FlightRecorder({ name: "p", capacity: 4 });
  for (let i = 0; i < 10; i++) recorder.record("send", `G1 X${i}`, 1_795_294_869_280 + i);
  expect(recorder.jsonl()).toBe([6, 7, 8, 9].map((i) => reference(1_795_294_869_280 + i, "send", `G1 X${i}`)).join(""));
  expect(recorder.since(8).map((e) => e.line)).toEqual(["G1 X8", "G1 X9"]);
  expect(recorder.since(0, 1).map((e) => e.line)).toEqual(["G1 X9"]);
});

test("the log rotates by bytes: no file over the limit, the given number kept, nothing lost in between", async () => {
  const dir = mkdtempSync(join(tmpdir(), "layerline-recorder-"));
  dirs.push(dir);
  const max = 460;
  const recorder = new FlightRecorder({ name: "p", dir, capacity: 1000, maxFileBytes: max, keepFiles: 2 });
  const written: string[] = [];
  for (let i = 0; i < 40; i++) {
    // Received lines may hold any byte: "é" is two bytes in the file for one character.
    const line = i % 5 === 4 ? `N${i} G1 X${i}` : `echo:${"é".repeat(35)}`;
    const t = 1_795_294_869_280 + i;
    recorder.record("recv", line, t);
    written.push(reference(t, "recv", line));
    await recorder.flush();
    expect(Bun.file(join(dir, "serial-p.jsonl")).size).toBeLessThanOrEqual(max);
  }
  const files = [2, 1, 0].map((k) => join(dir, k === 0 ? "serial-p.jsonl" : `serial-p.${k}.jsonl`));
  const texts = files.map((f) => readFileSync(f, "utf8"));
  for (const f of files) expect(Bun.file(f).size).toBeLessThanOrEqual(max);
  expect(Bun.file(join(dir, "serial-p.3.jsonl")).size).toBe(0); // only keepFiles rotated files stay
  // The three files are the newest lines, in order, with none missing between them.
  expect(written.join("").endsWith(texts.join(""))).toBe(true);
});
