/**
 * Native API for backups (admin only: a backup holds password hashes and API keys): make one,
 * list, download and delete those stored in `<data-dir>/backups/`, and restore from an uploaded
 * one (checked whole before anything changes, then applied by restarting the host).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { BackupError } from "../../backup/problem.ts";
import { BACKUP_LIMITS } from "../../backup/restore.ts";
import type { BackupService } from "../../backup/service.ts";
import type { AppContext } from "../context.ts";
import { ApiError, parseBody } from "../errors.ts";

const CreateSchema = v.object({ withTimelapses: v.optional(v.boolean(), false) });

/** Runs a backup action; a BackupError becomes an API error with its status. */
export async function backupAction<T>(action: () => T | Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    if (e instanceof BackupError) throw new ApiError(e.status, e.code, e.message, e.hint);
    throw e;
  }
}

const UPLOAD_HINT = 'Send the .tar.gz as the body (curl --data-binary @backup.tar.gz -H "content-type: application/gzip") or as the form field "file".';

/** The uploaded backup's bytes: the raw body, or a multipart form's "file". */
export async function uploadedBackup(request: Request): Promise<Uint8Array> {
  const length = Number(request.headers.get("content-length"));
  const max = BACKUP_LIMITS.maxTotalBytes + 1024 * 1024;
  if (Number.isFinite(length) && length > max) throw new ApiError(413, "too_large", `The upload is ${length} bytes; a backup to restore may be at most ${max}.`);
  const type = request.headers.get("content-type") ?? "";
  let bytes: Uint8Array;
  if (type.includes("multipart/form-data")) {
    let file: FormDataEntryValue | null;
    try {
      file = (await request.formData()).get("file");
    } catch {
      throw new ApiError(400, "invalid_body", "The upload could not be read as a form.", UPLOAD_HINT);
    }
    if (!(file instanceof Blob)) throw new ApiError(400, "invalid_request", 'The form has no file "file".', UPLOAD_HINT);
    bytes = new Uint8Array(await file.arrayBuffer());
  } else {
    bytes = new Uint8Array(await request.arrayBuffer());
  }
  if (bytes.length === 0) throw new ApiError(400, "invalid_request", "No backup was sent.", UPLOAD_HINT);
  return bytes;
}

export function backupsApi(ctx: AppContext) {
  const backups: BackupService = ctx.backups;
  return new Elysia({ prefix: "/api/v1/backups" })
    .get("/", () => ({ ...backups.status(), backups: backups.list() }))
    .post(
      "/",
      async ({ request, set }) => {
        let json: unknown = {};
        const text = await request.text();
        if (text.trim() !== "") {
          try {
            json = JSON.parse(text);
          } catch {
            throw new ApiError(400, "invalid_body", "The request body could not be parsed (is it valid JSON?).", 'Send {"withTimelapses": true} or nothing.');
          }
        }
        const body = parseBody(CreateSchema, json, 'Send {"withTimelapses": true} or nothing.');
        const made = await backupAction(() => backups.create(body));
        set.status = 201;
        return made;
      },
      { parse: "none" },
    )
    .post(
      "/restore",
      async ({ request, set }) => {
        const bytes = await uploadedBackup(request);
        const result = await backupAction(() => backups.restore(bytes));
        set.status = 202;
        return {
          ...result,
          message: result.restarting
            ? "The backup was checked; Layerline restarts now and restores it before it opens the database."
            : "The backup was checked; it is restored when Layerline next starts.",
        };
      },
      { parse: "none" },
    )
    .get("/:name", async ({ params }) => {
      const path = await backupAction(() => backups.path(params.name));
      return new Response(Bun.file(path), {
        headers: { "content-type": "application/gzip", "content-disposition": `attachment; filename="${params.name}"`, "cache-control": "no-store" },
      });
    })
    .delete("/:name", async ({ params, set }) => {
      await backupAction(() => backups.delete(params.name));
      set.status = 204;
    });
}
