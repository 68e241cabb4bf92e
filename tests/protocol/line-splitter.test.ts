/**
 * The line splitter against the obvious definition (decode the whole stream as UTF-8, split at
 * `\n`, drop a `\r` before it), over random chunkings of real and hostile byte streams.
 */
import { expect, test } from "bun:test";
import { LineSplitter } from "../../src/protocol/line-splitter.ts";

const encoder = new TextEncoder();

/** What the lines of a byte stream are, by definition (the last, unfinished one is not a line). */
function reference(bytes: Uint8Array): string[] {
  const parts = new TextDecoder().decode(bytes).split("\n");
  parts.pop();
  return parts.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

function splitInChunks(bytes: Uint8Array, random: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + Math.floor(random() * (random() < 0.2 ? 200 : 12));
    chunks.push(bytes.slice(i, i + n));
    i += n;
  }
  return chunks;
}

function run(bytes: Uint8Array, random: () => number): string[] {
  const splitter = new LineSplitter();
  const out: string[] = [];
  for (const chunk of splitInChunks(bytes, random)) splitter.push(chunk, (l) => out.push(l));
  return out;
}

let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

test("a print's traffic: oks, ADVANCED_OK, temperatures, CRLF, split anywhere", () => {
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const r = random();
    lines.push(r < 0.6 ? "ok" : r < 0.8 ? `ok N${i} P${i % 16} B${i % 4}` : r < 0.9 ? `T:${(200 + r).toFixed(2)} /210.00 B:60.00 /60.00 @:127 B@:0` : "echo:busy: processing");
  }
  const text = lines.map((l, i) => (i % 3 === 0 ? `${l}\r\n` : `${l}\n`)).join("") + "ok T:21";
  const bytes = encoder.encode(text);
  for (let k = 0; k < 5; k++) expect(run(bytes, random)).toEqual(reference(bytes));
  expect(reference(bytes)).toHaveLength(3000);
});

test("UTF-8 split between reads, invalid bytes, NULs, bare CRs, long lines and empty lines", () => {
  const text = ["température 21.5°C", "ÿþ garbage", "", "\r", "x\ry", "\0ok\0", "Ünïcødé ✓ 😀", "a".repeat(500), "ok"].join("\n") + "\n";
  const valid = encoder.encode(text);
  const hostile = new Uint8Array([0xff, 0xfe, 0x0a, 0xe2, 0x82, 0x0a, 0xc3, 0x0d, 0x0a, 0xf0, 0x9f, 0x98, 0x0a, 0x80, 0x80, 0x0a]);
  for (const bytes of [valid, hostile, new Uint8Array([...valid, ...hostile, ...valid])]) {
    for (let k = 0; k < 20; k++) expect(run(bytes, random)).toEqual(reference(bytes));
  }
});

test("many different short lines of one length: remembered lines never come back for others", () => {
  // Thousands of 6-byte lines share the 64 slots: every answer must still be its own line.
  const lines = Array.from({ length: 5000 }, (_, i) => `ok ${String(i % 997).padStart(3, "0")}`);
  const bytes = encoder.encode(lines.join("\n") + "\n");
  expect(run(bytes, random)).toEqual(lines);
});

test("reset forgets the unfinished line", () => {
  const splitter = new LineSplitter();
  const out: string[] = [];
  splitter.push(encoder.encode("ok\nT:2"), (l) => out.push(l));
  splitter.reset();
  splitter.push(encoder.encode("1.0\nok\n"), (l) => out.push(l));
  expect(out).toEqual(["ok", "1.0", "ok"]);
});
