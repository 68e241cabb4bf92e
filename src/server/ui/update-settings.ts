/**
 * Settings → Updates (views/update-settings.ts): the page, its live status card, and the form that
 * changes the update source and schedule — checked by the API's own schema, each problem shown
 * beside its field. Check now and Install post to the update notice's routes (ui/update.ts).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { formValuesOf, updateSettingsForm, updateSettingsPage, updateStatusCard, type FieldErrors, type UpdateSettingsField } from "../../../views/update-settings.ts";
import { UpdateSettingsSchema } from "../../update/settings.ts";
import { accessFor } from "../auth/access.ts";
import type { AppContext } from "../context.ts";
import { parseBody } from "../errors.ts";
import { pageSession } from "./page-session.ts";
import { UPDATE_CHANGED } from "./update.ts";
import { htmlResponse } from "./routes.ts";


/** The form as a browser sends it: each field once, as text. Anything else is not this form (400). */
const SettingsForm = v.object({
  channel: v.string(),
  source: v.picklist(["built-in", "custom"], "must be built-in or custom"),
  url: v.optional(v.string(), ""),
  checkHours: v.string(),
  selfTestSeconds: v.string(),
});

/** How each field is named in front of the schema's message ("must be …"). */
const FIELD_NAMES: Record<UpdateSettingsField, string> = {
  channel: "The channel",
  url: "The manifest URL",
  checkHours: "The check interval",
  selfTestSeconds: "The self-test time",
};

const number = (text: string) => (text.trim() === "" ? Number.NaN : Number(text));

export function uiUpdateSettings(ctx: AppContext) {
  return new Elysia()
    .get("/settings/update", ({ request }) => htmlResponse(updateSettingsPage(ctx.update.status(), accessFor(request), pageSession(request))))
    .get("/ui/update/status", ({ request }) => htmlResponse(updateStatusCard(ctx.update.status(), accessFor(request))))
    .post("/ui/update/settings", ({ body }) => {
      const form = parseBody(SettingsForm, body, "Send the form of Settings → Updates: channel, source (built-in or custom), url, checkHours and selfTestSeconds.");
      const change = {
        channel: form.channel,
        url: form.source === "built-in" ? null : form.url,
        checkHours: number(form.checkHours),
        selfTestSeconds: number(form.selfTestSeconds),
      };
      // All or nothing: the same schema as PUT /api/v1/update/settings, every problem at its field.
      const parsed = v.safeParse(UpdateSettingsSchema, change);
      if (!parsed.success) {
        const errors: FieldErrors = {};
        for (const issue of parsed.issues) {
          const field = v.getDotPath(issue) as UpdateSettingsField;
          errors[field] ??= `${FIELD_NAMES[field]} ${issue.message}.`;
        }
        return htmlResponse(updateSettingsForm(ctx.update.status(), form, errors, false));
      }
      ctx.update.changeSettings(parsed.output);
      const status = ctx.update.status();
      return htmlResponse(updateSettingsForm(status, formValuesOf(status), {}, true), { "HX-Trigger": UPDATE_CHANGED });
    });
}
