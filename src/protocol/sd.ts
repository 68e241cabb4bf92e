/**
 * SD card replies (protocol.md §4.3) and `M20` listings (§4.4), in every dialect the quirks
 * files describe: Marlin `NAME SIZE [LONG NAME]`, Prusa `NAME SIZE 0xTS "LONG NAME"` with
 * `DIR_ENTER`/`DIR_EXIT`, Smoothie's bare lower-case names, RRF's long names, Klipper's real names.
 */

/** One file on the card. `name` is what M23/M30 take (the 8.3 path on FAT cards). */
export interface SdFile {
  name: string;
  /** The long file name (Marlin `M20 L`, Prusa), when the firmware gave one. */
  longName?: string;
  /** Bytes; undefined when the listing carries no sizes (Smoothie, RRF). */
  size?: number;
  /** Modification time (ms since 1970) from a FAT timestamp (`M20 T`), when plausible. */
  modified?: number;
}

/** An SD reply, classified by the quirks' `sd` patterns. */
export type SdMessage =
  | { type: "cardOk" }
  | { type: "cardFail"; text: string }
  | { type: "cardReleased" }
  | { type: "listBegin" }
  | { type: "listEnd" }
  | { type: "list"; files: SdFile[] }
  | { type: "fileOpened"; name?: string; size?: number }
  | { type: "fileSelected" }
  | { type: "openFailed"; name?: string }
  | { type: "progress"; pos: number; size: number }
  | { type: "notPrinting" }
  | { type: "done" }
  | { type: "writing"; name?: string }
  | { type: "saved" }
  | { type: "deleted"; name?: string }
  | { type: "deleteFailed" };

/** One line inside `Begin file list` … `End file list`. */
export type FileListLine =
  | { kind: "file"; file: SdFile }
  | { kind: "dirEnter"; path: string }
  | { kind: "dirExit" }
  | { kind: "none" };

// Files written over serial get 2000-01-01; anything before 2008-05-29 is a firmware default (§4.4).
const EARLIEST_REAL_TIMESTAMP = Date.UTC(2008, 4, 29);

/**
 * Parses a listing line the way OctoPrint's `parse_file_list_line` does, plus Prusa's directory
 * markers. Example: `parseFileListLine("CALIB~1.GCO 1048576 calibration cube.gcode")` →
 * `{ kind: "file", file: { name: "CALIB~1.GCO", size: 1048576, longName: "calibration cube.gcode" } }`.
 */
export function parseFileListLine(line: string): FileListLine {
  const text = line.trim();
  if (text === "" || text === "NONE") return { kind: "none" };
  if (text.startsWith("DIR_ENTER:")) {
    const rest = text.slice(10).trim();
    const space = rest.indexOf(" ");
    return { kind: "dirEnter", path: space < 0 ? rest : rest.slice(0, space) };
  }
  if (text === "DIR_EXIT") return { kind: "dirExit" };
  const first = text.indexOf(" ");
  if (first < 0) return { kind: "file", file: { name: text } };
  const name = text.slice(0, first);
  const rest = text.slice(first + 1).trimStart();
  const second = rest.indexOf(" ");
  const sizeText = second < 0 ? rest : rest.slice(0, second);
  if (!/^\d+$/.test(sizeText)) return { kind: "file", file: { name: text } }; // a long name with spaces (RRF)
  const file: SdFile = { name, size: Number(sizeText) };
  let tail = second < 0 ? "" : rest.slice(second + 1).trim();
  const ts = /^0x([0-9a-fA-F]+)(?:\s+|$)/.exec(tail);
  if (ts) {
    const modified = fatTimestamp(Number.parseInt(ts[1]!, 16));
    if (modified !== undefined) file.modified = modified;
    tail = tail.slice(ts[0].length);
  }
  if (tail.length >= 2 && tail.startsWith('"') && tail.endsWith('"')) tail = tail.slice(1, -1);
  if (tail !== "") file.longName = tail;
  return { kind: "file", file };
}

/** FAT date (high 16 bits) and time (low 16 bits) → ms since 1970, or undefined when bogus. */
export function fatTimestamp(value: number): number | undefined {
  const date = (value >>> 16) & 0xffff;
  const time = value & 0xffff;
  const year = 1980 + (date >> 9);
  const month = (date >> 5) & 0x0f;
  const day = date & 0x1f;
  const ms = Date.UTC(year, month - 1, day, time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2);
  return Number.isFinite(ms) && ms >= EARLIEST_REAL_TIMESTAMP && month >= 1 && day >= 1 ? ms : undefined;
}

/** Whether a listed name is G-code worth showing (machine-code extensions, printable ASCII). */
export function isPrintableListing(file: SdFile): boolean {
  if (!/^[\x20-\x7e]+$/.test(file.name)) return false;
  if (file.name.endsWith("/")) return false; // Smoothie directories
  return /\.(gco|gcode|g)$/i.test(file.longName ?? file.name) || /\.(gco|gcode|g)$/i.test(file.name);
}

/**
 * The 8.3 form of a long name, made unique among `taken`: `calibration cube.gcode` → `CALIBR~1.GCO`.
 * A name that already is 8.3 keeps its letters (upper-cased).
 */
export function shortName(long: string, taken: (name: string) => boolean): string {
  const slash = long.lastIndexOf("/");
  const dir = slash >= 0 ? long.slice(0, slash + 1).toUpperCase() : "";
  const file = slash >= 0 ? long.slice(slash + 1) : long;
  const dot = file.lastIndexOf(".");
  const base = (dot > 0 ? file.slice(0, dot) : file).toUpperCase().replace(/[^A-Z0-9_-]/g, "");
  const ext = (dot > 0 ? file.slice(dot + 1) : "").toUpperCase().replace(/[^A-Z0-9]/g, "").slice(0, 3);
  const plain = `${dir}${base}${ext ? `.${ext}` : ""}`;
  if (base.length > 0 && base.length <= 8 && base === (dot > 0 ? file.slice(0, dot) : file).toUpperCase() && !taken(plain)) return plain;
  for (let i = 1; i < 1000; i++) {
    const tail = `~${i}`;
    const candidate = `${dir}${(base || "FILE").slice(0, 8 - tail.length)}${tail}${ext ? `.${ext}` : ""}`;
    if (!taken(candidate)) return candidate;
  }
  throw new Error("no free 8.3 name");
}
