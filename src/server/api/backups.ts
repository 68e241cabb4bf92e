/**
 * Native API for backups (admin only: a backup holds password hashes and API keys): make one,
 * list, download and delete those stored in `<data-dir>/backups/`, and restore from an uploaded
 * one (checked whole before anything changes, then applied by restarting the host).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { BackupError } from "../../backup/problem.ts";
import { open } from "node:fs/promises";
import { boundaryOf, chunksOf, MultipartError, readMultipart } from "../../files/multipart.ts";
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

const UPLOAD_HINT = 'Send the .tar.gz as the body (curl --data-binary @backup.tar.gz -H "content-type: application/gzip") or as the form field "file" (curl -F file=@backup.tar.gz).';

/**
 * Streams the uploaded backup into `file`: the raw body, or a multipart form's "file" — never
 * the whole upload in memory (a backup may be gigabytes).
 */
export async function receiveBackup(request: Request, file: string): Promise<void> {
  if (!request.body) throw new ApiError(400, "invalid_request", "No backup was sent.", UPLOAD_HINT);
  const out = await open(file, "w", 0o600);
  let bytes = 0;
  const sink = { write: async (chunk: Uint8Array) => void ((bytes += chunk.length), await out.write(chunk)) };
  try {
    const boundary = boundaryOf(request.headers.get("content-type"));
    if (boundary) {
      let found = false;
      try {
        await readMultipart(chunksOf(request.body), boundary, {
          part: (h) => (h.name === "file" && h.filename !== null && !found ? ((found = true), sink) : null),
        });
      } catch (e) {
        if (e instanceof MultipartError) throw new ApiError(400, "invalid_body", `The upload could not be read as a form: ${e.message}.`, UPLOAD_HINT);
        throw e;
      }
      if (!found) throw new ApiError(400, "invalid_request", 'The form has no file "file".', UPLOAD_HINT);
    } else {
      for await (const chunk of chunksOf(request.body)) await sink.write(chunk);
    }
  } finally {
    await out.close();
  }
  if (bytes === 0) throw new ApiError(400, "invalid_request", "No backup was sent (the upload is empty).", UPLOAD_HINT);
}

/**
 * A backup of a large files folder takes longer than the server's idle timeout (10 s) with no
 * byte to send meanwhile: this request may stay quiet until it is done.
 */
export function noIdleTimeout(server: { timeout(request: Request, seconds: number): void } | null, request: Request): void {
  server?.timeout(request, 0);
}

export function backupsApi(ctx: AppContext) {
  const backups: BackupService = ctx.backups;
  return new Elysia({ prefix: "/api/v1/backups" })
    .get("/", () => ({ ...backups.status(), backups: backups.list() }))
    .post(
      "/",
      async ({ request, set, server }) => {
        noIdleTimeout(server, request);
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
      async ({ request, set, server }) => {
        noIdleTimeout(server, request);
        const result = await backupAction(() => backups.restore((file) => receiveBackup(request, file)));
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
