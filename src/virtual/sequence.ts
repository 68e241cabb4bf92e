/**
 * Marlin 2.1's acceptance check for a line read from serial (`GCodeQueue::get_serial_commands`,
 * protocol.md §1.2–§1.5): comment stripping, the line-number sequence, the checksum, M110, and
 * the three error replies, each followed by `Resend:` and `ok`.
 */
import { unframe } from "../protocol/framing.ts";

/** Marlin's MAX_CMD_SIZE: longer lines are cut (and then fail their checksum). */
export const MAX_CMD_SIZE = 96;

/** What became of one received line. */
export type LineVerdict =
  /** Blank or comment-only: no `ok` (Marlin treats it as a heartbeat). */
  | { kind: "empty" }
  /** Numbered with the last accepted number (or the one before): a resend already in transit, dropped silently. */
  | { kind: "duplicate" }
  /** Rejected; `reply` is the three-line error/resend/ok answer. */
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

  /** Judges one raw line (without its terminator) and advances the sequence when it is accepted. */
  check(raw: string): LineVerdict {
    // Marlin drops `;` comments while reading, before it ever looks for `*`.
    const semi = raw.indexOf(";");
    let text = semi >= 0 ? raw.slice(0, semi) : raw;
    if (text.length > MAX_CMD_SIZE - 1) text = text.slice(0, MAX_CMD_SIZE - 1);
    text = text.trim();
    if (text.length === 0) return { kind: "empty" };

    if (text.charCodeAt(0) !== 78 /* N */) {
      // Unnumbered lines are accepted as they are; a `*cs` on them is ignored.
      const star = text.indexOf("*");
      const command = star >= 0 ? text.slice(0, star).trim() : text;
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
    } else if (n !== this.lastN + 1) {
      if (n === this.lastN || n === this.lastN - 1) return { kind: "duplicate" };
      return this.reject("Line Number is not Last Line Number+1");
    }
    if (parts.claimed === undefined) return this.reject("No Checksum with line number");
    if (!parts.checksumOk) return this.reject("checksum mismatch");
    this.lastN = newLast;
    return { kind: "accepted", n, command: parts.command };
  }

  private reject(reason: string): LineVerdict {
    return {
      kind: "rejected",
      reply: [`Error:${reason}, Last Line: ${this.lastN}`, `Resend: ${this.lastN + 1}`, "ok"],
    };
  }
}
