/**
 * What the host remembers about plugins in the database: whether each is enabled (and why not),
 * where an installed one came from, its settings, and its private data (`ctx.storage`).
 * Values are JSON, read back through a schema where the host relies on their shape.
 */
import type { Database } from "bun:sqlite";

export type InstallSource = "upload" | "url" | "repository";

export interface PluginStateRow {
  enabled: boolean;
  /** Why the host disabled it (faults), or null when the user did. */
  reason: string | null;
  source: InstallSource | null;
  archiveSha256: string | null;
  installedAt: number | null;
  updatedAt: number | null;
}

const DEFAULT_STATE: PluginStateRow = { enabled: true, reason: null, source: null, archiveSha256: null, installedAt: null, updatedAt: null };

export class PluginStore {
  constructor(private readonly db: Database) {}

  state(id: string): PluginStateRow {
    const row = this.db.query("SELECT enabled, reason, source, archive_sha256, installed_at, updated_at FROM plugin_state WHERE id = ?").get(id) as {
      enabled: number;
      reason: string | null;
      source: InstallSource | null;
      archive_sha256: string | null;
      installed_at: number | null;
      updated_at: number | null;
    } | null;
    if (!row) return { ...DEFAULT_STATE };
    return { enabled: row.enabled === 1, reason: row.reason, source: row.source, archiveSha256: row.archive_sha256, installedAt: row.installed_at, updatedAt: row.updated_at };
  }

  setEnabled(id: string, enabled: boolean, reason: string | null = null): void {
    this.db
      .query("INSERT INTO plugin_state (id, enabled, reason) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET enabled = excluded.enabled, reason = excluded.reason")
      .run(id, enabled ? 1 : 0, reason);
  }

  /** Records an install or update (keeps the enabled flag of an update). */
  recordInstall(id: string, source: InstallSource, sha256: string, now: number): void {
    this.db
      .query(
        `INSERT INTO plugin_state (id, enabled, source, archive_sha256, installed_at, updated_at) VALUES (?, 1, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET source = excluded.source, archive_sha256 = excluded.archive_sha256, updated_at = excluded.updated_at`,
      )
      .run(id, source, sha256, now, now);
  }

  /** Forgets everything about a plugin (uninstall). */
  forget(id: string): void {
    this.db.transaction(() => {
      this.db.query("DELETE FROM plugin_state WHERE id = ?").run(id);
      this.db.query("DELETE FROM plugin_settings WHERE plugin = ?").run(id);
      this.db.query("DELETE FROM plugin_data WHERE plugin = ?").run(id);
    })();
  }

  /** The stored settings JSON, or undefined (the schema's defaults then apply). */
  settings(id: string): unknown {
    const row = this.db.query("SELECT value FROM plugin_settings WHERE plugin = ?").get(id) as { value: string } | null;
    return row ? parseJson(row.value) : undefined;
  }

  setSettings(id: string, value: unknown): void {
    this.db.query("INSERT INTO plugin_settings (plugin, value) VALUES (?, ?) ON CONFLICT(plugin) DO UPDATE SET value = excluded.value").run(id, JSON.stringify(value));
  }

  data(id: string, key: string): unknown {
    const row = this.db.query("SELECT value FROM plugin_data WHERE plugin = ? AND key = ?").get(id, key) as { value: string } | null;
    return row ? parseJson(row.value) : undefined;
  }

  setData(id: string, key: string, value: unknown): void {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError("the value must be JSON-serialisable");
    this.db.query("INSERT INTO plugin_data (plugin, key, value) VALUES (?, ?, ?) ON CONFLICT(plugin, key) DO UPDATE SET value = excluded.value").run(id, key, json);
  }

  deleteData(id: string, key: string): void {
    this.db.query("DELETE FROM plugin_data WHERE plugin = ? AND key = ?").run(id, key);
  }

  dataKeys(id: string): string[] {
    return (this.db.query("SELECT key FROM plugin_data WHERE plugin = ? ORDER BY key").all(id) as { key: string }[]).map((r) => r.key);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
