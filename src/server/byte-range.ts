/**
 * The Range header of a download (RFC 9110 §14): which bytes to send. Pure.
 *
 * One satisfiable range gets a 206 with that part; a range set none of whose ranges can be
 * satisfied gets a 416. Everything else — a malformed header, another unit, several ranges —
 * is ignored and the whole file sent (a server may ignore Range; one that answers several ranges
 * needs multipart/byteranges, which no client of ours asks for, and a 416 would break them).
 */
export type ByteRange = { kind: "whole" } | { kind: "part"; start: number; end: number } | { kind: "unsatisfiable" };

const SPEC = /^(\d*)-(\d*)$/;

export function byteRange(header: string, size: number): ByteRange {
  const eq = header.indexOf("=");
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== "bytes") return { kind: "whole" };
  const specs = header.slice(eq + 1).split(",").map((s) => s.trim()).filter(Boolean);
  if (specs.length === 0) return { kind: "whole" };
  const parts: { start: number; end: number }[] = [];
  for (const spec of specs) {
    const m = SPEC.exec(spec);
    if (!m || (m[1] === "" && m[2] === "")) return { kind: "whole" }; // malformed: the header is ignored
    if (m[1] === "") {
      // The last N bytes; N = 0 asks for nothing.
      const n = Number(m[2]);
      if (n > 0 && size > 0) parts.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = Number(m[1]);
    const last = m[2] === "" ? Infinity : Number(m[2]);
    if (last < start) return { kind: "whole" }; // invalid: the header is ignored
    if (start < size) parts.push({ start, end: Math.min(last, size - 1) });
  }
  if (parts.length === 0) return { kind: "unsatisfiable" };
  return specs.length === 1 ? { kind: "part", ...parts[0]! } : { kind: "whole" };
}
