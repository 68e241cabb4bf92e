/**
 * One host per data folder: an exclusive `flock(2)` on `<data-dir>/layerline.lock`, taken before
 * anything else is opened and held for the life of the process. The kernel decides between two
 * hosts started at the same moment (one gets it, the other is refused), and drops the lock with
 * the process however it ends (a crash, kill -9): a lock file left behind blocks nothing.
 *
 * The descriptor is close-on-exec, so programs the host starts (ffmpeg, the update watchdog) never
 * hold it. Re-executing in place (an update, the main thread's watchdog) hands it on instead
 * (`carried`, src/update/exec.ts): the new program adopts it, and no other host can slip in
 * between the two images.
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Carried } from "./update/exec.ts";

export const LOCK_FILE = "layerline.lock";
/** Names the inherited descriptor to the program started by a re-exec. */
const CARRY_ENV = "LAYERLINE_LOCK_FD";

const LOCK_EX = 2;
const LOCK_NB = 4;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

let libc: ReturnType<typeof open> | undefined;
const open = () =>
  dlopen("libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
const sym = () => (libc ??= open());

export const lockFile = (dataDir: string) => join(dataDir, LOCK_FILE);

/** The locks this thread holds, handed on by a re-exec. */
const held = new Set<number>();

export interface DataDirLock {
  fd: number;
  /** Gives the folder up (the host stopped). */
  release(): void;
  /** Removes the lock file, then gives the folder up (one that made the folder leaves no file behind). */
  discard(): void;
}

/**
 * Takes the data folder's lock, or returns null when another process holds it. Adopts the lock a
 * re-exec of this process handed on (only the very descriptor on this very file).
 */
export function lockDataDir(dataDir: string): DataDirLock | null {
  mkdirSync(dataDir, { recursive: true });
  const path = lockFile(dataDir);
  let fd: number;
  try {
    fd = adopted(path) ?? openSync(path, "a", 0o600);
  } catch (e) {
    throw new Error(`Cannot open ${path} (${(e as Error).message}); the data folder must be writable by the user Layerline runs as.`);
  }
  // Close-on-exec whichever way it came: a child process must never keep the folder locked.
  sym().fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (sym().flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = read.i32(sym().__errno_location()!, 0);
    closeSync(fd);
    // EWOULDBLOCK (11): held by another; anything else (e.g. a file system without locks) is a real error.
    if (errno === 11) return null;
    throw new Error(`cannot lock ${path} (errno ${errno})`);
  }
  // Its holder may have removed the file just before letting go (`discard`): a lock on a file no
  // longer at the path keeps no one out, so take the one there now.
  if (!atPath(fd, path)) {
    closeSync(fd);
    return lockDataDir(dataDir);
  }
  held.add(fd);
  const release = () => {
    if (!held.delete(fd)) return;
    // Closing the last descriptor of the open file drops the lock.
    closeSync(fd);
  };
  return {
    fd,
    release,
    discard: () => {
      // Removed while still held: a taker that opened it meanwhile sees it is gone (above) once it gets it.
      if (held.has(fd)) rmSync(path, { force: true });
      release();
    },
  };
}

/** Whether `fd` is the file at `path`. */
function atPath(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

/** The descriptor a re-exec handed on, if it is an open descriptor of `path`. */
function adopted(path: string): number | null {
  const named = process.env[CARRY_ENV];
  if (named === undefined) return null;
  // Not passed on to programs this one starts.
  delete process.env[CARRY_ENV];
  const fd = Number(named);
  return Number.isInteger(fd) && fd >= 3 && atPath(fd, path) ? fd : null;
}

/** What a re-exec of this process hands on (see src/update/exec.ts). */
export function carried(): Carried[] {
  return [...held].map((fd) => ({ fd, env: CARRY_ENV }));
}

/**
 * The process holding the data folder's lock (from /proc/locks: looking takes nothing, so a host
 * starting at that moment is not disturbed), or null when none holds it or it cannot be told.
 */
export function lockHolder(dataDir: string): number | null {
  let st;
  let locks;
  try {
    st = statSync(lockFile(dataDir));
    locks = readFileSync("/proc/locks", "utf8");
  } catch {
    return null;
  }
  // Linux's new_encode_dev: major in bits 8–19, minor in bits 0–7 and 20–31.
  const dev = Number(st.dev);
  const id = `${((dev >> 8) & 0xfff).toString(16).padStart(2, "0")}:${((dev & 0xff) | ((dev >>> 12) & 0xfff00)).toString(16).padStart(2, "0")}:${st.ino}`;
  // "1: FLOCK  ADVISORY  WRITE 1234 00:2a:5678 0 EOF"; lines of blocked waiters start "1: ->".
  for (const line of locks.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] === "FLOCK" && f[5] === id) return Number(f[4]);
  }
  return null;
}
