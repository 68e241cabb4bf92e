/**
 * Facts about processes and users, read from /proc and /etc: who this process runs as (with the
 * groups it has now and the ones /etc/group lists it in), and which processes have given devices
 * open (their file descriptors' targets). Entries that vanish or cannot be read while they are
 * scanned are skipped and counted, never fatal.
 */
import { readFileSync } from "node:fs";
import { readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { Identity } from "../serial.ts";

/** A process with a device open, or running under a name of interest. */
export interface ProcessRef {
  pid: number;
  name: string;
  command: string;
  /** It holds a pseudo-terminal's master side (/dev/ptmx): it may be the other end of a pty it holds. */
  ptyMaster: boolean;
}

export interface ProcessScan {
  /** Per device (its real path), the processes that have it open. */
  holders: Map<string, ProcessRef[]>;
  /** Every process, by name (for programs known to take serial adapters). */
  processes: ProcessRef[];
  /** Processes whose open files could not be read (another user's, when not root). */
  unreadable: number;
}

/** Lines of a text file, or null when it cannot be read. */
function readLines(path: string): string[] | null {
  try {
    return readFileSync(path, "utf8").split("\n");
  } catch {
    return null;
  }
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** /etc/group as entries (null when unreadable). */
export function readGroups(path = "/etc/group"): GroupEntry[] | null {
  const lines = readLines(path);
  if (!lines) return null;
  return lines
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2]!))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(",").filter(Boolean) }));
}

/** The passwd entry of `uid`: its name and primary group. */
function passwdEntry(uid: number, path = "/etc/passwd"): { name: string; gid: number } | null {
  for (const l of readLines(path) ?? []) {
    const f = l.split(":");
    if (f.length >= 4 && Number(f[2]) === uid && f[2] !== "") return { name: f[0]!, gid: Number(f[3]) };
  }
  return null;
}

/** The name of group `gid`, or null. */
export function groupName(gid: number, groups: GroupEntry[] | null = readGroups()): string | null {
  return groups?.find((g) => g.gid === gid)?.name ?? null;
}

/** Who this process runs as, from /proc/self/status (the groups the kernel gave it) and /etc. */
export function currentIdentity(procRoot = "/proc"): Identity {
  const status = readLines(join(procRoot, "self/status")) ?? [];
  const field = (name: string) => status.find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim().split(/\s+/).filter(Boolean).map(Number);
  const uid = field("Uid")?.[0] ?? process.getuid?.() ?? -1;
  const gid = field("Gid")?.[0] ?? process.getgid?.() ?? -1;
  const gids = [...new Set([gid, ...(field("Groups") ?? [])])].filter((g) => g >= 0);
  const entry = passwdEntry(uid);
  const user = entry?.name ?? null;
  const groups = readGroups();
  let listedIn: string[] | null = null;
  if (groups && user) {
    listedIn = groups.filter((g) => g.members.includes(user) || g.gid === entry?.gid).map((g) => g.name);
  }
  return { uid, user, gids, listedIn };
}

/**
 * Scans every process's open files for the given device paths (real paths, as /proc/<pid>/fd's
 * links show them). Reads concurrently; a process that ends meanwhile is skipped.
 */
export async function scanProcesses(devices: readonly string[], procRoot = "/proc"): Promise<ProcessScan> {
  const wanted = new Set(devices);
  const holders = new Map<string, ProcessRef[]>(devices.map((d) => [d, []]));
  const processes: ProcessRef[] = [];
  let unreadable = 0;
  const pids = (await readdir(procRoot)).filter((n) => /^\d+$/.test(n));
  await Promise.all(
    pids.map(async (pid) => {
      const dir = join(procRoot, pid);
      const name = (await readFile(join(dir, "comm"), "utf8").catch(() => null))?.trim();
      if (name === undefined) return; // gone
      const cmdline = await readFile(join(dir, "cmdline"), "utf8").catch(() => "");
      const ref: ProcessRef = { pid: Number(pid), name, command: shorten(cmdline.split("\0").filter(Boolean).join(" ")), ptyMaster: false };
      processes.push(ref);
      if (wanted.size === 0) return;
      let fds: string[];
      try {
        fds = await readdir(join(dir, "fd"));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EACCES" || (e as NodeJS.ErrnoException).code === "EPERM") unreadable++;
        return;
      }
      const targets = new Set(await Promise.all(fds.map((fd) => readlink(join(dir, "fd", fd)).catch(() => null))));
      ref.ptyMaster = targets.has("/dev/ptmx") || targets.has("/dev/pts/ptmx");
      for (const t of targets) if (t !== null && wanted.has(t)) holders.get(t)!.push(ref);
    }),
  );
  processes.sort((a, b) => a.pid - b.pid);
  for (const list of holders.values()) list.sort((a, b) => a.pid - b.pid);
  return { holders, processes, unreadable };
}

function shorten(command: string): string {
  return command.length > 120 ? `${command.slice(0, 117)}…` : command;
}
