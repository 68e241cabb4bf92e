/**
 * The one sqlite file (design principle 7): WAL mode, numbered forward-only migrations applied at
 * start inside a transaction each, so a crash mid-migration leaves the previous version intact.
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { migrations } from "./migrations/index.ts";

export const DATABASE_FILE = "layerline.sqlite";

/**
 * Opens (creating if needed) the database in `dataDir` and brings its schema up to date. Another
 * program in the binary with its own data (the registry service) passes its own file and list.
 */
export function openDatabase(dataDir: string, file = DATABASE_FILE, list: readonly string[] = migrations): Database {
  const db = new Database(join(dataDir, file), { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA busy_timeout = 5000");
  migrate(db, list);
  return db;
}

/** The schema version: the number of the last migration applied. */
export function schemaVersion(db: Database): number {
  return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
}

function migrate(db: Database, list: readonly string[]): void {
  const current = schemaVersion(db);
  const latest = list.length;
  if (current > latest) {
    throw new Error(
      `The database was written by a newer Layerline (schema ${current}, this build knows ${latest}). ` +
        "Run the newer version, or restore a backup of the data folder.",
    );
  }
  for (let version = current + 1; version <= latest; version++) {
    db.transaction(() => {
      db.exec(list[version - 1]!);
      db.exec(`PRAGMA user_version = ${version}`);
    })();
  }
}
