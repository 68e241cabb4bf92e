/**
 * Plugins run inside the host's process (the main thread and every printer's Worker), so a
 * plugin's `process.exit()`, `process.abort()`, `process.reallyExit()` or `process.kill()` of its
 * own process would end Layerline — or a printer's thread — and the prints with it. The host
 * keeps the real exit for itself
 * ({@link hostExit}); while plugins run on a thread, the public functions refuse everyone else
 * with an error that names the plugin: the innermost plugin file on the stack, else the plugin in
 * whose scope the call runs (scope.ts: the code the host called, and the timers and promises it
 * scheduled — a call in tail position leaves no frame of its caller), else the plugin whose code
 * the host is running. Where host code called the plugin (a hook, setup, a route, a handler), the
 * error is its fault like any other throw; where nothing did (the plugin's own timer or promise),
 * it is handed to the owner of the thread's plugins instead of ending the thread — and so is
 * anything else a plugin's own timer or promise leaves uncaught, Error or not: the timers a
 * plugin sets report what they throw or reject themselves, and {@link survivePluginErrors} takes
 * the rest.
 */
import { isMainThread } from "node:worker_threads";
import { describe } from "./guard.ts";
import { pluginOnStack } from "./loader.ts";
import { blamedOn, inPlugin, modulesLoading, pluginInScope } from "./scope.ts";

/** What runs plugins on a thread: the main thread's manager, a printer Worker's plugin host. */
export interface ExitOwner {
  /** The plugin whose code the host is running on this thread now, if any. */
  runningNow(): string | undefined;
  /** A refusal, or anything the plugin's code threw or rejected with, that nothing caught; false when `plugin` is none of this owner's. */
  uncaught(plugin: string, error: unknown): boolean;
  /** The same when no plugin could be named (`how`: "an exception", "a promise rejection"): said, and the thread goes on. */
  unattributed(how: Uncaught, error: unknown): void;
}

export type Uncaught = "an exception" | "a promise rejection";

/** Thrown at code that tried to end the process while plugins run. */
export class PluginExitRefused extends Error {
  constructor(
    readonly plugin: string | null,
    call: string,
  ) {
    const who = plugin ? `the plugin ${plugin}` : "code that is not Layerline's (a plugin's, most likely; it could not be named)";
    super(`${call} was refused: ${who} may not end Layerline's process (that would stop every print). Throw an error or log instead.`);
    this.name = "PluginExitRefused";
  }
}

const realExit = process.exit.bind(process);
const owners = new Set<ExitOwner>();
let installed = false;
/** Set by the host's own exit, which Bun carries out through process.reallyExit. */
let exiting = false;

/** Ends the process (in a Worker: the thread) for the host's own reasons; never refused. */
export function hostExit(code?: number): never {
  exiting = true;
  return realExit(code);
}

/** From now until the returned function is called, exits on this thread other than the host's are refused. */
export function refuseExits(owner: ExitOwner): () => void {
  install();
  owners.add(owner);
  return () => owners.delete(owner);
}

function install(): void {
  if (installed) return;
  installed = true;
  const target = process as unknown as Record<string, unknown>;
  for (const name of ["exit", "abort", "reallyExit", "kill"]) {
    const real = target[name];
    if (typeof real !== "function") continue;
    target[name] = function guardedExit(this: unknown, ...args: unknown[]) {
      if (exiting || owners.size === 0 || (name === "kill" && !killsThisProcess(args[0], args[1]))) return real.apply(this, args);
      let plugin = pluginOnStack(new Error().stack ?? "") ?? pluginInScope();
      for (const owner of owners) plugin ??= owner.runningNow();
      throw new PluginExitRefused(plugin ?? null, `process.${name}(${args.map((a) => JSON.stringify(a) ?? String(a)).join(", ")})`);
    };
  }
  reportFromPluginTimers();
}

/** Whether `process.kill(pid, signal)` would signal this process (itself, or its process group); signal 0 only probes. */
function killsThisProcess(pid: unknown, signal: unknown): boolean {
  if (signal === 0 || signal === "0") return false;
  return pid === process.pid || pid === 0 || pid === -process.pid;
}

/**
 * A callback a plugin schedules runs in its scope, and what it throws — or the promise it
 * returns rejects with (an `async` callback) — goes to the owners as the plugin's, whatever the
 * value: a thrown string or `undefined` has no stack to name anyone by. Other code's callbacks
 * pass through untouched.
 */
function reportFromPluginTimers(): void {
  const scheduling = (): string | undefined => pluginInScope() ?? (modulesLoading() ? pluginOnStack(new Error().stack ?? "") : undefined);
  const wrap = (target: Record<string, unknown>, name: string) => {
    const real = target[name];
    if (typeof real !== "function") return;
    const scheduled = function (this: unknown, callback: unknown, ...rest: unknown[]) {
      const plugin = typeof callback === "function" ? scheduling() : undefined;
      return real.call(this, plugin ? reporting(plugin, callback as (...a: unknown[]) => unknown) : callback, ...rest);
    };
    // setTimeout's promisified form (util.promisify.custom) and the like come along.
    Object.defineProperties(scheduled, Object.getOwnPropertyDescriptors(real));
    target[name] = scheduled;
  };
  for (const name of ["setTimeout", "setInterval", "setImmediate", "queueMicrotask"]) wrap(globalThis as unknown as Record<string, unknown>, name);
  wrap(process as unknown as Record<string, unknown>, "nextTick");
}

function reporting(plugin: string, callback: (...args: unknown[]) => unknown) {
  return function (this: unknown, ...args: unknown[]) {
    return inPlugin(plugin, () => {
      try {
        const result = callback.apply(this, args);
        if (result instanceof Promise) result.catch((e: unknown) => uncaughtOf(plugin, "a promise rejection", e));
        return result;
      } catch (e) {
        uncaughtOf(plugin, "an exception", e);
      }
    });
  };
}

/** Hands what `plugin`'s code left uncaught to the owner that runs it, or says it as unattributed. */
function uncaughtOf(plugin: string | undefined | null, how: Uncaught, e: unknown): void {
  if (plugin) for (const owner of owners) if (owner.uncaught(plugin, e)) return;
  for (const owner of owners) owner.unattributed(how, e);
}

/**
 * Whatever reaches the thread uncaught while plugins run: put down to a plugin where anything
 * names one (a refusal's plugin, an error the host raised for a plugin, a plugin's file on the
 * stack, the scope it was thrown in) and handed to the owners; the thread goes on. One that names
 * no plugin goes on too when it cannot be Layerline's own bug ending in a half-done state — a
 * refused exit, a rejection (nothing waits on it), a value that is no Error (Layerline throws
 * only Errors) — and is said as unattributed. An Error that names no plugin, thrown outside any
 * plugin's scope, still ends the thread as without this (the process: printed, exit code 1; a
 * Worker: its error event). Only the CLI and the printer Workers install it: a host started
 * inside another program (the tests) leaves that program's uncaught errors alone.
 */
export function survivePluginErrors(): void {
  const handle = (how: Uncaught) => (e: unknown) => {
    if (owners.size > 0) {
      const plugin = e instanceof PluginExitRefused ? e.plugin : (blamedOn(e) ?? (e instanceof Error ? pluginOnStack(e.stack ?? "") : undefined) ?? pluginInScope());
      if (plugin || e instanceof PluginExitRefused || how === "a promise rejection" || !(e instanceof Error)) return uncaughtOf(plugin, how, e);
    }
    if (!isMainThread) throw e;
    console.error(e);
    hostExit(1);
  };
  process.on("uncaughtException", handle("an exception"));
  process.on("unhandledRejection", handle("a promise rejection"));
}

/**
 * What to tell the user about something left uncaught on `where` that no plugin could be named
 * for, which did not end the thread: what it was, and the plugins whose code ran there (`plugins`).
 */
export function unattributedMessage(where: string, how: Uncaught, e: unknown, plugins: string[]): string {
  const what =
    e instanceof PluginExitRefused
      ? `On ${where}, ${e.message}`
      : e instanceof Error
        ? `On ${where}, ${how} was left uncaught: ${e.name}: ${describe(e)}. Its stack trace names no plugin (if none is at fault, this is a bug in Layerline: please report it with the log).`
        : `On ${where}, ${how} was left uncaught with ${shown(e)}, which is no Error and so carries no trace of whose code it came from.`;
  const suspects = plugins.length ? ` Plugins whose code runs there: ${plugins.join(", ")}; if this repeats, disable them one at a time to find the one at fault.` : "";
  return `${what} Layerline went on.${suspects}`;
}

/** A value that is no Error, and what it is: the string "boom", the number 42, undefined. */
function shown(e: unknown): string {
  if (e === undefined || e === null) return String(e);
  const type = typeof e === "object" ? (Array.isArray(e) ? "array" : "object") : typeof e;
  return `the ${type} ${typeof e === "string" ? JSON.stringify(describe(e)) : describe(e)}`;
}
