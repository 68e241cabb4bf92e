/**
 * One word per printer, shared by its Worker, the main thread and the main thread's watchdog
 * (src/plugins/main-thread-watch.ts): whether the printer streams a print or an upload now, and
 * how its last print ended while the main thread had not yet taken note — so the watchdog never
 * starts the host again under a print, and the next start knows how a print ended that the stuck
 * main thread never saw end.
 */
import type { PrinterStatus } from "./status.ts";
import { isJobRunning } from "./status.ts";

export const IDLE = 0;
export const STREAMING = 1;
/** A print ended (done, cancelled, failed) and the main thread has not taken note yet. */
export const ENDED = { done: 2, cancelled: 3, failed: 4 } as const;
export type EndedState = keyof typeof ENDED;
const ENDED_BY_FLAG = new Map<number, EndedState>(Object.entries(ENDED).map(([state, flag]) => [flag, state as EndedState]));

/** Printers one host can run at once: words of the shared flags. */
export const MAX_PRINTERS = 256;

export function streamingFlags(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(MAX_PRINTERS * Int32Array.BYTES_PER_ELEMENT));
}

/** What a flag says of a print that ended unnoticed, or null. */
export function endedState(flag: number): EndedState | null {
  return ENDED_BY_FLAG.get(flag) ?? null;
}

/**
 * The Worker's side: its flag follows its status on changes only (the main thread clears an
 * ended print's flag once it has taken note; the Worker must not write it back).
 */
export class StreamingFlag {
  private streaming = false;
  private printing = false;

  constructor(
    private readonly flags: Int32Array,
    private readonly slot: number,
  ) {}

  update(status: PrinterStatus): void {
    const printing = isJobRunning(status.job?.state);
    const streaming = printing || status.sd.upload !== null;
    if (streaming === this.streaming && printing === this.printing) return;
    const printEnded = this.printing && !printing;
    this.streaming = streaming;
    this.printing = printing;
    const state = status.job?.state;
    const ended = printEnded && (state === "done" || state === "cancelled" || state === "failed") ? ENDED[state] : IDLE;
    Atomics.store(this.flags, this.slot, streaming ? STREAMING : ended);
  }
}

/** The main thread's side: it has seen `status`; an ended print's flag is cleared (unless a new one began meanwhile). */
export function noted(flags: Int32Array, slot: number, status: PrinterStatus): void {
  const flag = Atomics.load(flags, slot);
  if (endedState(flag) !== null && !isJobRunning(status.job?.state)) Atomics.compareExchange(flags, slot, flag, IDLE);
}
