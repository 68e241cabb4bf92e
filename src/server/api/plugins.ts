/**
 * Native API for plugins: list them with their state and why, enable / disable / reload /
 * uninstall, settings, install (archive upload, URL, repository), update, the repository
 * browser's search, notices — and every plugin's own routes under `/api/v1/plugins/<id>/…`.
 */
import { Elysia } from "elysia";
import { toast } from "../../../views/dashboard.ts";
import * as v from "valibot";
import { PLUGIN_API_VERSION } from "../../plugins/api.ts";
import { InstallError, MAX_ARCHIVE_BYTES, type InstallResult } from "../../plugins/install.ts";
import { catalogItemJson, catalogQueryFrom } from "../../plugins/repository/catalog.ts";
import { RepositorySettingsSchema } from "../../plugins/repository/source.ts";
import { PluginApiError } from "../../plugins/sdk.ts";
import type { PluginService } from "../../plugins/service.ts";
import type { AppContext } from "../context.ts";
import { ApiError, parseBody } from "../errors.ts";

const InstallJsonSchema = v.union(
  [
    v.object({ url: v.pipe(v.string(), v.minLength(1)), sha256: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{64}$/, "sha256 must be 64 hex digits"))) }),
    v.object({ id: v.pipe(v.string(), v.minLength(1)) }),
  ],
  'send {"url": "https://…/plugin.tgz"} or {"id": "<plugin id in the repository>"}, or upload an archive as the form field "file"',
);
const SettingsChangeSchema = v.record(v.string(), v.unknown());


/** Runs a plugin action; the plugin area's errors become API errors with fitting statuses. */
export async function pluginAction<T>(action: () => T | Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    if (e instanceof InstallError) throw new ApiError(e.status, e.code, e.message, e.hint);
    if (e instanceof PluginApiError) throw new ApiError(e.code === "plugin_not_found" ? 404 : 409, e.code, e.message, e.hint);
    throw e;
  }
}

/** An archive upload (form field "file") or a JSON install request, as the service's call. */
export async function installFrom(plugins: PluginService, request: Request): Promise<InstallResult> {
  const type = request.headers.get("content-type") ?? "";
  if (type.includes("multipart/form-data")) {
    const length = Number(request.headers.get("content-length"));
    if (Number.isFinite(length) && length > MAX_ARCHIVE_BYTES + 64 * 1024) {
      throw new ApiError(413, "too_large", `The upload is ${length} bytes; a plugin archive may be at most ${MAX_ARCHIVE_BYTES}.`);
    }
    let file: FormDataEntryValue | null;
    try {
      file = (await request.formData()).get("file");
    } catch {
      throw new ApiError(400, "invalid_body", "The upload could not be read as a form.", 'Send the archive as the form field "file" (curl -F file=@plugin.tgz).');
    }
    if (!(file instanceof Blob)) throw new ApiError(400, "invalid_request", 'The form has no file "file".', 'Send the archive as the form field "file" (curl -F file=@plugin.tgz).');
    const bytes = new Uint8Array(await file.arrayBuffer());
    return pluginAction(() => plugins.installer.installArchive(bytes, "upload"));
  }
  let json: unknown;
  try {
    json = await request.json();
  } catch {
    throw new ApiError(400, "invalid_body", "The request body could not be parsed (is it valid JSON?).", "Send JSON with Content-Type: application/json, or a multipart upload.");
  }
  const body = parseBody(InstallJsonSchema, json);
  return pluginAction(() => ("url" in body ? plugins.installer.installFromUrl(body.url, body.sha256) : plugins.installFromRepository(body.id)));
}

export function pluginsApi(ctx: AppContext) {
  const plugins = ctx.plugins;
  const manager = plugins.manager;
  const one = (id: string) => {
    const view = manager.get(id);
    if (!view) throw new ApiError(404, "plugin_not_found", `There is no plugin "${id}".`, "GET /api/v1/plugins lists them.");
    return view;
  };
  const detail = (id: string) => {
    const view = one(id);
    return {
      ...view,
      settings: view.state === "enabled" ? manager.settingsOf(id) : null,
      notices: plugins.repository.noticesFor(id, view.version),
      log: manager.logOf(id),
    };
  };

  return new Elysia({ prefix: "/api/v1/plugins" })
    .get("/", () => ({
      apiVersion: PLUGIN_API_VERSION,
      safeMode: { on: manager.safeMode.safe, reason: manager.safeMode.reason },
      plugins: manager.list(),
    }))
    .post(
      "/install",
      async ({ request, set }) => {
        const result = await installFrom(plugins, request);
        set.status = result.action === "installed" ? 201 : 200;
        return result;
      },
      { parse: "none" },
    )
    .get("/repository", ({ query }) => {
      const result = plugins.catalog().search(catalogQueryFrom(query as Record<string, string | undefined>));
      return { repository: plugins.repository.status(), total: result.total, results: result.results.map(catalogItemJson) };
    })
    .post("/repository/refresh", async () => {
      await plugins.repository.refresh();
      return plugins.repository.status();
    })
    .put("/repository/settings", async ({ body }) => {
      // Answers with the index fetched and verified under the new settings, not the old copy's verdict.
      await plugins.repository.changeSettings(parseBody(RepositorySettingsSchema, body));
      return plugins.repository.status();
    })
    .get("/notices", () => ({ notices: manager.activeNotices() }))
    .delete("/notices/:n", ({ params, set }) => {
      if (!manager.dismissNotice(Number(params.n))) throw new ApiError(404, "notice_not_found", `There is no notice ${params.n}.`, "GET /api/v1/plugins/notices lists them.");
      set.status = 204;
    })
    .get("/:id", ({ params }) => detail(params.id))
    .delete("/:id", async ({ params, set }) => {
      one(params.id);
      await pluginAction(() => manager.uninstall(params.id));
      set.status = 204;
    })
    .post("/:id/enable", ({ params }) => pluginAction(() => manager.enable(one(params.id).id)))
    .post("/:id/disable", ({ params }) => pluginAction(() => manager.disable(one(params.id).id)))
    .post("/:id/reload", ({ params }) => pluginAction(() => manager.reload(one(params.id).id)))
    .post("/:id/update", ({ params }) => pluginAction(() => plugins.update(one(params.id).id)))
    .get("/:id/settings", ({ params }) => {
      const view = one(params.id);
      if (view.state !== "enabled") throw new ApiError(409, "plugin_not_enabled", `${view.id} is ${view.state}; its settings can be read and changed while it is enabled.`, "Enable it first.");
      return manager.settingsOf(view.id);
    })
    .put("/:id/settings", ({ params, body }) => {
      const view = one(params.id);
      const result = manager.setSettings(view.id, parseBody(SettingsChangeSchema, body));
      if (!result.ok) {
        const [field, message] = Object.entries(result.errors)[0]!;
        throw new ApiError(400, "invalid_settings", field ? `${field}: ${message}` : message, `GET /api/v1/plugins/${view.id}/settings lists the fields.`);
      }
      return manager.settingsOf(view.id);
    })
    .get("/:id/log", ({ params }) => ({ log: manager.logOf(one(params.id).id) }))
    .all("/:id/*", async ({ params, request }) => {
      const response = await manager.dispatch(params.id, `/${params["*"]}`, request);
      // A plugin's htmx fragment that fails shows the reason as a toast (htmx swaps only 2xx).
      if (response.status < 400 || request.headers.get("hx-request") !== "true") return response;
      const { error } = (await response.json()) as { error: { message: string; hint: string } };
      return new Response(toast("error", error.message, error.hint).value, {
        headers: { "content-type": "text/html; charset=utf-8", "HX-Retarget": "#toasts", "HX-Reswap": "beforeend" },
      });
    }, { parse: "none" });
}
