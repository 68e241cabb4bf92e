/**
 * Settings → Backup (views/backups.ts): the page, and its actions as fragments — create and
 * delete answer the list, a restore answers what happens next; errors become toasts.
 */
import { Elysia } from "elysia";
import { backupList, backupsPage, restoreAccepted } from "../../../views/backups.ts";
import { backupAction, noIdleTimeout, receiveBackup } from "../api/backups.ts";
import type { AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse, toastResponse } from "./routes.ts";

export function uiBackups(ctx: AppContext) {
  const backups = ctx.backups;
  const act = async (fn: () => Promise<Response>) => {
    try {
      return await backupAction(fn);
    } catch (e) {
      if (e instanceof ApiError) return toastResponse(e.message, e.hint);
      throw e;
    }
  };
  return new Elysia()
    .get("/settings/backup", ({ request }) => htmlResponse(backupsPage({ backups: backups.list(), restorePending: backups.status().restorePending }, pageSession(request))))
    .post(
      "/ui/backups/create",
      ({ request, server }) =>
        act(async () => {
          noIdleTimeout(server, request);
          const form = new URLSearchParams(await request.text());
          await backups.create({ withTimelapses: form.get("withTimelapses") === "true" });
          return htmlResponse(backupList(backups.list()));
        }),
      { parse: "none" },
    )
    .post("/ui/backups/:name/delete", ({ params }) =>
      act(async () => {
        backups.delete(params.name);
        return htmlResponse(backupList(backups.list()));
      }),
    )
    .post(
      "/ui/backups/restore",
      ({ request, server }) =>
        act(async () => {
          noIdleTimeout(server, request);
          const { manifest, restarting } = await backups.restore((file) => receiveBackup(request, file));
          return htmlResponse(restoreAccepted(manifest, restarting));
        }),
      { parse: "none" },
    );
}
