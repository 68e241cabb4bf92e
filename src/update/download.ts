/**
 * Verified downloads: a file is streamed into a temporary file in the folder where it will be
 * installed (so the final rename is atomic), its size and sha256 checked on the way, and it is
 * deleted again on any failure. Used for the host's own binary and, later, plugin archives from
 * the repository index (which publish a sha256 per version).
 */
import { readdirSync, rmSync, statSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { UpdateError, why } from "./problem.ts";

export interface Expected {
  size: number;
  /** Lowercase hex. */
  sha256: string;
}

export interface DownloadOptions {
  /** Called as bytes arrive. */
  onProgress?: (received: number, total: number) => void;
  signal?: AbortSignal;
  /** File mode of the result (0o755 for executables). */
  mode?: number;
  /** Name stem of the temporary file (default: the URL's last path segment). */
  name?: string;
  /** Give up when the server sends nothing for this long (default DOWNLOAD_STALL_MS). */
  stallMs?: number;
}

/**
 * A server that stops sending (a dead mobile link, a hung proxy) must not leave an update or a
 * plugin install "downloading" for ever: no byte for this long ends the download.
 */
export const DOWNLOAD_STALL_MS = 60_000;

/** Prefix of every temporary download, so leftovers from a crash can be recognised and removed. */
export const DOWNLOAD_PREFIX = ".layerline-download-";

/**
 * Downloads `url` into a new temporary file in `dir` and returns its path once the size and
 * sha256 match `expected`; otherwise deletes it and throws an UpdateError that says which check
 * failed. Example: `const tmp = await downloadVerified(url, { size, sha256 }, dirname(target))`.
 */
export async function downloadVerified(url: string, expected: Expected, dir: string, options: DownloadOptions = {}): Promise<string> {
  const name = options.name ?? basename(new URL(url).pathname);
  const temp = join(dir, `${DOWNLOAD_PREFIX}${name}-${crypto.randomUUID().slice(0, 8)}`);
  const stall = stallGuard(options.stallMs ?? DOWNLOAD_STALL_MS, options.signal);
  try {
    return await download(url, expected, temp, name, stall, options);
  } catch (e) {
    if (!stall.stalled) throw e;
    const seconds = (options.stallMs ?? DOWNLOAD_STALL_MS) / 1000;
    throw new UpdateError(
      "fetch_failed",
      stall.received === null
        ? `The server did not answer within ${seconds} s for ${url}. Nothing was installed.`
        : `The download of ${name} stalled: nothing arrived for ${seconds} s after ${stall.received} of ${expected.size} bytes. Nothing was installed.`,
      "Check the network connection and try again; if it keeps happening, the server is overloaded or down.",
    );
  } finally {
    stall.done();
  }
}

/** An abort signal that fires when `poke()` was not called for `ms` (or when `outer` fires). */
function stallGuard(ms: number, outer?: AbortSignal) {
  const controller = new AbortController();
  const guard = {
    signal: outer ? AbortSignal.any([outer, controller.signal]) : controller.signal,
    stalled: false,
    /** Bytes received when it stalled; null while waiting for the server's answer. */
    received: null as number | null,
    timer: null as ReturnType<typeof setTimeout> | null,
    poke(received: number | null) {
      if (guard.timer) clearTimeout(guard.timer);
      guard.timer = setTimeout(() => {
        guard.stalled = true;
        guard.received = received;
        controller.abort();
      }, ms);
    },
    done: () => guard.timer && clearTimeout(guard.timer),
  };
  guard.poke(null);
  return guard;
}

async function download(url: string, expected: Expected, temp: string, name: string, stall: ReturnType<typeof stallGuard>, options: DownloadOptions): Promise<string> {
  const dir = dirname(temp);
  let response: Response;
  try {
    response = await fetch(url, { signal: stall.signal, redirect: "follow" });
  } catch (e) {
    throw new UpdateError("fetch_failed", `Could not download ${url}: ${why(e)}.`, "Check the network connection and the update URL.");
  }
  stall.poke(0);
  if (!response.ok || !response.body) {
    throw new UpdateError("fetch_failed", `The release server answered ${response.status} for ${url}.`, "The release may have been withdrawn; check again later.");
  }
  const announced = response.headers.get("content-length");
  if (announced !== null && Number(announced) !== expected.size) {
    await response.body.cancel();
    throw new UpdateError(
      "size_mismatch",
      `The server offers ${Number(announced)} bytes for ${name}, but the signed manifest says ${expected.size}. Nothing was installed.`,
      "The file on the server is not the one that was signed; report this to whoever runs the release server.",
    );
  }

  let file;
  try {
    file = await open(temp, "wx", 0o600);
  } catch (e) {
    await response.body.cancel();
    throw new UpdateError("io", `Cannot write a temporary file in ${dir}: ${why(e)}.`, "Make the folder writable by the user Layerline runs as, and check the free space.");
  }
  const hasher = new Bun.CryptoHasher("sha256");
  let received = 0;
  try {
    try {
      const reader = response.body.getReader();
      for (let next = await reader.read(); !next.done; next = await reader.read()) {
        const chunk = next.value;
        received += chunk.byteLength;
        if (received > expected.size) {
          await reader.cancel();
          throw new UpdateError(
            "size_mismatch",
            `${name} is larger than the ${expected.size} bytes the signed manifest says. Nothing was installed.`,
            "The file on the server is not the one that was signed; report this to whoever runs the release server.",
          );
        }
        stall.poke(received);
        hasher.update(chunk);
        await file.write(chunk);
        options.onProgress?.(received, expected.size);
      }
    } catch (e) {
      if (e instanceof UpdateError) throw e;
      if ((e as NodeJS.ErrnoException).code === "ENOSPC") throw new UpdateError("io", `The disk is full while downloading ${name}. Nothing was installed.`, "Free some space and try again.");
      throw new UpdateError("fetch_failed", `The download of ${name} broke off after ${received} of ${expected.size} bytes (${(e as Error).message}). Nothing was installed.`, "Try again; check the network connection.");
    }
    if (received < expected.size) {
      throw new UpdateError(
        "size_mismatch",
        `The download of ${name} ended after ${received} of ${expected.size} bytes (truncated). Nothing was installed.`,
        "Try again; if it keeps happening, the file on the server is incomplete.",
      );
    }
    const sha256 = hasher.digest("hex");
    if (sha256 !== expected.sha256) {
      throw new UpdateError(
        "hash_mismatch",
        `${name} does not match the signed manifest (sha256 ${sha256}, expected ${expected.sha256}). Nothing was installed.`,
        "The file was altered or corrupted on the way; do not install it. Try again, and report it if it persists.",
      );
    }
    await file.sync();
    await file.chmod(options.mode ?? 0o644);
    await file.close();
    return temp;
  } catch (e) {
    await file.close().catch(() => {});
    await rm(temp, { force: true });
    throw e;
  }
}

/**
 * Removes downloads into `dir` that a crash or power cut left behind (a 100 MB binary each, on a
 * small SD card). A download under way writes all the time and one that stalls gives up after
 * DOWNLOAD_STALL_MS, so one untouched for longer than `idleMs` belongs to no one.
 */
export function removeStaleDownloads(dir: string, idleMs = 2 * DOWNLOAD_STALL_MS, now = Date.now()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(DOWNLOAD_PREFIX)) continue;
    const path = join(dir, name);
    try {
      if (now - statSync(path).mtimeMs < idleMs) continue;
      rmSync(path, { force: true });
      removed.push(path);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

/** The sha256 (lowercase hex) of a file, read in a stream. */
export async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  const reader = Bun.file(path).stream().getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) hasher.update(next.value);
  return hasher.digest("hex");
}
