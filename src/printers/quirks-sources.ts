/**
 * Where firmware quirk files come from: the built-in ones (embedded in the binary) and the
 * user's own in `<data-dir>/firmware-quirks/`, which add profiles or override built-ins by id
 * without a rebuild.
 */
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { QuirksProblem } from "../protocol/quirks.ts";
import type { QuirksSource } from "../protocol/quirks-library.ts";
import generic from "../../firmware-quirks/generic.json" with { type: "file" };
import marlin2 from "../../firmware-quirks/marlin2.json" with { type: "file" };

// `with { type: "file" }` yields the file's path; TypeScript types JSON imports as their content.
const BUILT_IN = [generic, marlin2] as unknown as string[];

/** Reads the built-in files, then the user's (sorted by name, so overrides are predictable). */
export async function loadQuirkSources(dataDir: string | undefined): Promise<{ sources: QuirksSource[]; problems: QuirksProblem[] }> {
  const sources: QuirksSource[] = [];
  const problems: QuirksProblem[] = [];
  for (const path of BUILT_IN) sources.push({ source: `built-in ${basename(path)}`, text: await Bun.file(path).text() });
  if (!dataDir) return { sources, problems };
  const dir = join(dataDir, "firmware-quirks");
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
  } catch {
    // No folder: the user has no overrides.
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      sources.push({ source: path, text: await Bun.file(path).text() });
    } catch (e) {
      problems.push({ source: path, field: "(file)", message: `cannot be read: ${(e as Error).message}` });
    }
  }
  return { sources, problems };
}
