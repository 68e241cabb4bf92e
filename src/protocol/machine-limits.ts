/**
 * The firmware's report of its machine limits: the `M201`/`M203`/`M204`/`M205` lines Marlin and
 * its derivatives (Prusa, Creality, …) print for `M503` — and at boot, unless built with
 * EEPROM_BOOT_SILENT — each after a heading line:
 *
 *   echo:; Max feedrates (units/s):
 *   echo:  M203 X300.00 Y300.00 Z5.00 E25.00
 *
 * Read by shape, wherever the lines come (temperature reports may arrive between them). Prusa's
 * firmware prints a second, "stealth" (silent mode) set after each normal one; the normal mode's
 * is the one taken, as PrusaSlicer does. Pure: lines in, limits out.
 */
import { limitsFromCommand, mergeLimits, type MachineLimitsPatch } from "../analysis/limits.ts";

/** `echo:  M203 X300.00 Y300.00 Z5.00 E25.00` (the `echo:` and the indent are optional). */
const SETTING = /^(?:echo:)?\s*M(20[1345])((?:\s+[A-Z]-?\d+(?:\.\d*)?)+)\s*(?:;.*)?$/;
const WORD = /([A-Z])(-?\d+(?:\.\d*)?)/g;
/** A heading of a silent-mode set (Prusa: `echo:Maximum feedrates - stealth (mm/s):`). */
const QUIET_HEADING = /^echo:.*\b(stealth|silent)\b/i;

/**
 * One firmware's limits as it reports them, line by line.
 * Example: `r.line("echo:  M203 X300 Y300 Z5 E25")` → true; then `r.take()` → `{ maxFeedrate: {…} }`.
 */
export class LimitsReportReader {
  private pending: MachineLimitsPatch | null = null;
  /** The set being printed is the silent mode's (it follows a "stealth" heading). */
  private quiet = false;

  /** Reads one received line; true when it was a limits line (taken or, in silent mode, skipped). */
  line(text: string): boolean {
    const m = SETTING.exec(text);
    if (!m) {
      // Any other `echo:` line is the next heading; other lines (temperature reports) leave it be.
      if (text.startsWith("echo:")) this.quiet = QUIET_HEADING.test(text);
      return false;
    }
    if (this.quiet) return true;
    const words = new Map<string, number>();
    for (const [, letter, value] of m[2]!.matchAll(WORD)) words.set(letter!, Number(value));
    const patch = limitsFromCommand(Number(m[1]), (letter) => words.get(letter));
    if (patch) this.pending = mergeLimits(this.pending ?? {}, patch);
    return true;
  }

  /** The limits read since the last call (null: none), and forgets them. */
  take(): MachineLimitsPatch | null {
    const out = this.pending;
    this.pending = null;
    this.quiet = false;
    return out;
  }
}
