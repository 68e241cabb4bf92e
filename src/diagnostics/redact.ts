/**
 * Takes secrets out of what goes into a support bundle, pure. Structured values lose the fields
 * named like secrets (passwords, tokens, keys, the installation's random ids); every string —
 * and every line of a log or trace — loses URL credentials (`user:pass@`, `?token=…`),
 * `Authorization`/`X-Api-Key` values, `password=…` pairs, anything shaped like one of
 * Layerline's own tokens, and any secret the host knows by value (the MQTT password, camera
 * passwords).
 */
import { CREDENTIAL_PARAM } from "../webcam/camera.ts";

export const REDACTED = "[redacted]";

/** Field names whose values are secrets, or identify this installation (the usage-statistics ids). */
const SECRET_FIELD = /^(pass(word|wd)?|pwd|secret|.*token|api_?key|apikey|private_?key|credentials?|cookie|csrf|instanceId|starId)$/i;

const USER_PARAM = /^(user(name)?|usr|login)$/i;
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*(?::[^\s/@]*)?@/gi;
const QUERY_PARAM = /([?&;])([A-Za-z_][A-Za-z0-9_-]*)=([^&;#\s"'<>]*)/g;
const HEADER = /\b(authorization:\s*(?:bearer|basic|token)?\s*|x-api-key:\s*|x-layerline-local-token:\s*)[^\s"',]+/gi;
const PAIR = /\b(pass(?:word|wd)?|pwd|secret|token|api_?key|apikey)(["']?\s*[:=]\s*["']?)([^\s"',&;}]+)/gi;
/** Layerline's tokens and keys: 43 URL-safe base64 characters (src/accounts/tokens.ts). */
const TOKEN_SHAPE = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;

/**
 * A string without credentials.
 * Example: `redactText("http://u:p@cam/?action=stream&pwd=x")` → `http://[redacted]@cam/?action=stream&pwd=[redacted]`.
 */
export function redactText(text: string, known: readonly string[] = []): string {
  let out = text;
  // Known values first: a password with spaces or symbols is not caught by any pattern.
  for (const secret of known) if (secret.length >= 4) out = out.split(secret).join(REDACTED);
  return out
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(QUERY_PARAM, (all, sep: string, name: string) => (CREDENTIAL_PARAM.test(name) ? `${sep}${name}=${REDACTED}` : all))
    .replace(HEADER, `$1${REDACTED}`)
    .replace(PAIR, `$1$2${REDACTED}`)
    .replace(TOKEN_SHAPE, REDACTED);
}

/** A JSON value with secret fields replaced and every string passed through {@link redactText}. */
export function redactValue(value: unknown, known: readonly string[] = []): unknown {
  if (typeof value === "string") return redactText(value, known);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, known));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_FIELD.test(k) && v !== null && v !== "" && typeof v !== "boolean" ? REDACTED : redactValue(v, known);
    }
    return out;
  }
  return value;
}

/**
 * The secrets a JSON value holds by value (strings in secret fields, and the passwords in its
 * URLs), to be taken out wherever else they turn up (a log line quoting them, say).
 */
export function secretsIn(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (typeof value === "string") {
    // Passwords only: a user name ("admin") is no secret, and taking it out everywhere would garble the bundle.
    for (const m of value.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:([^\s/@]+)@/gi)) into.add(safeDecode(m[1]!));
    for (const m of value.matchAll(QUERY_PARAM)) if (CREDENTIAL_PARAM.test(m[2]!) && !USER_PARAM.test(m[2]!) && m[3]) into.add(safeDecode(m[3]));
  } else if (Array.isArray(value)) {
    for (const v of value) secretsIn(v, into);
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_FIELD.test(k) && typeof v === "string" && v !== "") into.add(v);
      else secretsIn(v, into);
    }
  }
  return into;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
