/**
 * Native API for custom controls: the host-wide definition (read by anyone who sees printers,
 * replaced with `settings`), and pressing one on a printer with its parameters (`control`) —
 * sent the way typed commands are, so the terminal shows them and the protocol engine's rules apply.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { checkControls, CONTROL_LIMITS } from "../../controls/model.ts";
import type { ControlsService } from "../../controls/service.ts";
import type { AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { documentedBody } from "./openapi.ts";
import { printerSession, unwrap } from "./printers.ts";

export const RunControlSchema = v.object({
  path: v.pipe(v.string(), v.regex(/^\d{1,3}(\.\d{1,3}){0,7}$/, 'must be a control\'s position, e.g. "0" or "1.2"')),
  parameters: v.optional(v.record(v.string(), v.union([v.string(), v.number()], "must be text or a number"))),
  /** The `updatedAt` of the list the caller read; a definition saved since then refuses the press (409). */
  version: v.optional(v.number("must be the updatedAt of GET /api/v1/controls")),
});

const PRESS_ERRORS = { 400: "invalid_parameter", 404: "control_not_found", 409: "controls_changed" } as const;

/** Only for the API's description: the definition is checked by src/controls/model.ts, with errors in words. */
const ControlsBodyDoc = v.object({ controls: v.array(v.record(v.string(), v.unknown())) });

/** The definition as the API answers it. */
export function controlsJson(controls: ControlsService) {
  return { controls: controls.list(), updatedAt: controls.updatedAt(), limits: CONTROL_LIMITS };
}

/** Checks and saves a definition; every problem in one 400. */
export function saveControls(controls: ControlsService, body: unknown): void {
  const checked = checkControls(body);
  if (!checked.ok) throw new ApiError(400, "invalid_controls", checked.errors.join("\n"), 'Send {"controls": [...]} in OctoPrint\'s custom-controls format; see the README\'s "Custom controls".');
  controls.save(checked.controls);
}

export function controlsApi(ctx: AppContext) {
  return new Elysia()
    .get("/api/v1/controls", () => controlsJson(ctx.controls))
    .put(
      "/api/v1/controls",
      ({ body }) => {
        saveControls(ctx.controls, body ?? null);
        return controlsJson(ctx.controls);
      },
      { detail: documentedBody({ "application/json": ControlsBodyDoc }) },
    )
    .post(
      "/api/v1/printers/:id/controls/run",
      async ({ params, body }) => {
        const session = printerSession(ctx, params.id);
        const pressed = ctx.controls.press(body.path, body.parameters ?? {}, body.version);
        if (!pressed.ok) throw new ApiError(pressed.status, PRESS_ERRORS[pressed.status], pressed.error, "GET /api/v1/controls lists the controls and their parameters.");
        unwrap(await session.send(pressed.lines));
        return { sent: pressed.lines };
      },
      { body: RunControlSchema },
    );
}
