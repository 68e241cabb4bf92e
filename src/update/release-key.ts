/**
 * The public half of the project's release signing key, built into every binary: a host installs
 * only releases signed by its private half (kept offline by the release maintainer, never in the
 * repository). `--update-public-key FILE` replaces it for self-hosted channels and tests.
 */
import type { KeyObject } from "node:crypto";
import { parsePublicKey, readKeyFile } from "../signing/ed25519.ts";

export const RELEASE_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEASMJbpbYcHFjrMvwKNnPWhTMfo9aZD5YnNNg8ro27OvY=
-----END PUBLIC KEY-----
`;

/** The key updates are checked against: the file given, or the built-in one. Throws a sentence. */
export function trustedPublicKey(file?: string): KeyObject {
  if (!file) return parsePublicKey(RELEASE_PUBLIC_KEY, "the built-in release key");
  return readKeyFile(file, "public", "the update public key");
}
