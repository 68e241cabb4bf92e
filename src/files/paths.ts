/**
 * Safe relative paths inside the files folder. Anything that could escape it (`..`, absolute
 * paths, NUL and control characters, over-long names) is refused with a reason a person can act on.
 */

export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 1024;
/** What Layerline can print. */
export const PRINTABLE_EXTENSIONS = [".gcode", ".gco", ".g"];

export type PathCheck = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Normalises a user-supplied relative path ("a/b.gcode", "/a//b.gcode" → "a/b.gcode") or says why
 * it is refused. Example: `safeRelativePath("../x").ok === false`.
 */
export function safeRelativePath(input: string): PathCheck {
  if (input.includes("\0")) return { ok: false, reason: "the name contains a NUL character" };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(input)) return { ok: false, reason: "the name contains control characters" };
  if (input.includes("\\")) return { ok: false, reason: "use / to separate folders, not \\" };
  const parts = input.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0) return { ok: false, reason: "the name is empty" };
  for (const part of parts) {
    if (part === "..") return { ok: false, reason: "the path may not contain '..'" };
    if (part.startsWith(".")) return { ok: false, reason: `"${part}": names may not start with a dot` };
    if (Buffer.byteLength(part) > MAX_NAME_BYTES) return { ok: false, reason: `a name is longer than ${MAX_NAME_BYTES} bytes` };
    if (part !== part.trim()) return { ok: false, reason: `"${part}": names may not start or end with spaces` };
  }
  const path = parts.join("/");
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return { ok: false, reason: `the path is longer than ${MAX_PATH_BYTES} bytes` };
  return { ok: true, path };
}

/** Whether a file name has a G-code extension. */
export function isPrintable(name: string): boolean {
  const lower = name.toLowerCase();
  return PRINTABLE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}
