/**
 * Ed25519 signatures over a release manifest. The signed bytes are the manifest's canonical JSON
 * (object keys sorted, no whitespace), so the file can be pretty-printed and still verify.
 * Only this module knows how a manifest is signed; both `bun run release` and the host use it.
 */
import type { KeyObject } from "node:crypto";
import * as v from "valibot";
import { ReleaseManifestSchema, SignedReleaseSchema, type ReleaseManifest, type SignedRelease } from "./manifest.ts";
import { UpdateError } from "./problem.ts";
import { keyId, signatureVerifies, signBytes } from "../signing/ed25519.ts";

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

/** Signs a manifest: the object to write as `release.json`. */
export function signManifest(manifest: ReleaseManifest, privateKey: KeyObject): SignedRelease & { manifest: ReleaseManifest } {
  return { manifest, signature: signBytes(Buffer.from(canonicalJson(manifest)), privateKey) };
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
  const ok = signatureVerifies(Buffer.from(canonicalJson(manifest)), signature, trusted);
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
