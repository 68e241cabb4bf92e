/**
 * Applying a staged restore: what it replaces goes aside whole, parts the backup leaves out stay,
 * and a start interrupted half-way (the machine lost power) finishes the same move on the next
 * start without losing either side.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBackup } from "../../src/backup/create.ts";
import { applyStagedRestore, stageRestore } from "../../src/backup/restore.ts";
import { openDatabase } from "../../src/db/database.ts";
import { migrations } from "../../src/db/migrations/index.ts";

const root = mkdtempSync(join(tmpdir(), "layerline-apply-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A data folder with a database (a setting telling it apart), a file and a timelapse video. */
function dataFolder(name: string, mark: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, "files"), { recursive: true });
  mkdirSync(join(dir, "timelapse"), { recursive: true });
  const db = openDatabase(dir);
  db.query("INSERT INTO settings (key, value) VALUES ('mark', ?)").run(JSON.stringify(mark));
  db.close();
  writeFileSync(join(dir, "files", `${mark}.gcode`), `; ${mark}\n`);
  writeFileSync(join(dir, "timelapse", `${mark}.mp4`), mark);
  return dir;
}

const markOf = (dir: string) => {
  const db = openDatabase(dir);
  try {
    return JSON.parse((db.query("SELECT value FROM settings WHERE key = 'mark'").get() as { value: string }).value);
  } finally {
    db.close();
  }
};

async function backupOf(dir: string, withTimelapses = false): Promise<string> {
  const output = join(root, `${dir.split("/").pop()}-${withTimelapses}.tar.gz`);
  await createBackup({ dataDir: dir, output, withTimelapses, version: "test", now: Date.now() });
  return output;
}

test("a restore without timelapses keeps the videos there; the replaced parts go aside whole", async () => {
  const backup = await backupOf(dataFolder("source-a", "old"));
  const target = dataFolder("target-a", "new");
  await stageRestore(target, backup, migrations.length);
  const applied = applyStagedRestore(target, Date.now())!;
  expect(markOf(target)).toBe("old");
  expect(readdirSync(join(target, "files"))).toEqual(["old.gcode"]);
  expect(readdirSync(join(target, "timelapse"))).toEqual(["new.mp4"]);
  expect(readdirSync(join(applied.aside, "files"))).toEqual(["new.gcode"]);
  expect(markOf(applied.aside)).toBe("new");
  expect(applyStagedRestore(target, Date.now())).toBeNull();
});

test("with timelapses the videos are replaced too", async () => {
  const backup = await backupOf(dataFolder("source-b", "old"), true);
  const target = dataFolder("target-b", "new");
  await stageRestore(target, backup, migrations.length);
  const applied = applyStagedRestore(target, Date.now())!;
  expect(readdirSync(join(target, "timelapse"))).toEqual(["old.mp4"]);
  expect(readdirSync(join(applied.aside, "timelapse"))).toEqual(["new.mp4"]);
});

test("a start interrupted while moving finishes the move: nothing of either side is lost", async () => {
  const backup = await backupOf(dataFolder("source-c", "old"));
  const target = dataFolder("target-c", "new");
  await stageRestore(target, backup, migrations.length);
  // As if the power went after the replaced parts went aside and the files came in.
  const aside = join(target, "before-restore-interrupted");
  mkdirSync(aside);
  for (const name of readdirSync(target).filter((n) => n.startsWith("layerline.sqlite") || n === "files")) renameSync(join(target, name), join(aside, name));
  renameSync(join(target, "restore", "staged", "files"), join(target, "files"));
  writeFileSync(join(target, "restore", "apply.json"), JSON.stringify({ aside, phase: "in" }));

  const applied = applyStagedRestore(target, Date.now())!;
  expect(applied.aside).toBe(aside);
  expect(markOf(target)).toBe("old");
  expect(readdirSync(join(target, "files"))).toEqual(["old.gcode"]);
  expect(readFileSync(join(aside, "files", "new.gcode"), "utf8")).toBe("; new\n");
  expect(markOf(aside)).toBe("new");
  expect(existsSync(join(target, "restore", "apply.json"))).toBe(false);
  expect(existsSync(join(target, "restore", "staged"))).toBe(false);
});

test("the CLI refuses a backup from a newer Layerline and changes nothing", async () => {
  const dir = dataFolder("newer", "newer");
  const db = openDatabase(dir);
  db.exec(`PRAGMA user_version = ${migrations.length + 3}`);
  db.close();
  const backup = await backupOf(dir);
  const target = dataFolder("target-d", "mine");
  const proc = Bun.spawn(["bun", new URL("../../src/main.ts", import.meta.url).pathname, "restore", backup, "--data-dir", target, "--yes"], { stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(1);
  expect(err).toContain(`newer than this Layerline knows (schema ${migrations.length})`);
  expect(err).toContain("Update Layerline to test or later first");
  expect(markOf(target)).toBe("mine");
  expect(readdirSync(target).filter((n) => n.startsWith("before-restore"))).toEqual([]);
  expect(readdirSync(join(target, "files"))).toEqual(["mine.gcode"]);
  expect(readdirSync(join(target, "restore"))).toEqual([]);
});
