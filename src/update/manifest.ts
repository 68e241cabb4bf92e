/**
 * The release manifest (`release.json`): what a release is, for which platforms, and who signed
 * it. The signed part is `manifest`; `signature` is Ed25519 over its canonical JSON (see
 * signature.ts). Example:
 *
 *   { "manifest": { "format": 1, "name": "layerline", "version": "1.2.0", "channel": "stable",
 *       "published": "2025-05-01T10:00:00.000Z", "minimumVersion": "1.0.0", "notes": "…",
 *       "migration": "Debian 10 is no longer supported: …",
 *       "targets": { "linux-x64": { "file": "layerline-linux-x64", "size": 109856944,
 *         "sha256": "…", "requires": { "glibc": "2.17", "cpu": ["avx2"] } }, … } },
 *     "signature": { "algorithm": "ed25519", "keyId": "…", "value": "<base64>" } }
 */
import * as v from "valibot";
import { SignatureSchema } from "../signing/ed25519.ts";

export const MANIFEST_FORMAT = 1;
export const CHANNELS = ["stable", "beta"] as const;
export const TARGET_NAMES = ["linux-x64", "linux-arm64"] as const;

const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
export const VersionSchema = v.pipe(v.string(), v.regex(SEMVER, "must be a version such as 1.2.3 or 1.3.0-beta.1"));
/** A dotted platform version such as a kernel "5.10" or glibc "2.31". */
const PlatformVersion = v.pipe(v.string(), v.regex(/^\d+(?:\.\d+){0,3}$/, "must be a dotted version such as 5.10"));

export const ChannelSchema = v.picklist(CHANNELS, "must be stable or beta");
export type Channel = v.InferOutput<typeof ChannelSchema>;
export const TargetNameSchema = v.picklist(TARGET_NAMES);
export type TargetName = v.InferOutput<typeof TargetNameSchema>;

/** What a binary needs from the system it runs on; any field may be absent. */
export const RequirementsSchema = v.object({
  /** Minimum Linux kernel, e.g. "5.4". */
  kernel: v.optional(PlatformVersion),
  /** Minimum GNU C library, e.g. "2.31". */
  glibc: v.optional(PlatformVersion),
  /** CPU features that must be present (x86 `flags` / arm `Features` of /proc/cpuinfo), e.g. ["avx2"]. */
  cpu: v.optional(v.array(v.pipe(v.string(), v.regex(/^[a-z0-9_]+$/)))),
});
export type Requirements = v.InferOutput<typeof RequirementsSchema>;

export const ReleaseTargetSchema = v.object({
  /** A plain file name next to the manifest (never a path or URL: the manifest's URL is the base). */
  file: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a plain file name")),
  size: v.pipe(v.number(), v.integer(), v.minValue(1)),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits")),
  requires: v.optional(RequirementsSchema),
});
export type ReleaseTarget = v.InferOutput<typeof ReleaseTargetSchema>;

export const ReleaseManifestSchema = v.object({
  format: v.literal(MANIFEST_FORMAT),
  name: v.literal("layerline"),
  version: VersionSchema,
  channel: ChannelSchema,
  /** ISO 8601 time of publication. */
  published: v.pipe(v.string(), v.isoTimestamp()),
  /** The oldest version that may update to this one directly. */
  minimumVersion: VersionSchema,
  /** Release notes, plain text (shown in the UI and by `layerline update`). */
  notes: v.string(),
  /** What to do when this system no longer meets a target's requirements (shown instead of an update). */
  migration: v.optional(v.string()),
  /**
   * The targets this version knows are checked; others (an architecture added by a later
   * release) are kept unread, so that adding one never makes older hosts refuse the manifest.
   */
  targets: v.pipe(
    v.looseObject({ "linux-x64": v.optional(ReleaseTargetSchema), "linux-arm64": v.optional(ReleaseTargetSchema) }),
    v.check((t) => Object.keys(t).length > 0, "must name at least one target"),
  ),
});
export type ReleaseManifest = v.InferOutput<typeof ReleaseManifestSchema>;

/** The file as served: the manifest is kept raw (unknown) until its signature has been checked. */
export const SignedReleaseSchema = v.object({
  manifest: v.record(v.string(), v.unknown()),
  signature: SignatureSchema,
});
export type SignedRelease = v.InferOutput<typeof SignedReleaseSchema>;

/** The release target this process runs as, or null on a platform we do not ship. */
export function currentTarget(platform: string = process.platform, arch: string = process.arch): TargetName | null {
  if (platform !== "linux") return null;
  return arch === "x64" ? "linux-x64" : arch === "arm64" ? "linux-arm64" : null;
}

/** Semver order: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  return Bun.semver.order(a, b);
}

/**
 * Where the manifest of `channel` lives: `{channel}` in the URL is replaced; a URL without it is
 * the manifest itself. Example: manifestUrl("https://example.org/{channel}/release.json", "beta").
 */
export function manifestUrl(template: string, channel: Channel): string {
  return template.replaceAll("{channel}", channel);
}
