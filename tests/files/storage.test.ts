import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/database.ts";
import { safeRelativePath } from "../../src/files/paths.ts";
import { FileError, FileStorage } from "../../src/files/storage.ts";

let dir: string;
let db: Database;
let printing: Set<string>;
let files: FileStorage;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "layerline-files-"));
  db = openDatabase(dir);
  printing = new Set();
  files = new FileStorage(join(dir, "files"), db, () => printing);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const sha = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FileError);
    return (e as FileError).code;
  }
  throw new Error("expected a FileError");
};

describe("file storage", () => {
  test("paths that could escape the folder are refused with the reason", () => {
    for (const bad of ["../x.gcode", "a/../../x.gcode", "a\0b.gcode", "a\\b.gcode", ".hidden.gcode", `${"x".repeat(256)}.gcode`, "", "a/\x07.gcode"]) {
      expect(safeRelativePath(bad).ok).toBe(false);
    }
    expect(safeRelativePath("/abs/olute.gcode")).toEqual({ ok: true, path: "abs/olute.gcode" });
    expect(codeOf(() => files.checkTarget("../etc/passwd.gcode"))).toBe("invalid_path");
    expect(codeOf(() => files.checkTarget("notes.txt"))).toBe("not_printable");
  });

  test("uploads are hashed; duplicates share the hash; copies keep it", async () => {
    const a = await files.save("a.gcode", new Blob(["G1 X1\n"]));
    expect(a.sha256).toBe(sha("G1 X1\n"));
    await files.save("dir/b.gcode", new Blob(["G1 X1\n"]));
    files.copy("a.gcode", "c.gcode");
    expect(files.withHash(a.sha256!)).toEqual(["a.gcode", "c.gcode", "dir/b.gcode"]);
    expect(files.get("c.gcode")!.sha256).toBe(a.sha256);
  });

  test("folders: create, move, copy, rename, delete (recursive only when asked)", async () => {
    files.mkdir("parts/brackets");
    await files.save("parts/brackets/l.gcode", new Blob(["G1 X1\n"]));
    expect(files.folders().map((f) => f.path)).toEqual(["parts", "parts/brackets"]);
    expect(files.move("parts/brackets", "archive/brackets")).toBe("archive/brackets");
    expect(files.get("archive/brackets/l.gcode")!.sha256).toBe(sha("G1 X1\n")); // the row moved with it
    files.copy("archive", "copy");
    expect(files.list().map((f) => f.path).sort()).toEqual(["archive/brackets/l.gcode", "copy/brackets/l.gcode"]);
    expect(files.move("copy/brackets/l.gcode", "copy/brackets/r.gcode")).toBe("copy/brackets/r.gcode");
    expect(codeOf(() => files.move("archive", "archive/inside"))).toBe("invalid_path");
    expect(codeOf(() => files.removeFolder("archive"))).toBe("not_empty");
    files.removeFolder("archive", true);
    expect(existsSync(join(dir, "files/archive"))).toBe(false);
  });

  test("existing names are not overwritten by moves unless asked", async () => {
    await files.save("a.gcode", new Blob(["A\n"]));
    await files.save("b.gcode", new Blob(["B\n"]));
    expect(codeOf(() => files.move("a.gcode", "b.gcode"))).toBe("exists");
    files.move("a.gcode", "b.gcode", true);
    expect(await Bun.file(files.absolute("b.gcode")).text()).toBe("A\n");
    await expect(files.save("b.gcode", new Blob(["C\n"]), false)).rejects.toBeInstanceOf(FileError);
  });

  test("a file being printed cannot be deleted, moved, overwritten, nor its folder removed", async () => {
    await files.save("jobs/now.gcode", new Blob(["G1 X1\n"]));
    printing.add("jobs/now.gcode");
    expect(codeOf(() => files.remove("jobs/now.gcode"))).toBe("in_use");
    expect(codeOf(() => files.move("jobs/now.gcode", "later.gcode"))).toBe("in_use");
    expect(codeOf(() => files.move("jobs", "old"))).toBe("in_use");
    expect(codeOf(() => files.removeFolder("jobs", true))).toBe("in_use");
    await expect(files.save("jobs/now.gcode", new Blob(["x"]))).rejects.toMatchObject({ code: "in_use" });
    files.copy("jobs/now.gcode", "copy.gcode"); // copying is fine
  });

  test("symbolic links are never followed", async () => {
    const outside = join(dir, "outside");
    mkdirSync(outside);
    symlinkSync(outside, join(dir, "files/link"));
    expect(codeOf(() => files.checkTarget("link/evil.gcode"))).toBe("invalid_path");
    await expect(files.save("link/evil.gcode", new Blob(["x"]))).rejects.toMatchObject({ code: "invalid_path" });
    expect(codeOf(() => files.mkdir("link/sub"))).toBe("invalid_path");
    expect(readdirSync(outside)).toEqual([]);
    writeFileSync(join(outside, "secret.gcode"), "secret");
    symlinkSync(join(outside, "secret.gcode"), join(dir, "files/secret.gcode"));
    expect(files.get("secret.gcode")).toBeUndefined();
    expect(files.list()).toEqual([]);
  });

  test("files copied in by hand appear; a changed file loses its stale hash; leftovers are cleaned", async () => {
    await files.save("a.gcode", new Blob(["one\n"]));
    writeFileSync(join(dir, "files/hand.gcode"), "G1 X2\n");
    expect(files.list().find((f) => f.path === "hand.gcode")!.sha256).toBeNull();
    await Bun.sleep(5);
    writeFileSync(join(dir, "files/a.gcode"), "two, longer\n");
    expect(files.get("a.gcode")!.sha256).toBeNull();
    writeFileSync(join(dir, "files/.upload-leftover"), "partial");
    new FileStorage(join(dir, "files"), db);
    expect(existsSync(join(dir, "files/.upload-leftover"))).toBe(false);
  });

  test("files copied in by hand under names no request could address are left out, not listed to fail", async () => {
    await files.save("ok.gcode", new Blob(["G1 X1\n"]));
    for (const name of [" lead.gcode", "trail.gcode ", "back\\slash.gcode", "ctl\x01.gcode"]) writeFileSync(join(dir, "files", name), "G1 X2\n");
    mkdirSync(join(dir, "files", " folder"));
    writeFileSync(join(dir, "files", " folder", "inner.gcode"), "G1 X3\n");
    expect(files.list().map((f) => f.path)).toEqual(["ok.gcode"]);
    expect(files.folders().map((f) => f.path)).toEqual([]);
    // Everything that goes over every file works (it threw on such a name).
    for (const f of files.list()) expect(files.get(f.path)?.path).toBe(f.path);
  });

  test("free and total space", () => {
    const { free, total } = files.space();
    expect(total).toBeGreaterThan(free);
    expect(free).toBeGreaterThan(0);
  });
});
