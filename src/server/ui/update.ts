/**
 * The UI's update notice (views/update.ts) and its buttons: each action answers with the fresh
 * notice, or a toast when the update was refused.
 */
import { Elysia } from "elysia";
import { toast } from "../../../views/dashboard.ts";
import type { Html } from "../../../views/html.ts";
import { updateNotice } from "../../../views/update.ts";
import { UpdateError } from "../../update/problem.ts";
import type { AppContext } from "../context.ts";

const htmlResponse = (body: Html, headers: Record<string, string> = {}) =>
  new Response(body.value, { headers: { "content-type": "text/html; charset=utf-8", ...headers } });

export function uiUpdate(ctx: AppContext) {
  const notice = () => htmlResponse(updateNotice(ctx.update.status()));
  return new Elysia({ prefix: "/ui/update" })
    .get("/notice", notice)
    .post("/check", async () => {
      await ctx.update.check();
      return notice();
    })
    .post("/start", async () => {
      try {
        await ctx.update.start();
      } catch (e) {
        if (!(e instanceof UpdateError)) throw e;
        return htmlResponse(toast("error", e.message, e.hint), { "HX-Retarget": "#toasts", "HX-Reswap": "beforeend" });
      }
      return notice();
    })
    .post("/cancel", () => {
      ctx.update.cancel();
      return notice();
    })
    .post("/dismiss", () => {
      ctx.update.dismissResult();
      return notice();
    });
}
