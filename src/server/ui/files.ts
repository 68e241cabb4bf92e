/**
 * The files page for htmx: the page, its fragments (table, folder tree, detail pane), the actions
 * (upload, new folder, print on a printer, rename, move, copy, delete, analyse again) and its
 * push channel. Actions answer with the fragment to swap in, or a toast saying what went wrong.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { fileDetail, fileTable, filesPage, folderTree } from "../../../views/files.ts";
import { toast } from "../../../views/dashboard.ts";
import { FileCatalog, SORT_KEYS, type ListQuery, type SortKey } from "../../files/catalog.ts";
import { FileError } from "../../files/storage.ts";
import { receiveUpload, uploadPath } from "../../files/upload.ts";
import { subscribe } from "../../events.ts";
import { accessFor } from "../auth/access.ts";
import { visibleTo } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { throttle } from "../throttle.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse } from "./routes.ts";
import { pageStream } from "./viewer-watch.ts";

/** A toast in place of the requested swap (htmx only swaps 2xx answers, so this is a 200). */
const toastResponse = (kind: "error" | "info", message: string, hint = "") => htmlResponse(toast(kind, message, hint), { "HX-Retarget": "#toasts", "HX-Reswap": "beforeend" });

const PathForm = v.object({ path: v.pipe(v.string(), v.minLength(1)) });
const RenameForm = v.object({ path: v.pipe(v.string(), v.minLength(1)), name: v.pipe(v.string(), v.trim(), v.minLength(1)) });
const MoveForm = v.object({ path: v.pipe(v.string(), v.minLength(1)), destination: v.optional(v.string(), ""), mode: v.optional(v.picklist(["move", "copy"]), "move") });
const FolderForm = v.object({ folder: v.pipe(v.string(), v.trim(), v.minLength(1)) });
const PrintForm = v.object({ path: v.pipe(v.string(), v.minLength(1)), printer: v.pipe(v.string(), v.minLength(1)) });

/** Pushes at most this often while analyses progress. */
const PROGRESS_PUSH_MS = 500;

/** The page's query: no `folder` means all files, `folder=/` the top level. */
function listQuery(query: Record<string, string | undefined>): ListQuery {
  const folder = query.folder?.trim();
  return {
    q: query.q || undefined,
    sort: SORT_KEYS.includes(query.sort as SortKey) ? (query.sort as SortKey) : undefined,
    order: query.order === "asc" || query.order === "desc" ? query.order : undefined,
    folder: !folder ? undefined : folder.replace(/^\/+|\/+$/g, ""),
  };
}

export function uiFiles(ctx: AppContext) {
  const catalog = new FileCatalog(ctx.files, ctx.analyses, ctx.analysis);
  // A key restricted to one printer is offered (and may print on) that one only.
  const printers = (request: Request) => ctx.printers.list().filter((s) => visibleTo(request, s.id)).map((s) => ({ record: s.record, status: s.status }));
  const changed = () => ctx.bus.emit("files.changed", undefined);
  const detail = (request: Request, path: string) => {
    const entry = catalog.get(path);
    if (!entry) return htmlResponse(toast("info", `"${path}" is gone.`));
    return htmlResponse(fileDetail(entry, catalog.analysis(path), printers(request), accessFor(request)));
  };
  /** Runs a file action; FileErrors become toasts. */
  const attempt = async (action: () => Response | Promise<Response>) => {
    try {
      return await action();
    } catch (e) {
      if (e instanceof FileError) return toastResponse("error", e.message, e.hint);
      throw e;
    }
  };
  const parse = <S extends v.GenericSchema>(schema: S, body: unknown) => v.safeParse(schema, body ?? {});

  return new Elysia()
    .get("/files", ({ query, request }) => {
      const q = listQuery(query);
      return htmlResponse(filesPage(catalog.list(q), catalog.folders(), q, ctx.files.space(), ctx.analysis.settings().onlyWhenIdle, accessFor(request), pageSession(request)));
    })
    .get("/ui/files/list", ({ query }) => htmlResponse(fileTable(catalog.list(listQuery(query)))))
    .get("/ui/files/folders", ({ query }) => htmlResponse(folderTree(catalog.folders(), listQuery(query).folder)))
    .get("/ui/files/detail", ({ query, request }) => (typeof query.path === "string" ? detail(request, query.path) : toastResponse("error", "Choose a file.")))
    .post(
      "/ui/files/upload",
      ({ request }) =>
        attempt(async () => {
          const { file, fields } = await receiveUpload(request, ctx.files);
          if (!file) return toastResponse("error", "Choose a G-code file to upload.");
          changed();
          return htmlResponse(fileTable(catalog.list(listQuery(fields))));
        }),
      { parse: "none" },
    )
    .post("/ui/files/folder", ({ body }) =>
      attempt(() => {
        const form = parse(FolderForm, body);
        if (!form.success) return toastResponse("error", "Name the folder, e.g. parts/brackets.");
        const made = ctx.files.mkdir(form.output.folder);
        changed();
        return toastResponse("info", `Folder "${made.path}" created.`);
      }),
    )
    .post("/ui/files/print", async ({ body, request }) => {
      const form = parse(PrintForm, body);
      if (!form.success) return toastResponse("error", "Choose a printer.");
      const session = ctx.printers.get(form.output.printer);
      if (!session || !visibleTo(request, session.id)) return toastResponse("error", `There is no printer "${form.output.printer}".`);
      const file = ctx.files.get(form.output.path);
      if (!file) return toastResponse("error", `There is no file "${form.output.path}".`);
      const result = await session.startJob(file.path);
      if (!result.ok) return toastResponse("error", result.error.message, result.error.hint);
      return toastResponse("info", `Printing ${file.name} on ${session.record.name}.`);
    })
    .post("/ui/files/rename", ({ body, request }) =>
      attempt(() => {
        const form = parse(RenameForm, body);
        if (!form.success) return toastResponse("error", "Enter the new name.");
        if (/[\\/]/.test(form.output.name)) return toastResponse("error", "A name may not contain / or \\.", "Use Move to put it into another folder.");
        const folder = form.output.path.includes("/") ? form.output.path.slice(0, form.output.path.lastIndexOf("/")) : "";
        const moved = ctx.files.move(form.output.path, uploadPath(folder, form.output.name));
        changed();
        return detail(request, moved);
      }),
    )
    .post("/ui/files/move", ({ body, request }) =>
      attempt(() => {
        const form = parse(MoveForm, body);
        if (!form.success) return toastResponse("error", "Enter the folder to move to.");
        const name = form.output.path.slice(form.output.path.lastIndexOf("/") + 1);
        const target = uploadPath(form.output.destination, name);
        const done = form.output.mode === "copy" ? ctx.files.copy(form.output.path, target) : ctx.files.move(form.output.path, target);
        changed();
        return detail(request, done);
      }),
    )
    .post("/ui/files/remove", ({ body }) =>
      attempt(() => {
        const form = parse(PathForm, body);
        if (!form.success) return toastResponse("error", "Choose a file to delete.");
        ctx.files.remove(form.output.path);
        changed();
        return htmlResponse(toast("info", `Deleted ${form.output.path}.`));
      }),
    )
    .post("/ui/files/settings", ({ body }) => {
      const onlyWhenIdle = (body as Record<string, unknown> | null)?.onlyWhenIdle === "true";
      ctx.analysis.updateSettings({ onlyWhenIdle });
      return toastResponse("info", onlyWhenIdle ? "Files are analysed only while no printer is printing." : "Files are analysed as soon as they arrive.");
    })
    .post("/ui/files/analyse", ({ body, request }) => {
      const form = parse(PathForm, body);
      if (!form.success) return toastResponse("error", "Choose a file.");
      ctx.analysis.reanalyse(form.output.path);
      return detail(request, form.output.path);
    })
    .get("/ui/files/events", ({ request }) =>
      pageStream(ctx, request, (send) => {
        // The page reloads its table and tree on "files"; progress is throttled.
        const refresh = () => send("files", String(Date.now()));
        const throttled = throttle(refresh, PROGRESS_PUSH_MS);
        const unsubscribe = subscribe(ctx.bus, { "files.changed": throttled, "analysis.progress": throttled, "analysis.finished": refresh });
        return () => {
          throttled.cancel();
          unsubscribe();
        };
      }),
    );
}
