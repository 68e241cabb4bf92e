/**
 * A periodic report switched on by a G-code (`M155 S2`, `M154 S5`, `M27 S1`), like Marlin's
 * AutoReporter: the first report comes one interval after the command, then one per interval.
 */

// Marlin clamps every auto-report interval to 60 s.
const MAX_SECONDS = 60;

/** Example: `r.set(2, now)`; later `if (r.due(t)) print(report)`. */
export class AutoReporter {
  private intervalMs = 0;
  /** Wall time of the next report, or undefined when off. */
  nextAt: number | undefined;

  /** Sets the interval in whole seconds (0 = off), as the S parameter does. */
  set(seconds: number, now: number): void {
    const s = Math.min(Math.max(Math.trunc(seconds), 0), MAX_SECONDS);
    this.intervalMs = s * 1000;
    this.nextAt = s > 0 ? now + this.intervalMs : undefined;
  }

  /** Whether a report is due at `now`; if so, schedules the next one. */
  due(now: number): boolean {
    if (this.nextAt === undefined || now < this.nextAt) return false;
    this.nextAt = now + this.intervalMs;
    return true;
  }
}
