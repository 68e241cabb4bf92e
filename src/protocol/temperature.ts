/**
 * Temperature reports (protocol.md §4.1): the same shape arrives in the `ok` of M105, as M155
 * auto-reports and as heat-wait progress lines. One pass over the text, no regex per field.
 */

/** One heater or sensor. `target` is undefined when the line carried none (heat-wait lines). */
export interface Reading {
  actual: number;
  target: number | undefined;
}

/** Readings keyed by canonical sensor name: `tool0`, `tool1`, `bed`, `chamber`, or the raw key. */
export type TemperatureReport = Record<string, Reading>;

/** Is this line a temperature report? (§4.1 recipe step 1, incl. the `A:` exclusion for CoreXY M114.) */
export function looksLikeTemperature(line: string): boolean {
  if (line.startsWith("T:") || line.includes(" T:") || line.startsWith("T0:") || line.includes(" T0:")) return true;
  return (line.startsWith("B:") || line.includes(" B:")) && !line.includes("A:");
}

const NAMES: Record<string, string> = { B: "bed", C: "chamber" };

/**
 * Parses `T:210.00 /210.00 B:60.00 /60.00 T0:… @:127` into readings. Power fields (`@…`), `W:`
 * and `E:` are not temperatures. Canonicalises `T` as the current tool (§4.1 step 3).
 * Example: `parseTemperatures("ok T:20.0 /0.0 B:19.1 /0.0", 0).tool0.actual === 20`.
 */
export function parseTemperatures(line: string, currentTool: number): TemperatureReport | undefined {
  const raw: Record<string, Reading> = {};
  const n = line.length;
  let i = 0;
  while (i < n) {
    // A key starts at the beginning or after whitespace: letters/digits then ':'.
    while (i < n && line.charCodeAt(i) === 32) i++;
    const keyStart = i;
    while (i < n && line.charCodeAt(i) !== 58 /* : */ && line.charCodeAt(i) !== 32) i++;
    if (i >= n || line.charCodeAt(i) !== 58) {
      i++;
      continue;
    }
    const key = line.slice(keyStart, i);
    i++; // past ':'
    while (i < n && line.charCodeAt(i) === 32) i++;
    const [actual, afterActual] = readNumber(line, i);
    i = afterActual;
    if (actual === undefined || !isSensorKey(key)) continue;
    let target: number | undefined;
    let j = skipExtras(line, i);
    if (j < n && line.charCodeAt(j) === 47 /* / */) {
      j++;
      while (j < n && line.charCodeAt(j) === 32) j++;
      const [t, afterTarget] = readNumber(line, j);
      if (t !== undefined) {
        target = t;
        i = skipExtras(line, afterTarget);
      }
    }
    if (!(key in raw)) raw[key] = { actual, target };
  }
  return canonicalise(raw, currentTool);
}

/**
 * Past what may follow a value before the next field: the other heaters of the same tool
 * (RepRapFirmware `T0:25.1 25.3 /200.0 /200.0`: the first counts) and raw ADC readings (Marlin's
 * SHOW_TEMP_ADC_VALUES `T:210.00 (3456) /210.00`). Stops at the next key, `/` or the end.
 */
function skipExtras(line: string, start: number): number {
  let j = skipSpaces(line, start);
  for (;;) {
    if (line.charCodeAt(j) === 40 /* ( */) {
      const close = line.indexOf(")", j);
      if (close < 0) return j;
      j = skipSpaces(line, close + 1);
      continue;
    }
    const [value, after] = readNumber(line, j);
    // A bare number (no `:` after it) belongs to this field; `B:` and the like start the next.
    if (value === undefined || line.charCodeAt(after) === 58 /* : */) return j;
    j = skipSpaces(line, after);
  }
}

function skipSpaces(line: string, i: number): number {
  while (i < line.length && line.charCodeAt(i) === 32) i++;
  return i;
}

function isSensorKey(key: string): boolean {
  if (key.length === 0 || key.includes("@")) return false;
  if (key === "W" || key === "E" || key === "ok") return false;
  const c = key.charCodeAt(0);
  return c >= 65 && c <= 90; // sensor designators start with an uppercase letter
}

function readNumber(s: string, start: number): [number | undefined, number] {
  let i = start;
  const n = s.length;
  if (i < n && (s.charCodeAt(i) === 45 || s.charCodeAt(i) === 43)) i++;
  const digitsStart = i;
  while (i < n) {
    const c = s.charCodeAt(i);
    if ((c >= 48 && c <= 57) || c === 46) i++;
    else break;
  }
  if (i === digitsStart) return [undefined, start];
  const value = Number(s.slice(start, i));
  return [Number.isFinite(value) ? value : undefined, i];
}

function canonicalise(raw: Record<string, Reading>, currentTool: number): TemperatureReport | undefined {
  const out: TemperatureReport = {};
  let any = false;
  const hasT0 = "T0" in raw;
  for (const [key, reading] of Object.entries(raw)) {
    let name: string;
    if (key === "T") {
      // `T` duplicates the active tool when numbered tools are listed too (Marlin multi-hotend).
      if (hasT0) continue;
      name = "T1" in raw ? "tool0" : `tool${currentTool}`;
    } else if (/^T\d+$/.test(key)) {
      name = `tool${key.slice(1)}`;
    } else {
      name = NAMES[key] ?? key;
    }
    out[name] = reading;
    any = true;
  }
  return any ? out : undefined;
}

/**
 * Undoes the doubled output of some 2020 Creality builds (§4.1): every piece the firmware printed
 * appears twice in a row, `TT::27.7627.76  //0.000.00` → `T:27.76 /0.00`. At each position the
 * longest piece (up to 8 characters) that is immediately repeated is kept once. A leading `==`
 * (a variant seen on the same boards) is dropped.
 * Example: `undouble("TT::27.7627.76  //0.000.00  BB::39.3539.35  //0.000.00  @@::00  BB@@::00")`
 * → `"T:27.76 /0.00 B:39.35 /0.00 @:0 B@:0"`.
 */
export function undouble(line: string): string {
  const s = line.startsWith("==") ? line.slice(2) : line;
  let out = "";
  let i = 0;
  while (i < s.length) {
    let taken = 0;
    for (let len = Math.min(8, (s.length - i) >> 1); len >= 1; len--) {
      if (s.startsWith(s.slice(i, i + len), i + len)) {
        taken = len;
        break;
      }
    }
    if (taken === 0) {
      out += s[i];
      i++;
    } else {
      out += s.slice(i, i + taken);
      i += taken * 2;
    }
  }
  return out;
}
