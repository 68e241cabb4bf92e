/**
 * The update area's settings and records, under the `update.` key prefix of the settings table.
 */
import * as v from "valibot";
import type { SettingsStore } from "../db/settings.ts";
import { ChannelSchema, VersionSchema, type Channel } from "./manifest.ts";

declare const LAYERLINE_UPDATE_URL: string | undefined;
declare const LAYERLINE_CHANNEL: string | undefined;

/** Where this build looks for releases unless configured otherwise: stamped by `bun run release --update-url`. */
export const BUILT_IN_UPDATE_URL: string | null = typeof LAYERLINE_UPDATE_URL === "string" && LAYERLINE_UPDATE_URL ? LAYERLINE_UPDATE_URL : null;
/** The channel a release build was made for (a beta build follows beta). */
export const BUILT_IN_CHANNEL: Channel = typeof LAYERLINE_CHANNEL === "string" && v.is(ChannelSchema, LAYERLINE_CHANNEL) ? LAYERLINE_CHANNEL : "stable";

export const UpdateUrlSchema = v.pipe(
  v.string(),
  v.trim(),
  v.check((s) => /^https?:\/\//.test(s) && URL.canParse(s.replaceAll("{channel}", "stable")), "must be an http(s) URL, optionally with {channel}"),
);

/** What a user may change (PUT /api/v1/update/settings). */
export const UpdateSettingsSchema = v.object({
  /** The manifest URL; `{channel}` is replaced by the channel. null = the built-in one. */
  url: v.optional(v.nullable(UpdateUrlSchema)),
  channel: v.optional(ChannelSchema),
  /** Hours between automatic checks; 0 turns them off. */
  checkHours: v.optional(
    v.pipe(v.number("must be a number of hours"), v.minValue(0, "must be 0 (off) or more hours"), v.maxValue(24 * 30, "must be at most 720 hours (30 days)")),
  ),
  /** How long a new version has to pass its self-test (printers reconnecting included). */
  selfTestSeconds: v.optional(
    v.pipe(
      v.number("must be a number of seconds"),
      v.integer("must be a whole number of seconds"),
      v.minValue(5, "must be at least 5 seconds"),
      v.maxValue(3600, "must be at most 3600 seconds (an hour)"),
    ),
  ),
});
export type UpdateSettingsInput = v.InferOutput<typeof UpdateSettingsSchema>;

const ErrorSchema = v.object({ code: v.string(), message: v.string(), hint: v.string() });

/** The last check's outcome, kept so the notice survives a restart. */
export const CheckRecordSchema = v.object({
  at: v.number(),
  url: v.string(),
  channel: ChannelSchema,
  error: v.nullable(ErrorSchema),
  /** The newest release found (whatever the verdict). */
  latest: v.nullable(
    v.object({
      version: VersionSchema,
      published: v.string(),
      notes: v.string(),
      size: v.nullable(v.number()),
    }),
  ),
  verdict: v.nullable(v.picklist(["update", "up-to-date", "unsupported", "too-old", "failed-before"])),
  /** For an unsupported release: what this system lacks, and the manifest's migration path. */
  unmet: v.array(v.string()),
  migration: v.nullable(v.string()),
  minimumVersion: v.nullable(v.string()),
  /** The user put away the notice of this check's error (kept while checks fail the same way). */
  dismissed: v.optional(v.boolean()),
});
export type CheckRecord = v.InferOutput<typeof CheckRecordSchema>;

/** How the last update ended, until the user dismisses the notice. */
export const ResultRecordSchema = v.object({
  outcome: v.picklist(["updated", "rolled-back"]),
  from: v.string(),
  to: v.string(),
  at: v.number(),
  reason: v.nullable(v.string()),
  dismissed: v.boolean(),
});
export type ResultRecord = v.InferOutput<typeof ResultRecordSchema>;

export interface UpdateSettings {
  url: string | null;
  channel: Channel;
  checkHours: number;
  selfTestSeconds: number;
}

/** The settings of a host that never changed them. */
export const DEFAULT_SETTINGS: UpdateSettings = { url: BUILT_IN_UPDATE_URL, channel: BUILT_IN_CHANNEL, checkHours: 24, selfTestSeconds: 120 };

const KEY = {
  url: "update.url",
  channel: "update.channel",
  checkHours: "update.checkHours",
  selfTestSeconds: "update.selfTestSeconds",
  lastCheck: "update.lastCheck",
  lastResult: "update.lastResult",
  failedVersions: "update.failedVersions",
} as const;

/** Typed access to the `update.` settings. */
export class UpdateSettingsStore {
  constructor(private readonly store: SettingsStore) {}

  read(): UpdateSettings {
    return {
      url: this.store.get(KEY.url, v.nullable(UpdateUrlSchema), null) ?? DEFAULT_SETTINGS.url,
      channel: this.store.get(KEY.channel, ChannelSchema, DEFAULT_SETTINGS.channel),
      checkHours: this.store.get(KEY.checkHours, v.number(), DEFAULT_SETTINGS.checkHours),
      selfTestSeconds: this.store.get(KEY.selfTestSeconds, v.number(), DEFAULT_SETTINGS.selfTestSeconds),
    };
  }

  write(change: UpdateSettingsInput): void {
    for (const key of ["url", "channel", "checkHours", "selfTestSeconds"] as const) {
      const value = change[key];
      if (value === undefined) continue;
      if (value === null) this.store.delete(KEY[key]);
      else this.store.set(KEY[key], value);
    }
  }

  lastCheck = () => this.store.get(KEY.lastCheck, v.nullable(CheckRecordSchema), null);
  setLastCheck = (record: CheckRecord) => this.store.set(KEY.lastCheck, record);
  lastResult = () => this.store.get(KEY.lastResult, v.nullable(ResultRecordSchema), null);
  setLastResult = (record: ResultRecord) => this.store.set(KEY.lastResult, record);
  failedVersions = () => this.store.get(KEY.failedVersions, v.array(v.string()), []);

  addFailedVersion(version: string): void {
    this.store.set(KEY.failedVersions, [...new Set([...this.failedVersions(), version])].slice(-20));
  }

  forgetFailedVersion(version: string): void {
    this.store.set(KEY.failedVersions, this.failedVersions().filter((f) => f !== version));
  }
}
