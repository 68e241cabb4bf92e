/**
 * The UI's update notice (views/update.ts) and its buttons: each action answers with the fresh
 * notice, or a toast when the update was refused.
 */
import { Elysia } from "elysia";
import { toast } from "../../../views/dashboard.ts";
import { updateNotice } from "../../../views/update.ts";
import { UpdateError } from "../../update/problem.ts";
import { accessFor } from "../auth/access.ts";
import type { AppContext } from "../context.ts";
import { htmlResponse } from "./routes.ts";


/** The event an update action's answer triggers, so the settings page's status card (ui/update-settings.ts) reloads too. */
export const UPDATE_CHANGED = "update-changed";

export function uiUpdate(ctx: AppContext) {
  const notice = (request: Request) => htmlResponse(updateNotice(ctx.update.status(), accessFor(request)), { "HX-Trigger": UPDATE_CHANGED });
  return new Elysia({ prefix: "/ui/update" })
    .get("/notice", ({ request }) => htmlResponse(updateNotice(ctx.update.status(), accessFor(request))))
    .post("/check", async ({ request }) => {
      await ctx.update.check();
      return notice(request);
    })
    .post("/start", async ({ request }) => {
      try {
        await ctx.update.start();
      } catch (e) {
        if (!(e instanceof UpdateError)) throw e;
        return htmlResponse(toast("error", e.message, e.hint), { "HX-Retarget": "#toasts", "HX-Reswap": "beforeend" });
      }
      return notice(request);
    })
    .post("/cancel", ({ request }) => {
      ctx.update.cancel();
      return notice(request);
    })
    .post("/dismiss", ({ request }) => {
      ctx.update.dismissResult();
      return notice(request);
    });
}
