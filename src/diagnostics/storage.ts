/**
 * Storage checks, pure: the data folder can be written (not a read-only filesystem, not
 * another user's folder), and there is room for uploads, judged against the files people
 * actually print here.
 */
import { bytes, finding, type Finding } from "./finding.ts";

export interface StorageFacts {
  dataDir: string;
  /** The result of writing (and removing) a small file in the data folder. */
  write: { ok: true } | { ok: false; code: string; message: string };
  /** The filesystem holding the data folder, from /proc/self/mountinfo (null: unknown). */
  mount: { point: string; type: string; readOnly: boolean } | null;
  /** Bytes free to this user and in all (null: statfs failed). */
  free: number | null;
  total: number | null;
  /** The largest stored G-code file (null: none, or unknown). */
  largestFile: number | null;
  /** Who runs this, for the ownership fix. */
  user: string | null;
}

/** Below these, uploads and timelapse frames start failing: 256 MB is also where the timelapse stops storing frames. */
export const FREE_PROBLEM = 256 * 1024 ** 2;
export const FREE_WARNING = 1024 ** 3;

/**
 * The free-space verdict: a problem when less is free than the larger of 256 MB and the largest
 * file printed here, worth a look under the larger of 1 GB and twice that file.
 * Example: 600 MB free, largest file 400 MB → warning.
 */
export function diskVerdict(free: number, largestFile: number | null): "ok" | "warning" | "problem" {
  const largest = largestFile ?? 0;
  if (free < Math.max(FREE_PROBLEM, largest)) return "problem";
  if (free < Math.max(FREE_WARNING, 2 * largest)) return "warning";
  return "ok";
}

export function storageFindings(f: StorageFacts): Finding[] {
  return [writeFinding(f), spaceFinding(f)];
}

function writeFinding(f: StorageFacts): Finding {
  const title = "The data folder can be written";
  const id = "storage.writable";
  if (f.write.ok && !f.mount?.readOnly) return finding(id, "storage", "ok", title, `${f.dataDir} can be written${f.mount ? ` (${f.mount.type} at ${f.mount.point})` : ""}.`);
  const code = f.write.ok ? "EROFS" : f.write.code;
  if (code === "EROFS" || f.mount?.readOnly) {
    return finding(
      id,
      "storage",
      "problem",
      title,
      `The filesystem holding ${f.dataDir}${f.mount ? ` (${f.mount.point})` : ""} is read-only: nothing can be uploaded, printed progress is not saved, and settings do not stick. On a Raspberry Pi this is almost always a failing SD card, which the kernel turns read-only after write errors.`,
      "Back up the data folder now (it can still be read), check the kernel log for the card's errors, and move to a new SD card or an SSD. A reboot may bring it back read-write for a while.",
      ["sudo dmesg | grep -iE 'mmc|ext4|i/o error' | tail -n 20", `tar czf ~/layerline-backup.tar.gz -C ${parent(f.dataDir)} ${base(f.dataDir)}`],
    );
  }
  if (code === "ENOENT") return finding(id, "storage", "problem", title, `${f.dataDir} does not exist.`, "Start Layerline once with this data folder (it creates it), or give the folder it uses with --data-dir.");
  if (code === "ENOSPC" || code === "EDQUOT") return finding(id, "storage", "problem", title, `Nothing can be written to ${f.dataDir}: the disk is full.`, "Delete old files and timelapses (Files and Timelapse pages), or free space elsewhere on the disk.", ["df -h", `du -sh ${f.dataDir}/* | sort -h | tail`]);
  if (code === "EACCES" || code === "EPERM") {
    const user = f.user ?? "$USER";
    return finding(id, "storage", "problem", title, `${f.dataDir} may not be written by ${f.user ?? "the user Layerline runs as"}.`, `Give the folder to the user Layerline runs as.`, [`sudo chown -R ${user}: ${f.dataDir}`]);
  }
  return finding(id, "storage", "problem", title, `Writing to ${f.dataDir} failed: ${f.write.ok ? "read-only" : f.write.message}.`, "Check the disk and the folder's permissions.");
}

function spaceFinding(f: StorageFacts): Finding {
  const title = "Free disk space";
  const id = "storage.space";
  if (f.free === null) return finding(id, "storage", "unknown", title, `The free space of ${f.dataDir} could not be read.`);
  const verdict = diskVerdict(f.free, f.largestFile);
  const of = f.total ? ` of ${bytes(f.total)}` : "";
  const largest = f.largestFile ? `; the largest file here is ${bytes(f.largestFile)}` : "";
  const found = `${bytes(f.free)} free${of} for ${f.dataDir}${largest}.`;
  if (verdict === "ok") return finding(id, "storage", "ok", title, found);
  return finding(
    id,
    "storage",
    verdict,
    title,
    `${found} ${verdict === "problem" ? "Uploads the size of your usual files will be refused, and timelapse frames are no longer stored." : "Large uploads and timelapses will soon run out of room."}`,
    "Delete files and timelapse videos you no longer need (Files and Timelapse pages), or clear space elsewhere on the disk (old logs, the package cache).",
    ["sudo apt-get clean", "sudo journalctl --vacuum-size=100M", `du -sh ${f.dataDir}/* | sort -h | tail`],
  );
}

const parent = (p: string) => p.replace(/\/[^/]+\/?$/, "") || "/";
const base = (p: string) => p.replace(/\/$/, "").split("/").pop() ?? p;
