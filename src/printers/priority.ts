/**
 * The serial path before the web (design principle 3), in the kernel's scheduler: Linux keeps a
 * nice value per thread, and a thread started inherits its creator's.
 * - Once the printers' Workers run, the main thread — HTTP, SSE, the UI — lowers its own priority
 *   (nice +10), so on a busy small machine a flood of requests slows the web pages, not the print.
 *   Threads it starts later (the analysis worker) share that lower priority.
 * - Each printer's thread raises its own (nice −10) where it may: as root, with CAP_SYS_NICE, or
 *   with an RLIMIT_NICE that allows it (the unit of `layerline service install` sets LimitNICE).
 *   Then the printer's thread also comes before the other programs of the machine (a webcam
 *   streamer, a slicer), and a printer added after the main thread lowered itself does not stay at
 *   the web's priority. Where it may not, it keeps the priority it started with.
 * Best effort: where a call is not possible it changes nothing.
 */
import { dlopen, FFIType, type ConvertFns, type FFIFunction } from "bun:ffi";
import { readFileSync } from "node:fs";

/** The web's nice value once the printers run. */
const WEB_NICE = 10;
/** What a printer's thread asks for. */
const PRINTER_NICE = -10;

const PRIO_PROCESS = 0;
const SETPRIORITY = { setpriority: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 } } as const;
// Asked for apart: a C library without gettid (before glibc 2.30) must not stop the web's yield.
const GETTID = { gettid: { args: [], returns: FFIType.i32 } } as const;

/** Runs `use` with these libc functions; null when they cannot be had. */
function withLibc<S extends Record<string, FFIFunction>, T>(symbols: S, use: (libc: ConvertFns<S>) => T): T | null {
  try {
    const lib = dlopen("libc.so.6", symbols);
    try {
      return use(lib.symbols);
    } finally {
      lib.close();
    }
  } catch {
    return null;
  }
}

/** Lowers the calling (main) thread's priority; true when it worked. */
export function yieldToPrinters(nice = WEB_NICE): boolean {
  // The main thread's id is the process id.
  return withLibc(SETPRIORITY, (libc) => libc.setpriority(PRIO_PROCESS, process.pid, nice) === 0) ?? false;
}

/** A thread's nice value from the text of its /proc stat (field 19), null when it has none. */
export function niceFromStat(stat: string): number | null {
  // The name (field 2) may hold spaces and parentheses: count from after its closing one.
  const nice = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  return Number.isInteger(nice) ? nice : null;
}

/** The calling thread's nice value, null where it cannot be read. */
export function threadNice(): number | null {
  try {
    return niceFromStat(readFileSync("/proc/thread-self/stat", "utf8"));
  } catch {
    return null;
  }
}

/** Raises the calling (printer's) thread's priority as far as allowed; its nice value afterwards. */
export function raisePrinterThread(nice = PRINTER_NICE): number | null {
  const tid = withLibc(GETTID, (libc) => libc.gettid());
  if (tid === null) return threadNice();
  withLibc(SETPRIORITY, (libc) => {
    // Not allowed that far (an RLIMIT_NICE down to 0 only): nice 0, still above the web, for a thread that inherited its +10.
    if (libc.setpriority(PRIO_PROCESS, tid, nice) !== 0) libc.setpriority(PRIO_PROCESS, tid, 0);
  });
  return threadNice();
}
