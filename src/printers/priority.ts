/**
 * The serial path before the web (design principle 3): once the printers' Workers run, the main
 * thread — HTTP, SSE, the UI — lowers its own scheduling priority (nice +10, this thread only:
 * Linux keeps a nice value per thread), so on a busy small machine the kernel runs a printer's
 * thread first and a flood of requests slows the web pages, not the print. Threads started later
 * (a printer added afterwards, the analysis worker) share the main thread's priority. Best
 * effort: where it is not possible it changes nothing.
 */
import { dlopen, FFIType } from "bun:ffi";

/** Lowers the calling (main) thread's priority; true when it worked. */
export function yieldToPrinters(nice = 10): boolean {
  try {
    const { symbols, close } = dlopen("libc.so.6", {
      setpriority: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
    });
    // PRIO_PROCESS (0) with the main thread's id, which is the process id.
    const done = symbols.setpriority(0, process.pid, nice) === 0;
    close();
    return done;
  } catch {
    return false;
  }
}
