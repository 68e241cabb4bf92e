/**
 * Semantic versions and npm-style ranges as plugin manifests and the repository index declare
 * them: `1.2.3`, `^1.2`, `~1.2.3`, `>=1.0.0 <2`, `1.x`, `1.2 - 1.4`, `*`, alternatives with `||`.
 * Matching and ordering are Bun's own (`Bun.semver`, npm semantics); this module decides what
 * counts as a version or a range first, because `Bun.semver.satisfies` quietly answers true for
 * some garbage (`"abc"`, `"^"`). Used by the plugin loader and the registry build alike.
 * Example: `satisfies("1.4.0", "^1.2.0") === true`; `satisfies("2.0.0", "^1.2.0") === false`.
 */

export interface Version {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release identifiers (`1.0.0-beta.2` → ["beta", "2"]); empty for a release. */
  pre: string[];
}

const VERSION_RE = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;

const PARTIAL = String.raw`v?(?:0|[1-9]\d*|[xX*])(?:\.(?:0|[1-9]\d*|[xX*])){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?`;
const COMPARATOR = String.raw`(?:\^|~|>=|<=|>|<|=)?\s*${PARTIAL}`;
const SET = String.raw`(?:${PARTIAL}\s+-\s+${PARTIAL}|\*|${COMPARATOR}(?:\s+${COMPARATOR})*)`;
const RANGE_RE = new RegExp(String.raw`^\s*${SET}(?:\s*\|\|\s*${SET})*\s*$`);

/** Parses a full version (`1.2.3`, `v1.2.3-rc.1+build`); null when it is not one. */
export function parseVersion(text: string): Version | null {
  const m = VERSION_RE.exec(text.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split(".") : [] };
}

/** Orders two versions (negative: a < b). Pre-releases sort before their release. */
export function compareVersions(a: string, b: string): number {
  if (!parseVersion(a) || !parseVersion(b)) throw new Error(`"${parseVersion(a) ? b : a}" is not a version (expected e.g. 1.2.3)`);
  return Bun.semver.order(a.trim(), b.trim());
}

/** Whether `text` is a (non-empty) range. */
export function isRange(text: string): boolean {
  return text.length <= 200 && RANGE_RE.test(text);
}

/** A range in one canonical spelling, so `">= 1.0.0"` and `">=1.0.0"` compare equal. */
export function normaliseRange(range: string): string {
  return range
    .trim()
    .replace(/(\^|~|>=|<=|>|<|=)\s+/g, "$1")
    .replace(/\s*\|\|\s*/g, " || ")
    .replace(/\s+/g, " ");
}

/**
 * Whether `version` is in `range`. As npm, a pre-release only matches a range that names a
 * pre-release of the same version (so `^1.0.0` excludes `1.1.0-beta`). Unparsable never matches.
 */
export function satisfies(version: string, range: string): boolean {
  // An empty range means any version, as in npm.
  if (!parseVersion(version) || (range.trim() !== "" && !isRange(range))) return false;
  return Bun.semver.satisfies(version.trim(), normaliseRange(range) || "*");
}
