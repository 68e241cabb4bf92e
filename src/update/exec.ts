/**
 * Re-executing: `execve(2)` through bun:ffi replaces this process's program with the file at a
 * path while keeping its pid, its parent and its standard streams — so a supervisor such as
 * systemd sees one uninterrupted service across an update.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { readdirSync } from "node:fs";
import { constants } from "node:os";

const libc = () =>
  dlopen("libc.so.6", {
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
    syscall: { args: [FFIType.i64, FFIType.u32, FFIType.u32, FFIType.u32], returns: FFIType.i64 },
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  });

// close_range(2) has this number on every Linux architecture (x86-64 and arm64 alike).
const SYS_CLOSE_RANGE = 436;
const CLOSE_RANGE_CLOEXEC = 4;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/**
 * Marks every descriptor above the standard streams close-on-exec, so that `execve` starts the
 * new program with none of this one's files, sockets or serial ports open — for when they cannot
 * be closed one by one first (the thread that owns them is stuck).
 */
export function closeOnExecAll(): void {
  const { symbols } = libc();
  if (Number(symbols.syscall(SYS_CLOSE_RANGE, 3, 0xffffffff, CLOSE_RANGE_CLOEXEC)) === 0) return;
  // Kernels before 5.11: one by one.
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (fd > 2) symbols.fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

/** A descriptor handed on to the next program (e.g. the data folder's lock), named to it by an environment variable. */
export interface Carried {
  fd: number;
  env: string;
}

/**
 * Replaces this process with `path argv… ` and environment `env`. Returns only when the kernel
 * refused (e.g. ENOEXEC, EACCES), with the errno's name; on success it never returns.
 * Close servers, databases and serial ports first: the new program starts from nothing — except
 * the `carry` descriptors, kept open across the exec (close-on-exec cleared just before it, set
 * again if it fails) and named in `env`.
 */
export function execve(path: string, argv: string[], env: Record<string, string | undefined>, carry: readonly Carried[] = []): string {
  const { symbols } = libc();
  env = { ...env };
  for (const c of carry) {
    symbols.fcntl(c.fd, F_SETFD, 0);
    env[c.env] = String(c.fd);
  }
  const keep: Buffer[] = [];
  const cString = (s: string) => {
    const b = Buffer.from(`${s}\0`);
    keep.push(b);
    return b;
  };
  const pointerArray = (items: string[]) => {
    const array = new BigUint64Array(items.length + 1);
    items.forEach((s, i) => (array[i] = BigInt(ptr(cString(s)))));
    return array;
  };
  const args = pointerArray(argv);
  const envp = pointerArray(Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])));
  symbols.execve(ptr(cString(path)), ptr(args), ptr(envp));
  const errno = read.i32(symbols.__errno_location()!, 0);
  for (const c of carry) symbols.fcntl(c.fd, F_SETFD, FD_CLOEXEC);
  void keep;
  return Object.entries(constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
}
