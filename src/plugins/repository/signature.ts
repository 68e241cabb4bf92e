/**
 * Checking the repository index against the key this host trusts for it. `layerline registry
 * build --sign-key` writes `plugins.json.sig` (and `notices.json.sig`) beside the files: an
 * Ed25519 signature over their exact bytes (docs/plugins.md). A file is used only when its
 * signature verifies, before its content is parsed; every refusal says what is wrong and how to fix it.
 */
import type { KeyObject } from "node:crypto";
import * as v from "valibot";
import { keyId, parsePublicKey, SIGNATURE_SUFFIX, SignatureSchema, signatureVerifies } from "../../signing/ed25519.ts";

/** A refusal of a file by its signature: the whole sentence is meant to be shown (it ends with the fix). */
export class SignatureRefused extends Error {}

/** The key an index must be signed with, and where the trust comes from. */
export interface TrustedKey {
  key: KeyObject;
  keyId: string;
  /** "built-in": stamped into this build with its index URL; "setting": the repository settings' public key. */
  source: "built-in" | "setting";
}

/** A public key as pasted into the repository settings: Ed25519, SPKI PEM. */
export const PublicKeyPemSchema = v.pipe(
  v.string(),
  v.trim(),
  v.check((pem) => {
    try {
      parsePublicKey(pem);
      return true;
    } catch {
      return false;
    }
  }, "must be an Ed25519 public key in PEM form (-----BEGIN PUBLIC KEY----- …), as `openssl pkey -in key.pem -pubout` prints it"),
);

export function trustedKey(pem: string, source: TrustedKey["source"]): TrustedKey {
  const key = parsePublicKey(pem, source === "built-in" ? "the built-in plugin index key" : "the repository's public key");
  return { key, keyId: keyId(key), source };
}

/** Where a file's detached signature is: its URL with `.sig` added to the path (a query string stays). */
export function signatureUrl(url: string): string {
  const u = new URL(url);
  u.pathname += SIGNATURE_SUFFIX;
  return u.href;
}

/**
 * Checks `bytes` (the file at `url`) against its signature file's text — or the reason it could
 * not be fetched — and returns the key id that signed it. Throws a sentence otherwise.
 */
export function verifySignedFile(url: string, bytes: Uint8Array, signature: { text: string } | { missing: string }, trusted: TrustedKey): string {
  const name = new URL(url).pathname.split("/").pop() || url;
  const sigUrl = signatureUrl(url);
  const fix = trusted.source === "built-in"
    ? "Layerline's built-in index is always signed: try again later, or update Layerline if the repository has changed its key."
    : "If the repository changed its key, paste its new public key in the repository settings; to use an index that is not signed, remove the public key there.";
  if ("missing" in signature) {
    throw new SignatureRefused(
      `${name} is not signed: its signature ${sigUrl} could not be fetched (${signature.missing}), and this host only uses an index signed by key ${trusted.keyId} (${trusted.source === "built-in" ? "built into Layerline" : "set in the repository settings"}). ` +
        (trusted.source === "built-in" ? fix : "Sign it (layerline registry build --sign-key FILE) and publish the .sig files beside it, or remove the public key in the repository settings to use it unsigned."),
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(signature.text);
  } catch {
    json = undefined;
  }
  const parsed = v.safeParse(SignatureSchema, json);
  if (!parsed.success) {
    throw new SignatureRefused(`${sigUrl} is not a signature file (JSON {"algorithm": "ed25519", "keyId", "value"}): ${json === undefined ? "not JSON" : `${v.getDotPath(parsed.issues[0]) ?? "(top level)"} ${parsed.issues[0].message}`}. Check what the repository publishes beside ${name}.`);
  }
  const sig = parsed.output;
  if (sig.keyId !== trusted.keyId) {
    throw new SignatureRefused(`${name} is signed by key ${sig.keyId}, but this host trusts key ${trusted.keyId} for this index. ${fix}`);
  }
  if (!signatureVerifies(bytes, sig, trusted.key)) {
    throw new SignatureRefused(`${name}'s signature does not verify with key ${trusted.keyId}: the file was changed after it was signed. It is not used; tell whoever runs the repository.`);
  }
  return sig.keyId;
}
