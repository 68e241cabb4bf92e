/**
 * Native API: the files folder.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import type { AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";

const UploadSchema = v.object({
  file: v.instance(File, 'send the file as multipart field "file"'),
  path: v.optional(v.string()),
});

/** Joins an optional folder and a file name into the stored path. */
function uploadPath(folder: string | undefined, name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  return folder && folder.trim() ? `${folder.replace(/\/+$/, "")}/${base}` : base;
}

export function filesApi(ctx: AppContext) {
  return new Elysia({ prefix: "/api/v1/files" })
    .get("/", () => ({ files: ctx.files.list() }))
    .post(
      "/",
      async ({ body, set }) => {
        const stored = await ctx.files.save(uploadPath(body.path, body.file.name), body.file);
        ctx.bus.emit("files.changed", undefined);
        set.status = 201;
        return stored;
      },
      { body: UploadSchema, type: "multipart/form-data" },
    )
    .get("/*", ({ params }) => {
      const file = ctx.files.get(params["*"]);
      if (!file) throw new ApiError(404, "file_not_found", `There is no file "${params["*"]}".`, "GET /api/v1/files lists them.");
      return file;
    })
    .delete("/*", ({ params, set }) => {
      ctx.files.remove(decodeURIComponent(params["*"]));
      ctx.bus.emit("files.changed", undefined);
      set.status = 204;
    });
}
