/**
 * Native API: the files folder and the analyses.
 *
 *   GET    /api/v1/files[?q=&sort=name|date|size|time&order=asc|desc&folder=]   files, folders, free/total
 *   POST   /api/v1/files                 multipart upload (file, path = folder, filename, overwrite=false)
 *                                        or JSON {"folder": "a/b"} to create a folder
 *   PUT    /api/v1/files/<path>          upload the raw request body as <path> (curl -T)
 *   GET    /api/v1/files/<path>          a file's entry (analysis summary, thumbnails) or a folder's listing
 *   GET    /api/v1/files/<file>/content  download (Range, ETag)
 *   GET    /api/v1/files/<file>/analysis the full analysis (layers, objects, timeline, slicer metadata)
 *   GET    /api/v1/files/<file>/thumbnails/<W>x<H>.<png|jpg>
 *   POST   /api/v1/files/<path>          {"command": "move"|"copy", "destination"} | {"command": "rename", "name"} | {"command": "analyse"}
 *   DELETE /api/v1/files/<path>[?recursive=true]
 *   GET    /api/v1/analysis              the queue and its settings; PUT /api/v1/analysis/settings
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AnalysisSettingsSchema } from "../../analysis/queue.ts";
import { FileCatalog, SORT_KEYS, fileUrl, type FileEntry, type SortKey } from "../../files/catalog.ts";
import { pathPrefix } from "../path-prefix.ts";
import { receiveUpload, uploadPath } from "../../files/upload.ts";
import type { AppContext } from "../context.ts";
import { byteRange } from "../byte-range.ts";
import { ApiError } from "../errors.ts";
import { pathParam } from "../path-param.ts";
import { documentedBody } from "./openapi.ts";

const CommandSchema = v.variant("command", [
  v.object({ command: v.picklist(["move", "copy"]), destination: v.pipe(v.string(), v.minLength(1)), overwrite: v.optional(v.boolean()) }),
  v.object({ command: v.literal("rename"), name: v.pipe(v.string(), v.minLength(1)), overwrite: v.optional(v.boolean()) }),
  v.object({ command: v.literal("analyse") }),
]);
const FolderSchema = v.object({ folder: v.pipe(v.string(), v.minLength(1)) });
/** The upload form (field names as receiveUpload reads them). */
const UploadForm = v.object({
  file: v.instance(File),
  path: v.optional(v.string()),
  filename: v.optional(v.string()),
  overwrite: v.optional(v.picklist(["true", "false"])),
});
const SettingsPatchSchema = v.object({
  ...v.partial(AnalysisSettingsSchema).entries,
  // Machine limits were a host-wide analysis setting; they are each printer's now (one source).
  limits: v.optional(v.custom<never>(() => false, "machine limits are part of each printer's profile now: PATCH /api/v1/printers/<id>/profile {\"limits\": …}")),
});

async function jsonBody<S extends v.GenericSchema>(request: Request, schema: S): Promise<v.InferOutput<S>> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    throw new ApiError(400, "invalid_body", "The request body could not be parsed (is it valid JSON?).", "Send JSON with Content-Type: application/json.");
  }
  const parsed = v.safeParse(schema, body);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const at = v.getDotPath(issue);
    throw new ApiError(400, "invalid_request", at ? `${at}: ${issue.message}` : issue.message, "See GET /api/v1 and the README for the expected fields.");
  }
  return parsed.output;
}

const notFound = (path: string) => new ApiError(404, "file_not_found", `There is no file "${path}".`, "GET /api/v1/files lists them.");

/**
 * A Content-Disposition naming `name`: `filename*=` carries it exactly (RFC 6266), and a plain
 * `filename="…"` goes first for clients that read only that one (curl -J, older tools), with
 * what it cannot hold (non-ASCII, quotes, backslashes) as `_`.
 */
export function contentDisposition(disposition: "attachment" | "inline", name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `${disposition}; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** Serves a stored file with Range support (video players seek with it) and a validator. */
export function download(request: Request, abs: string, name: string, etag: string, contentType = "text/x.gcode", disposition: "attachment" | "inline" = "attachment"): Response {
  const file = Bun.file(abs);
  const size = file.size;
  const headers: Record<string, string> = {
    "content-type": contentType,
    "content-disposition": contentDisposition(disposition, name),
    "accept-ranges": "bytes",
    etag,
  };
  if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
  const range = request.headers.get("range");
  const ifRange = request.headers.get("if-range");
  if (range && (!ifRange || ifRange === etag)) {
    const r = byteRange(range, size);
    if (r.kind === "unsatisfiable") return new Response(null, { status: 416, headers: { ...headers, "content-range": `bytes */${size}` } });
    if (r.kind === "part") {
      return new Response(file.slice(r.start, r.end + 1), { status: 206, headers: { ...headers, "content-range": `bytes ${r.start}-${r.end}/${size}`, "content-length": String(r.end - r.start + 1) } });
    }
  }
  return new Response(file, { headers: { ...headers, "content-length": String(size) } });
}

export function filesApi(ctx: AppContext) {
  const catalog = new FileCatalog(ctx.files, ctx.analyses, ctx.analysis);
  const changed = () => ctx.bus.emit("files.changed", undefined);

  /** A file's sub-resource ("<file>/content", …) when the path has one and the prefix is a file. */
  const subResource = (path: string) => {
    const m = /^(.+?)\/(content|analysis|thumbnails\/(\d+)x(\d+)\.(png|jpg))$/.exec(path);
    if (!m || !ctx.files.get(m[1]!)) return undefined;
    return { file: m[1]!, kind: m[2]!.startsWith("thumbnails") ? ("thumbnail" as const) : (m[2] as "content" | "analysis"), width: Number(m[3]), height: Number(m[4]) };
  };

  /** A destination naming an existing folder (or ending in "/") means into it, keeping the name, as `mv` does. */
  const into = (path: string, destination: string) => {
    const folder = destination.replace(/\/+$/, "");
    if (!ctx.files.isFolder(folder)) {
      if (destination.endsWith("/")) throw new ApiError(404, "file_not_found", `There is no folder "${folder}".`, 'Create it first: POST /api/v1/files {"folder": …}.');
      return destination;
    }
    return `${folder}/${path.slice(path.lastIndexOf("/") + 1)}`;
  };

  /** Entries as the client sees them: behind a proxy at a sub-path, their thumbnails' URLs under it. */
  const entries = (request: Request) => {
    const prefix = pathPrefix(request);
    return (e: FileEntry): FileEntry => (prefix === "" ? e : { ...e, thumbnails: e.thumbnails.map((t) => ({ ...t, url: prefix + t.url })) });
  };

  return new Elysia()
    .get("/api/v1/files", ({ query, request }) => {
      const sort = SORT_KEYS.includes(query.sort as SortKey) ? (query.sort as SortKey) : undefined;
      const order = query.order === "asc" || query.order === "desc" ? query.order : undefined;
      const folder = typeof query.folder === "string" ? query.folder.replace(/^\/+|\/+$/g, "") : undefined;
      return { files: catalog.list({ q: query.q, sort, order, folder }).map(entries(request)), folders: catalog.folders(), ...ctx.files.space() };
    })
    .post(
      "/api/v1/files",
      async ({ request, set }) => {
        if (/^application\/json/i.test(request.headers.get("content-type") ?? "")) {
          const { folder } = await jsonBody(request, FolderSchema);
          const made = ctx.files.mkdir(folder);
          changed();
          set.status = 201;
          return made;
        }
        const { file } = await receiveUpload(request, ctx.files);
        if (!file) throw new ApiError(400, "invalid_request", 'The form has no file: send it as the field "file".', "curl -F file=@part.gcode -F path=folder …/api/v1/files");
        changed();
        set.status = 201;
        set.headers.location = fileUrl(file.path);
        return file;
      },
      // Streamed (files/upload.ts): the body is read here, so its schemas only document it.
      { parse: "none", detail: documentedBody({ "multipart/form-data": UploadForm, "application/json": FolderSchema }) },
    )
    .put(
      "/api/v1/files/*",
      async ({ request, params, query, set }) => {
        if (!request.body) throw new ApiError(400, "invalid_request", "The request has no body.", "curl -T part.gcode …/api/v1/files/folder/part.gcode");
        // `curl -F` with PUT would store the form's framing as G-code lines the printer would be sent.
        if (/^multipart\/form-data/i.test(request.headers.get("content-type") ?? "")) {
          throw new ApiError(400, "invalid_request", "PUT stores the request body as the file; this one is a multipart form.", "Send the raw file (curl -T part.gcode …), or POST the form to /api/v1/files.");
        }
        ctx.files.checkSpace(Number(request.headers.get("content-length") ?? NaN));
        const stored = await ctx.files.save(pathParam(params["*"]), request.body, query.overwrite !== "false");
        changed();
        set.status = 201;
        return stored;
      },
      { parse: "none", detail: documentedBody({ "application/octet-stream": "binary" }) },
    )
    .get("/api/v1/files/*", ({ params, request }) => {
      const path = pathParam(params["*"]);
      const entry = catalog.get(path);
      if (entry) return entries(request)(entry);
      if (ctx.files.isFolder(path)) {
        const folder = path.replace(/^\/+|\/+$/g, "");
        return { path: folder, type: "folder", files: catalog.list({ folder }).map(entries(request)), folders: catalog.folders().filter((f) => f.path.startsWith(folder + "/")) };
      }
      const sub = subResource(path);
      if (!sub) throw notFound(path);
      const file = ctx.files.get(sub.file)!;
      if (sub.kind === "content") return download(request, ctx.files.absolute(file.path), file.name, file.sha256 ? `"${file.sha256}"` : `W/"${file.size}-${Math.round(file.date)}"`);
      if (sub.kind === "analysis") {
        const result = catalog.analysis(file.path);
        if (!result) {
          const state = catalog.get(file.path)!.analysis;
          throw new ApiError(404, "no_analysis", state.state === "error" ? `The analysis failed: ${state.error.message}` : `"${file.path}" has not been analysed yet (${state.state}).`, state.state === "error" ? state.error.hint : "Wait for the analysis; GET /api/v1/analysis shows the queue.");
        }
        return result;
      }
      const image = file.sha256 ? ctx.analyses.thumbnail(file.sha256, sub.width, sub.height) : undefined;
      if (!image) throw new ApiError(404, "no_thumbnail", `"${file.path}" has no ${sub.width}x${sub.height} thumbnail.`, "The file's entry lists its thumbnails.");
      const etag = `"${file.sha256}-${sub.width}x${sub.height}"`;
      const versioned = new URL(request.url).searchParams.get("v") === file.sha256!.slice(0, 16);
      const headers = {
        "content-type": image.format === "png" ? "image/png" : "image/jpeg",
        etag,
        // A URL with the content's version never changes meaning; one without is revalidated.
        "cache-control": versioned ? "public, max-age=31536000, immutable" : "no-cache",
      };
      if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
      return new Response(image.data as Uint8Array<ArrayBuffer>, { headers });
    })
    .post(
      "/api/v1/files/*",
      ({ params, body: cmd }) => {
        const path = pathParam(params["*"]);
        if (cmd.command === "analyse") {
          if (!ctx.files.get(path)) throw notFound(path);
          ctx.analysis.reanalyse(path);
          return catalog.get(path);
        }
        let target: string;
        if (cmd.command === "rename") {
          if (/[\\/]/.test(cmd.name)) throw new ApiError(400, "invalid_path", "A new name may not contain / or \\.", 'Use {"command":"move"} to move into another folder.');
          target = ctx.files.move(path, uploadPath(path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "", cmd.name), cmd.overwrite ?? false);
        } else if (cmd.command === "move") target = ctx.files.move(path, into(path, cmd.destination), cmd.overwrite ?? false);
        else target = ctx.files.copy(path, into(path, cmd.destination), cmd.overwrite ?? false);
        changed();
        return catalog.get(target) ?? { path: target, type: "folder" };
      },
      { body: CommandSchema },
    )
    .delete("/api/v1/files/*", ({ params, query, set }) => {
      const path = pathParam(params["*"]);
      if (ctx.files.isFolder(path)) ctx.files.removeFolder(path, query.recursive === "true");
      else ctx.files.remove(path);
      changed();
      set.status = 204;
    })
    .get("/api/v1/analysis", () => ctx.analysis.overview())
    .put("/api/v1/analysis/settings", ({ body }) => ctx.analysis.updateSettings(body.onlyWhenIdle === undefined ? {} : { onlyWhenIdle: body.onlyWhenIdle }), { body: SettingsPatchSchema });
}
