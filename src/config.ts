/**
 * Command-line options of `layerline serve`, validated at the edge (principle 4).
 */
import { accessSync, constants, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import * as v from "valibot";
import { DEFAULT_STUCK_MS } from "./plugins/main-thread-watch.ts";
import { DEFAULT_PRINT_READ_RATE } from "./server/pacing.ts";
import { DEFAULT_TRUSTED_PROXIES, trustedProxies } from "./server/auth/reverse-proxy.ts";
import { PERSONALITIES } from "./virtual/personalities.ts";

const Port = v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(0, "must be 0–65535 (0 = any free port)"), v.maxValue(65535, "must be 0–65535 (0 = any free port)"));

export const ServeOptionsSchema = v.object({
  port: Port,
  host: v.pipe(v.string(), v.minLength(1)),
  dataDir: v.pipe(v.string(), v.minLength(1)),
  /** A serial printer to add (or update) and make the default; `auto` finds its port and rate. */
  serial: v.optional(
    v.pipe(v.string(), v.check((s) => s === "auto" || s.startsWith("/"), 'must be an absolute device path such as /dev/ttyUSB0, or "auto"')),
  ),
  baud: v.pipe(v.number("must be a number"), v.integer(), v.minValue(300), v.maxValue(4_000_000)),
  /** Speed-up of the virtual printer's heating and moves (1 = real time); for demos and tests. */
  virtualTimeScale: v.pipe(v.number("must be a number"), v.minValue(0.01)),
  /** Safe mode: load no third-party plugins. */
  safe: v.optional(v.boolean(), false),
  /** Which firmware the built-in virtual printer behaves as. */
  virtualPersonality: v.picklist(PERSONALITIES, `must be one of ${PERSONALITIES.join(", ")}`),
  /** Reads a second answered while a printer prints (0 = no limit). */
  printReadRate: v.optional(v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(0, "must be 0 (no limit) or more")), DEFAULT_PRINT_READ_RATE),
  /** Seconds a plugin's code may hold the main thread before the watchdog acts (0 = never). */
  pluginHangSeconds: v.optional(v.pipe(v.number("must be a number"), v.minValue(0, "must be 0 (off) or more")), DEFAULT_STUCK_MS / 1000),
  /** Terminals offered as serial ports besides the system's (patterns; see listSerialPorts). */
  extraPorts: v.optional(v.array(v.pipe(v.string(), v.startsWith("/", "must be absolute paths such as /dev/printer* or /tmp/printer"))), []),
  /** Reverse proxies whose forwarding headers are believed (addresses or CIDR ranges). */
  trustedProxies: v.optional(v.array(v.pipe(v.string(), v.check((s) => isProxyEntry(s), "must be IP addresses or CIDR ranges such as 127.0.0.1, ::1 or 10.0.0.0/8"))), [...DEFAULT_TRUSTED_PROXIES]),
});
export type ServeOptions = v.InferOutput<typeof ServeOptionsSchema>;

function isProxyEntry(entry: string): boolean {
  try {
    trustedProxies([entry]);
    return true;
  } catch {
    return false;
  }
}

/** `$XDG_DATA_HOME/layerline`, or `~/.local/share/layerline`. */
export function defaultDataDir(env: Record<string, string | undefined> = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  return xdg && xdg.startsWith("/") ? join(xdg, "layerline") : join(env.HOME ?? homedir(), ".local", "share", "layerline");
}

/** Creates the data folder if needed and proves it is readable and writable; throws a sentence if not. */
export function prepareDataDir(dir: string): string {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { recursive: true });
    accessSync(abs, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "EACCES" || code === "EPERM" ? "permission denied" : code === "ENOTDIR" || code === "EEXIST" ? "a file is in the way" : (e as Error).message;
    throw new Error(
      `Cannot use the data folder ${abs}: ${why}.\n` +
        `Choose another with --data-dir PATH, or give your user access (e.g. sudo chown -R $USER ${abs}).`,
    );
  }
  return abs;
}
