/**
 * `layerline update [--url URL] [--channel NAME] [--check] [--force] [--data-dir PATH]`.
 *
 * With a host running on the data folder, the CLI asks it to update (it waits for prints, restarts
 * under its watchdog and self-tests) and follows the progress. With none running, it updates the
 * binary itself, holding the data folder's lock as a host would (src/update/offline-lock.ts):
 * download with a progress bar, verify, prove it runs, back up the database, swap; the next start
 * then runs the self-test and rolls back by itself if that fails.
 */
import { Database } from "bun:sqlite";
import { accessSync, constants, existsSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { LOCAL_TOKEN_HEADER } from "../accounts/accounts.ts";
import { defaultDataDir } from "../config.ts";
import { DATABASE_FILE } from "../db/database.ts";
import { SettingsStore } from "../db/settings.ts";
import { VERSION } from "../version.ts";
import { backupDatabase } from "./backup.ts";
import { checkRecord, describeCheck, evaluateRelease, fetchRelease, refusal } from "./check.ts";
import { downloadVerified } from "./download.ts";
import { backupFile, writeHandover } from "./handover.ts";
import { checkRuns, previousPath, replaceKeepingPrevious } from "./install.ts";
import { ChannelSchema, currentTarget, type Channel } from "./manifest.ts";
import type { UpdateStatus } from "./manager.ts";
import { holdForUpdate } from "./offline-lock.ts";
import { detectPlatform } from "./platform.ts";
import { UpdateError, why } from "./problem.ts";
import { processControl } from "./process-control.ts";
import { TerminalProgress } from "./progress.ts";
import { trustedPublicKey } from "./release-key.ts";
import { findRunning, runningFile, type RunningHost } from "./running.ts";
import { DEFAULT_SETTINGS, UpdateSettingsStore, UpdateUrlSchema } from "./settings.ts";
import { NOT_STARTED } from "./watchdog.ts";

export const UPDATE_HELP = `layerline update [--url URL] [--channel stable|beta] [--check] [--force]
                 [--data-dir PATH] [--update-public-key FILE]
  Checks for a new release and installs it. If Layerline is running on the data folder, the
  running host does the update (after any print ends) and this command shows its progress;
  otherwise the binary is replaced here (holding the data folder: a host started meanwhile is
  refused) and the next start checks itself.
  The running host is asked with the local token it writes to <data-dir>/update/running.json
  (readable only by the user it runs as, accepted only from this machine): run this command
  as that user.
  --url URL        manifest URL ({channel} is replaced), instead of the configured one
  --channel NAME   stable or beta, instead of the configured one
  --check          only say what is available (and print the release notes)
  --force          install a version that was rolled back on this host before`;

interface Options {
  url?: string;
  channel?: Channel;
  check: boolean;
  force: boolean;
  dataDir: string;
  publicKeyFile?: string;
}

/** Runs the command; returns the exit code. */
export async function updateCli(args: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(args);
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${UPDATE_HELP}`);
    return 2;
  }
  try {
    checkReadable(runningFile(options.dataDir));
    const running = findRunning(options.dataDir);
    if (running) return await updateRunning(running, options);
    // Only looking changes nothing: no host need be kept from starting for it.
    if (options.check) return await updateHere(options);
    // Like a host, the update holds the data folder while it works: a host started meanwhile is refused.
    const taken = await holdForUpdate(options.dataDir);
    if ("running" in taken) return await updateRunning(taken.running, options);
    try {
      return await updateHere(options);
    } finally {
      taken.hold.release();
    }
  } catch (e) {
    if (e instanceof UpdateError) {
      console.error(`${e.code === "no_update" ? "" : "error: "}${e.message}${e.hint ? `\n${e.hint}` : ""}`);
      return e.code === "no_update" ? 0 : 1;
    }
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
}

/**
 * Refuses to go on when a running host's announcement (with its local token) exists but cannot be
 * read: a host run by another user must be updated as that user, not swapped here under it.
 */
function checkReadable(file: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new UpdateError("not_installable", `Cannot read ${file}, where the running Layerline says how to reach it (${why(e)}).`, "Run this command as the user Layerline runs as (e.g. sudo -u layerline layerline update).");
    }
  }
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      channel: { type: "string" },
      check: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      "data-dir": { type: "string" },
      "update-public-key": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const url = values.url === undefined ? undefined : v.safeParse(UpdateUrlSchema, values.url);
  if (url && !url.success) throw new Error(`--url: ${url.issues[0].message}`);
  const channel = values.channel === undefined ? undefined : v.safeParse(ChannelSchema, values.channel);
  if (channel && !channel.success) throw new Error(`--channel: ${channel.issues[0].message}`);
  return {
    url: url?.output,
    channel: channel?.output,
    check: values.check!,
    force: values.force!,
    dataDir: values["data-dir"] ?? defaultDataDir(),
    publicKeyFile: values["update-public-key"],
  };
}

/** Refusals of the credentials: during a restart the host makes a new local token, so these pass. */
const CREDENTIAL_ERRORS = new Set(["invalid_credentials", "unauthorized"]);

/**
 * Asks the running host to update and follows it through the restart. It authenticates with the
 * host's local token from running.json (read afresh for every call: each start makes a new one).
 */
async function updateRunning(running: RunningHost, options: Options): Promise<number> {
  if (!running.token) {
    throw new UpdateError(
      "not_installable",
      `The running Layerline ${running.version} does not announce a local token, so this command cannot authenticate to it.`,
      "Update it from its web page (the update notice), or with POST /api/v1/update/start and an API key with the update permission.",
    );
  }
  const api = async (path: string, init?: RequestInit) => {
    const token = findRunning(options.dataDir)?.token ?? running.token!;
    const response = await fetch(running.url + path, { ...init, signal: AbortSignal.timeout(60_000), headers: { "content-type": "application/json", [LOCAL_TOKEN_HEADER]: token } });
    const body = await response.json();
    if (!response.ok) {
      const error = (body as { error: { code: string; message: string; hint: string } }).error;
      throw new UpdateError(error.code as UpdateError["code"], error.message, error.hint);
    }
    return body as UpdateStatus;
  };
  const tokenRefused = (e: unknown): never => {
    if (e instanceof UpdateError && CREDENTIAL_ERRORS.has(e.code)) {
      throw new UpdateError("not_installable", `The running Layerline refused the local token from ${runningFile(options.dataDir)}.`, "Run this command on the same machine as the user Layerline runs as; if Layerline restarted just now, run it again.");
    }
    throw e;
  };
  const source = JSON.stringify({ url: options.url, channel: options.channel });
  console.log(`Layerline ${running.version} is running (pid ${running.pid}, ${running.url}); it does the update.`);
  if (options.check) {
    const { check } = await api("/api/v1/update/check", { method: "POST", body: source }).catch(tokenRefused);
    console.log(describeCheck(check!, running.version));
    return check?.error || (check?.verdict !== "update" && check?.verdict !== "up-to-date") ? 1 : 0;
  }
  const started = Date.now();
  const first = await api("/api/v1/update/start", { method: "POST", body: JSON.stringify({ url: options.url, channel: options.channel, force: options.force || undefined }) }).catch(tokenRefused);
  const version = "version" in first.job ? first.job.version : "?";
  const notes = first.check?.latest?.notes;
  console.log(`Updating to Layerline ${version}.${notes ? `\n\n${notes.trim()}\n` : ""}`);
  const bar = new TerminalProgress();
  let said = "";
  let restartingSince: number | null = null;
  const say = (line: string) => {
    if (line === said) return;
    bar.finish();
    console.log(line);
    said = line;
  };
  for (;;) {
    let status: UpdateStatus | null = null;
    try {
      status = await api("/api/v1/update");
    } catch (e) {
      if (e instanceof UpdateError && !CREDENTIAL_ERRORS.has(e.code)) throw e;
      // Not answering, or not yet with its new token: the host is restarting.
    }
    const result = status?.lastResult;
    if (status && result && result.to === version && result.at >= started) {
      if (result.outcome === "updated" && status.version === version) {
        say(`Layerline ${version} is running and passed its self-test.`);
        return 0;
      }
      if (result.outcome === "rolled-back") {
        say(`The update to ${version} failed and was undone; Layerline ${result.from} is running again.\nWhy: ${result.reason}`);
        return 1;
      }
    }
    switch (status?.job.state) {
      case "downloading":
        bar.update(status.job.received, status.job.total);
        break;
      case "verifying":
        say("Downloaded; size, sha256 and signature verified. Checking that it runs here…");
        break;
      case "waiting-for-print":
        say(`Waiting for the print on ${status.job.printers.join(", ")} to end (Ctrl-C leaves the update queued; POST /api/v1/update/cancel cancels it)…`);
        break;
      case "self-test":
        say(`Layerline ${status.version} is running its self-test (${status.job.stage})…`);
        break;
      case "failed":
        bar.finish();
        throw new UpdateError(status.job.error.code as UpdateError["code"], status.job.error.message, status.job.error.hint);
      default:
        if (status === null || status.job.state === "restarting") {
          say(`Restarting into Layerline ${version}…`);
          restartingSince ??= Date.now();
          const limit = (first.selfTestSeconds + 180) * 1000;
          if (Date.now() - restartingSince > limit) {
            say(`Layerline has not come back after ${Math.round(limit / 1000)} s; see its log (journalctl -u layerline).`);
            return 1;
          }
        }
    }
    await Bun.sleep(250);
  }
}

/** Replaces the binary here, with no host running. */
async function updateHere(options: Options): Promise<number> {
  const execPath = processControl().execPath;
  const trusted = trustedPublicKey(options.publicKeyFile);
  const databaseFile = join(options.dataDir, DATABASE_FILE);
  const stored = storedSettings(databaseFile);
  const url = options.url ?? stored.url;
  const channel = options.channel ?? stored.channel;
  if (!url) throw new UpdateError("no_source", "No update URL is configured.", "Pass --url https://…/{channel}/release.json.");
  const release = await fetchRelease(url, channel, trusted);
  const { manifest, url: manifestUrl } = release;
  const facts = { version: VERSION, target: currentTarget(), platform: detectPlatform(), failedVersions: options.force ? [] : stored.failedVersions };
  const offer = evaluateRelease(manifest, facts);
  if (options.check) {
    console.log(describeCheck(checkRecord({ url, channel }, { ...release, offer }), VERSION));
    return offer.kind === "update" || offer.kind === "up-to-date" ? 0 : 1;
  }
  if (offer.kind !== "update") throw refusal(offer, manifest, VERSION);
  if (!execPath) throw new UpdateError("not_installable", "This Layerline runs from source (bun src/main.ts); only the compiled binary updates itself.", "Update the source with git pull instead.");
  const others = otherInstances(execPath);
  if (others.length > 0) {
    throw new UpdateError(
      "in_progress",
      `${execPath} is running as process ${others.join(", ")} with another data folder.`,
      "Run layerline update with that host's --data-dir, so the running host does the update.",
    );
  }
  try {
    accessSync(dirname(execPath), constants.W_OK);
  } catch {
    throw new UpdateError("not_installable", `Cannot write to ${dirname(execPath)}, the folder of ${basename(execPath)}.`, "Run as the user that owns it (or with sudo).");
  }

  console.log(`Updating Layerline ${VERSION} → ${manifest.version} (${manifest.channel}).${manifest.notes.trim() ? `\n\n${manifest.notes.trim()}\n` : ""}`);
  const bar = new TerminalProgress();
  // Ctrl-C (or a stop) during the download: the temporary file next to the binary goes too.
  const interrupted = new AbortController();
  const interrupt = () => interrupted.abort();
  process.once("SIGINT", interrupt).once("SIGTERM", interrupt);
  const temp = await downloadVerified(new URL(offer.target.file, manifestUrl).href, offer.target, dirname(execPath), {
    mode: 0o755,
    name: basename(execPath),
    signal: interrupted.signal,
    onProgress: (received, total) => bar.update(received, total),
  })
    .catch((e) => {
      throw interrupted.signal.aborted ? new UpdateError("cancelled", "The update was interrupted; nothing was installed.") : e;
    })
    .finally(() => {
      process.off("SIGINT", interrupt).off("SIGTERM", interrupt);
      bar.finish();
    });
  console.log("Downloaded; size, sha256 and signature verified.");
  await checkRuns(temp, manifest.version).catch((e) => {
    rmSync(temp, { force: true });
    throw e;
  });

  let backup: string | null = null;
  if (existsSync(databaseFile)) {
    backup = backupFile(options.dataDir, VERSION);
    const db = new Database(databaseFile, { readonly: true });
    try {
      backupDatabase(db, backup);
    } finally {
      db.close();
    }
  }
  replaceKeepingPrevious(temp, execPath);
  writeHandover(options.dataDir, {
    phase: "pending",
    from: VERSION,
    to: manifest.version,
    process: null,
    execPath,
    databaseFile,
    backup,
    printers: [],
    argv: [],
    cwd: process.cwd(),
    selfTestSeconds: stored.selfTestSeconds,
    startedAt: Date.now(),
    deadline: Date.now(),
    stage: NOT_STARTED,
    reason: null,
  });
  console.log(
    `Installed Layerline ${manifest.version}; ${VERSION} is kept as ${previousPath(execPath)}.\n` +
      `Start Layerline (e.g. sudo systemctl start layerline): its first start runs a self-test and returns to ${VERSION} by itself if that fails.`,
  );
  return 0;
}

function storedSettings(databaseFile: string) {
  if (!existsSync(databaseFile)) return { ...DEFAULT_SETTINGS, failedVersions: [] as string[] };
  const db = new Database(databaseFile, { readonly: true });
  try {
    const store = new UpdateSettingsStore(new SettingsStore(db));
    return { ...store.read(), failedVersions: store.failedVersions() };
  } finally {
    db.close();
  }
}

/** Other processes running this binary (readable ones: other users' are not visible). */
function otherInstances(execPath: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readlinkSync(`/proc/${pid}/exe`) === execPath) pids.push(pid);
    } catch {
      // gone, or not ours to see
    }
  }
  return pids;
}
