/**
 * Swapping files in place. The new file was written in the same folder, so `rename` replaces the
 * old one atomically: at every instant the path holds either the old or the new file, never a
 * partial one. The old file stays as `<name>.previous` (a hard link, no copy) for rollback.
 */
import { closeSync, copyFileSync, fsyncSync, linkSync, openSync, renameSync, rmSync, statSync, chmodSync, existsSync } from "node:fs";
import { dirname } from "node:path";
import { UpdateError, why } from "./problem.ts";

export const previousPath = (target: string) => `${target}.previous`;
/** Where a version that failed after installation is kept for inspection. */
export const failedPath = (target: string) => `${target}.failed`;

/** Installs `temp` at `target`, keeping the current file as `<target>.previous`. */
export function replaceKeepingPrevious(temp: string, target: string): void {
  const previous = previousPath(target);
  try {
    rmSync(previous, { force: true });
    try {
      linkSync(target, previous);
    } catch {
      // Some file systems (FAT on an SD card's boot partition) have no hard links.
      copyFileSync(target, previous);
      chmodSync(previous, statSync(target).mode & 0o7777);
    }
    chmodSync(temp, statSync(target).mode & 0o7777);
    renameSync(temp, target);
    syncFolder(dirname(target));
  } catch (e) {
    rmSync(temp, { force: true });
    throw new UpdateError("io", `Could not replace ${target}: ${why(e)}. The installed version is unchanged.`, "Make the folder writable by the user Layerline runs as.");
  }
}

/**
 * Puts `<target>.previous` back at `target` (atomically) and keeps the file it replaces as
 * `<target>.failed`. Returns false when there is no previous file (nothing to restore).
 * Safe to call twice: the second call finds no previous file.
 */
export function restorePrevious(target: string): boolean {
  const previous = previousPath(target);
  if (!existsSync(previous)) return false;
  rmSync(failedPath(target), { force: true });
  try {
    linkSync(target, failedPath(target));
  } catch {
    // Keeping the failed file is a courtesy for diagnosis; restoring is what matters.
  }
  renameSync(previous, target);
  syncFolder(dirname(target));
  return true;
}

/** Makes a folder's entries (renames, new files) durable. */
export function syncFolder(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Proves a downloaded binary runs on this system before it replaces anything: it must print
 * `version` for `--version`. Catches a binary for the wrong CPU or C library early.
 */
export async function checkRuns(path: string, version: string): Promise<void> {
  let out = "";
  let why = "";
  try {
    const proc = Bun.spawn([path, "--version"], { stdout: "pipe", stderr: "pipe", stdin: "ignore", timeout: 60_000 });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    out = stdout.trim();
    why = code === 0 ? "" : proc.signalCode ? `it was stopped by ${proc.signalCode}` : `it exited with code ${code}: ${stderr.trim().slice(0, 300)}`;
  } catch (e) {
    why = (e as Error).message;
  }
  if (why || out !== version) {
    throw new UpdateError(
      "does_not_run",
      `The downloaded Layerline ${version} does not run on this system (${why || `it reports version "${out.slice(0, 60)}"`}). Nothing was installed.`,
      "This system may be too old for the new release; see the release notes for the supported platforms.",
    );
  }
}
