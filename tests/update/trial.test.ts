/**
 * The new version's side of an update, in process: what a start finds in the handover, the
 * self-test, and the rollback a new version does itself when no watchdog is left to do it.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/database.ts";
import { backupDatabase } from "../../src/update/backup.ts";
import { readHandover, selfRef, writeHandover, type Handover } from "../../src/update/handover.ts";
import type { ProcessControl } from "../../src/update/process-control.ts";
import { takeStartupUpdate } from "../../src/update/startup.ts";
import { VERSION } from "../../src/version.ts";
import { startTestHost } from "../helpers/host.ts";
import { handoverFor } from "./helpers.ts";

const root = mkdtempSync(join(tmpdir(), "layerline-trial-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dir: string;
let dataDir: string;
let binary: string;
beforeEach(() => {
  dir = mkdtempSync(join(root, "case-"));
  dataDir = join(dir, "data");
  mkdirSync(join(dataDir, "update"), { recursive: true });
  binary = join(dir, "layerline");
  writeFileSync(binary, "new");
  writeFileSync(`${binary}.previous`, "old");
});

const handover = (change: Partial<Handover> = {}) => handoverFor(binary, dataDir, VERSION, { from: "0.0.1", ...change });

/** A database with one setting, and a backup of it; then the "new version" changes it. */
function databaseWithBackup(): string {
  const db = openDatabase(dataDir);
  db.query("INSERT INTO settings (key, value) VALUES ('kept', '1')").run();
  const backup = join(dataDir, "update", "backup.sqlite");
  backupDatabase(db, backup);
  db.query("INSERT INTO settings (key, value) VALUES ('written-by-new-version', '1')").run();
  db.close();
  return backup;
}

const settingKeys = () => {
  const db = new Database(join(dataDir, "layerline.sqlite"), { readonly: true });
  const keys = (db.query("SELECT key FROM settings ORDER BY key").all() as { key: string }[]).map((r) => r.key);
  db.close();
  return keys;
};

describe("what a start finds", () => {
  test("nothing: no handover", () => {
    expect(takeStartupUpdate(dataDir, VERSION)).toEqual({ kind: "none" });
  });

  test("the new version after a re-exec is on trial", () => {
    writeHandover(dataDir, handover({ process: selfRef() }));
    const found = takeStartupUpdate(dataDir, VERSION);
    expect(found).toMatchObject({ kind: "trial", watched: false });
  });

  test("an update installed offline (pending) is adopted by the next start of the new version", () => {
    writeHandover(dataDir, handover({ phase: "pending" }));
    const found = takeStartupUpdate(dataDir, VERSION);
    expect(found.kind).toBe("trial");
    expect(readHandover(dataDir)).toMatchObject({ phase: "restarting", process: selfRef(), stage: "starting" });
  });

  test("the previous version back after a rollback reports it once", () => {
    writeHandover(dataDir, handover({ phase: "rolled-back", from: VERSION, to: "9.0.0", reason: "it crashed" }));
    expect(takeStartupUpdate(dataDir, VERSION)).toMatchObject({ kind: "rolled-back", handover: { reason: "it crashed" } });
    expect(readHandover(dataDir)).toBeNull();
  });

  test("a new version that had failed (the machine went down mid-rollback) must roll back", () => {
    writeHandover(dataDir, handover({ phase: "failed", reason: "self-test failed", process: { pid: 999_999, startTime: "1" } }));
    expect(takeStartupUpdate(dataDir, VERSION).kind).toBe("must-roll-back");
  });

  test("the previous version starting on an unsettled update puts the old database back", () => {
    const backup = databaseWithBackup();
    writeHandover(dataDir, handover({ from: VERSION, to: "9.0.0", backup, process: { pid: 999_999, startTime: "1" }, stage: "checking the database" }));
    const found = takeStartupUpdate(dataDir, VERSION);
    expect(found).toMatchObject({ kind: "rolled-back", handover: { reason: "the update to 9.0.0 was interrupted (checking the database)" } });
    expect(settingKeys()).toEqual(["kept"]);
  });
});

describe("the self-test", () => {
  test("passes when the database, the server and the printers are back; the update is recorded", async () => {
    writeHandover(dataDir, handover({ process: selfRef() }));
    const host = await startTestHost({ dataDir });
    try {
      const status = await host.waitFor("/api/v1/update", (s) => s.lastResult !== null, 10_000);
      expect(status.lastResult).toMatchObject({ outcome: "updated", from: "0.0.1", to: VERSION });
      expect(readHandover(dataDir)).toBeNull();
    } finally {
      await host.close();
    }
  }, 30_000);

  test("a printer that does not reconnect fails it: with no watchdog the new version rolls back itself", async () => {
    // First run: a serial printer that was connected before the update (its port is gone now).
    const first = await startTestHost({ dataDir });
    const added = await (await first.post("/api/v1/printers", { name: "Ender 3", transport: "serial", port: "/dev/ttyNOPE7", baud: 115200, autoconnect: true })).json();
    await first.close();
    const backup = databaseWithBackup();
    writeHandover(dataDir, handover({ process: selfRef(), backup, printers: [{ id: added.id, name: "Ender 3" }], selfTestSeconds: 2, startedAt: Date.now() }));

    const exits: number[] = [];
    let reexecs = 0;
    const control: ProcessControl = { execPath: binary, argv: [], cwd: dir, reexec: () => (reexecs++, "not in a test"), exit: (code) => (exits.push(code), undefined as never) };
    const host = await startTestHost({ dataDir, update: { control } });
    const deadline = Date.now() + 15_000;
    while (exits.length === 0 && Date.now() < deadline) await Bun.sleep(50);
    await host.close();

    expect(exits).toEqual([75]);
    expect(reexecs).toBe(1);
    const settled = readHandover(dataDir)!;
    expect(settled.phase).toBe("rolled-back");
    expect(settled.reason).toContain(`Layerline ${VERSION} failed its self-test: the printer “Ender 3” did not reconnect`);
    expect(settled.reason).toContain("/dev/ttyNOPE7");
    // The previous binary is back (the failed one kept for inspection), and so is the database.
    expect(readFileSync(binary, "utf8")).toBe("old");
    expect(readFileSync(`${binary}.failed`, "utf8")).toBe("new");
    expect(existsSync(`${binary}.previous`)).toBe(false);
    expect(settingKeys()).toEqual(["kept"]);
  }, 40_000);
});
