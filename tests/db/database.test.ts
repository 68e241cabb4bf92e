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

test("migration 8: the host-wide analysis limits become the limits of every printer profile that has none", () => {
  const old = mkdtempSync(join(dir, "limits-"));
  const before = openDatabase(old, "layerline.sqlite", migrations.slice(0, 7));
  for (const id of ["a", "b", "c", "d"]) before.query("INSERT INTO printers (id, name, transport, created_at) VALUES (?, ?, 'virtual', 0)").run(id, id);
  const set = (key: string, value: string) => before.query("INSERT INTO settings (key, value) VALUES (?, ?)").run(key, value);
  set("analysis.settings", JSON.stringify({ onlyWhenIdle: true, limits: { maxFeedrate: { z: 8 }, printAcceleration: 800 } }));
  set("printer.profile.a", JSON.stringify({ name: "A", heatedBed: false })); // no limits: takes them
  set("printer.profile.b", JSON.stringify({ name: "B", limits: { maxFeedrate: { z: 12 } } })); // its own: kept
  set("printer.profile.c", "{broken"); // left alone
  // d has no profile at all: one is made with the limits.
  before.close();

  const db = openDatabase(old);
  const value = (key: string) => (db.query("SELECT value FROM settings WHERE key = ?").get(key) as { value: string }).value;
  expect(JSON.parse(value("analysis.settings"))).toEqual({ onlyWhenIdle: true });
  expect(JSON.parse(value("printer.profile.a"))).toEqual({ name: "A", heatedBed: false, limits: { maxFeedrate: { z: 8 }, printAcceleration: 800 } });
  expect(JSON.parse(value("printer.profile.b"))).toEqual({ name: "B", limits: { maxFeedrate: { z: 12 } } });
  expect(value("printer.profile.c")).toBe("{broken");
  expect(JSON.parse(value("printer.profile.d"))).toEqual({ limits: { maxFeedrate: { z: 8 }, printAcceleration: 800 } });
  db.close();
});

test("migration 10: rows resumed before it are linked to the interrupted row they resumed, chains included", () => {
  const old = mkdtempSync(join(dir, "chains-"));
  const before = openDatabase(old, "layerline.sqlite", migrations.slice(0, 9));
  const row = before.query(
    "INSERT INTO print_history (job_id, printer_id, printer_name, file, source, size, started_at, outcome, reason, resumed) VALUES (?, ?, 'P', ?, 'host', 10, ?, ?, ?, ?)",
  );
  const stopped = "Layerline stopped during this print (a crash, power loss or restart); it did not finish. It stopped at layer 3 of 9.";
  row.run("a1", "p", "a.gcode", 1, "failed", stopped, 0);
  row.run("b1", "p", "b.gcode", 2, "failed", "Heating failed.", 0); // an ordinary failure: never a resumed print's first part
  row.run("a2", "p", "a.gcode", 3, "failed", stopped, 1);
  row.run("a3", "p", "a.gcode", 4, "done", null, 1);
  row.run("b2", "p", "b.gcode", 5, "done", null, 0);
  row.run("c1", "q", "a.gcode", 6, "done", null, 1); // resumed on another printer: nothing to link to
  before.close();

  const db = openDatabase(old);
  expect(db.query("SELECT job_id, resumed_from, print_chain FROM print_history ORDER BY id").all()).toEqual([
    { job_id: "a1", resumed_from: null, print_chain: null },
    { job_id: "b1", resumed_from: null, print_chain: null },
    { job_id: "a2", resumed_from: "a1", print_chain: "a1" },
    { job_id: "a3", resumed_from: "a2", print_chain: "a1" },
    { job_id: "b2", resumed_from: null, print_chain: null },
    { job_id: "c1", resumed_from: null, print_chain: null },
  ]);
  db.close();
});
