/**
 * Compares a JSON value with a reference (a real OctoPrint answer) key for key and type for type.
 * `null` on either side matches any type (OctoPrint's nullable fields, e.g. no analysis yet);
 * arrays compare their first elements; `dynamic` paths are dictionaries keyed by data (heaters,
 * profiles) whose entries are compared with each other instead of by name.
 */
import { readFileSync } from "node:fs";

export const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/octoprint-shapes/${name}.json`, import.meta.url), "utf8"));
export const fixtureIndex = () => fixture("_index");

const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** Differences between `actual` and `expected`, as "path: what" lines (empty = same shape). */
export function shapeDiff(actual: unknown, expected: unknown, options: { dynamic?: string[]; skip?: string[] } = {}, path = "$"): string[] {
  if (options.skip?.includes(path)) return [];
  const a = kind(actual);
  const e = kind(expected);
  if (a === "null" || e === "null") return [];
  if (a !== e) return [`${path}: ${a} where OctoPrint has ${e}`];
  if (e === "array") {
    const xs = actual as unknown[];
    const ys = expected as unknown[];
    if (xs.length === 0 || ys.length === 0) return [];
    return shapeDiff(xs[0], ys[0], options, `${path}[]`);
  }
  if (e !== "object") return [];
  const x = actual as Record<string, unknown>;
  const y = expected as Record<string, unknown>;
  if (options.dynamic?.includes(path)) {
    const sample = Object.values(y)[0];
    return Object.entries(x).flatMap(([k, v]) => (sample === undefined ? [] : shapeDiff(v, sample, options, `${path}.*`)));
  }
  const out: string[] = [];
  const skipped = (k: string) => options.skip?.includes(`${path}.${k}`);
  for (const k of Object.keys(y)) if (!(k in x) && !skipped(k)) out.push(`${path}.${k}: missing`);
  for (const k of Object.keys(x)) if (!(k in y) && !skipped(k)) out.push(`${path}.${k}: not in OctoPrint's answer`);
  for (const k of Object.keys(y)) if (k in x) out.push(...shapeDiff(x[k], y[k], options, `${path}.${k}`));
  return out;
}
