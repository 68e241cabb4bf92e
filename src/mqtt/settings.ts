/**
 * The MQTT bridge's configuration, under the `mqtt.` key of the settings table. Off until the
 * user turns it on. The password is stored (the broker needs it in clear) but never shown back:
 * views get `MqttSettingsView`, which says only whether one is set.
 */
import { hostname } from "node:os";
import * as v from "valibot";
import type { SettingsStore } from "../db/settings.ts";

const KEY = "mqtt.config";
const PUBLISHED_KEY = "mqtt.published";
/** Topics the bridge left on the broker or announced to Home Assistant (see MqttBridge `left`). */
const PublishedSchema = v.array(v.pipe(v.string(), v.maxLength(2000)));

/** One topic level or several, no wildcards (they are not allowed in published topic names), no empty levels. */
export const BaseTopicSchema = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, "must not be empty"),
  v.maxLength(200, "must be at most 200 characters"),
  v.check((s) => !/[+#\0]/.test(s), "must not contain + or # (MQTT wildcards)"),
  v.check((s) => !s.startsWith("/") && !s.endsWith("/") && !s.includes("//") && !s.startsWith("$"), "must be levels separated by single slashes, e.g. layerline/workshop"),
);

export const MqttConfigSchema = v.object({
  enabled: v.boolean(),
  host: v.pipe(v.string(), v.trim(), v.maxLength(253, "must be at most 253 characters"), v.check((s) => !/[\s/]/.test(s), "must be a host name or address, without spaces or slashes")),
  port: v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(1, "must be 1–65535"), v.maxValue(65535, "must be 1–65535")),
  tls: v.boolean(),
  /** With TLS: accept a certificate no known authority signed (a broker's self-signed one). */
  allowUntrusted: v.boolean(),
  username: v.pipe(v.string(), v.maxLength(200, "must be at most 200 characters")),
  password: v.pipe(v.string(), v.maxLength(500, "must be at most 500 characters")),
  baseTopic: BaseTopicSchema,
  discovery: v.boolean(),
  discoveryPrefix: BaseTopicSchema,
  /** The Layerline user whose permissions commands over MQTT get; null = every command is refused. */
  commandUser: v.nullable(v.pipe(v.string(), v.minLength(1))),
});
export type MqttConfig = v.InferOutput<typeof MqttConfigSchema>;

/**
 * A change from the API or the settings form: any field; for the password, absent (or "")
 * keeps it, null clears it.
 */
export const MqttConfigChangeSchema = v.partial(
  v.object({
    ...MqttConfigSchema.entries,
    password: v.nullable(v.pipe(v.string(), v.maxLength(500, "must be at most 500 characters"))),
  }),
);
export type MqttConfigChange = v.InferOutput<typeof MqttConfigChangeSchema>;

/** What views and the API show: the configuration without the password. */
export type MqttSettingsView = Omit<MqttConfig, "password"> & { passwordSet: boolean };

/** This machine's name as one topic level: `layerline/<it>` lets several hosts share a broker. */
export function defaultBaseTopic(name = hostname()): string {
  const level = name.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  return `layerline/${level || "host"}`;
}

export function defaultConfig(): MqttConfig {
  return {
    enabled: false,
    host: "",
    port: 1883,
    tls: false,
    allowUntrusted: false,
    username: "",
    password: "",
    baseTopic: defaultBaseTopic(),
    discovery: true,
    discoveryPrefix: "homeassistant",
    commandUser: null,
  };
}

/** What says which broker the password is sent to, and how. */
const BROKER_FIELDS = ["host", "port", "tls", "allowUntrusted"] as const satisfies readonly (keyof MqttConfig)[];

/** The configuration after `change`; a problem in words if the result cannot be used. */
export function applyChange(current: MqttConfig, change: MqttConfigChange): { ok: true; config: MqttConfig } | { ok: false; field: string; message: string } {
  const { password, ...rest } = change;
  const kept = password === undefined || password === "";
  const next: MqttConfig = { ...current, ...rest, password: password === null ? "" : kept ? current.password : password };
  if (next.enabled && next.host === "") return { ok: false, field: "host", message: "name the broker (a host name or address) to turn the bridge on" };
  // The stored password goes only to the broker it was entered for: kept while the broker is
  // changed, anyone with the settings permission could point the bridge at a broker of theirs and
  // read it from the CONNECT packet (or off the wire, with TLS turned off or any certificate accepted).
  if (kept && current.password !== "" && BROKER_FIELDS.some((f) => next[f] !== current[f])) {
    return { ok: false, field: "password", message: "enter the password again (or remove it) when changing the broker's address, port or TLS settings" };
  }
  return { ok: true, config: next };
}

export function viewOf(config: MqttConfig): MqttSettingsView {
  const { password, ...rest } = config;
  return { ...rest, passwordSet: password !== "" };
}

/** Typed access to the `mqtt.` settings. */
export class MqttSettings {
  constructor(private readonly store: SettingsStore) {}

  config = (): MqttConfig => ({ ...defaultConfig(), ...this.store.get(KEY, v.partial(MqttConfigSchema), {}) });
  save = (config: MqttConfig) => this.store.set(KEY, config);
  publishedTopics = (): string[] => this.store.get(PUBLISHED_KEY, PublishedSchema, []);
  savePublishedTopics = (topics: string[]) => this.store.set(PUBLISHED_KEY, topics);
}
