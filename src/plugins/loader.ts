/**
 * Importing a plugin's entry module afresh, so a reload runs the new code of all its files. Used
 * on the main thread and in printer Workers (each has its own module cache). Deleting entries from
 * `require.cache` is not enough: Bun keeps a module whose evaluation threw in a registry no API
 * reaches, and hands out the same error for that path forever. So every load imports the plugin
 * through a new symbolic link to its folder: new paths, new modules, every time (from source and
 * in the compiled binary alike). The link stays while that generation runs (its lazy imports and
 * `import.meta.dir` go through it) and goes with the next one.
 */
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { isMainThread, threadId } from "node:worker_threads";
import { BUDGET_MS, LINE_STAGES, SCRIPTS } from "./api.ts";
import { PLUGIN_BRAND, type PluginDefinition, type SettingsSchema } from "./sdk.ts";
import { loadingModules } from "./scope.ts";
import { registerLayerlineModule } from "./virtual-module.ts";

/** A loaded definition with the parts the host uses, checked for shape. */
export type LoadedDefinition = PluginDefinition<SettingsSchema | undefined>;

const LINKS_PREFIX = "layerline-plugin-links-";
/** This process's folder of links (shared by its threads, which name theirs apart). */
const linksRoot = join(tmpdir(), `${LINKS_PREFIX}${process.pid}`);
/** The link each plugin folder's running generation was loaded through, in this thread. */
const current = new Map<string, string>();
let made = 0;
/**
 * Which plugin's code lives under a path (its folder, real and as named, and every link it was
 * loaded through; kept, as an older generation's timers may still run): "folder/" → plugin id.
 */
const owners = new Map<string, string>();

/**
 * Imports `entry` (absolute, inside `dir`) of the plugin `id` as new modules. A module that does
 * not finish loading (a top-level await that never ends) fails after `budgetMs`.
 */
export async function importFresh(id: string, dir: string, entry: string, budgetMs: number = BUDGET_MS.setup): Promise<LoadedDefinition> {
  registerLayerlineModule();
  const link = newLink(dir);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`loading took longer than ${budgetMs} ms`)), budgetMs);
  });
  try {
    for (const path of [dir, realpathSync(dir), link]) owners.set(`${path}/`, id);
    const module = (await loadingModules(() => Promise.race([import(join(link, relative(dir, entry))), timeout]))) as { default?: unknown };
    const definition = checkDefinition(module.default);
    const previous = current.get(dir);
    current.set(dir, link);
    if (previous) forget(previous);
    return definition;
  } catch (e) {
    forget(link);
    // Messages name the plugin's own files, not the link.
    if (e instanceof Error) e.message = e.message.replaceAll(link, dir);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** The plugin whose code is innermost on a stack trace (`new Error().stack`), if any. */
export function pluginOnStack(stack: string): string | undefined {
  for (const frame of stack.split("\n").slice(1)) {
    for (const [path, id] of owners) if (frame.includes(path)) return id;
  }
  return undefined;
}

/** A new link to `dir`; the first one in a process also clears what dead processes left. */
function newLink(dir: string): string {
  if (!existsSync(linksRoot)) {
    mkdirSync(linksRoot, { recursive: true });
    if (isMainThread) {
      sweepDeadProcesses();
      process.once("exit", () => rmSync(linksRoot, { recursive: true, force: true }));
    }
  }
  const link = join(linksRoot, `${threadId}-${++made}`);
  rmSync(link, { force: true });
  symlinkSync(dir, link, "dir");
  return link;
}

/** Drops a link and its modules from the cache (what can be dropped: a failed module stays, unreachable). */
function forget(link: string): void {
  const prefix = `${link}/`;
  for (const key of Object.keys(require.cache)) if (key.startsWith(prefix)) delete require.cache[key];
  try {
    unlinkSync(link);
  } catch {
    // Already gone: nothing to forget.
  }
}

/** Removes link folders of processes that no longer run (a crash leaves them behind). */
function sweepDeadProcesses(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(LINKS_PREFIX)) continue;
    const pid = Number(name.slice(LINKS_PREFIX.length));
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
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
