/**
 * The job's file reader against its definition: every line read as latin1 and `clean`ed, blank
 * and comment-only lines skipped, with each line's end offset and number — across chunk
 * boundaries, with CRLF, odd whitespace, comments and bytes above 127.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GcodeSource, type SourceLine } from "../../src/printers/gcode-source.ts";
import { clean } from "../../src/protocol/framing.ts";

const dir = mkdtempSync(join(tmpdir(), "layerline-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function reference(bytes: Buffer, start = 0, firstLine = 1): SourceLine[] {
  const out: SourceLine[] = [];
  let line = firstLine;
  for (let pos = start; pos < bytes.length; line++) {
    let nl = bytes.indexOf(10, pos);
    if (nl < 0) nl = bytes.length;
    const command = clean(bytes.toString("latin1", pos, nl));
    if (command) out.push({ command, end: Math.min(nl + 1, bytes.length), line });
    pos = nl + 1;
  }
  return out;
}

async function readAll(path: string, size: number, start = 0, firstLine = 1): Promise<SourceLine[]> {
  const source = new GcodeSource(path, size, start, firstLine);
  const out: SourceLine[] = [];
  while (!source.done) {
    const line = source.next();
    if (line) out.push(line);
    else await source.fill();
  }
  expect(source.error).toBeUndefined();
  return out;
}

test("every command, offset and line number, as clean() reads the line, over several chunks", async () => {
  let seed = 99;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pieces = ["G1 X1.5 Y2", "  G1 X3 ; move", "; only a comment", "", "\t", "M104 S200\r", "\u00a0G28\u00a0", "M117 caf\u00e9 \u00ff", "G1 X1 (not a comment) ;c", "\v\fM105\f", " ;", "T1", "G4 P10\r"];
  const lines: string[] = [];
  for (let i = 0; i < 70_000; i++) lines.push(pieces[Math.floor(random() * pieces.length)]!.replace("X1", `X${i}`));
  const bytes = Buffer.from(lines.join("\n") + "\nG1 X9 ; last line without a newline", "latin1");
  expect(bytes.length).toBeGreaterThan(600 * 1024); // more than two chunks
  const path = join(dir, "mixed.gcode");
  writeFileSync(path, bytes);
  const expected = reference(bytes);
  expect(await readAll(path, bytes.length)).toEqual(expected);
  // Resuming from a line's start gives the rest, numbered on.
  const from = expected[30_000]!;
  const prev = expected[29_999]!;
  expect(await readAll(path, bytes.length, prev.end, prev.line + 1)).toEqual(expected.slice(30_000));
  expect(from.line).toBeGreaterThan(prev.line);
});

test("a UTF-8 byte order mark before the first command is not sent with it", async () => {
  const bytes = Buffer.from("\u00ef\u00bb\u00bfG28\nG1 X1\n", "latin1");
  const path = join(dir, "bom.gcode");
  writeFileSync(path, bytes);
  expect(await readAll(path, bytes.length)).toEqual([
    { command: "G28", end: 7, line: 1 },
    { command: "G1 X1", end: 13, line: 2 },
  ]);
});
