import { shortName } from "../protocol/sd.ts";

/**
 * The virtual printer's SD card: files in memory with an 8.3 short name (what M23/M30 take on a
 * FAT card) and a long name, the selected file with its read position (printing from the card),
 * and the file being written (M28/M29). The wording of the replies is the personality's; this
 * is only the card.
 */

/** One file on the card. */
export interface CardFile {
  /** The 8.3 name in upper case, e.g. `CALIBR~1.GCO`. */
  short: string;
  /** The long name, e.g. `calibration cube.gcode` (the short name when it has none). */
  long: string;
  content: string;
  /** FAT date/time of the last write (high 16 bits date, low 16 bits time). */
  fatTime: number;
}

/** A file to put on the card at power-on. */
export interface CardSeed {
  name: string;
  content: string;
}

// 2024-06-11 12:00:00 as a FAT timestamp: a fixed date keeps the output deterministic.
const FAT_TIME = (((2024 - 1980) << 9) | (6 << 5) | 11) * 65536 + ((12 << 11) | (0 << 5) | 0);

/** A small demo print: two squares, enough to show an SD print start, progress and end. */
export function demoFile(): CardSeed {
  const lines = ["; Layerline demo print", "G90", "M83", "G28", "G1 Z0.3 F600"];
  for (let layer = 0; layer < 2; layer++) {
    for (const [x, y] of [[20, 20], [60, 20], [60, 60], [20, 60], [20, 20]] as const) lines.push(`G1 X${x} Y${y} E0.8 F1800`);
    lines.push(`G1 Z${(0.6 + layer * 0.3).toFixed(1)}`);
  }
  lines.push("M84");
  return { name: "layerline-demo.gcode", content: `${lines.join("\n")}\n` };
}

/** Example: `card.add("cube.gcode", "G28\n")`; `card.select("CUBE.GCO")`; `card.nextLine()`. */
export class SdCard {
  private readonly files = new Map<string, CardFile>();
  inserted: boolean;
  mounted = false;
  selected: CardFile | undefined;
  /** Byte offset of the next line to read from the selected file. */
  pos = 0;
  printing = false;
  // The file M28 opened, until M29 closes it.
  private writing: CardFile | undefined;

  constructor(seeds: CardSeed[], inserted = true) {
    this.inserted = inserted;
    for (const s of seeds) this.add(s.name, s.content);
  }

  /** All files, in the order they were written. */
  list(): CardFile[] {
    return [...this.files.values()];
  }

  /** Stores a file (replacing one with the same name). */
  add(name: string, content: string): CardFile {
    const existing = this.find(name);
    if (existing) this.files.delete(existing.short);
    const short = shortName(name, (n) => this.files.has(n));
    const file: CardFile = { short, long: name, content, fatTime: FAT_TIME };
    this.files.set(short, file);
    return file;
  }

  /** A file by short or long name, case-insensitively (as Marlin matches M23 names), with or without a leading `/`. */
  find(name: string): CardFile | undefined {
    const wanted = name.replace(/^\//, "").toUpperCase();
    for (const f of this.files.values()) if (f.short === wanted || f.long.toUpperCase() === wanted) return f;
    return undefined;
  }

  /** M21. */
  mount(): boolean {
    this.mounted = this.inserted;
    return this.mounted;
  }

  /** M23: selects a file for printing; false when there is none of that name. */
  select(name: string): CardFile | undefined {
    const f = this.mounted ? this.find(name.trim()) : undefined;
    this.selected = f;
    this.pos = 0;
    this.printing = false;
    return f;
  }

  /** M24: starts or resumes the selected file; false when nothing is selected. */
  start(): boolean {
    if (!this.selected) return false;
    this.printing = true;
    return true;
  }

  /** M25: pauses; the position is kept. */
  pause(): void {
    this.printing = false;
  }

  /** M26 S<pos>: moves the read position. */
  seek(pos: number): void {
    if (this.selected) this.pos = Math.max(0, Math.min(Math.trunc(pos), this.selected.content.length));
  }

  /** M524 / cancel: stops and forgets the selection. */
  abort(): void {
    this.printing = false;
    this.selected = undefined;
    this.pos = 0;
  }

  /** The next command of the file being printed (comments and blanks skipped), or undefined at its end. */
  nextLine(): string | undefined {
    const f = this.selected;
    if (!f || !this.printing) return undefined;
    const text = f.content;
    while (this.pos < text.length) {
      let end = text.indexOf("\n", this.pos);
      if (end < 0) end = text.length;
      const raw = text.slice(this.pos, end);
      this.pos = end + 1;
      const semi = raw.indexOf(";");
      const line = (semi >= 0 ? raw.slice(0, semi) : raw).trim();
      if (line !== "") return line;
    }
    this.pos = text.length;
    return undefined;
  }

  /** Whether the printing file has been read to its end. */
  get atEnd(): boolean {
    return this.selected !== undefined && this.pos >= this.selected.content.length;
  }

  /**
   * M28: opens `name` for writing. Marlin creates (or empties) the file on the card at once, so it
   * is there from now on with what has been written — also when M29 never comes (a reset, a
   * kill): a partial copy, as on a real card.
   */
  beginWrite(name: string): boolean {
    if (!this.mounted) return false;
    this.writing = this.add(name, "");
    return true;
  }

  get isWriting(): boolean {
    return this.writing !== undefined;
  }

  /** A line received while writing: stored, not executed. */
  write(line: string): void {
    if (this.writing) this.writing.content += `${line}\n`;
  }

  /** M29: closes the file being written (it is on the card since M28). */
  endWrite(): void {
    this.writing = undefined;
  }

  /** After a reset: nothing selected or being written (a file left open keeps what it got), the card mounted again if present. */
  reset(): void {
    this.abort();
    this.writing = undefined;
    this.mounted = this.inserted;
  }

  /** M30: deletes a file; false when there is none of that name. */
  remove(name: string): boolean {
    const f = this.find(name.trim());
    if (!f) return false;
    this.files.delete(f.short);
    if (this.selected === f) this.abort();
    return true;
  }
}
