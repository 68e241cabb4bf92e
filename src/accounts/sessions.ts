/**
 * Login sessions: a browser's cookie session, or the session an API client gets from
 * `POST /api/login` for the push socket's `auth` message. Stored by digest; a session made with an
 * API key keeps that key's scope and printer restriction.
 */
import type { Database } from "bun:sqlite";
import { newToken, tokenDigest } from "./tokens.ts";

export const SESSION_MS = 24 * 3600_000;
export const REMEMBER_MS = 30 * 24 * 3600_000;
/** Sliding expiry is written at most this often, so reads stay reads. */
const TOUCH_MS = 60_000;

export type LoginMechanism = "password" | "apikey" | "setup";

export interface Session {
  digest: string;
  userId: string;
  csrf: string;
  mechanism: LoginMechanism;
  /** Scope string of the API key it came from; null = all of the user's permissions. */
  scope: string | null;
  printerId: string | null;
  apiKeyId: string | null;
  remember: boolean;
  createdAt: number;
  expiresAt: number;
}

interface Row {
  digest: string;
  user_id: string;
  csrf: string;
  mechanism: LoginMechanism;
  scope: string | null;
  printer_id: string | null;
  api_key_id: string | null;
  remember: number;
  created_at: number;
  last_seen: number;
  expires_at: number;
}

const toSession = (r: Row): Session => ({
  digest: r.digest,
  userId: r.user_id,
  csrf: r.csrf,
  mechanism: r.mechanism,
  scope: r.scope,
  printerId: r.printer_id,
  apiKeyId: r.api_key_id,
  remember: r.remember === 1,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export interface NewSession {
  userId: string;
  mechanism: LoginMechanism;
  scope?: string | null;
  printerId?: string | null;
  apiKeyId?: string | null;
  remember?: boolean;
}

export class SessionStore {
  constructor(private readonly db: Database) {}

  /** Starts a session; returns the token (given to the client once) and the record. */
  create(input: NewSession, now: number): { token: string; session: Session } {
    this.db.query("DELETE FROM sessions WHERE expires_at <= ?").run(now);
    const token = newToken();
    const lifetime = input.remember ? REMEMBER_MS : SESSION_MS;
    this.db
      .query(
        "INSERT INTO sessions (digest, user_id, csrf, mechanism, scope, printer_id, api_key_id, remember, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(tokenDigest(token), input.userId, newToken(), input.mechanism, input.scope ?? null, input.printerId ?? null, input.apiKeyId ?? null, input.remember ? 1 : 0, now, now, now + lifetime);
    return { token, session: this.byDigest(tokenDigest(token))! };
  }

  /** The live session for a token, extending its expiry; undefined if unknown or expired. */
  find(token: string, now: number): Session | undefined {
    const digest = tokenDigest(token);
    const row = this.db.query("SELECT * FROM sessions WHERE digest = ?").get(digest) as Row | null;
    if (!row || row.expires_at <= now) return undefined;
    if (now - row.last_seen > TOUCH_MS) {
      const lifetime = row.remember ? REMEMBER_MS : SESSION_MS;
      this.db.query("UPDATE sessions SET last_seen = ?, expires_at = ? WHERE digest = ?").run(now, now + lifetime, digest);
    }
    return toSession(row);
  }

  byDigest(digest: string): Session | undefined {
    const row = this.db.query("SELECT * FROM sessions WHERE digest = ?").get(digest) as Row | null;
    return row ? toSession(row) : undefined;
  }

  /** Ends one session; returns it if it existed. */
  end(token: string): Session | undefined {
    const session = this.byDigest(tokenDigest(token));
    if (session) this.db.query("DELETE FROM sessions WHERE digest = ?").run(session.digest);
    return session;
  }

  /** Ends every session of a user ("log out everywhere"); returns their digests. */
  endAll(userId: string): string[] {
    const digests = (this.db.query("SELECT digest FROM sessions WHERE user_id = ?").all(userId) as { digest: string }[]).map((r) => r.digest);
    this.db.query("DELETE FROM sessions WHERE user_id = ?").run(userId);
    return digests;
  }

  /** Ends the sessions opened with an API key (when the key is revoked). */
  endForKey(apiKeyId: string): string[] {
    const digests = (this.db.query("SELECT digest FROM sessions WHERE api_key_id = ?").all(apiKeyId) as { digest: string }[]).map((r) => r.digest);
    this.db.query("DELETE FROM sessions WHERE api_key_id = ?").run(apiKeyId);
    return digests;
  }

  countForUser(userId: string, now: number): number {
    return (this.db.query("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND expires_at > ?").get(userId, now) as { n: number }).n;
  }
}
