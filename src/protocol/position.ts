/**
 * Position reports (protocol.md §4.2): `X:10.00 Y:20.00 Z:5.00 E:0.00 Count X:800 …`.
 */

/** Axis positions in mm; `e` is undefined when the line carried no E. */
export interface Position {
  x: number;
  y: number;
  z: number;
  e: number | undefined;
}

/** Is this line an M114/M154 position report? */
export function looksLikePosition(line: string): boolean {
  return line.includes("X:") && line.includes("Y:") && line.includes("Z:") && !line.includes("T:");
}

/** Parses the first X/Y/Z/E before any `Count` part. Example: `parsePosition("X:1 Y:2 Z:3 E:4")?.z === 3`. */
export function parsePosition(line: string): Position | undefined {
  const count = line.indexOf("Count");
  const text = count >= 0 ? line.slice(0, count) : line;
  const x = field(text, "X:");
  const y = field(text, "Y:");
  const z = field(text, "Z:");
  if (x === undefined || y === undefined || z === undefined) return undefined;
  return { x, y, z, e: field(text, "E:") ?? field(text, "E0:") };
}

function field(text: string, key: string): number | undefined {
  let at = text.indexOf(key);
  // A key must start a word, so `X:` inside `AX:` is not read as X.
  while (at > 0 && text.charCodeAt(at - 1) !== 32) at = text.indexOf(key, at + 1);
  if (at < 0) return undefined;
  const value = Number.parseFloat(text.slice(at + key.length));
  return Number.isFinite(value) ? value : undefined;
}
