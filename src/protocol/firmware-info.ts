/**
 * The M115 reply (protocol.md §3.4) and `Cap:` lines (§3.5).
 */

/** Key/value pairs of a firmware line, e.g. `{ FIRMWARE_NAME: "Marlin 2.1.2.1 (…)", EXTRUDER_COUNT: "1" }`. */
export type FirmwareInfo = Record<string, string>;

/** Is this a firmware-info line? True for `FIRMWARE_NAME:…`, Malyan's `NAME:`/`NAME.` forms, and Klipper's `ok FIRMWARE_NAME:…`. */
export function isFirmwareLine(line: string): boolean {
  return line.includes("NAME:") || line.startsWith("NAME.");
}

// Keys start with an uppercase letter, so times like 12:00:00 inside values never split a value.
const KEY = /(?:^|\s+)([A-Z][A-Z0-9_-]*):/g;

/**
 * Splits a firmware line into key/values; trims values and a trailing comma (Smoothieware).
 * Example: `parseFirmwareLine("FIRMWARE_NAME:Marlin 2.1 (x) EXTRUDER_COUNT:1").EXTRUDER_COUNT === "1"`.
 */
export function parseFirmwareLine(line: string): FirmwareInfo {
  let text = line.startsWith("ok ") ? line.slice(3) : line;
  if (text.startsWith("NAME.")) text = `NAME:${text.slice(5)}`;
  const info: FirmwareInfo = {};
  const matches = [...text.matchAll(KEY)];
  for (let k = 0; k < matches.length; k++) {
    const m = matches[k]!;
    const start = m.index! + m[0].length;
    const end = k + 1 < matches.length ? matches[k + 1]!.index! : text.length;
    info[m[1]!] = text.slice(start, end).trim().replace(/,$/, "");
  }
  return info;
}

/** A `Cap:NAME:0|1` line, or undefined if the line is not one. */
export function parseCapability(line: string): { name: string; enabled: boolean } | undefined {
  if (line.length < 7 || line.slice(0, 4).toLowerCase() !== "cap:") return undefined;
  const parts = line.slice(4).split(":");
  if (parts.length !== 2) return undefined;
  const [name, flag] = parts as [string, string];
  const f = flag.trim();
  if (f !== "0" && f !== "1") return undefined;
  return { name: name.trim().toUpperCase(), enabled: f === "1" };
}
