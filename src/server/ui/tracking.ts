/**
 * The UI for anonymous usage statistics (Settings → Usage statistics) and the star button: each
 * form answers with the fresh fragment, or a toast when the registry could not be reached.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { toast } from "../../../views/dashboard.ts";
import { starButton, trackingPage, trackingSection } from "../../../views/tracking.ts";
import { TrackingError } from "../../tracking/reporter.ts";
import { RegistryUrlSchema } from "../../tracking/settings.ts";
import type { AppContext } from "../context.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse } from "./routes.ts";

const toastResponse = (message: string, hint = "") =>
  htmlResponse(toast("error", message, hint), { "HX-Retarget": "#toasts", "HX-Reswap": "beforeend" });

const SettingsForm = v.object({
  enabled: v.picklist(["on", "off"]),
  url: v.optional(v.union([v.literal(""), RegistryUrlSchema])),
});
const StarForm = v.object({
  plugin: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/)),
  starred: v.picklist(["true", "false"]),
});

export function uiTracking(ctx: AppContext) {
  const section = () => htmlResponse(trackingSection(ctx.tracking.status()));
  return new Elysia()
    .get("/settings/tracking", ({ request }) => htmlResponse(trackingPage(ctx.tracking.status(), pageSession(request))))
    .post("/ui/tracking", ({ body }) => {
      const form = v.safeParse(SettingsForm, body ?? {});
      if (!form.success) return toastResponse("Choose whether to send statistics, and give the registry as an http(s) URL.");
      if (form.output.url !== undefined) ctx.tracking.setUrl(form.output.url === "" ? null : form.output.url);
      ctx.tracking.setEnabled(form.output.enabled === "on");
      return section();
    })
    .post("/ui/tracking/reset-id", () => {
      ctx.tracking.resetId();
      return section();
    })
    .post("/ui/tracking/send", async () => {
      try {
        await ctx.tracking.send();
      } catch (e) {
        if (!(e instanceof TrackingError)) throw e;
        return toastResponse(e.message, e.hint);
      }
      return section();
    })
    .post("/ui/tracking/star", async ({ body }) => {
      const form = v.safeParse(StarForm, body ?? {});
      if (!form.success) return toastResponse("That is not a plugin that can be starred.");
      try {
        const result = await ctx.tracking.star(form.output.plugin, form.output.starred === "true");
        return htmlResponse(starButton(result.plugin, result.starred, result.likes));
      } catch (e) {
        if (!(e instanceof TrackingError)) throw e;
        return toastResponse(e.message, e.hint);
      }
    });
}
