/**
 * Installing, updating and removing third-party plugins in `<data-dir>/plugins/`. An archive
 * (uploaded, fetched from a URL, or from the repository with the index's size and sha256 checked
 * by `downloadVerified`, as the host's own updates are) is checked before anything is written —
 * safe paths, no links, size limits (src/archive/), a valid manifest, compatibility read
 * statically from its files — then unpacked into a hidden staging folder and swapped in with a
 * rename. The folder it replaces is kept as `.previous/<id>`; if the new version does not load,
 * it is put back and loaded again. Nothing of a refused archive is left behind.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ArchiveError, checkArchive, commonRoot, openArchive, type Archive } from "../archive/archive.ts";
import { extractArchive } from "../archive/extract.ts";
import { DOWNLOAD_PREFIX, downloadVerified } from "../update/download.ts";
import { syncFolder } from "../update/install.ts";
import { UpdateError } from "../update/problem.ts";
import { checkCompatibility } from "./compat.ts";
import { describe } from "./guard.ts";
import { fetchBytes } from "./fetch-bytes.ts";
import type { PluginManager, PluginView } from "./manager.ts";
import { readManifestText, type Manifest } from "./manifest.ts";
import { installProblem, type HostInfo } from "./repository/catalog.ts";
import type { IndexEntry } from "./repository/entry.ts";
import { HttpError } from "./sdk.ts";
import { compareVersions } from "./semver.ts";
import type { InstallSource } from "./store.ts";

/** Largest archive accepted (before unpacking; the archive limits bound what it unpacks to). */
export const MAX_ARCHIVE_BYTES = 32 * 1024 * 1024;
const URL_TIMEOUT_MS = 60_000;

/** Why an install was refused, for people: an HTTP status, a stable code, a sentence, a hint. */
export class InstallError extends HttpError {
  override name = "InstallError";
}

export interface InstallResult {
  plugin: PluginView;
  /** "installed", "updated" (a newer or other version replaced one), "reinstalled". */
  action: "installed" | "updated" | "reinstalled";
  previousVersion: string | null;
}

export class PluginInstaller {
  constructor(private readonly manager: PluginManager) {}

  /** Installs (or replaces) a plugin from archive bytes. */
  installArchive(bytes: Uint8Array, source: InstallSource, expect: { id?: string; version?: string } = {}): Promise<InstallResult> {
    return this.manager.exclusive(() => this.installLocked(bytes, source, expect));
  }

  /** Fetches an archive from a URL (checked against `sha256` when given) and installs it. */
  async installFromUrl(url: string, sha256?: string): Promise<InstallResult> {
    if (!/^https?:\/\//.test(url) || !URL.canParse(url)) throw new InstallError(400, "invalid_url", `"${url}" is not an http(s) URL.`);
    let bytes: Uint8Array;
    try {
      bytes = await fetchBytes(url, { maxBytes: MAX_ARCHIVE_BYTES, timeoutMs: URL_TIMEOUT_MS });
    } catch (e) {
      throw new InstallError(502, "fetch_failed", `Could not download ${url}: ${(e as Error).message}. Nothing was installed.`, "Check the address and the network.");
    }
    if (sha256) {
      const actual = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
      if (actual !== sha256.toLowerCase()) {
        throw new InstallError(422, "hash_mismatch", `The archive's sha256 is ${actual}, not ${sha256}. Nothing was installed.`, "The file was changed or damaged on the way; do not install it.");
      }
    }
    return this.installArchive(bytes, "url");
  }

  /**
   * Installs or updates a plugin from the repository index: only an entry this host can run,
   * downloaded with its size and sha256 verified; the archive's manifest must name the same id
   * (and version, when the index gives one).
   */
  async installFromIndex(entry: IndexEntry, host: HostInfo): Promise<InstallResult> {
    const problem = installProblem(entry, host);
    if (problem) throw new InstallError(422, "not_installable", `${entry.title} cannot be installed here: ${problem}.`);
    const installed = this.manager.location(entry.id);
    if (installed?.origin === "bundled") throw new InstallError(409, "bundled", `${entry.id} comes with Layerline; it is updated with Layerline itself.`);
    let temp: string;
    try {
      temp = await downloadVerified(entry.archive!, { size: entry.size!, sha256: entry.sha256! }, this.manager.installedRoot, { name: `${entry.id}.archive` });
    } catch (e) {
      // The download's own words speak of the signed release manifest; the plugin index is not signed.
      if (e instanceof UpdateError && (e.code === "hash_mismatch" || e.code === "size_mismatch")) {
        const what = e.code === "hash_mismatch" ? "sha256" : "size";
        const release = entry.version ? `${entry.id} ${entry.version}` : entry.id;
        throw new InstallError(
          422,
          e.code,
          `The archive of ${release} at ${entry.archive} does not have the ${what} the repository index gives for it. Nothing was installed.`,
          "The archive was changed or damaged after the index was made: refresh the repository and try again; if it persists, tell the plugin's author or whoever runs the repository.",
        );
      }
      if (e instanceof UpdateError) throw new InstallError(502, e.code, e.message, e.hint);
      throw e;
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(temp);
    } finally {
      rmSync(temp, { force: true });
    }
    return this.installArchive(bytes, "repository", { id: entry.id, version: entry.version });
  }

  /** Updates an installed plugin to the repository's newer release (refuses a downgrade or the same version). */
  async update(id: string, entry: IndexEntry, host: HostInfo): Promise<InstallResult> {
    const installed = this.manager.location(id);
    if (!installed) throw new InstallError(404, "plugin_not_found", `There is no plugin "${id}".`);
    if (installed.origin === "bundled") throw new InstallError(409, "bundled", `${id} comes with Layerline; it is updated with Layerline itself.`);
    if (!entry.version) throw new InstallError(422, "no_version", `The repository names no version for ${id}.`);
    if (installed.version && compareVersions(entry.version, installed.version) <= 0) {
      throw new InstallError(409, "up_to_date", `${id} ${installed.version} is installed; the repository offers ${entry.version}, which is not newer.`);
    }
    return this.installFromIndex(entry, host);
  }

  private async installLocked(bytes: Uint8Array, source: InstallSource, expect: { id?: string; version?: string }): Promise<InstallResult> {
    const { archive, root, manifest } = readPluginArchive(bytes);
    const id = manifest.name;
    if (expect.id && id !== expect.id) throw new InstallError(422, "wrong_plugin", `The archive contains the plugin "${id}", not "${expect.id}". Nothing was installed.`);
    if (expect.version && manifest.version !== expect.version) {
      throw new InstallError(422, "wrong_version", `The archive contains ${id} ${manifest.version}, but the repository says ${expect.version}. Nothing was installed.`);
    }
    const existing = this.manager.location(id);
    if (existing?.origin === "bundled") throw new InstallError(409, "bundled", `"${id}" is a plugin that comes with Layerline; choose another name.`);
    const compat = checkCompatibility(manifest, {
      read(path) {
        try {
          return new TextDecoder("utf-8", { fatal: false }).decode(archive.read(root ? `${root}/${path}` : path));
        } catch {
          return null;
        }
      },
    });
    if (!compat.ok) throw new InstallError(422, "incompatible", `${id} ${manifest.version} cannot run on this host: ${compat.reason}. Nothing was installed.`);

    const base = this.manager.installedRoot;
    mkdirSync(base, { recursive: true });
    const staging = join(base, `.staging-${id}-${crypto.randomUUID().slice(0, 8)}`);
    try {
      extractArchive(bytes, staging, { stripRoot: true });
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw e instanceof ArchiveError ? new InstallError(422, `archive_${e.code}`, `The archive was refused: ${sentence(e.message)}`) : e;
    }
    const target = existing?.dir ?? join(base, id);
    const previous = join(base, ".previous", id);
    const hadPrevious = existsSync(target);
    if (hadPrevious) {
      rmSync(previous, { recursive: true, force: true });
      mkdirSync(join(base, ".previous"), { recursive: true });
      renameSync(target, previous);
    }
    renameSync(staging, target);
    syncFolder(base);

    const sha256 = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    const why = await this.loadProblem(target, id);
    if (why !== null) {
      const failed = join(base, ".failed", id);
      rmSync(failed, { recursive: true, force: true });
      mkdirSync(join(base, ".failed"), { recursive: true });
      renameSync(target, failed);
      if (hadPrevious) {
        renameSync(previous, target);
        syncFolder(base);
        await this.manager.loadDir(target, "installed");
        const back = existing?.version ? `the previous version ${existing.version}` : "the previous version";
        throw new InstallError(422, "load_failed", `${id} ${manifest.version} did not load (${why}); ${back} is back.`, `The new version is kept in ${failed} for inspection.`);
      }
      rmSync(failed, { recursive: true, force: true });
      await this.manager.scanLocked();
      throw new InstallError(422, "load_failed", `${id} ${manifest.version} did not load (${why}). Nothing was installed.`, "Report it to the plugin's author.");
    }
    this.manager.store.recordInstall(id, source, sha256, Date.now());
    const view = this.manager.get(id)!;
    const action = !existing ? "installed" : existing.version === manifest.version ? "reinstalled" : "updated";
    return { plugin: view, action, previousVersion: existing?.version ?? null };
  }

  /** Loads the swapped-in folder; why it did not load, or null. A throw counts too: the caller rolls back. */
  private async loadProblem(target: string, id: string): Promise<string | null> {
    try {
      await this.manager.loadDir(target, "installed");
    } catch (e) {
      return describe(e);
    }
    const view = this.manager.get(id);
    if (!view) return "it was not found after unpacking";
    return view.state === "failed" || view.state === "incompatible" ? (view.reason ?? view.state) : null;
  }
}

/** Leftovers of an install interrupted by a crash: staging folders go, a swap half done is undone. */
export function recoverInterruptedInstalls(root: string): void {
  if (!existsSync(root)) return;
  for (const name of readdirSync(root)) {
    if (name.startsWith(".staging-") || name.startsWith(DOWNLOAD_PREFIX)) rmSync(join(root, name), { recursive: true, force: true });
  }
  const previous = join(root, ".previous");
  if (!existsSync(previous)) return;
  for (const id of readdirSync(previous)) {
    if (!existsSync(join(root, id))) renameSync(join(previous, id), join(root, id));
  }
}

/** Opens and checks a plugin archive in memory: safe entries, a package.json that is a manifest. */
export function readPluginArchive(bytes: Uint8Array): { archive: Archive; root: string; manifest: Manifest } {
  if (bytes.byteLength > MAX_ARCHIVE_BYTES) throw new InstallError(413, "too_large", `The archive is ${bytes.byteLength} bytes; the limit is ${MAX_ARCHIVE_BYTES}.`);
  let archive: Archive;
  let root: string;
  try {
    archive = openArchive(bytes);
    root = commonRoot(checkArchive(archive));
  } catch (e) {
    if (e instanceof ArchiveError) throw new InstallError(422, `archive_${e.code}`, `The archive was refused: ${sentence(e.message)} Nothing was installed.`, "A plugin archive is a .zip or .tar.gz of one plugin folder.");
    throw e;
  }
  let text: string;
  try {
    text = new TextDecoder().decode(archive.read(root ? `${root}/package.json` : "package.json"));
  } catch {
    throw new InstallError(422, "no_manifest", "The archive has no package.json at its top (or in its one top folder), so it is not a plugin.", "A plugin archive holds one folder with package.json and the entry file.");
  }
  const manifest = readManifestText(text);
  if (!manifest.ok) throw new InstallError(422, "invalid_manifest", `Not a Layerline plugin: ${manifest.reason}.`);
  return { archive, root, manifest: manifest.manifest };
}

/** `text` ending as a sentence does, so another can follow it. */
function sentence(text: string): string {
  return /[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`;
}
