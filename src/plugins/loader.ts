/**
 * Importing a plugin's entry module afresh: every module under the plugin's folder is dropped
 * from the module cache first, so a reload runs the new code of all its files. Used on the main
 * thread and in printer Workers (each has its own cache).
 */
import { BUDGET_MS, LINE_STAGES, SCRIPTS } from "./api.ts";
import { PLUGIN_BRAND, type PluginDefinition, type SettingsSchema } from "./sdk.ts";
import { registerLayerlineModule } from "./virtual-module.ts";

/** A loaded definition with the parts the host uses, checked for shape. */
export type LoadedDefinition = PluginDefinition<SettingsSchema | undefined>;

/**
 * Imports `entry` (absolute) with every cached module under `dir` forgotten first. A module that
 * does not finish loading (a top-level await that never ends) fails after `budgetMs`.
 */
export async function importFresh(dir: string, entry: string, budgetMs: number = BUDGET_MS.setup): Promise<LoadedDefinition> {
  registerLayerlineModule();
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  for (const key of Object.keys(require.cache)) if (key.startsWith(prefix)) delete require.cache[key];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`loading took longer than ${budgetMs} ms`)), budgetMs);
  });
  try {
    const module = (await Promise.race([import(entry), timeout])) as { default?: unknown };
    return checkDefinition(module.default);
  } finally {
    clearTimeout(timer);
  }
}

/** The module's default export as a definition, or an error that says what is wrong with it. */
export function checkDefinition(value: unknown): LoadedDefinition {
  if (!value || typeof value !== "object" || !(PLUGIN_BRAND in value)) {
    throw new Error('the entry module must `export default definePlugin({ … })` (definePlugin from "layerline")');
  }
  const d = value as Record<string, unknown>;
  if (d.setup !== undefined && typeof d.setup !== "function") throw new Error("setup must be a function");
  for (const [group, known] of [["gcode", LINE_STAGES], ["scripts", SCRIPTS]] as const) {
    const hooks = d[group];
    if (hooks === undefined) continue;
    if (!hooks || typeof hooks !== "object") throw new Error(`${group} must be an object of functions`);
    for (const [name, fn] of Object.entries(hooks)) {
      if (!(known as readonly string[]).includes(name)) throw new Error(`${group}.${name} is not a hook (known: ${known.join(", ")})`);
      if (typeof fn !== "function") throw new Error(`${group}.${name} must be a function`);
    }
  }
  const settings = d.settings as { type?: string } | undefined;
  if (settings !== undefined && (typeof settings !== "object" || (settings.type !== "object" && settings.type !== "strict_object" && settings.type !== "loose_object"))) {
    throw new Error("settings must be a valibot object schema (v.object({ … }))");
  }
  return value as LoadedDefinition;
}

/** Whether a definition has anything that runs in the printer Workers. */
export function hasSerialHooks(d: LoadedDefinition): boolean {
  return Object.keys(d.gcode ?? {}).length > 0 || Object.keys(d.scripts ?? {}).length > 0;
}
