/**
 * Secrets handed to people and machines (session cookies, API keys, app tokens): random, URL-safe,
 * and stored only as a SHA-256 digest. They carry 256 bits of entropy, so a fast digest is
 * enough; passwords, which people choose, use argon2id instead (`passwords.ts`).
 */

/** A new random token, 43 URL-safe characters (the length OctoPrint's own keys have). */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Buffer.from(bytes).toString("base64url");
}

/** The digest under which a token is stored and looked up. */
export function tokenDigest(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("hex");
}

/** Compares two strings without leaking where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
