/**
 * Native API for anonymous usage statistics (opt-in) and plugin stars: the state with the exact
 * next payload, opting in or out, sending now, and starring a repository plugin (the host's
 * plugin browser calls this; the registry counts one star per instance).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { TrackingError } from "../../tracking/reporter.ts";
import { RegistryUrlSchema } from "../../tracking/settings.ts";
import type { AppContext } from "../context.ts";
import { ApiError, parseBody } from "../errors.ts";

const SettingsSchema = v.object({
  enabled: v.optional(v.boolean()),
  /** The registry's base URL; null = the built-in one. */
  url: v.optional(v.nullable(RegistryUrlSchema)),
});
const StarSchema = v.object({
  plugin: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "must be a plugin id")),
  starred: v.boolean(),
});

/** Runs a tracking action; a TrackingError becomes a 409 (off) or 502 (registry) that says why. */
export async function trackingAction<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    if (e instanceof TrackingError) throw new ApiError(e.code === "tracking_off" ? 409 : 502, e.code, e.message, e.hint);
    throw e;
  }
}

export function trackingApi(ctx: AppContext) {
  return new Elysia({ prefix: "/api/v1/tracking" })
    .get("/", () => ctx.tracking.status())
    .put("/", ({ body }) => {
      const change = parseBody(SettingsSchema, body);
      if (change.url !== undefined) ctx.tracking.setUrl(change.url);
      if (change.enabled !== undefined) ctx.tracking.setEnabled(change.enabled);
      return ctx.tracking.status();
    })
    .post("/reset-id", () => {
      ctx.tracking.resetId();
      return ctx.tracking.status();
    })
    .post("/send", async () => {
      const sent = await trackingAction(() => ctx.tracking.send());
      return { sent: true, at: sent.at, payload: sent.payload };
    })
    .get("/stars", () => ({ stars: ctx.tracking.stars() }))
    .post("/stars", ({ body }) => {
      const { plugin, starred } = parseBody(StarSchema, body);
      return trackingAction(() => ctx.tracking.star(plugin, starred));
    });
}
