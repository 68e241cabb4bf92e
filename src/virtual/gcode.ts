/**
 * Parses one G-code command (line number, checksum and comment already removed) the way Marlin's
 * parser does: a command word (`G1`, `M104`, `T0`), then parameters as letter + number, with or
 * without spaces (`G1X10Y20`). One pass over the characters, no regular expressions.
 */

const A = 65;
const Z = 90;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isNumberChar(c: number): boolean {
  return isDigit(c) || c === 46 /* . */ || c === 45 /* - */ || c === 43 /* + */;
}

/** A parsed command. Example: `parseCommand("G1 X10 F3000").value("X") === 10`. */
export class GcodeCommand {
  /** `G`, `M`, `T`, or `?` when the line does not start with a command word. */
  readonly letter: string;
  /** Command number (`1` for `G1`); NaN for `?`, 0 for a bare `T`. */
  readonly code: number;
  /** Sub-code after a dot (`M862.3` → 3), or undefined. */
  readonly subcode: number | undefined;
  /** Everything after the command word, trimmed (the text of `M117 Hello`). */
  readonly args: string;
  private readonly seen = new Uint8Array(26);
  private readonly values = new Float64Array(26);

  constructor(readonly text: string) {
    const s = text;
    let i = 0;
    const first = s.charCodeAt(0);
    let letter = "?";
    let code = Number.NaN;
    let subcode: number | undefined;
    if (first === 71 /* G */ || first === 77 /* M */ || first === 84 /* T */) {
      let j = 1;
      while (j < s.length && isDigit(s.charCodeAt(j))) j++;
      if (j > 1 || first === 84) {
        letter = s[0]!;
        code = j > 1 ? Number(s.slice(1, j)) : 0;
        if (s.charCodeAt(j) === 46 /* . */ && isDigit(s.charCodeAt(j + 1))) {
          let k = j + 1;
          while (k < s.length && isDigit(s.charCodeAt(k))) k++;
          subcode = Number(s.slice(j + 1, k));
          j = k;
        }
        i = j;
      }
    }
    this.letter = letter;
    this.code = code;
    this.subcode = subcode;
    this.args = letter === "?" ? s : s.slice(i).trim();
    if (letter !== "?") this.scanParameters(s, i);
  }

  private scanParameters(s: string, from: number): void {
    let i = from;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c >= A && c <= Z) {
        const slot = c - A;
        let j = i + 1;
        while (j < s.length && isNumberChar(s.charCodeAt(j))) j++;
        if (!this.seen[slot]) {
          this.seen[slot] = 1;
          const n = j > i + 1 ? Number(s.slice(i + 1, j)) : Number.NaN;
          this.values[slot] = n;
        }
        i = j;
      } else {
        i++;
      }
    }
  }

  /** Whether the parameter letter appears at all (`M106` vs `M106 S0`). */
  has(letter: string): boolean {
    return this.seen[letter.charCodeAt(0) - A] === 1;
  }

  /** The parameter's number, or undefined when absent or without a valid number (Marlin `seenval`). */
  value(letter: string): number | undefined {
    const slot = letter.charCodeAt(0) - A;
    if (!this.seen[slot]) return undefined;
    const n = this.values[slot]!;
    return Number.isFinite(n) ? n : undefined;
  }

  /** `G1`, `M104`, `T0`, `M862.3`; the text itself for a non-command line. */
  get word(): string {
    if (this.letter === "?") return this.text;
    return `${this.letter}${this.code}${this.subcode === undefined ? "" : `.${this.subcode}`}`;
  }
}

/** Parses a cleaned command. Example: `parseCommand("M104 T1 S200").value("T") === 1`. */
export function parseCommand(text: string): GcodeCommand {
  return new GcodeCommand(text);
}
