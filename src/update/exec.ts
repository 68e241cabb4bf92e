/**
 * Re-executing: `execve(2)` through bun:ffi replaces this process's program with the file at a
 * path while keeping its pid, its parent and its standard streams — so a supervisor such as
 * systemd sees one uninterrupted service across an update.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { constants } from "node:os";

const libc = () =>
  dlopen("libc.so.6", {
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });

/**
 * Replaces this process with `path argv… ` and environment `env`. Returns only when the kernel
 * refused (e.g. ENOEXEC, EACCES), with the errno's name; on success it never returns.
 * Close servers, databases and serial ports first: the new program starts from nothing.
 */
export function execve(path: string, argv: string[], env: Record<string, string | undefined>): string {
  const { symbols } = libc();
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
  void keep;
  return Object.entries(constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
}
