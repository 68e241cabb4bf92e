/**
 * npm-style semver ranges as plugin manifests and registry entries declare them
 * (`^1.0.0`, `~1.2`, `>=1.0.0 <2.0.0`, `1.x`, `1.0.0 - 1.4.0`, `^1.0.0 || ^2.0.0`).
 * Matching is Bun.semver's; this only decides whether a string is such a range, since
 * Bun.semver.satisfies quietly answers false for garbage.
 */

const VERSION = String.raw`v?(?:0|[1-9]\d*|[xX*])(?:\.(?:0|[1-9]\d*|[xX*])){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?`;
const COMPARATOR = String.raw`(?:\^|~|>=|<=|>|<|=)?\s*${VERSION}`;
const SET = String.raw`(?:${VERSION}\s+-\s+${VERSION}|\*|${COMPARATOR}(?:\s+${COMPARATOR})*)`;
const RANGE = new RegExp(String.raw`^\s*${SET}(?:\s*\|\|\s*${SET})*\s*$`);

/** Example: `isSemverRange("^1.0.0") === true`, `isSemverRange("one") === false`. */
export function isSemverRange(text: string): boolean {
  return text.length <= 200 && RANGE.test(text);
}

/** A range in one canonical spelling, so `">= 1.0.0"` and `">=1.0.0"` compare equal. */
export function normaliseRange(range: string): string {
  return range
    .trim()
    .replace(/(\^|~|>=|<=|>|<|=)\s+/g, "$1")
    .replace(/\s*\|\|\s*/g, " || ")
    .replace(/\s+/g, " ");
}
