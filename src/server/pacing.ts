/**
 * Reads paced while a printer prints (design principle 3, the serial path before the web): GET
 * and HEAD requests are answered at most `rate` a second across all clients, with a burst of a
 * tenth of a second's worth; the ones above it wait their turn — delayed, never refused. A
 * browser polling every half second never notices; a script polling in a loop cannot take the
 * cores a print needs on a small machine. Commands (POST, PUT, PATCH, DELETE) are never delayed,
 * so pause, cancel and the emergency stop act at once. `rate` 0 turns pacing off.
 */
import { Elysia } from "elysia";
import type { Bus } from "../events.ts";

/** The pacer's memory: when the next request would be on time (GCRA's theoretical arrival time). */
export interface PaceState {
  due: number;
}

/**
 * How long (ms) a request arriving at `now` waits so that requests keep to one per `interval`
 * ms after a burst of `burst`; books its slot in `state`. Pure apart from updating `state`.
 * Example: interval 10, burst 2 → at t=0 three requests wait 0, 0, 0; the fourth waits 10.
 */
export function paceDelay(state: PaceState, now: number, interval: number, burst: number): number {
  const due = Math.max(state.due, now);
  state.due = due + interval;
  return Math.max(0, due - now - burst * interval);
}

export interface ReadPacingOptions {
  /** Reads a second while printing; 0 = no pacing. */
  rate: number;
  /** Whether some printer prints (or copies a file to its card) now; asked for every read. */
  printing: () => boolean;
}

/**
 * Above what browsers, apps and farm managers ask (a tab polling twice a second is 2; fifty of
 * them, 100), and low enough that a script polling in a loop costs a print little: on a 2-core
 * machine, 50 clients polling back to back cost a print's rate 4–7 % at 1,000 or 500 reads a
 * second, 1–3 % at 250 (bench/load.ts).
 */
export const DEFAULT_PRINT_READ_RATE = 250;

/** Whether some printer prints or copies a file to its card now, kept from their status events (asked per read: O(1)). */
export function somePrinterPrinting(bus: Bus): () => boolean {
  const printing = new Set<string>();
  bus.on("printer.status", ({ id, status }) => {
    if (status.state === "printing" || status.sd.upload !== null) printing.add(id);
    else printing.delete(id);
  });
  return () => printing.size > 0;
}

export function readPacing({ rate, printing }: ReadPacingOptions) {
  const app = new Elysia({ name: "read-pacing" });
  if (rate <= 0) return app;
  const interval = 1000 / rate;
  const burst = Math.max(1, Math.round(rate / 10));
  const state: PaceState = { due: 0 };
  return app.onRequest(async ({ request }) => {
    if (request.method !== "GET" && request.method !== "HEAD") return;
    if (!printing()) return;
    const wait = paceDelay(state, performance.now(), interval, burst);
    if (wait <= 0) return;
    await Bun.sleep(wait);
    // The client gave up while it waited: no work for an answer nobody reads.
    if (request.signal.aborted) return new Response(null, { status: 499 });
  });
}
