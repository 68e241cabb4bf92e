/**
 * Ed25519 signatures over a release manifest. The signed bytes are the manifest's canonical JSON
 * (object keys sorted, no whitespace), so the file can be pretty-printed and still verify.
 * Only this module knows how a manifest is signed; both `bun run release` and the host use it.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import * as v from "valibot";
import { ReleaseManifestSchema, SignedReleaseSchema, type ReleaseManifest, type SignedRelease } from "./manifest.ts";
import { UpdateError } from "./problem.ts";

/** JSON with object keys sorted at every level and no whitespace. canonicalJson({b:1,a:[2]}) === '{"a":[2],"b":1}'. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

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
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`${source} is a ${key.asymmetricKeyType} key; releases are signed with Ed25519.`);
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
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`${source} is a ${key.asymmetricKeyType} key; releases are signed with Ed25519.`);
  return key;
}

/** Signs a manifest: the object to write as `release.json`. */
export function signManifest(manifest: ReleaseManifest, privateKey: KeyObject): SignedRelease & { manifest: ReleaseManifest } {
  const publicKey = createPublicKey(privateKey);
  const value = sign(null, Buffer.from(canonicalJson(manifest)), privateKey).toString("base64");
  return { manifest, signature: { algorithm: "ed25519", keyId: keyId(publicKey), value } };
}

/**
 * Checks a downloaded `release.json` against the trusted key and returns its manifest. The
 * signature is checked before the manifest's content is trusted for anything; every refusal is an
 * UpdateError saying what was wrong.
 */
export function verifyRelease(text: string, trusted: KeyObject): ReleaseManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UpdateError("bad_manifest", "The release manifest is not valid JSON.", "Check the update URL: it must point at a release.json made by `bun run release`.");
  }
  const envelope = v.safeParse(SignedReleaseSchema, json);
  if (!envelope.success) {
    throw new UpdateError(
      "bad_manifest",
      `The release manifest is malformed (${describe(envelope.issues)}).`,
      "Check the update URL: it must point at a release.json made by `bun run release`.",
    );
  }
  const { manifest, signature } = envelope.output;
  const ok = verify(null, Buffer.from(canonicalJson(manifest)), trusted, Buffer.from(signature.value, "base64"));
  if (!ok) {
    const trustedId = keyId(trusted);
    throw new UpdateError(
      "bad_signature",
      signature.keyId === trustedId
        ? "The release manifest's signature does not verify: it was changed after it was signed. Nothing was installed."
        : `The release manifest is signed by key ${signature.keyId}, but this host trusts key ${trustedId}. Nothing was installed.`,
      signature.keyId === trustedId
        ? "Do not install it; report this to whoever runs the release server."
        : "For a self-hosted channel, start Layerline with --update-public-key FILE naming that channel's public key.",
    );
  }
  const parsed = v.safeParse(ReleaseManifestSchema, manifest);
  if (!parsed.success) {
    throw new UpdateError("bad_manifest", `The signed release manifest is not one this version understands (${describe(parsed.issues)}).`, "A newer manifest format may need a newer Layerline; update through an intermediate release.");
  }
  return parsed.output;
}

function describe(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0]!;
  const path = v.getDotPath(issue);
  return path ? `${path}: ${issue.message}` : issue.message;
}
