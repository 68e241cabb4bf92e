/**
 * Ed25519 signatures as Layerline makes and checks them: key files (PEM), the short key id that
 * names a key in messages, and the signature object `{algorithm, keyId, value}`. Release
 * manifests carry it inline (update/signature.ts); the plugin repository index has it in a
 * detached file beside it (`plugins.json.sig`, over the file's exact bytes).
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import * as v from "valibot";

export const SignatureSchema = v.object({
  algorithm: v.literal("ed25519"),
  /** Which key signed (see keyId()), so a mismatch can be named. */
  keyId: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/)),
  value: v.pipe(v.string(), v.base64()),
});
export type Signature = v.InferOutput<typeof SignatureSchema>;

/** A detached signature's file is named after the signed file plus this: plugins.json → plugins.json.sig. */
export const SIGNATURE_SUFFIX = ".sig";

/** A short, stable name for a public key: the first 16 hex digits of the sha256 of its DER form. */
export function keyId(publicKey: KeyObject): string {
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16);
}

/** Reads an Ed25519 public key (SPKI PEM); throws a sentence when it is something else. */
export function parsePublicKey(pem: string, source = "the public key"): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new Error(`${source} is not a PEM public key (${(e as Error).message}).`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`${source} is a ${key.asymmetricKeyType} key; Layerline signs with Ed25519.`);
  return key;
}

/** Reads an Ed25519 private key (PKCS#8 PEM); throws a sentence when it is something else. */
export function parsePrivateKey(pem: string, source = "the signing key"): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new Error(`${source} is not a PKCS#8 PEM private key (${(e as Error).message}).`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`${source} is a ${key.asymmetricKeyType} key; Layerline signs with Ed25519.`);
  return key;
}

/** A key file read and parsed; `what` names it in the sentence thrown ("the update public key"). */
export function readKeyFile(file: string, kind: "public" | "private", what: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    throw new Error(`Cannot read ${what} ${file}: ${error.code ?? error.message}.`);
  }
  const source = `${what[0]!.toUpperCase()}${what.slice(1)} ${file}`;
  return kind === "public" ? parsePublicKey(pem, source) : parsePrivateKey(pem, source);
}

/** The public key's PEM text (SPKI), as a user pastes it. */
export function publicKeyPem(key: KeyObject): string {
  return (key.type === "private" ? createPublicKey(key) : key).export({ type: "spki", format: "pem" }).toString();
}

/** Signs `bytes` with an Ed25519 private key. */
export function signBytes(bytes: Uint8Array, privateKey: KeyObject): Signature {
  return { algorithm: "ed25519", keyId: keyId(createPublicKey(privateKey)), value: sign(null, bytes, privateKey).toString("base64") };
}

/** Whether `signature` is `trusted`'s over exactly `bytes`. */
export function signatureVerifies(bytes: Uint8Array, signature: Signature, trusted: KeyObject): boolean {
  return verify(null, bytes, trusted, Buffer.from(signature.value, "base64"));
}

/** The content of a detached signature file for `bytes`: the signature object as JSON. */
export function detachedSignature(bytes: Uint8Array, privateKey: KeyObject): string {
  return `${JSON.stringify(signBytes(bytes, privateKey))}\n`;
}
