import { loadQuirkSources } from "../../src/printers/quirks-sources.ts";
import { mergeQuirks, type Quirks, type QuirksFile } from "../../src/protocol/quirks.ts";
import { QuirksLibrary } from "../../src/protocol/quirks-library.ts";

/** The built-in quirks library, as the host loads it. */
export async function builtInLibrary(): Promise<QuirksLibrary> {
  return new QuirksLibrary((await loadQuirkSources(undefined)).sources);
}

/** The generic profile with some sections changed, for testing one behaviour at a time. */
export async function genericWith(overrides: Omit<QuirksFile, "id">): Promise<Quirks> {
  const library = await builtInLibrary();
  const merged = mergeQuirks([library.get("generic"), { id: "test", ...overrides }]);
  if (Array.isArray(merged)) throw new Error(JSON.stringify(merged));
  return merged;
}
