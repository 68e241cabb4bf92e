/**
 * The plugin pages and their htmx actions (views/plugins.ts), the plugins' UI slot fragments
 * (dashboard card, navbar item, file actions, settings section) and the notices bar. Actions
 * answer with the fragment to swap in, or a toast that explains what went wrong.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { toast } from "../../../views/dashboard.ts";
import { html } from "../../../views/html.ts";
import { managerPage, noticesBar, pluginList, pluginPage, pluginRow, REPOSITORY_PAGE, repositoryItem, repositoryPage, repositoryResults, settingsForm, type ManagerPageData } from "../../../views/plugins.ts";
import { PLUGIN_API_VERSION, SLOTS, type SlotName } from "../../plugins/api.ts";
import { printerInfo } from "../../plugins/host-api.ts";
import { catalogQueryFrom } from "../../plugins/repository/catalog.ts";
import { RepositorySettingsSchema } from "../../plugins/repository/source.ts";
import type { SlotProps, SlotViewer } from "../../plugins/sdk.ts";
import { coerceForm } from "../../plugins/settings.ts";
import { accessFor, type Access } from "../auth/access.ts";
import type { AppContext } from "../context.ts";
import { ApiError, notFoundResponse } from "../errors.ts";
import { installFrom, pluginAction } from "../api/plugins.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse } from "./routes.ts";

/** The repository settings form: one text field each (a field sent twice is refused). */
const RepositoryForm = v.object({ url: v.optional(v.string("give one URL")), refreshHours: v.optional(v.string("give one number of hours")), publicKey: v.optional(v.string("give one public key")) });

const toastResponse = (kind: "error" | "info", message: string, hint = "", headers: Record<string, string> = {}) =>
  htmlResponse(toast(kind, message, hint), { "HX-Retarget": "#toasts", "HX-Reswap": "beforeend", ...headers });

/** URL parameters, repeated ones joined with commas (checkbox groups). */
function params(request: Request): Record<string, string> {
  const url = new URL(request.url);
  const out: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) out[key] = url.searchParams.getAll(key).join(",");
  return out;
}

export function uiPlugins(ctx: AppContext) {
  const plugins = ctx.plugins;
  const manager = plugins.manager;
  const notices = (request: Request) => noticesBar(manager.activeNotices(), accessFor(request).may("POST /ui/plugins/notices/:n/dismiss"));

  const managerData = (): ManagerPageData => {
    const catalog = plugins.catalog();
    const list = manager.list();
    const updates = new Map<string, string>();
    const notices = new Map<string, ReturnType<typeof plugins.repository.noticesFor>>();
    for (const p of list) {
      const item = catalog.get(p.id);
      if (item?.updateAvailable && item.entry.version && p.origin === "installed") updates.set(p.id, item.entry.version);
      const n = plugins.repository.noticesFor(p.id, p.version);
      if (n.length) notices.set(p.id, n);
    }
    return { plugins: list, apiVersion: PLUGIN_API_VERSION, safeMode: { on: manager.safeMode.safe, reason: manager.safeMode.reason }, updates, notices };
  };
  const row = (request: Request, id: string) => {
    const d = managerData();
    const p = d.plugins.find((x) => x.id === id);
    return p ? htmlResponse(pluginRow(p, d.updates.get(p.id) ?? null, d.notices.get(p.id) ?? [], accessFor(request))) : htmlResponse(html``);
  };
  /** Runs an action; an error becomes a toast. */
  const act = async (fn: () => Promise<Response>) => {
    try {
      return await pluginAction(fn);
    } catch (e) {
      if (e instanceof ApiError) return toastResponse("error", e.message, e.hint);
      throw e;
    }
  };
  const changed = { "HX-Trigger": "plugins-changed" };

  return new Elysia()
    .get("/plugins", ({ request }) => htmlResponse(managerPage(managerData(), accessFor(request), pageSession(request))))
    .get("/plugins/repository", ({ request }) => {
      const query = catalogQueryFrom(params(request));
      return htmlResponse(repositoryPage(plugins.repository.status(), query, plugins.catalog().search({ ...query, offset: 0, limit: query.limit ?? REPOSITORY_PAGE }), new Set(ctx.tracking.stars()), accessFor(request), pageSession(request)));
    })
    .get("/plugins/:id", async ({ params: { id }, request }) => {
      const p = manager.get(id);
      if (!p) return notFoundResponse(`There is no plugin "${id}".`, pageSession(request));
      const access = accessFor(request);
      // The plugin's settings section belongs with its settings: only for a viewer who may change them.
      const section = p.state === "enabled" && access.may("POST /ui/plugins/:id/settings") ? await manager.renderSlot("settings.section", { viewer: slotViewer(access) }, id) : html``;
      return htmlResponse(pluginPage(p, p.state === "enabled" ? manager.settingsOf(id) : null, section, manager.logOf(id), access, pageSession(request)));
    })
    .get("/ui/plugins/list", ({ request }) => htmlResponse(pluginList(managerData(), accessFor(request))))
    .post("/ui/plugins/:id/enable", ({ params: { id }, request }) => act(async () => (await manager.enable(id), row(request, id))))
    .post("/ui/plugins/:id/disable", ({ params: { id }, request }) => act(async () => (await manager.disable(id), row(request, id))))
    .post("/ui/plugins/:id/reload", ({ params: { id }, request }) => act(async () => (await manager.reload(id), row(request, id))))
    .post("/ui/plugins/:id/uninstall", ({ params: { id } }) =>
      act(async () => {
        await manager.uninstall(id);
        return htmlResponse(toast("info", `${id} was uninstalled.`), { "HX-Retarget": "#toasts", "HX-Reswap": "beforeend", ...changed });
      }),
    )
    .post("/ui/plugins/:id/update", ({ params: { id }, body, request }) =>
      act(async () => {
        await plugins.update(id);
        if ((body as Record<string, unknown> | undefined)?.from === "repository") {
          const item = plugins.catalog().get(id);
          return htmlResponse(item ? repositoryItem(item, ctx.tracking.stars().includes(item.entry.id), accessFor(request)) : html``, changed);
        }
        return row(request, id);
      }),
    )
    .post(
      "/ui/plugins/install",
      ({ request }) =>
        act(async () => {
          const type = request.headers.get("content-type") ?? "";
          let result;
          if (type.includes("multipart/form-data")) result = await installFrom(plugins, request);
          else {
            const form = Object.fromEntries(new URLSearchParams(await request.text()));
            const body = form.id ? { id: form.id } : form.url ? { url: form.url, ...(form.sha256 ? { sha256: form.sha256 } : {}) } : {};
            result = await installFrom(plugins, new Request(request.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
          }
          const verb = result.action === "installed" ? "installed" : result.action === "updated" ? `updated from ${result.previousVersion}` : "reinstalled";
          const note = result.plugin.state === "enabled" ? "" : ` It is ${result.plugin.state}${result.plugin.reason ? `: ${result.plugin.reason}` : ""}.`;
          const item = plugins.catalog().get(result.plugin.id);
          // From the repository browser the item is swapped in place; elsewhere a toast says it.
          if (request.headers.get("hx-target")?.startsWith("repo-") && item) return htmlResponse(repositoryItem(item, ctx.tracking.stars().includes(item.entry.id), accessFor(request)), changed);
          return toastResponse("info", `${result.plugin.name} ${result.plugin.version} was ${verb}.${note}`, "", changed);
        }),
      { parse: "none" },
    )
    .post("/ui/plugins/:id/settings", ({ params: { id }, body }) =>
      act(async () => {
        const current = manager.settingsOf(id);
        const change = coerceForm(current.fields, (body ?? {}) as Record<string, unknown>);
        const result = manager.setSettings(id, change);
        if (!result.ok) return htmlResponse(settingsForm(id, current.fields, { ...current.values, ...change }, result.errors, false));
        const after = manager.settingsOf(id);
        return htmlResponse(settingsForm(id, after.fields, after.values, {}, true));
      }),
    )
    .get("/ui/plugins/repository/results", ({ request }) => {
      const query = catalogQueryFrom(params(request));
      return htmlResponse(repositoryResults(plugins.catalog().search({ ...query, limit: query.limit ?? REPOSITORY_PAGE }), new Set(ctx.tracking.stars()), accessFor(request), query.offset ?? 0));
    })
    .post("/ui/plugins/repository/refresh", async () => {
      await plugins.repository.refresh();
      return new Response(null, { status: 200, headers: { "HX-Refresh": "true" } });
    })
    .post("/ui/plugins/repository/settings", async ({ body }) => {
      const form = v.safeParse(RepositoryForm, body ?? {});
      if (!form.success) return toastResponse("error", `Not saved: ${v.getDotPath(form.issues[0]) ?? ""} ${form.issues[0].message}`.trim());
      const { url, refreshHours, publicKey } = form.output;
      const parsed = v.safeParse(RepositorySettingsSchema, {
        url: url?.trim() ? url.trim() : null,
        publicKey: publicKey === undefined ? undefined : publicKey.trim() ? publicKey : null,
        refreshHours: refreshHours !== undefined && refreshHours !== "" ? Number(refreshHours) : undefined,
      });
      if (!parsed.success) return toastResponse("error", `Not saved: ${v.getDotPath(parsed.issues[0]) ?? ""} ${parsed.issues[0].message}`.trim());
      // The answer is the index fetched and verified under the new settings, not the old copy's verdict.
      await plugins.repository.changeSettings(parsed.output);
      const status = plugins.repository.status();
      if (status.error) return toastResponse("error", `Saved, but: ${status.error}`, "", { "HX-Refresh": "true" });
      const signed = status.verified ? `, signature verified with key ${status.keyId}` : status.url ? ", unsigned" : "";
      return toastResponse("info", status.url ? `Saved; ${status.entries} plugins in the index${signed}.` : "Saved.", "", { "HX-Refresh": "true" });
    })
    .get("/ui/plugins/slot/:name", async ({ params: { name }, request }) => {
      if (!(SLOTS as readonly string[]).includes(name)) return htmlResponse(html``);
      const q = params(request);
      const printer = (q.printer && ctx.printers.get(q.printer)) || ctx.printers.default();
      const info = printer ? printerInfo(printer) : null;
      const viewer = slotViewer(accessFor(request));
      let props: SlotProps[SlotName];
      switch (name as SlotName) {
        case "dashboard.card":
          if (!info) return htmlResponse(html``);
          props = { printer: info, viewer };
          break;
        case "file.actions":
          if (!q.path) return htmlResponse(html``);
          props = { path: q.path, printer: info, viewer };
          break;
        default:
          props = { viewer };
      }
      return htmlResponse(await manager.renderSlot(name as SlotName, props as never));
    })
    .get("/ui/plugins/notices", ({ request }) => htmlResponse(notices(request)))
    .post("/ui/plugins/notices/:n/dismiss", ({ request, params: { n } }) => {
      manager.dismissNotice(Number(n));
      return htmlResponse(notices(request));
    });
}

/** What a plugin's fragment may offer its viewer: the guard's answer for the plugin routes (route-permissions.ts). */
function slotViewer(access: Access): SlotViewer {
  return { may: (method) => access.may(`${method} /api/v1/plugins/:id/*`) };
}
