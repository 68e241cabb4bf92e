/**
 * Link statistics for people: lines per second over the last few seconds, the share of lines
 * that had to be sent again, and how long the firmware takes to acknowledge a line (median and
 * 99th percentile of the latest samples). Computed from the engine's counters when the status is
 * published, never per line.
 */
import type { LinkCounters } from "../protocol/engine.ts";

/** The `link` part of a printer's status (see status.ts). */
export interface LinkFigures extends LinkCounters {
  /** Lines acknowledged per second over the last few seconds. */
  linesPerSecond: number;
  /** Lines sent again / lines sent, 0–1. */
  resendRatio: number;
  /** Median and 99th percentile of the time from writing a line to its ok, ms; null before any. */
  ackLatencyP50Ms: number | null;
  ackLatencyP99Ms: number | null;
}

const RATE_WINDOW_MS = 5000;

/** The value at quantile `q` (0–1) of the first `n` samples of a ring. */
export function percentile(samples: Float64Array, n: number, q: number): number | null {
  const count = Math.min(n, samples.length);
  if (count === 0) return null;
  const sorted = samples.slice(0, count).sort();
  return sorted[Math.min(count - 1, Math.floor(q * count))]!;
}

export class LinkStats {
  private samples: { t: number; acks: number }[] = [];

  /** The figures now; `now` is the clock of the engine (ms). */
  figures(counters: LinkCounters, latencies: Float64Array, latencyCount: number, now: number): LinkFigures {
    this.samples.push({ t: now, acks: counters.acks });
    while (this.samples.length > 2 && this.samples[1]!.t <= now - RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const span = now - first.t;
    const linesPerSecond = span > 0 ? ((counters.acks - first.acks) * 1000) / span : 0;
    return {
      ...counters,
      linesPerSecond: Math.round(linesPerSecond),
      resendRatio: counters.linesSent > 0 ? counters.linesResent / counters.linesSent : 0,
      ackLatencyP50Ms: round2(percentile(latencies, latencyCount, 0.5)),
      ackLatencyP99Ms: round2(percentile(latencies, latencyCount, 0.99)),
    };
  }

  /** Forgets the rate history (a new connection). */
  reset(): void {
    this.samples = [];
  }
}

function round2(x: number | null): number | null {
  return x === null ? null : Math.round(x * 100) / 100;
}
