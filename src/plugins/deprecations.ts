/**
 * How the plugin API changes without breaking plugins: a call that is replaced stays available
 * under its old name, working as before, and logs a warning (once per plugin) naming its
 * replacement — through the next major version. It is removed in the major after that: deprecated
 * in 1.x means it still works in every 2.x and is gone in 3.0.0. API 1.x deprecates nothing yet;
 * entries are added here as the API evolves (docs/plugins.md, "Versioning").
 */
import { parseVersion } from "./semver.ts";

export interface Deprecation {
  /** The old name on `ctx`, as a dotted path (e.g. "printers.command"). */
  name: string;
  /** The API version that deprecated it. */
  since: string;
  /** What to use instead, in words (e.g. "ctx.printers.send"). */
  replacement: string;
  /** Calls the replacement: receives the context (with the new API) and the old call's arguments. */
  call(ctx: object, ...args: unknown[]): unknown;
}

/** Deprecated calls of the current API (none in 1.x so far). */
export const DEPRECATIONS: readonly Deprecation[] = [];

/** The first version without a call deprecated in `since`: two majors later. */
export function removedIn(since: string): string {
  const v = parseVersion(since);
  if (!v) throw new Error(`"${since}" is not a version`);
  return `${v.major + 2}.0.0`;
}

/**
 * Adds the deprecated names still supported by `apiVersion` to `ctx`; each warns once via `warn`.
 * Example: with `{ name: "printers.command", since: "1.2.0", replacement: "ctx.printers.send", call }`,
 * `ctx.printers.command(id, lines)` works (and warns) until 3.0.0.
 */
export function withDeprecations<T extends object>(ctx: T, apiVersion: string, warn: (message: string) => void, table: readonly Deprecation[] = DEPRECATIONS): T {
  const current = parseVersion(apiVersion);
  if (!current) return ctx;
  for (const d of table) {
    if (current.major >= parseVersion(removedIn(d.since))!.major) continue;
    const path = d.name.split(".");
    const key = path.pop()!;
    let holder = ctx as Record<string, unknown>;
    for (const part of path) {
      holder = holder[part] as Record<string, unknown>;
      if (!holder || typeof holder !== "object") break;
    }
    if (!holder || typeof holder !== "object" || key in holder) continue;
    let warned = false;
    holder[key] = (...args: unknown[]) => {
      if (!warned) {
        warned = true;
        warn(`ctx.${d.name} is deprecated since plugin API ${d.since} and will be removed in ${removedIn(d.since)}; use ${d.replacement}.`);
      }
      return d.call(ctx, ...args);
    };
  }
  return ctx;
}
