/**
 * G-code line framing (protocol.md §1.1): `N<line> <command>*<checksum>`.
 * Shared by the host engine and the virtual firmware, which checks what the host framed.
 */

/** XOR of every byte of `text` (the part before `*`). Example: `checksum("N1 M115") === 39`. */
export function checksum(text: string): number {
  let cs = 0;
  for (let i = 0; i < text.length; i++) cs ^= text.charCodeAt(i) & 0xff;
  return cs;
}

/** Frames a cleaned command with a line number and checksum. Example: `frame(1, "M115") === "N1 M115*39"`. */
export function frame(lineNumber: number, command: string): string {
  const body = `N${lineNumber} ${command}`;
  return `${body}*${checksum(body)}`;
}

/**
 * Strips a `;` comment and surrounding whitespace (a `;` always starts a comment, in message
 * text too, as every firmware reads it). `(…)` is left alone: only firmware built with
 * PAREN_COMMENTS reads it as a comment, the others as part of the command.
 * Returns "" for blank and comment-only lines, which must never be sent (Marlin gives no `ok`).
 * Example: `clean("G1 X1 ; move") === "G1 X1"`.
 */
export function clean(line: string): string {
  const semi = line.indexOf(";");
  const code = semi >= 0 ? line.slice(0, semi) : line;
  return code.trim();
}

/** A framed line as the firmware sees it, split back into its parts. */
export interface Unframed {
  /** The line number, or undefined when the line carried none. */
  lineNumber: number | undefined;
  /** The command without `N…` and `*…`. */
  command: string;
  /** The checksum the line claimed, or undefined when it had none. */
  claimed: number | undefined;
  /** Whether `claimed` matches the bytes before `*`. */
  checksumOk: boolean;
}

/** Splits `N12 G1 X1*82` into its parts and verifies the checksum (the firmware's side of §1.1). */
export function unframe(line: string): Unframed {
  const text = line.trim();
  const star = text.lastIndexOf("*");
  const body = star >= 0 ? text.slice(0, star) : text;
  const claimedText = star >= 0 ? text.slice(star + 1).trim() : "";
  const claimed = star >= 0 && /^\d{1,3}$/.test(claimedText) ? Number(claimedText) : undefined;
  let lineNumber: number | undefined;
  let command = body.trim();
  const m = /^N(-?\d+)\s*/.exec(command);
  if (m) {
    lineNumber = Number(m[1]);
    command = command.slice(m[0].length);
  }
  const checksumOk = claimed !== undefined && checksum(body) === claimed;
  return { lineNumber, command: command.trim(), claimed: star >= 0 ? (claimed ?? -1) : undefined, checksumOk };
}
