import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { openDatabase, schemaVersion } from "../../src/db/database.ts";
import { migrations } from "../../src/db/migrations/index.ts";
import { SettingsStore } from "../../src/db/settings.ts";

const dir = mkdtempSync(join(tmpdir(), "layerline-db-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("migrations bring a new database to the latest version, in WAL mode, once", () => {
  const db = openDatabase(dir);
  expect(schemaVersion(db)).toBe(migrations.length);
  expect((db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
  db.close();
  const again = openDatabase(dir); // applying again is a no-op, not an error
  expect(schemaVersion(again)).toBe(migrations.length);
  again.close();
});

test("a database from a newer version is refused with a clear message", () => {
  const other = mkdtempSync(join(dir, "newer-"));
  const db = openDatabase(other);
  db.exec(`PRAGMA user_version = ${migrations.length + 5}`);
  db.close();
  expect(() => openDatabase(other)).toThrow(/newer Layerline/);
});

test("settings are validated on read: invalid or missing values give the fallback", () => {
  const db = openDatabase(dir);
  const settings = new SettingsStore(db);
  const Channel = v.picklist(["stable", "beta"]);
  expect(settings.get("update.channel", Channel, "stable")).toBe("stable");
  settings.set("update.channel", "beta");
  expect(settings.get("update.channel", Channel, "stable")).toBe("beta");
  settings.set("update.channel", "nightly-of-doom");
  expect(settings.get("update.channel", Channel, "stable")).toBe("stable");
  db.query("UPDATE settings SET value = '{broken' WHERE key = 'update.channel'").run();
  expect(settings.get("update.channel", Channel, "stable")).toBe("stable");
  settings.delete("update.channel");
  expect(settings.get("update.channel", Channel, "beta")).toBe("beta");
  db.close();
});
