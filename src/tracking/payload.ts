/**
 * The anonymous usage ping: exactly what a host that opted in sends to the registry service, and
 * nothing else — the service validates it with this same strict schema, so an extra field (an IP,
 * a file name) is refused rather than stored. The settings page shows the user this payload,
 * serialised as it is sent.
 */
import * as v from "valibot";

const PluginId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "must be a plugin id"));
const Version = v.pipe(v.string(), v.regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$/, "must be a version"));
const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000));

export const OS_NAMES = ["linux", "darwin", "win32", "freebsd", "other"] as const;
export const ARCH_NAMES = ["x64", "arm64", "arm", "ia32", "other"] as const;

export const PingSchema = v.strictObject({
  /** Payload format version. */
  schema: v.literal(1),
  /** A random id made when the user opted in; it identifies nothing but this installation. */
  instance: v.pipe(v.string(), v.uuid("must be a random UUID")),
  host: v.strictObject({
    version: Version,
    os: v.picklist(OS_NAMES),
    arch: v.picklist(ARCH_NAMES),
  }),
  /** Installed plugins and their versions. */
  plugins: v.pipe(v.array(v.strictObject({ id: PluginId, version: Version })), v.maxLength(500)),
  /** Installs and uninstalls since the last ping. */
  events: v.pipe(v.array(v.strictObject({ event: v.picklist(["install", "uninstall"]), plugin: PluginId, version: v.nullable(Version) })), v.maxLength(500)),
  /** Prints started and finished since the last ping (all printers). */
  prints: v.strictObject({ started: Count, finished: Count }),
  /** Firmware families of the printers seen since the last ping (built-in quirk profiles, else "other"). */
  firmware: v.pipe(v.array(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9._-]{0,39}$/))), v.maxLength(20)),
});
export type Ping = v.InferOutput<typeof PingSchema>;

export const LikeSchema = v.strictObject({
  instance: v.pipe(v.string(), v.uuid("must be a random UUID")),
  plugin: PluginId,
  liked: v.boolean(),
});
export type Like = v.InferOutput<typeof LikeSchema>;

/** Where a registry service takes pings and likes, under its base URL. */
export const PING_PATH = "/api/v1/tracking/ping";
export const LIKES_PATH = "/api/v1/likes";

/** This machine's OS and architecture in the payload's terms. */
export function platform(os: string = process.platform, arch: string = process.arch): Pick<Ping["host"], "os" | "arch"> {
  return {
    os: (OS_NAMES as readonly string[]).includes(os) ? (os as Ping["host"]["os"]) : "other",
    arch: (ARCH_NAMES as readonly string[]).includes(arch) ? (arch as Ping["host"]["arch"]) : "other",
  };
}
