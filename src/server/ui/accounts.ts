/**
 * Account pages of the htmx UI: login/logout, the first-run wizard, one's account (API keys,
 * password, sessions), users and groups (admins), and the app-key decision. Plain HTML forms that
 * work without scripts; every post carries the CSRF token the guard checks.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AccountError } from "../../accounts/accounts.ts";
import { GroupSchema, PermissionSchema, type Group } from "../../accounts/permissions.ts";
import { mayDecide } from "../../accounts/app-keys.ts";
import { REMEMBER_MS } from "../../accounts/sessions.ts";
import { newToken } from "../../accounts/tokens.ts";
import { accountPage } from "../../../views/api-keys.ts";
import { appKeyDonePage, appKeyPage } from "../../../views/app-key.ts";
import type { Html } from "../../../views/html.ts";
import { loginPage } from "../../../views/login.ts";
import { setupPage } from "../../../views/setup.ts";
import { usersPage } from "../../../views/users.ts";
import { ApiError } from "../errors.ts";
import { clearSessionCookie, formCsrfCookie, sessionCookie } from "../auth/cookies.ts";
import { principalOf } from "../auth/principal.ts";
import { clientAddress } from "../auth/reverse-proxy.ts";
import type { AppContext } from "../context.ts";
import { createKeyFor, requireFullLogin, revokeKeysFor } from "../api/accounts.ts";
import { BAUD_RATES, completeSetup, PrinterChoiceSchema, setupAllowed } from "../setup.ts";
import { trackingWizardFieldset } from "../../../views/tracking.ts";
import { pageSession } from "./page-session.ts";

const page = (body: Html, status = 200, headers: Record<string, string> = {}) =>
  new Response(body.value, { status, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...headers } });
const redirect = (location: string, headers: Record<string, string> = {}) => new Response(null, { status: 303, headers: { location, ...headers } });

/**
 * Only this host's paths may be redirected to after login, judged as a browser reads the
 * Location (it drops tabs and newlines and reads a backslash as /, so "/\t/evil.example" leads there).
 */
const safeNext = (next: unknown) => {
  if (typeof next !== "string" || !next.startsWith("/")) return "/";
  const here = "http://layerline.invalid";
  try {
    const url = new URL(next, here);
    return url.origin === here ? url.pathname + url.search + url.hash : "/";
  } catch {
    return "/";
  }
};
const field = (body: unknown, name: string): string => {
  const value = body && typeof body === "object" ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === "string" ? value : "";
};
/**
 * What the wizard's form said, but the passwords and the token: shown again after a mistake.
 * Never fails (a field that is missing or odd falls back), so a mistake is always shown in the form.
 */
const SetupEntrySchema = v.object({
  username: v.fallback(v.string(), ""),
  printerName: v.fallback(v.string(), ""),
  transport: v.fallback(v.picklist(["virtual", "serial"]), "virtual"),
  port: v.fallback(v.string(), ""),
  baud: v.fallback(v.pipe(v.string(), v.transform(Number), v.integer(), v.minValue(1)), 115200),
  tracking: v.fallback(v.picklist(["on", "off"]), "off"),
});
type SetupEntry = v.InferOutput<typeof SetupEntrySchema>;

const fields = (body: unknown, name: string): string[] => {
  const value = body && typeof body === "object" ? (body as Record<string, unknown>)[name] : undefined;
  return Array.isArray(value) ? value.filter((x): x is string => typeof x === "string") : typeof value === "string" ? [value] : [];
};

export function accountRoutes(ctx: AppContext) {
  const address = (request: Request) => clientAddress(request) ?? "unknown";
  const printerList = () => ctx.printers.list().map((p) => ({ id: p.id, name: p.record.name }));

  /** Account pages belong to a browser login (API clients have /api/v1/apikeys and /api/v1/users). */
  const browser = (request: Request) => {
    const session = pageSession(request);
    if (!session) throw new ApiError(403, "browser_session_required", "This page needs a browser login.", "Log in at /login; API clients use /api/v1/apikeys and /api/v1/users.");
    return session;
  };
  const accountView = (request: Request, extra: { created?: { name: string; key: string }; message?: string; error?: string } = {}, status = 200) => {
    const p = principalOf(request);
    return page(
      accountPage({ session: browser(request), keys: ctx.accounts.keys.list(p.user!.id), printers: printerList(), pendingApps: ctx.accounts.appKeys.pendingFor(p.user!.name, Date.now()), ...extra }),
      status,
    );
  };
  const usersView = (request: Request, extra: { message?: string; error?: string } = {}, status = 200) =>
    page(usersPage({ session: browser(request), users: ctx.accounts.users.list(), groups: ctx.accounts.users.groups(), ...extra }), status);
  /** Runs an admin action on a user, answering with the users page and its outcome. */
  const onUser = async (request: Request, id: string, action: (u: NonNullable<ReturnType<typeof ctx.accounts.users.get>>) => Promise<string> | string) => {
    const user = ctx.accounts.users.get(id);
    if (!user) return usersView(request, { error: "There is no such user." }, 404);
    try {
      return usersView(request, { message: await action(user) });
    } catch (e) {
      if (e instanceof AccountError) return usersView(request, { error: `${e.message} ${e.hint}` }, e.status);
      throw e;
    }
  };

  /** The wizard: with the current printer's settings, or after a mistake with what was entered and why. */
  const setupView = async (request: Request, again?: { entry: SetupEntry; error: string; status: number }) => {
    const csrf = newToken();
    const current = ctx.printers.default()?.record;
    const entry = again?.entry;
    const port = entry ? entry.port || null : (current?.port ?? null);
    const ports = await ctx.printers.ports();
    return page(
      setupPage({
        csrf,
        needsToken: !!ctx.setupToken,
        username: entry?.username,
        printerName: entry?.printerName ?? current?.name ?? "My printer",
        transport: entry?.transport ?? current?.transport ?? "virtual",
        port,
        baud: entry?.baud ?? current?.baud ?? 115200,
        // A port chosen from the list stays offered, even if it is gone meanwhile (unplugged).
        ports: port && port !== "auto" && !ports.includes(port) ? [...ports, port] : ports,
        baudRates: BAUD_RATES,
        tracking: trackingWizardFieldset(ctx.tracking.preview(), undefined, entry?.tracking === "on"),
        error: again?.error,
      }),
      again?.status ?? 200,
      { "set-cookie": formCsrfCookie(request, csrf) },
    );
  };

  return new Elysia()
    .get("/login", ({ query, request }) => {
      if (principalOf(request).user) return redirect(safeNext(query.next));
      const csrf = newToken();
      return page(loginPage({ csrf, next: safeNext(query.next) }), 200, { "set-cookie": formCsrfCookie(request, csrf) });
    })
    .post("/login", async ({ body, request }) => {
      const username = field(body, "username").trim();
      const next = safeNext(field(body, "next"));
      const again = (error: string, status: number, headers: Record<string, string> = {}) => {
        const csrf = newToken();
        return page(loginPage({ csrf, next, error, username }), status, { "set-cookie": formCsrfCookie(request, csrf), ...headers });
      };
      const result = await ctx.accounts.login(username, field(body, "password"), address(request));
      if (!result.ok && result.reason === "throttled") {
        const s = Math.ceil(result.retryAfterMs / 1000);
        return again(`Too many failed attempts. Try again in ${Math.ceil(s / 60)} minute(s).`, 429, { "retry-after": String(s) });
      }
      if (!result.ok) return again("Wrong user name or password.", 403);
      const remember = field(body, "remember") === "1";
      const { token } = ctx.accounts.startSession({ user: result.user, permissions: new Set(), via: "session", printerId: null }, "password", remember);
      return redirect(next, { "set-cookie": sessionCookie(request, token, remember, REMEMBER_MS / 1000) });
    })
    .post("/logout", ({ request }) => {
      const p = principalOf(request);
      if (p.sessionToken) ctx.accounts.logout(p.sessionToken);
      const headers = { "set-cookie": clearSessionCookie(request) };
      if (request.headers.get("hx-request")) return new Response(null, { status: 204, headers: { ...headers, "HX-Redirect": "/login" } });
      return redirect("/login", headers);
    })
    .get("/setup", async ({ request }) => {
      if (ctx.accounts.adminExists()) return redirect("/");
      return setupView(request);
    })
    .post("/setup", async ({ body, request }) => {
      // Every field falls back, so a body of another shape (text, a list) is an empty form, not a 500.
      const entry = v.parse(SetupEntrySchema, body && typeof body === "object" && !Array.isArray(body) ? body : {});
      const again = (error: string, status: number) => setupView(request, { entry, error, status });
      const refusal = setupAllowed(ctx, address(request), field(body, "token"), true);
      if (refusal?.code === "already_set_up") return redirect("/");
      if (refusal) return again(`${refusal.message} ${refusal.hint}`, refusal.status);
      if (field(body, "password") !== field(body, "confirm")) return again("The two passwords differ.", 400);
      const choice = v.safeParse(PrinterChoiceSchema, {
        name: entry.printerName.trim() || "My printer",
        transport: entry.transport,
        port: entry.transport === "serial" ? entry.port || undefined : undefined,
        baud: entry.baud,
      });
      if (!choice.success) return again(`Check the printer: ${choice.issues[0].message}.`, 400);
      try {
        const admin = await completeSetup(ctx, entry.username, field(body, "password"), choice.output);
        ctx.tracking.setEnabled(entry.tracking === "on");
        const { token } = ctx.accounts.startSession({ user: admin, permissions: new Set(), via: "session", printerId: null }, "setup");
        return redirect("/", { "set-cookie": sessionCookie(request, token, false, 0) });
      } catch (e) {
        // Someone else finished setup while this one was on its way: as if it came afterwards.
        if (e instanceof AccountError && e.code === "already_set_up") return redirect("/");
        if (e instanceof AccountError) return again(`${e.message} ${e.hint}`, e.status);
        throw e;
      }
    })
    .get("/account", ({ request }) => accountView(request))
    .post("/account/keys", ({ body, request }) => {
      const days = Number(field(body, "expires"));
      try {
        const { key, record } = createKeyFor(ctx, principalOf(request), {
          name: field(body, "name"),
          scope: field(body, "scope") || "full",
          printer: field(body, "printer") || null,
          expiresAt: days > 0 ? Date.now() + days * 86400_000 : null,
        });
        return accountView(request, { created: { name: record.name, key } }, 201);
      } catch (e) {
        if (e instanceof ApiError || e instanceof AccountError) return accountView(request, { error: `${e.message} ${e.hint}` }, e.status);
        throw e;
      }
    })
    .post("/account/keys/:id/revoke", ({ params, request }) => {
      const key = ctx.accounts.keys.get(params.id);
      if (!key || key.userId !== principalOf(request).user!.id) return accountView(request, { error: "There is no such key." }, 404);
      try {
        revokeKeysFor(ctx, principalOf(request), [key]);
      } catch (e) {
        if (e instanceof ApiError) return accountView(request, { error: `${e.message} ${e.hint}` }, e.status);
        throw e;
      }
      return accountView(request, { message: `Revoked “${key.name}”.` });
    })
    .post("/account/password", async ({ body, request }) => {
      const user = principalOf(request).user!;
      const check = await ctx.accounts.login(user.name, field(body, "current"), address(request));
      if (!check.ok && check.reason === "throttled") {
        return accountView(request, { error: `Too many wrong passwords from this address: the account is locked here for ${Math.ceil(check.retryAfterMs / 60_000)} minute(s). Try again then.` }, 429);
      }
      if (!check.ok) return accountView(request, { error: "The current password is wrong." }, 403);
      try {
        await ctx.accounts.setPassword(user, field(body, "password"));
      } catch (e) {
        if (e instanceof AccountError) return accountView(request, { error: `${e.message} ${e.hint}` }, e.status);
        throw e;
      }
      return redirect("/login", { "set-cookie": clearSessionCookie(request) });
    })
    .post("/account/logout-everywhere", ({ request }) => {
      requireFullLogin(principalOf(request), "end its user's sessions");
      ctx.accounts.logoutEverywhere(principalOf(request).user!.id);
      return redirect("/login", { "set-cookie": clearSessionCookie(request) });
    })
    .get("/users", ({ request }) => usersView(request))
    .post("/users", async ({ body, request }) => {
      const group = v.safeParse(GroupSchema, field(body, "group"));
      try {
        const user = await ctx.accounts.addUser(field(body, "username"), field(body, "password"), group.success ? group.output : "users");
        return usersView(request, { message: `Added ${user.name}.` }, 201);
      } catch (e) {
        if (e instanceof AccountError) return usersView(request, { error: `${e.message} ${e.hint}` }, e.status);
        throw e;
      }
    })
    .post("/users/:id/group", ({ params, body, request }) =>
      onUser(request, params.id, (u) => {
        const group = v.safeParse(GroupSchema, field(body, "group"));
        if (!group.success) throw new AccountError("invalid_group", "Choose a group.", "");
        ctx.accounts.setGroup(u, group.output);
        return `${u.name} is now in ${group.output}.`;
      }),
    )
    .post("/users/:id/password", ({ params, body, request }) =>
      onUser(request, params.id, async (u) => {
        await ctx.accounts.setPassword(u, field(body, "password"));
        return `Set a new password for ${u.name}; their sessions ended.`;
      }),
    )
    .post("/users/:id/logout", ({ params, request }) =>
      onUser(request, params.id, (u) => `Ended ${ctx.accounts.logoutEverywhere(u.id)} session(s) of ${u.name}.`),
    )
    .post("/users/:id/remove", ({ params, request }) =>
      onUser(request, params.id, (u) => {
        ctx.accounts.removeUser(u);
        return `Removed ${u.name}.`;
      }),
    )
    .post("/groups/:group", ({ params, body, request }) => {
      const group = v.safeParse(GroupSchema, params.group);
      if (!group.success || group.output === "admins") return usersView(request, { error: "Admins always have every permission." }, 400);
      const permissions = fields(body, "permissions").flatMap((p) => {
        const parsed = v.safeParse(PermissionSchema, p);
        return parsed.success ? [parsed.output] : [];
      });
      ctx.accounts.users.setGroupPermissions(group.output as Exclude<Group, "admins">, permissions);
      for (const u of ctx.accounts.users.list()) if (u.group === group.output) ctx.bus.emit("accounts.revoked", { userId: u.id, reason: "modified", sessions: null });
      return usersView(request, { message: `Saved the permissions of ${group.output}.` });
    })
    .get("/plugin/appkeys/auth/:app_token", ({ params, request }) => {
      const r = ctx.accounts.appKeys.byApp(params.app_token, Date.now());
      const session = pageSession(request);
      if (!session) throw new ApiError(403, "session_required", "Decide on app access while logged in with your password.", "Log in in the browser.");
      if (!r) return page(appKeyDonePage(session, "This request has expired or was already decided."), 404);
      // OctoPrint asks for a login as the named user; here the page says whose request it is.
      if (!mayDecide(r, session.user)) return page(appKeyDonePage(session, `“${r.app}” asked for a key for the account “${r.user}”: log in as ${r.user} to allow or deny it.`), 403);
      return page(appKeyPage({ session, app: r.app, userToken: r.userToken, printers: printerList() }));
    });
}
