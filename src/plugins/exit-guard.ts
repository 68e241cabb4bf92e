/**
 * Plugins run inside the host's process (the main thread and every printer's Worker), so a
 * plugin's `process.exit()`, `process.abort()`, `process.reallyExit()` or `process.kill()` of its
 * own process would end Layerline — or a printer's thread — and the prints with it. The host
 * keeps the real exit for itself
 * ({@link hostExit}); while plugins run on a thread, the public functions refuse everyone else
 * with an error that names the plugin: the innermost plugin file on the stack, else the plugin
 * whose code the host is running (a call in tail position leaves no frame of its caller), else
 * nobody (a plugin's timer that called it in tail position). Where host code called the plugin
 * (a hook, setup, a route, a handler), the error is its fault like any other throw; where nothing
 * did (the plugin's own timer or promise), {@link survivePluginErrors} hands it to the owner of
 * the thread's plugins instead of letting it end the thread — and so any other error a plugin's
 * own timer or promise leaves uncaught, which would end the process just the same.
 */
import { isMainThread } from "node:worker_threads";
import { pluginOnStack } from "./loader.ts";

/** What runs plugins on a thread: the main thread's manager, a printer Worker's plugin host. */
export interface ExitOwner {
  /** The plugin whose code the host is running on this thread now, if any. */
  runningNow(): string | undefined;
  /** A refusal, or an error thrown by the plugin's code, that nothing caught; `plugin` null when it cannot be named. */
  uncaught(plugin: string | null, error: unknown): void;
}

/** Thrown at code that tried to end the process while plugins run. */
export class PluginExitRefused extends Error {
  constructor(
    readonly plugin: string | null,
    call: string,
  ) {
    const who = plugin ? `the plugin ${plugin}` : "code that is not Layerline's (a plugin's timer, most likely; it could not be named)";
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
      let plugin = pluginOnStack(new Error().stack ?? "");
      for (const owner of owners) plugin ??= owner.runningNow();
      throw new PluginExitRefused(plugin ?? null, `process.${name}(${args.map((a) => JSON.stringify(a) ?? String(a)).join(", ")})`);
    };
  }
}

/** Whether `process.kill(pid, signal)` would signal this process (itself, or its process group); signal 0 only probes. */
function killsThisProcess(pid: unknown, signal: unknown): boolean {
  if (signal === 0 || signal === "0") return false;
  return pid === process.pid || pid === 0 || pid === -process.pid;
}

/**
 * A refusal that nothing caught, or an uncaught error with a plugin's code on its stack (a
 * plugin's own timer or promise threw), goes to the owners and the thread goes on; any other
 * uncaught error still ends the thread as it would without this (the process: printed, exit code
 * 1; a Worker: its error event). Only the CLI and the printer Workers install it: a host started
 * inside another program (the tests) leaves that program's uncaught errors alone.
 */
export function survivePluginErrors(): void {
  const handle = (e: unknown) => {
    const refused = e instanceof PluginExitRefused;
    const plugin = refused ? e.plugin : e instanceof Error ? (pluginOnStack(e.stack ?? "") ?? null) : null;
    if (owners.size > 0 && (refused || plugin)) {
      for (const owner of owners) owner.uncaught(plugin, e);
      return;
    }
    if (!isMainThread) throw e;
    console.error(e);
    hostExit(1);
  };
  process.on("uncaughtException", handle);
  process.on("unhandledRejection", handle);
}
