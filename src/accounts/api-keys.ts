/**
 * API keys: per user, with a scope, an optional expiry and an optional printer restriction.
 * The key itself is shown once at creation; only its digest and a short hint are stored.
 */
import type { Database } from "bun:sqlite";
import { newToken, tokenDigest } from "./tokens.ts";

export interface ApiKey {
  id: string;
  userId: string;
  name: string;
  /** The last characters of the key, so people can tell keys apart. */
  hint: string;
  scope: string;
  printerId: string | null;
  /** The app that requested it through the app-keys flow, if any. */
  app: string | null;
  expiresAt: number | null;
  createdAt: number;
  lastUsedAt: number | null;
}

interface Row {
  id: string;
  user_id: string;
  name: string;
  hint: string;
  scope: string;
  printer_id: string | null;
  app: string | null;
  expires_at: number | null;
  created_at: number;
  last_used_at: number | null;
}

const toKey = (r: Row): ApiKey => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  hint: r.hint,
  scope: r.scope,
  printerId: r.printer_id,
  app: r.app,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

export interface NewApiKey {
  userId: string;
  name: string;
  scope: string;
  printerId?: string | null;
  app?: string | null;
  expiresAt?: number | null;
}

const USED_WRITE_MS = 60_000;

export class ApiKeyStore {
  constructor(private readonly db: Database) {}

  /** Creates a key; the returned `key` is the only time the secret exists outside the client. */
  create(input: NewApiKey, now: number): { key: string; record: ApiKey } {
    const key = newToken();
    const id = crypto.randomUUID();
    this.db
      .query("INSERT INTO api_keys (id, user_id, name, digest, hint, scope, printer_id, app, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(id, input.userId, input.name, tokenDigest(key), key.slice(-4), input.scope, input.printerId ?? null, input.app ?? null, input.expiresAt ?? null, now);
    return { key, record: this.get(id)! };
  }

  get(id: string): ApiKey | undefined {
    const row = this.db.query("SELECT * FROM api_keys WHERE id = ?").get(id) as Row | null;
    return row ? toKey(row) : undefined;
  }

  /** The valid (unexpired) key for a secret, noting its use; undefined otherwise. */
  verify(key: string, now: number): ApiKey | undefined {
    const row = this.db.query("SELECT * FROM api_keys WHERE digest = ?").get(tokenDigest(key)) as Row | null;
    if (!row || (row.expires_at !== null && row.expires_at <= now)) return undefined;
    if (row.last_used_at === null || now - row.last_used_at > USED_WRITE_MS) {
      this.db.query("UPDATE api_keys SET last_used_at = ? WHERE id = ?").run(now, row.id);
    }
    return toKey(row);
  }

  list(userId?: string): ApiKey[] {
    const rows = userId
      ? this.db.query("SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at DESC").all(userId)
      : this.db.query("SELECT * FROM api_keys ORDER BY created_at DESC").all();
    return (rows as Row[]).map(toKey);
  }

  revoke(id: string): boolean {
    return this.db.query("DELETE FROM api_keys WHERE id = ?").run(id).changes > 0;
  }
}
