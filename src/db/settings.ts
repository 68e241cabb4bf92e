/**
 * Host settings: JSON values by key in the `settings` table. Each feature owns a key prefix
 * (e.g. `update.`, `analysis.`) and reads its values through a valibot schema, so a value
 * written by an older version or edited by hand can never crash a reader.
 */
import type { Database } from "bun:sqlite";
import * as v from "valibot";

export class SettingsStore {
  constructor(private readonly db: Database) {}

  /** The value of `key` if present and valid against `schema`, else `fallback`. */
  get<S extends v.GenericSchema>(key: string, schema: S, fallback: v.InferOutput<S>): v.InferOutput<S> {
    const row = this.db.query("SELECT value FROM settings WHERE key = ?").get(key) as { value: string } | null;
    if (!row) return fallback;
    let json: unknown;
    try {
      json = JSON.parse(row.value);
    } catch {
      return fallback;
    }
    const parsed = v.safeParse(schema, json);
    return parsed.success ? parsed.output : fallback;
  }

  /** Stores a JSON-serialisable value. */
  set(key: string, value: unknown): void {
    this.db.query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, JSON.stringify(value));
  }

  delete(key: string): void {
    this.db.query("DELETE FROM settings WHERE key = ?").run(key);
  }
}
