/**
 * The acceptance check for a line read from serial (Marlin `GCodeQueue::get_serial_commands`,
 * protocol.md §1.2–§1.5): comment stripping, the line-number sequence, the checksum, M110, and
 * the personality's answer to a bad line (Marlin's error + `Resend:`, Repetier's blank line +
 * `Resend:` and `skip`, Smoothie's `rs N`). Firmware that does not track line numbers (Klipper)
 * strips `N` and `*` and takes everything.
 */
import { unframe } from "../protocol/framing.ts";
import type { Personality, RejectReason } from "./personalities.ts";

// Repetier answers this many out-of-sequence lines after a resend request with `skip` (§1.5).
const REPETIER_SWALLOW = 14;

/** What became of one received line. */
export type LineVerdict =
  /** Blank or comment-only: no `ok` (Marlin treats it as a heartbeat). */
  | { kind: "empty" }
  /** A line already taken; `reply` is what the firmware says (Marlin: nothing). */
  | { kind: "duplicate"; reply: string[] }
  /** Rejected; `reply` is the error/resend answer, without the `ok` (the caller adds it). */
  | { kind: "rejected"; reply: string[] }
  /** Goes to the command queue. `n` is the line number it carried, if any. */
  | { kind: "accepted"; n: number | undefined; command: string };

// C strtol on the text after `N`: optional sign, then digits; anything else reads as 0.
function strtol(s: string, from: number): number {
  let i = from;
  let sign = 1;
  if (s[i] === "-") {
    sign = -1;
    i++;
  } else if (s[i] === "+") i++;
  let n = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
    i++;
  }
  return sign * n;
}

/** Tracks the last accepted line number of one serial port. Example: `seq.check("N1 M115*39")`. */
export class LineSequencer {
  /** Last accepted line number (Marlin `last_N`), 0 after reset. */
  lastN = 0;
  private swallow = 0;

  constructor(private readonly personality: Personality) {}

  /** Judges one raw line (without its terminator) and advances the sequence when it is accepted. */
  check(raw: string): LineVerdict {
    // Marlin drops `;` comments while reading, before it ever looks for `*`, and keeps at most
    // MAX_CMD_SIZE - 1 characters ("skip the rest on overflow"): a longer line fails its checksum.
    const semi = raw.indexOf(";");
    let text = semi >= 0 ? raw.slice(0, semi) : raw;
    const limit = this.personality.maxLineLength;
    if (limit > 0 && text.length > limit) text = text.slice(0, limit);
    text = text.trim();
    if (text.length === 0) return { kind: "empty" };

    if (text.charCodeAt(0) !== 78 /* N */ || !this.personality.tracksLineNumbers) {
      // Unnumbered lines are accepted as they are; a `*cs` on them is ignored. Klipper strips N too.
      const parts = text.charCodeAt(0) === 78 ? unframe(text) : undefined;
      const body = parts ? parts.command : text;
      const star = body.indexOf("*");
      const command = star >= 0 ? body.slice(0, star).trim() : body;
      return command.length === 0 ? { kind: "empty" } : { kind: "accepted", n: undefined, command };
    }

    const parts = unframe(text);
    const n = parts.lineNumber ?? strtol(text, 1);
    const m110At = text.indexOf("M110");
    let newLast = n;
    if (m110At >= 0) {
      // M110 takes its number from an `N` after the command word, else from the line number,
      // and skips the sequence check (both forms of protocol.md §1.3).
      const n2 = text.indexOf("N", m110At + 4);
      if (n2 >= 0) newLast = strtol(text, n2 + 1);
      this.swallow = 0;
    } else if (n !== this.lastN + 1) {
      const p = this.personality;
      if (p.marksDuplicates) {
        // Repetier: lines already taken are skipped; in-flight lines after a resend request too.
        if (n <= this.lastN && n > this.lastN - 40) return { kind: "duplicate", reply: p.duplicate(n) };
        if (this.swallow > 0) {
          this.swallow--;
          return { kind: "duplicate", reply: p.duplicate(n) };
        }
      } else if (n === this.lastN || n === this.lastN - 1) {
        return { kind: "duplicate", reply: p.duplicate(n) };
      }
      return this.reject("lineNumber");
    }
    if (parts.claimed === undefined) return this.reject("noChecksum");
    if (!parts.checksumOk) return this.reject("checksum");
    this.lastN = newLast;
    this.swallow = 0;
    return { kind: "accepted", n, command: parts.command };
  }

  /** The answer to an intact line the firmware refuses anyway (fault injection). */
  reject(reason: RejectReason): LineVerdict {
    if (this.personality.marksDuplicates) this.swallow = REPETIER_SWALLOW;
    return { kind: "rejected", reply: this.personality.reject(reason, this.lastN) };
  }
}
