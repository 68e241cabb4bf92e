/**
 * The release side: from built binaries to a signed `release.json` (see manifest.ts). Each
 * target's size and sha256 are measured, its C library requirement read from the binary itself,
 * and the manifest signed with the Ed25519 key named by LAYERLINE_SIGNING_KEY.
 */
import type { KeyObject } from "node:crypto";
import { statSync } from "node:fs";
import { basename } from "node:path";
import * as v from "valibot";
import { sha256File } from "./download.ts";
import { requiredGlibc } from "./elf.ts";
import { ReleaseManifestSchema, type Channel, type Requirements, type ReleaseManifest, type SignedRelease, type TargetName } from "./manifest.ts";
import { readKeyFile } from "../signing/ed25519.ts";
import { signManifest } from "./signature.ts";

export interface ReleaseInput {
  version: string;
  channel: Channel;
  notes: string;
  /** The oldest version that may update to this one (default: any). */
  minimumVersion?: string;
  /** Text for hosts whose platform no longer meets the requirements. */
  migration?: string;
  /** A minimum kernel for every target. */
  kernel?: string;
  files: { target: TargetName; path: string; cpu?: string[] }[];
  published?: Date;
}

/** The environment variable naming the PKCS#8 PEM file with the release signing key. */
export const SIGNING_KEY_ENV = "LAYERLINE_SIGNING_KEY";

/** Reads the signing key named by LAYERLINE_SIGNING_KEY; throws a sentence when it is missing or wrong. */
export function loadSigningKey(env: Record<string, string | undefined> = process.env): KeyObject {
  const file = env[SIGNING_KEY_ENV];
  if (!file) {
    throw new Error(
      `${SIGNING_KEY_ENV} is not set. Point it at the Ed25519 private key (PKCS#8 PEM) that signs releases, e.g. ${SIGNING_KEY_ENV}=~/keys/layerline-signing-key.pem bun run release. The key is never kept in the repository.`,
    );
  }
  return readKeyFile(file, "private", `the signing key (${SIGNING_KEY_ENV})`);
}

/** Measures the binaries and returns the signed release manifest. */
export async function createRelease(input: ReleaseInput, key: KeyObject): Promise<SignedRelease> {
  const targets: ReleaseManifest["targets"] = {};
  for (const file of input.files) {
    const glibc = await requiredGlibc(file.path);
    const requires: Requirements = {};
    if (input.kernel) requires.kernel = input.kernel;
    if (glibc) requires.glibc = glibc;
    if (file.cpu?.length) requires.cpu = file.cpu;
    targets[file.target] = {
      file: basename(file.path),
      size: statSync(file.path).size,
      sha256: await sha256File(file.path),
      ...(Object.keys(requires).length ? { requires } : {}),
    };
  }
  const manifest = v.parse(ReleaseManifestSchema, {
    format: 1,
    name: "layerline",
    version: input.version,
    channel: input.channel,
    published: (input.published ?? new Date()).toISOString(),
    minimumVersion: input.minimumVersion ?? "0.0.0",
    notes: input.notes,
    ...(input.migration ? { migration: input.migration } : {}),
    targets,
  });
  return signManifest(manifest, key);
}
