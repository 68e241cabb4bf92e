/**
 * Gathers the storage facts: writes and removes a small file in the data folder (the only sure
 * test of "can be written"), reads the free space (statfs) and the mount's options
 * (/proc/self/mountinfo).
 */
import { closeSync, openSync, readFileSync, realpathSync, rmSync, statfsSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { StorageFacts } from "../storage.ts";

/** Writes a few bytes to a fresh file in `dir` and removes it again. */
export function writeProbe(dir: string): StorageFacts["write"] {
  const path = join(dir, `.diagnostics-write-test-${process.pid}`);
  try {
    const fd = openSync(path, "w", 0o600);
    try {
      writeSync(fd, "layerline");
    } finally {
      closeSync(fd);
    }
    rmSync(path, { force: true });
    return { ok: true };
  } catch (e) {
    try {
      rmSync(path, { force: true });
    } catch {
      // nothing was made (a read-only filesystem refuses even removing what is not there)
    }
    const err = e as NodeJS.ErrnoException;
    return { ok: false, code: err.code ?? "EIO", message: err.message };
  }
}

/** Unescapes mountinfo's octal escapes (`\040` for a space). */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/**
 * The mount holding `path`: the longest mount point that is a prefix of its real path.
 * Read-only when the mount's own options or the filesystem's say `ro`.
 */
export function mountOf(path: string, mountinfo = "/proc/self/mountinfo"): StorageFacts["mount"] {
  let real: string;
  let text: string;
  try {
    real = realpathSync(path);
    text = readFileSync(mountinfo, "utf8");
  } catch {
    return null;
  }
  let best: NonNullable<StorageFacts["mount"]> | null = null;
  for (const line of text.split("\n")) {
    // id parent major:minor root mountpoint options [optional…] - fstype source superoptions
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const f = left.split(" ");
    const point = unescape(f[4] ?? "");
    const [type = "?", , superOptions = ""] = right.split(" ");
    const inside = point === "/" || real === point || real.startsWith(`${point}/`);
    if (!inside || (best && best.point.length > point.length)) continue;
    const readOnly = (f[5] ?? "").split(",").includes("ro") || superOptions.split(",").includes("ro");
    best = { point, type, readOnly };
  }
  return best;
}

export function gatherStorageFacts(dataDir: string, largestFile: number | null, user: string | null): StorageFacts {
  let free: number | null = null;
  let total: number | null = null;
  try {
    const s = statfsSync(dataDir);
    free = Number(s.bavail) * Number(s.bsize);
    total = Number(s.blocks) * Number(s.bsize);
  } catch {
    // unknown
  }
  return { dataDir, write: writeProbe(dataDir), mount: mountOf(dataDir), free, total, largestFile, user };
}
