/**
 * Read-outs live: the printer's received lines matched against the read-outs' regexes, **pure**
 * (time is an input). Runs on the main thread from the terminal lines it already gets, never on
 * the printer's thread; each line is cut to a bounded length and at most `perSecond` lines a
 * second are looked at, so a chatty printer or a slow regex cannot take the main thread.
 */
import { CONTROL_LIMITS, formatTemplate, type Readout } from "./model.ts";

export const MATCHED_LINES_PER_SECOND = 100;

export class ReadoutMatcher {
  private windowStart = 0;
  private used = 0;

  constructor(
    private readonly readouts: Readout[],
    private readonly perSecond = MATCHED_LINES_PER_SECOND,
  ) {}

  /** The read-outs these lines change (key → text), the last match of each winning. */
  match(lines: readonly string[], now: number): Map<string, string> {
    const changed = new Map<string, string>();
    if (this.readouts.length === 0) return changed;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.used = 0;
    }
    for (const line of lines) {
      if (this.used >= this.perSecond) break;
      this.used++;
      const text = line.length > CONTROL_LIMITS.matchedLength ? line.slice(0, CONTROL_LIMITS.matchedLength) : line;
      for (const r of this.readouts) {
        const m = r.regex.exec(text);
        if (m) changed.set(r.key, formatTemplate(r.template, m));
      }
    }
    return changed;
  }
}
