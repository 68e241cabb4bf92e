/**
 * Where firmware quirk files come from: the built-in ones (embedded in the binary) and the
 * user's own in `<data-dir>/firmware-quirks/`, which add profiles or amend built-ins by id
 * without a rebuild.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { QuirksProblem } from "../protocol/quirks.ts";
import { QuirksLibrary, type QuirksSource } from "../protocol/quirks-library.ts";
import anet_a8_stock from "../../firmware-quirks/anet-a8-stock.json" with { type: "file" };
import anycubic_marlin from "../../firmware-quirks/anycubic-marlin.json" with { type: "file" };
import anycubic from "../../firmware-quirks/anycubic.json" with { type: "file" };
import creality from "../../firmware-quirks/creality.json" with { type: "file" };
import generic from "../../firmware-quirks/generic.json" with { type: "file" };
import klipper from "../../firmware-quirks/klipper.json" with { type: "file" };
import malyan from "../../firmware-quirks/malyan.json" with { type: "file" };
import marlin1 from "../../firmware-quirks/marlin1.json" with { type: "file" };
import marlin2 from "../../firmware-quirks/marlin2.json" with { type: "file" };
import prusa_buddy from "../../firmware-quirks/prusa-buddy.json" with { type: "file" };
import prusa from "../../firmware-quirks/prusa.json" with { type: "file" };
import repetier from "../../firmware-quirks/repetier.json" with { type: "file" };
import rrf from "../../firmware-quirks/rrf.json" with { type: "file" };
import smoothieware from "../../firmware-quirks/smoothieware.json" with { type: "file" };
import teacup from "../../firmware-quirks/teacup.json" with { type: "file" };
import ultimaker2 from "../../firmware-quirks/ultimaker2.json" with { type: "file" };
import voxelab from "../../firmware-quirks/voxelab.json" with { type: "file" };

// `with { type: "file" }` yields the file's path; TypeScript types JSON imports as their content.
const BUILT_IN = [anet_a8_stock, anycubic_marlin, anycubic, creality, generic, klipper, malyan, marlin1, marlin2, prusa_buddy, prusa, repetier, rrf, smoothieware, teacup, ultimaker2, voxelab] as unknown as string[];

let builtIn: QuirksLibrary | undefined;

/** The built-in profiles alone (what the virtual printer's personalities are made from); loaded once. */
export function builtInQuirksLibrary(): QuirksLibrary {
  builtIn ??= new QuirksLibrary(BUILT_IN.map((path) => ({ source: `built-in ${basename(path)}`, text: readFileSync(path, "utf8") })));
  return builtIn;
}

/** Reads the built-in files, then the user's (sorted by name, so amendments apply in a predictable order). */
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
