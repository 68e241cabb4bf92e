/**
 * Passwords: argon2id through Bun.password, never stored or logged in the clear.
 */
import * as v from "valibot";

export const MIN_PASSWORD = 8;

export const PasswordSchema = v.pipe(
  v.string("the password must be text"),
  v.minLength(MIN_PASSWORD, `the password needs at least ${MIN_PASSWORD} characters`),
  v.maxLength(1024, "the password may be at most 1024 characters"),
);

export const UsernameSchema = v.pipe(
  v.string("the user name must be text"),
  v.trim(),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, "a user name is 1–64 letters, digits, . _ @ or -, starting with a letter or digit"),
);

export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  try {
    return await Bun.password.verify(password, hash);
  } catch {
    return false;
  }
}

/** A hash to verify against when the user does not exist, so timing does not reveal names. */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  return (dummy ??= hashPassword(crypto.randomUUID()));
}
