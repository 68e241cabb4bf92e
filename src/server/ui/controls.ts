/**
 * Settings → Custom controls and pressing one on the dashboard (views/controls.ts). The settings
 * form is checked by the model, each problem shown with its path; pressing sends the filled-in
 * G-code through the printer session, as the terminal's typed commands.
 */
import { Elysia } from "elysia";
import { controlsForm, controlsSettingsPage, controlsText } from "../../../views/controls.ts";
import { EXAMPLE_CONTROLS, parseControlsText } from "../../controls/model.ts";
import type { AppContext } from "../context.ts";
import { liveAction, printerViews } from "./jobs.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse, toastResponse } from "./routes.ts";

/** A form's text field, or "" (htmx sends URL-encoded forms; anything else is not this form). */
const field = (body: unknown, name: string): string => {
  const value = typeof body === "object" && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === "string" ? value : "";
};

export function uiControls(ctx: AppContext) {
  const act = liveAction(ctx, printerViews(ctx));
  return new Elysia()
    .get("/settings/controls", ({ request }) => htmlResponse(controlsSettingsPage({ text: controlsText(ctx.controls.list()), errors: [] }, pageSession(request))))
    .post("/ui/controls", ({ body }) => {
      const text = field(body, "definition");
      const checked = parseControlsText(text.trim() === "" ? "[]" : text);
      if (!checked.ok) return htmlResponse(controlsForm({ text, errors: checked.errors }));
      ctx.controls.save(checked.controls);
      return htmlResponse(controlsForm({ text: controlsText(ctx.controls.list()), errors: [], outcome: "saved" }));
    })
    .post("/ui/controls/example", () => htmlResponse(controlsForm({ text: controlsText(EXAMPLE_CONTROLS), errors: [], outcome: "example" })))
    .post("/ui/printers/:id/controls/run", ({ params, body, request }) => {
      const given: Record<string, string> = {};
      if (typeof body === "object" && body !== null) for (const [k, val] of Object.entries(body)) if (k.startsWith("p.") && typeof val === "string") given[k.slice(2)] = val;
      const version = field(body, "version");
      const pressed = ctx.controls.press(field(body, "path"), given, version === "" ? undefined : Number(version));
      if (!pressed.ok) return toastResponse(pressed.error);
      return act(request, params.id, (s) => s.send(pressed.lines));
    });
}
