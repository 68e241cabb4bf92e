/**
 * Camera tokens: the credential in the stream and snapshot URLs OctoPrint clients are given
 * (`GET /api/settings`), instead of their API key. Those URLs end up in app logs, screenshots,
 * shared links and proxies' access logs, and clients open them without sending headers; a token
 * opens only one printer's camera picture (stream and snapshot) and nothing else, so a leaked URL
 * shows that camera and nothing more.
 *
 * A token belongs to an API key and a printer. It is derived from the key itself (an HMAC of the
 * printer id, keyed by the key), so the same key gets the same URL on every call — OctoPrint apps
 * read the settings once and keep the URL — while the host stores only the token's digest, like
 * every credential. It lives as long as its key: revoking or expiring the key, removing or
 * deactivating its user, or the user or key losing the `webcam` permission ends it (checked at
 * each use, in `Accounts.principalForCameraToken`).
 */
import type { Database } from "bun:sqlite";
import { tokenDigest } from "./tokens.ts";

/** The query parameter that carries a camera token. */
export const CAMERA_TOKEN_PARAM = "camera_token";

/** The camera token of an API key for a printer. Example: `cameraToken(key, "virtual-printer")` → 43 URL-safe characters. */
export function cameraToken(apiKey: string, printerId: string): string {
  return new Bun.CryptoHasher("sha256", apiKey).update(`layerline camera token 1\n${printerId}`).digest("base64url");
}

export interface CameraTokenRecord {
  apiKeyId: string;
  printerId: string;
}

export class CameraTokenStore {
  constructor(private readonly db: Database) {}

  /** Notes the token of a key for a printer (once: the same key and printer give the same token) and returns it. */
  issue(apiKeyId: string, apiKey: string, printerId: string, now: number): string {
    const token = cameraToken(apiKey, printerId);
    const digest = tokenDigest(token);
    // Read first: settings are read often, and the token is there already but the first time.
    if (!this.db.query("SELECT 1 FROM camera_tokens WHERE digest = ?").get(digest)) {
      this.db.query("INSERT OR IGNORE INTO camera_tokens (digest, api_key_id, printer_id, created_at) VALUES (?, ?, ?, ?)").run(digest, apiKeyId, printerId, now);
    }
    return token;
  }

  /** The key and printer of a token, if it was issued and its key still exists. */
  find(token: string): CameraTokenRecord | undefined {
    const row = this.db.query("SELECT api_key_id, printer_id FROM camera_tokens WHERE digest = ?").get(tokenDigest(token)) as { api_key_id: string; printer_id: string } | null;
    return row ? { apiKeyId: row.api_key_id, printerId: row.printer_id } : undefined;
  }
}
