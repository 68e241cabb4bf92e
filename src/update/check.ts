/**
 * Checking for an update: fetch the channel's manifest, verify its signature, then decide what
 * it means for this host (`evaluateRelease`, a pure function): an update to offer, nothing newer,
 * or a release this system can no longer run — with the manifest's migration text.
 */
import type { KeyObject } from "node:crypto";
import { compareVersions, manifestUrl, type Channel, type ReleaseManifest, type ReleaseTarget, type TargetName } from "./manifest.ts";
import { unmetRequirements, type Platform } from "./platform.ts";
import { readLimited, TooLargeError } from "../read-limited.ts";
import { UpdateError, why } from "./problem.ts";
import type { CheckRecord } from "./settings.ts";
import { verifyRelease } from "./signature.ts";

/** A manifest is small; anything bigger is not one (and must not fill the memory of a Pi). */
const MAX_MANIFEST_BYTES = 1024 * 1024;

export interface FetchedRelease {
  manifest: ReleaseManifest;
  /** Where it came from: target files are resolved against it. */
  url: string;
}

/** Fetches and verifies the manifest of `channel` at `template` (see manifestUrl). */
export async function fetchRelease(template: string, channel: Channel, trusted: KeyObject): Promise<FetchedRelease> {
  const url = manifestUrl(template, channel);
  let text: string;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(30_000), redirect: "follow" });
    if (!response.ok) {
      await response.body?.cancel();
      throw new UpdateError("fetch_failed", `The update server answered ${response.status} for ${url}.`, response.status === 404 ? "Check the update URL and channel." : "Try again later.");
    }
    // Read with a limit: a server streaming without end must not fill the memory of a Pi.
    text = new TextDecoder().decode(await readLimited(response, MAX_MANIFEST_BYTES));
  } catch (e) {
    if (e instanceof UpdateError) throw e;
    if (e instanceof TooLargeError) throw new UpdateError("bad_manifest", `${url} is too big for a release manifest (${e.message}).`, "Check the update URL: it must point at a release.json.");
    throw new UpdateError("fetch_failed", `Could not reach the update server at ${url}: ${why(e)}.`, "Check the network connection and the update URL.");
  }
  const manifest = verifyRelease(text, trusted);
  // A beta host follows stable releases too; a stable host never takes a beta.
  if (manifest.channel !== channel && !(channel === "beta" && manifest.channel === "stable")) {
    throw new UpdateError("wrong_channel", `${url} holds a ${manifest.channel} release, but this host follows the ${channel} channel.`, "Check the update URL, or change the channel.");
  }
  return { manifest, url };
}

export type Offer =
  | { kind: "update"; target: ReleaseTarget }
  | { kind: "up-to-date" }
  /** The release cannot run here: what is missing, and the manifest's migration path. */
  | { kind: "unsupported"; unmet: string[]; migration: string | null }
  /** This version is older than the release's minimum upgrade-from version. */
  | { kind: "too-old"; minimumVersion: string }
  /** This version was installed before and rolled back; not offered again automatically. */
  | { kind: "failed-before" };

export interface HostFacts {
  version: string;
  target: TargetName | null;
  platform: Platform;
  /** Versions that were rolled back on this host. */
  failedVersions: string[];
}

/** What a verified manifest means for this host. */
export function evaluateRelease(manifest: ReleaseManifest, host: HostFacts): Offer {
  if (compareVersions(manifest.version, host.version) <= 0) return { kind: "up-to-date" };
  const target = host.target ? manifest.targets[host.target] : undefined;
  if (!target) {
    return { kind: "unsupported", unmet: [`a build for ${host.target ?? `${process.platform}-${host.platform.arch}`} (this release has none)`], migration: manifest.migration ?? null };
  }
  const unmet = unmetRequirements(target.requires, host.platform);
  if (unmet.length > 0) return { kind: "unsupported", unmet, migration: manifest.migration ?? null };
  if (compareVersions(host.version, manifest.minimumVersion) < 0) return { kind: "too-old", minimumVersion: manifest.minimumVersion };
  if (host.failedVersions.includes(manifest.version)) return { kind: "failed-before" };
  return { kind: "update", target };
}

/** The refusal to install for an offer that is not an update. */
export function refusal(offer: Exclude<Offer, { kind: "update" }>, manifest: ReleaseManifest, current: string): UpdateError {
  switch (offer.kind) {
    case "up-to-date":
      return new UpdateError("no_update", `Layerline ${current} is up to date (the newest ${manifest.channel} release is ${manifest.version}).`);
    case "unsupported":
      return new UpdateError(
        "unsupported_platform",
        `Layerline ${manifest.version} cannot run on this system: it needs ${offer.unmet.join("; ")}. This host stays on ${current}.`,
        offer.migration ?? "See the release notes for the supported platforms.",
      );
    case "too-old":
      return new UpdateError("too_old", `Layerline ${current} cannot update to ${manifest.version} directly: update to ${offer.minimumVersion} or later first.`, `Install ${offer.minimumVersion} from the release page, then update again.`);
    case "failed-before":
      return new UpdateError("no_update", `Layerline ${manifest.version} failed its self-test on this host before and was rolled back; it is not offered again.`, "Wait for the next release, or use `layerline update --force` to try it again.");
  }
}

/** The record of a check as the status shows it: the error, or the release found and its verdict. */
export function checkRecord(source: { url: string; channel: Channel }, outcome: { error: UpdateError } | FetchedRelease & { offer: Offer }, at = Date.now()): CheckRecord {
  const record: CheckRecord = { at, url: source.url, channel: source.channel, error: null, latest: null, verdict: null, unmet: [], migration: null, minimumVersion: null };
  if ("error" in outcome) return { ...record, error: outcome.error.toJSON() };
  const { manifest: m, offer } = outcome;
  return {
    ...record,
    latest: { version: m.version, published: m.published, notes: m.notes, size: offer.kind === "update" ? offer.target.size : null },
    verdict: offer.kind,
    minimumVersion: m.minimumVersion,
    unmet: offer.kind === "unsupported" ? offer.unmet : [],
    migration: offer.kind === "unsupported" ? offer.migration : null,
  };
}

/**
 * A stored check seen from the running version: a release that was new when checked is not an
 * update any more once it is installed, nor once it was rolled back here.
 */
export function currentVerdict(record: CheckRecord | null, version: string, failedVersions: string[]): CheckRecord | null {
  if (!record?.latest || record.verdict !== "update") return record;
  if (compareVersions(record.latest.version, version) <= 0) return { ...record, verdict: "up-to-date" };
  if (failedVersions.includes(record.latest.version)) return { ...record, verdict: "failed-before" };
  return record;
}

/** One sentence (or a few lines) saying what a check found, for the terminal. */
export function describeCheck(record: CheckRecord, version: string): string {
  if (record.error) return `${record.error.message}${record.error.hint ? `\n${record.error.hint}` : ""}`;
  const latest = record.latest!;
  const notes = latest.notes.trim() ? `\n\n${latest.notes.trim()}` : "";
  switch (record.verdict) {
    case "update":
      return `Layerline ${latest.version} is available (this is ${version}). Install it with: layerline update${notes}`;
    case "up-to-date":
      return `Layerline ${version} is up to date (the newest ${record.channel} release is ${latest.version}).`;
    case "unsupported":
      return `Layerline ${latest.version} cannot run on this system: it needs ${record.unmet.join("; ")}. This host stays on ${version}.${record.migration ? `\n${record.migration}` : ""}`;
    case "too-old":
      return `Layerline ${version} cannot update to ${latest.version} directly: update to ${record.minimumVersion} or later first.`;
    default:
      return `Layerline ${latest.version} failed its self-test on this host before and was rolled back; it is not offered again (--force installs it anyway).`;
  }
}
