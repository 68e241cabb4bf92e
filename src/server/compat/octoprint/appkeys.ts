/**
 * OctoPrint's app-keys flow (its bundled "appkeys" plugin): an app probes, requests a key, and
 * polls while a logged-in user decides in the browser (`/plugin/appkeys/auth/<app_token>`, a
 * page in `ui/accounts.ts`). A granted key is an ordinary API key of that user, with the scope
 * and printer the user picked.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { mayDecide } from "../../../accounts/app-keys.ts";
import { appKeyDonePage } from "../../../../views/app-key.ts";
import type { Html } from "../../../../views/html.ts";
import { principalOf } from "../../auth/principal.ts";
import type { AppContext } from "../../context.ts";
import { ApiError } from "../../errors.ts";
import { createKeyFor, revokeKeysFor } from "../../api/accounts.ts";
import { pageSession } from "../../ui/page-session.ts";
import { firstIssue } from "./commands.ts";
import { PRINTER_PREFIX } from "./permissions.ts";
import { publicBase } from "../../path-prefix.ts";

const RequestSchema = v.object({
  app: v.pipe(v.string("app must be text"), v.trim(), v.minLength(1, "name the app"), v.maxLength(100)),
  user: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(64)))),
});
const DecisionSchema = v.object({
  decision: v.union([v.boolean(), v.picklist(["allow", "deny", "true", "false"])], "decision is true/false (or allow/deny)"),
  scope: v.optional(v.string(), "full"),
  printer: v.optional(v.string(), ""),
});
const CommandSchema = v.variant("command", [
  v.object({ command: v.literal("generate"), app: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(100)) }),
  v.object({ command: v.literal("revoke"), app: v.optional(v.string()), key: v.optional(v.string()) }),
]);

const htmlPage = (html: Html, status = 200) => new Response(html.value, { status, headers: { "content-type": "text/html; charset=utf-8" } });
const fail = (status: number, message: string) => new ApiError(status, "appkeys", message);
const parse = <S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> => {
  const r = v.safeParse(schema, body ?? {});
  if (!r.success) throw fail(400, firstIssue(r.issues));
  return r.output;
};

export function appKeysApi(ctx: AppContext) {
  const routes = (prefix: string) =>
    new Elysia({ prefix })
      .get("/plugin/appkeys/probe", () => new Response(null, { status: 204, headers: { "content-type": "text/plain" } }))
      .post("/plugin/appkeys/request", ({ body, request, set }) => {
        const r = parse(RequestSchema, body);
        const pending = ctx.accounts.appKeys.request(r.app, r.user ?? null, Date.now());
        const origin = publicBase(request);
        const base = `${origin}${new URL(request.url).pathname.replace(/\/plugin\/appkeys\/request$/, "")}`;
        ctx.bus.emit("plugin.message", { plugin: "appkeys", data: { type: "request_access", app_name: r.app, user_token: pending.userToken, user: r.user ?? null } });
        set.status = 201;
        set.headers.location = `${base}/plugin/appkeys/request/${pending.appToken}`;
        // The decision is about the account, not a printer: the page lives at the root.
        return { app_token: pending.appToken, auth_dialog: `${origin}/plugin/appkeys/auth/${pending.appToken}${r.user ? `?user=${encodeURIComponent(r.user)}` : ""}` };
      })
      .get("/plugin/appkeys/request/:app_token", ({ params, set }) => {
        const r = ctx.accounts.appKeys.poll(params.app_token, Date.now());
        if (r.status === "gone") throw fail(404, "No pending request for this token: it was denied, expired or already answered");
        if (r.status === "pending") {
          set.status = 202;
          return { message: "Awaiting decision" };
        }
        return { api_key: r.key };
      })
      .post("/plugin/appkeys/decision/:user_token", ({ body, params, request }) => {
        const principal = principalOf(request);
        const d = parse(DecisionSchema, body);
        const now = Date.now();
        const pending = ctx.accounts.appKeys.byUserToken(params.user_token, now);
        if (!pending) throw fail(404, "No pending request for this token");
        const session = pageSession(request);
        const name = principal.user!.name;
        if (!mayDecide(pending, name)) {
          const message = `“${pending.app}” asked for a key for the account “${pending.user}”; only ${pending.user} can decide on it.`;
          if (session && !(request.headers.get("content-type") ?? "").includes("json")) return htmlPage(appKeyDonePage(session, message), 403);
          throw new ApiError(403, "appkeys_other_user", message, `Log in as ${pending.user} to allow or deny it.`);
        }
        const grant = d.decision === true || d.decision === "allow" || d.decision === "true";
        if (grant) {
          const { key } = createKeyFor(ctx, principal, { name: pending.app, scope: d.scope, printer: d.printer || null, app: pending.app });
          ctx.accounts.appKeys.decide(params.user_token, name, { grant: true, key }, now);
        } else {
          ctx.accounts.appKeys.decide(params.user_token, name, { grant: false }, now);
        }
        if (session && !(request.headers.get("content-type") ?? "").includes("json")) {
          return htmlPage(appKeyDonePage(session, grant ? `“${pending.app}” may now use your account.` : `“${pending.app}” was denied.`));
        }
        return new Response(null, { status: 204 });
      })
      .get("/api/plugin/appkeys", ({ request }) => {
        const user = principalOf(request).user!;
        const keys = ctx.accounts.keys.list(user.id).filter((k) => k.app);
        // As OctoPrint: the requests this user may decide on, by user token.
        const pending = ctx.accounts.appKeys.pendingFor(user.name, Date.now()).map((r) => [r.userToken, { app_id: r.app, user_id: r.user, user_token: r.userToken }]);
        return { keys: keys.map((k) => ({ api_key: `…${k.hint}`, app_id: k.app, user_id: user.name })), pending: Object.fromEntries(pending) };
      })
      .post("/api/plugin/appkeys", ({ body, request }) => {
        const principal = principalOf(request);
        const c = parse(CommandSchema, body);
        if (c.command === "generate") {
          const { key } = createKeyFor(ctx, principal, { name: c.app, scope: "full", app: c.app });
          return { user_id: principal.user!.name, app_id: c.app, api_key: key };
        }
        const mine = ctx.accounts.keys.list(principal.user!.id).filter((k) => (c.app ? k.app === c.app : false) || (c.key ? c.key.endsWith(k.hint) && k.app : false));
        if (mine.length === 0) throw fail(404, "No such app key");
        revokeKeysFor(ctx, principal, mine);
        return new Response(null, { status: 204 });
      });
  return new Elysia({ name: "octoprint-appkeys" }).use(routes("")).use(routes(PRINTER_PREFIX));
}
