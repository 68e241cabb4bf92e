/**
 * Whose code runs: the plugin whose code the host called into, carried along (AsyncLocalStorage)
 * into the timers it sets and the promises it awaits, so that what those throw, reject or refuse
 * later — when no frame of the plugin is left on the stack, or the value thrown is no Error and
 * has no stack at all — can still be put down to it. See exit-guard.ts for who asks.
 */
import { AsyncLocalStorage } from "node:async_hooks";

const scope = new AsyncLocalStorage<string>();

/** Runs `fn` (plugin code the host calls) as `plugin`'s; what it schedules stays its. */
export function inPlugin<T>(plugin: string, fn: () => T): T {
  return scope.run(plugin, fn);
}

/** The plugin whose code, or whose timer or promise continuation, runs now. */
export function pluginInScope(): string | undefined {
  return scope.getStore();
}

const blamed = new WeakMap<object, string>();

/** Marks an error the host raised on `plugin`'s behalf (its call into the host API failed), which it may leave uncaught. */
export function blame<E>(error: E, plugin: string): E {
  if (typeof error === "object" && error !== null) blamed.set(error, plugin);
  return error;
}

/** The plugin an error was raised for, by {@link blame}. */
export function blamedOn(error: unknown): string | undefined {
  return typeof error === "object" && error !== null ? blamed.get(error) : undefined;
}

let loading = 0;

/**
 * Marks a plugin's modules as loading until `work` settles. A module's top-level code runs in
 * no scope (the runtime evaluates it apart from the import call), so what it schedules meanwhile
 * is put down to its plugin by the stack instead (see exit-guard.ts).
 */
export async function loadingModules<T>(work: () => Promise<T>): Promise<T> {
  loading++;
  try {
    return await work();
  } finally {
    loading--;
  }
}

/** Whether some plugin's modules load on this thread now. */
export const modulesLoading = (): boolean => loading > 0;
