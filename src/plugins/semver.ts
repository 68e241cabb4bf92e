/**
 * Semantic versions and npm-style ranges, as much as plugin manifests and the repository index
 * need: `1.2.3`, `^1.2`, `~1.2.3`, `>=1.0.0 <2`, `1.x`, `1.2 - 1.4`, `*`, alternatives with `||`.
 * Pure; no dependency (the host needs a dozen lines of it, not a package).
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

/** Parses a full version (`1.2.3`, `v1.2.3-rc.1+build`); null when it is not one. */
export function parseVersion(text: string): Version | null {
  const m = VERSION_RE.exec(text.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split(".") : [] };
}

/** Orders two versions (negative: a < b). Pre-releases sort before their release. */
export function compareVersions(a: Version | string, b: Version | string): number {
  const x = typeof a === "string" ? mustParse(a) : a;
  const y = typeof b === "string" ? mustParse(b) : b;
  if (x.major !== y.major) return x.major - y.major;
  if (x.minor !== y.minor) return x.minor - y.minor;
  if (x.patch !== y.patch) return x.patch - y.patch;
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

function mustParse(text: string): Version {
  const v = parseVersion(text);
  if (!v) throw new Error(`"${text}" is not a version (expected e.g. 1.2.3)`);
  return v;
}

type Op = "<" | "<=" | ">" | ">=" | "=";
interface Comparator {
  op: Op;
  version: Version;
}
/** A range: alternatives (`||`), each a set of comparators that must all hold. */
export type Range = Comparator[][];

/** A partial version as ranges write it: `1`, `1.2`, `1.x`, `*`. Missing parts are null. */
interface Partial {
  major: number | null;
  minor: number | null;
  patch: number | null;
  pre: string[];
}

const PARTIAL_RE = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;

function parsePartial(text: string): Partial | null {
  const m = PARTIAL_RE.exec(text);
  if (!m) return null;
  const part = (s: string | undefined) => (s === undefined || /^[xX*]$/.test(s) ? null : Number(s));
  const major = part(m[1]);
  const minor = major === null ? null : part(m[2]);
  const patch = minor === null ? null : part(m[3]);
  return { major, minor, patch, pre: patch !== null && m[4] ? m[4].split(".") : [] };
}

const v = (major: number, minor: number, patch: number, pre: string[] = []): Version => ({ major, minor, patch, pre });
const floor = (p: Partial) => v(p.major ?? 0, p.minor ?? 0, p.patch ?? 0, p.pre);

/** The comparators one range term stands for (`^1.2` → `>=1.2.0 <2.0.0-0`). */
function expand(op: string, p: Partial): Comparator[] | null {
  if (p.major === null) return op === "" || op === "=" || op === ">=" || op === "<=" ? [] : op === ">" || op === "<" ? null : [];
  const { major, minor, patch } = p;
  switch (op) {
    case "^": {
      const upper = major > 0 || minor === null ? v(major + 1, 0, 0, ["0"]) : minor > 0 || patch === null ? v(0, minor + 1, 0, ["0"]) : v(0, 0, patch + 1, ["0"]);
      return [{ op: ">=", version: floor(p) }, { op: "<", version: upper }];
    }
    case "~": {
      const upper = minor === null ? v(major + 1, 0, 0, ["0"]) : v(major, minor + 1, 0, ["0"]);
      return [{ op: ">=", version: floor(p) }, { op: "<", version: upper }];
    }
    case "":
    case "=":
      if (minor === null) return [{ op: ">=", version: v(major, 0, 0) }, { op: "<", version: v(major + 1, 0, 0, ["0"]) }];
      if (patch === null) return [{ op: ">=", version: v(major, minor, 0) }, { op: "<", version: v(major, minor + 1, 0, ["0"]) }];
      return [{ op: "=", version: floor(p) }];
    case ">":
      if (minor === null) return [{ op: ">=", version: v(major + 1, 0, 0) }];
      if (patch === null) return [{ op: ">=", version: v(major, minor + 1, 0) }];
      return [{ op: ">", version: floor(p) }];
    case ">=":
      return [{ op: ">=", version: floor(p) }];
    case "<":
      return [{ op: "<", version: floor(p) }];
    case "<=":
      if (minor === null) return [{ op: "<", version: v(major + 1, 0, 0, ["0"]) }];
      if (patch === null) return [{ op: "<", version: v(major, minor + 1, 0, ["0"]) }];
      return [{ op: "<=", version: floor(p) }];
    default:
      return null;
  }
}

/** Parses a range; null when it is not one. An empty string or `*` matches every release. */
export function parseRange(text: string): Range | null {
  const alternatives = text.trim().split("||");
  const range: Range = [];
  for (const alt of alternatives) {
    const set: Comparator[] = [];
    // Normalise "> = 1.0" and ">= 1.0" into single tokens.
    const tokens = alt.trim().replace(/([<>]=?|=|\^|~)\s+/g, "$1").split(/\s+/).filter(Boolean);
    for (let i = 0; i < tokens.length; i++) {
      if (tokens[i + 1] === "-" && tokens[i + 2] !== undefined) {
        // Hyphen range: "1.2 - 1.4" = >=1.2.0 <1.5.0-0
        const low = parsePartial(tokens[i]!);
        const high = parsePartial(tokens[i + 2]!);
        if (!low || !high) return null;
        const lower = expand(">=", low);
        const upper = high.major === null ? [] : high.patch !== null ? [{ op: "<=" as const, version: floor(high) }] : expand("<=", high);
        if (!lower || !upper) return null;
        set.push(...lower, ...upper);
        i += 2;
        continue;
      }
      const m = /^(\^|~|>=|<=|>|<|=)?(.*)$/.exec(tokens[i]!)!;
      const partial = parsePartial(m[2]!);
      if (!partial) return null;
      const expanded = expand(m[1] ?? "", partial);
      if (!expanded) return null;
      set.push(...expanded);
    }
    range.push(set);
  }
  return range;
}

function test(c: Comparator, version: Version): boolean {
  const d = compareVersions(version, c.version);
  switch (c.op) {
    case "<":
      return d < 0;
    case "<=":
      return d <= 0;
    case ">":
      return d > 0;
    case ">=":
      return d >= 0;
    case "=":
      return d === 0;
  }
}

/**
 * Whether `version` is in `range`. As npm does, a pre-release only matches when some comparator
 * of the same set names a pre-release of the same major.minor.patch (so `^1.0.0` excludes
 * `1.1.0-beta`). An unparsable version or range never matches.
 */
export function satisfies(version: string | Version, range: string | Range): boolean {
  const ver = typeof version === "string" ? parseVersion(version) : version;
  const r = typeof range === "string" ? parseRange(range) : range;
  if (!ver || !r) return false;
  return r.some(
    (set) =>
      set.every((c) => test(c, ver)) &&
      (ver.pre.length === 0 ||
        set.some((c) => c.version.pre.length > 0 && c.version.pre[0] !== "0" && c.version.major === ver.major && c.version.minor === ver.minor && c.version.patch === ver.patch)),
  );
}

/** Whether `text` is a range this module understands. */
export function isRange(text: string): boolean {
  return parseRange(text) !== null;
}
