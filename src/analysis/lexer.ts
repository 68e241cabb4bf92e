/**
 * A table-driven G-code line lexer that works on bytes: one pass over a line fills a reusable
 * record (command letter and number, one number per parameter letter, where the comment starts)
 * without allocating a string. The analyser's hot path calls `lex` once per line.
 * Example: lexing "G1 X10.5 E.2 ; move" gives letter G, number 1, X = 10.5, E = 0.2.
 */

const CR = 13;
const SPACE = 32;
const TAB = 9;
const SEMI = 59;
const LPAREN = 40;
const STAR = 42;
const MINUS = 45;
const PLUS = 43;
const DOT = 46;
const ZERO = 48;

/** Character classes: 1 = digit, 2 = upper-case letter, 3 = lower-case letter. */
const CLASS = new Uint8Array(256);
for (let c = 48; c <= 57; c++) CLASS[c] = 1;
for (let c = 65; c <= 90; c++) CLASS[c] = 2;
for (let c = 97; c <= 122; c++) CLASS[c] = 3;

/**
 * The largest magnitude a parameter may have: no coordinate, feed rate, temperature or dwell of a
 * real print comes near it, and sums and squares of such values stay finite in the planner.
 */
export const MAX_VALUE = 1e9;

const POW10 = new Float64Array(23);
for (let i = 0; i < POW10.length; i++) POW10[i] = 10 ** i;

/** Bit of a parameter letter in `LexedLine.mask` (A = bit 0 … Z = bit 25). */
export const bit = (letter: string): number => 1 << (letter.charCodeAt(0) - 65);

export const X_BIT = bit("X");
export const Y_BIT = bit("Y");
export const Z_BIT = bit("Z");
export const E_BIT = bit("E");
export const F_BIT = bit("F");
export const S_BIT = bit("S");
export const P_BIT = bit("P");
export const T_BIT = bit("T");
export const R_BIT = bit("R");
export const I_BIT = bit("I");
export const J_BIT = bit("J");
export const B_BIT = bit("B");
export const C_BIT = bit("C");
export const A_BIT = bit("A");

/** Command kinds in `LexedLine.letter`. */
export const G = 71;
export const M = 77;
export const T = 84;
/** A word command such as Klipper's `EXCLUDE_OBJECT_START NAME=a` (read as text, cold path). */
export const WORD = 1;
/** No command: blank, comment-only or unparseable line. */
export const NONE = 0;

export class LexedLine {
  /** G, M, T, WORD or NONE. */
  letter = NONE;
  /** The command number (G1 → 1, M862.3 → 862, T1 → 1). */
  code = 0;
  /** The sub-code after a dot (M862.3 → 3), or -1. */
  sub = -1;
  /** Which parameter letters are present (see `bit`). */
  mask = 0;
  /** Parameter values by letter index (A = 0). Valid only where `mask` has the bit. */
  readonly values = new Float64Array(26);
  /** Index of the byte after `;` where a comment starts, or -1. */
  comment = -1;
  /** Whether a parameter's number was beyond MAX_VALUE (or overflowed): that parameter is left out of `mask`. */
  outOfRange = false;
  /** Start of the command word (for WORD lines and string parameters). */
  start = 0;
  /** Index of the line's end (the `\n`, or the buffer end for the last line). */
  end = 0;

  value(letterBit: number, index: number, fallback: number): number {
    return (this.mask & letterBit) !== 0 ? this.values[index]! : fallback;
  }
}

/**
 * Lexes the line that starts at `start` and ends before `end` (exclusive, no `\n` inside).
 * Parameters whose value is not a number (M117 text, `M486 A"name"`) are skipped.
 */
export function lex(buf: Uint8Array, start: number, end: number, out: LexedLine): void {
  out.letter = NONE;
  out.code = 0;
  out.sub = -1;
  out.mask = 0;
  out.comment = -1;
  out.outOfRange = false;
  out.end = end;
  let i = start;
  // Leading blanks and a line number.
  while (i < end && (buf[i] === SPACE || buf[i] === TAB)) i++;
  if (i < end && (buf[i] === 78 || buf[i] === 110) && i + 1 < end && CLASS[buf[i + 1]!] === 1) {
    i++;
    while (i < end && CLASS[buf[i]!] === 1) i++;
    while (i < end && (buf[i] === SPACE || buf[i] === TAB)) i++;
  }
  out.start = i;
  if (i >= end) return;
  let c = buf[i]!;
  if (c === SEMI) {
    out.comment = i + 1;
    return;
  }
  const cls = CLASS[c]!;
  if (cls !== 2 && cls !== 3) return;
  const next = i + 1 < end ? buf[i + 1]! : 0;
  const nextCls = CLASS[next]!;
  if (nextCls === 2 || nextCls === 3 || next === 95) {
    // A word command (letters or underscores after the first letter).
    out.letter = WORD;
    for (let j = i; j < end; j++) if (buf[j] === SEMI) {
      out.comment = j + 1;
      break;
    }
    return;
  }
  if (cls === 3) c -= 32;
  if (c !== G && c !== M && c !== T) return;
  i++;
  // Command number (T may have none: "T?" / "Tx" are MMU specials we ignore).
  let code = 0;
  let digits = 0;
  while (i < end && CLASS[buf[i]!] === 1) {
    code = code * 10 + (buf[i]! - ZERO);
    i++;
    digits++;
  }
  if (digits === 0) {
    // "T-1" (RepRapFirmware: deselect) and similar are not tool changes we count.
    return;
  }
  out.letter = c;
  out.code = code;
  if (i < end && buf[i] === DOT && i + 1 < end && CLASS[buf[i + 1]!] === 1) {
    i++;
    let sub = 0;
    while (i < end && CLASS[buf[i]!] === 1) {
      sub = sub * 10 + (buf[i]! - ZERO);
      i++;
    }
    out.sub = sub;
  }
  const values = out.values;
  let mask = 0;
  while (i < end) {
    c = buf[i]!;
    if (c === SPACE || c === TAB || c === CR) {
      i++;
      continue;
    }
    if (c === SEMI) {
      out.comment = i + 1;
      break;
    }
    if (c === STAR) break; // checksum
    if (c === LPAREN) {
      // RS274 comment "( ... )".
      while (i < end && buf[i] !== 41) i++;
      i++;
      continue;
    }
    const k = CLASS[c]!;
    if (k !== 2 && k !== 3) {
      i++;
      continue;
    }
    const index = (k === 2 ? c : c - 32) - 65;
    i++;
    // Number: [+-]digits[.digits][e[+-]digits]
    let neg = false;
    let j = i;
    if (j < end && (buf[j] === MINUS || buf[j] === PLUS)) {
      neg = buf[j] === MINUS;
      j++;
    }
    let mant = 0;
    let nd = 0;
    while (j < end) {
      const d = buf[j]! - ZERO;
      if (d < 0 || d > 9) break;
      mant = mant * 10 + d;
      j++;
      nd++;
    }
    let scale = 0;
    if (j < end && buf[j] === DOT) {
      j++;
      while (j < end) {
        const d = buf[j]! - ZERO;
        if (d < 0 || d > 9) break;
        mant = mant * 10 + d;
        j++;
        nd++;
        scale++;
      }
    }
    if (nd === 0) {
      // A letter without a number ("G28 X", "M220 B"): present, value 0.
      values[index] = 0;
      mask |= 1 << index;
      // Skip a quoted or bare non-numeric value.
      if (j < end && buf[j] === 34) {
        j++;
        while (j < end && buf[j] !== 34) j++;
        j++;
      } else if (j > i) {
        // just a sign
      } else {
        while (j < end && buf[j] !== SPACE && buf[j] !== TAB && buf[j] !== SEMI && CLASS[buf[j]!] !== 2) j++;
      }
      i = j;
      continue;
    }
    let v = scale < POW10.length ? mant / POW10[scale]! : mant / 10 ** scale;
    if (j < end && (buf[j] === 101 || buf[j] === 69) && j + 1 < end && (CLASS[buf[j + 1]!] === 1 || buf[j + 1] === MINUS || buf[j + 1] === PLUS)) {
      j++;
      let eneg = false;
      if (buf[j] === MINUS || buf[j] === PLUS) {
        eneg = buf[j] === MINUS;
        j++;
      }
      let ex = 0;
      while (j < end && CLASS[buf[j]!] === 1) {
        ex = ex * 10 + (buf[j]! - ZERO);
        j++;
      }
      v = eneg ? v / 10 ** ex : v * 10 ** ex;
    }
    i = j;
    // `!(v <= MAX_VALUE)` also catches NaN (a mantissa and scale that both overflowed).
    if (!(v <= MAX_VALUE)) {
      out.outOfRange = true;
      continue;
    }
    values[index] = neg ? -v : v;
    mask |= 1 << index;
  }
  out.mask = mask;
}

/** Whether `buf` holds the ASCII text `text` at `at` (a cold-path helper for comments). */
export function bytesAt(buf: Uint8Array, at: number, end: number, text: string): boolean {
  if (at + text.length > end) return false;
  for (let k = 0; k < text.length; k++) if (buf[at + k] !== text.charCodeAt(k)) return false;
  return true;
}

/** Index of the first byte at or after `at` that is not a space or tab. */
export function skipBlanks(buf: Uint8Array, at: number, end: number): number {
  while (at < end && (buf[at] === SPACE || buf[at] === TAB)) at++;
  return at;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** The text of `buf[from, to)` with trailing blanks and CR removed (cold path). */
export function text(buf: Uint8Array, from: number, to: number): string {
  while (to > from && (buf[to - 1] === SPACE || buf[to - 1] === TAB || buf[to - 1] === CR)) to--;
  return decoder.decode(buf.subarray(from, to));
}

