/**
 * Native API for self-update: the status (version, last check, release notes, progress, last
 * result), a check now, start and cancel an update, and the update settings.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { ChannelSchema } from "../../update/manifest.ts";
import { UpdateError } from "../../update/problem.ts";
import { UpdateSettingsSchema, UpdateUrlSchema } from "../../update/settings.ts";
import type { AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";

/** One-off source overrides, as `layerline update --url --channel` sends them. */
const SourceSchema = v.object({
  url: v.optional(UpdateUrlSchema),
  channel: v.optional(ChannelSchema),
});
const StartSchema = v.object({ ...SourceSchema.entries, force: v.optional(v.boolean()) });

/** Runs an update action; an UpdateError becomes a 409 that says why. */
async function updateAction<T>(action: () => T | Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    if (e instanceof UpdateError) throw new ApiError(409, e.code, e.message, e.hint);
    throw e;
  }
}

export function updateApi(ctx: AppContext) {
  return new Elysia({ prefix: "/api/v1/update" })
    .get("/", () => ctx.update.status())
    // The bodies are optional: without one, the configured source is used.
    .post(
      "/check",
      async ({ body }) => {
        await ctx.update.check(body ?? {});
        return ctx.update.status();
      },
      { body: v.optional(SourceSchema) },
    )
    .post(
      "/start",
      async ({ body, set }) => {
        await updateAction(() => ctx.update.start(body ?? {}));
        set.status = 202;
        return ctx.update.status();
      },
      { body: v.optional(StartSchema) },
    )
    .post("/cancel", () => {
      if (!ctx.update.cancel()) throw new ApiError(409, "nothing_to_cancel", "No update is downloading or waiting.", "Once the restart has begun it cannot be cancelled.");
      return ctx.update.status();
    })
    .put(
      "/settings",
      ({ body }) => {
        ctx.update.changeSettings(body);
        return ctx.update.status();
      },
      { body: UpdateSettingsSchema },
    );
}
