/**
 * The usage-tracking settings and state, under the `tracking.` key prefix of the settings table.
 * Tracking is off until the user opts in (`tracking.enabled` absent = never asked).
 */
import * as v from "valibot";
import type { SettingsStore } from "../db/settings.ts";
import { PingSchema } from "./payload.ts";

/** The public Layerline plugin registry (index, website, tracking and likes). */
export const DEFAULT_REGISTRY_URL = "https://plugins.layerline.org";

export const RegistryUrlSchema = v.pipe(
  v.string(),
  v.trim(),
  v.check((s) => /^https?:\/\/[^/]/.test(s) && URL.canParse(s), "must be an http(s) URL"),
  v.transform((s) => s.replace(/\/+$/, "")),
);

const PendingSchema = v.object({
  started: v.number(),
  finished: v.number(),
});
export type Pending = v.InferOutput<typeof PendingSchema>;

const InstalledSchema = v.array(v.object({ id: v.string(), version: v.string() }));

export const LastSendSchema = v.object({
  at: v.number(),
  ok: v.boolean(),
  /** What went wrong, in words (null when it was delivered). */
  error: v.nullable(v.string()),
  /** The payload as sent. */
  payload: v.nullable(PingSchema),
});
export type LastSend = v.InferOutput<typeof LastSendSchema>;

const KEY = {
  enabled: "tracking.enabled",
  url: "tracking.url",
  instanceId: "tracking.instanceId",
  pending: "tracking.pending",
  reported: "tracking.reportedPlugins",
  lastSend: "tracking.lastSend",
  stars: "tracking.stars",
  starId: "tracking.starId",
} as const;

/** Typed access to the `tracking.` settings. */
export class TrackingSettings {
  constructor(private readonly store: SettingsStore) {}

  /** true/false once the user chose; null while never asked (tracking is off). */
  enabled = () => this.store.get(KEY.enabled, v.nullable(v.boolean()), null);
  setEnabled = (on: boolean) => this.store.set(KEY.enabled, on);
  url = () => this.store.get(KEY.url, RegistryUrlSchema, DEFAULT_REGISTRY_URL);
  setUrl = (url: string | null) => (url === null ? this.store.delete(KEY.url) : this.store.set(KEY.url, url));

  /** The random instance id, made on first use. */
  instanceId = () => this.randomId(KEY.instanceId);

  /**
   * The random id likes are sent under, made on first use. Never the instance id: a star (which
   * works with tracking off) must not tell the registry which usage reports are this host's.
   */
  starId = () => this.randomId(KEY.starId);

  /** Forgets both ids and what is tied to them (the last report, its plugin list, the stars); the next use makes new ids. */
  forgetInstance(): void {
    for (const key of [KEY.instanceId, KEY.reported, KEY.lastSend, KEY.stars, KEY.starId]) this.store.delete(key);
  }

  /** The random UUID kept under `key`, made on first use. */
  private randomId(key: string): string {
    const id = this.store.get(key, v.pipe(v.string(), v.uuid()), "");
    if (id) return id;
    const fresh = crypto.randomUUID();
    this.store.set(key, fresh);
    return fresh;
  }

  pending = () => this.store.get(KEY.pending, PendingSchema, { started: 0, finished: 0 });
  setPending = (p: Pending) => this.store.set(KEY.pending, p);
  /** The plugins the last delivered ping listed; null before the first one (no events then). */
  reported = () => this.store.get(KEY.reported, v.nullable(InstalledSchema), null);
  setReported = (list: { id: string; version: string }[] | null) => (list === null ? this.store.delete(KEY.reported) : this.store.set(KEY.reported, list));
  lastSend = () => this.store.get(KEY.lastSend, v.nullable(LastSendSchema), null);
  setLastSend = (s: LastSend) => this.store.set(KEY.lastSend, s);
  stars = () => this.store.get(KEY.stars, v.array(v.string()), []);
  setStars = (ids: string[]) => this.store.set(KEY.stars, [...new Set(ids)].sort());
}
