/**
 * The tar writer: what it writes reads back through Layerline's own untrusting reader and through
 * GNU tar, long (pax) and non-ASCII names included; files are streamed from disk.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openArchive } from "../../src/archive/archive.ts";
import { isBackedUp } from "../../src/backup/contents.ts";
import { tarHeader, writeTarGz } from "../../src/backup/tar.ts";

const dir = mkdtempSync(join(tmpdir(), "layerline-tar-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("entries written round-trip through the reader and GNU tar, long and non-ASCII names too", async () => {
  const long = `files/${"deep-folder/".repeat(12)}Überbrücke – ein sehr langer Dateiname.gcode`;
  expect(new TextEncoder().encode(long).length).toBeGreaterThan(100);
  const onDisk = join(dir, "big.gcode");
  const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 7) % 251);
  writeFileSync(onDisk, big);
  const out = join(dir, "t.tar.gz");
  await writeTarGz(out, [
    { path: "manifest.json", type: "file", mtimeMs: 0, bytes: new TextEncoder().encode("{}") },
    { path: "files", type: "directory", mtimeMs: 0 },
    { path: "files/empty", type: "directory", mtimeMs: 0 },
    { path: "files/zero.gcode", type: "file", mtimeMs: 0, bytes: new Uint8Array() },
    { path: long, type: "file", mtimeMs: 1_700_000_000_000, bytes: new TextEncoder().encode("G28\n") },
    { path: "files/big.gcode", type: "file", mtimeMs: 0, file: onDisk },
  ]);
  const archive = openArchive(new Uint8Array(await Bun.file(out).arrayBuffer()), { maxTotalBytes: 2 ** 30, maxFileBytes: 2 ** 30, maxEntries: 100 });
  expect(archive.entries.map((e) => [e.path, e.type])).toEqual([
    ["manifest.json", "file"],
    ["files/", "directory"],
    ["files/empty/", "directory"],
    ["files/zero.gcode", "file"],
    [long, "file"],
    ["files/big.gcode", "file"],
  ]);
  expect(new TextDecoder().decode(archive.read(long))).toBe("G28\n");
  expect(Buffer.compare(Buffer.from(archive.read("files/big.gcode")), Buffer.from(big))).toBe(0);
  const listed = Bun.spawnSync(["tar", "-tzf", out]);
  expect(listed.exitCode).toBe(0);
  expect(listed.stdout.toString().trim().split("\n")).toEqual(["manifest.json", "files/", "files/empty/", "files/zero.gcode", long, "files/big.gcode"]);
});

test("a header is one block for short names, a pax header and the block for long ones", () => {
  expect(tarHeader({ path: "a.gcode", type: "file", size: 3, mtimeMs: 0 }).length).toBe(512);
  expect(tarHeader({ path: "x".repeat(101), type: "file", size: 3, mtimeMs: 0 }).length).toBe(512 * 3);
});

test("uploads in progress, plugins' kept-aside versions and timelapse frames are never backed up", () => {
  expect(isBackedUp("files", "parts/.upload-abc", false)).toBe(false);
  expect(isBackedUp("files", "parts/a.gcode", false)).toBe(true);
  expect(isBackedUp("plugins", ".previous", true)).toBe(false);
  expect(isBackedUp("plugins", "my-plugin/dist/index.js", false)).toBe(true);
  expect(isBackedUp("timelapse", "frames", true)).toBe(false);
  expect(isBackedUp("timelapse", "p_cube_20260101.mp4", false)).toBe(true);
  expect(isBackedUp("timelapse", "p_cube_20260101.thumb.jpg", false)).toBe(true);
});
