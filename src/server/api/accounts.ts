/**
 * Native API for accounts: headless first-run setup, who am I, my API keys, users (admins).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { MAX_KEY_LIFETIME_MS, type Principal } from "../../accounts/accounts.ts";
import type { ApiKey } from "../../accounts/api-keys.ts";
import { GroupSchema, parseScope, PERMISSIONS } from "../../accounts/permissions.ts";
import type { User } from "../../accounts/users.ts";
import { principalOf } from "../auth/principal.ts";
import { clientAddress } from "../auth/reverse-proxy.ts";
import type { AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { completeSetup, PrinterChoiceSchema, setupAllowed } from "../setup.ts";

const SetupSchema = v.object({
  username: v.string("username must be text"),
  password: v.string("password must be text"),
  token: v.optional(v.string()),
  printer: v.optional(PrinterChoiceSchema),
});

const NewKeySchema = v.object({
  name: v.pipe(v.string(), v.trim(), v.minLength(1, "name the key"), v.maxLength(80)),
  scope: v.optional(v.string(), "full"),
  printer: v.optional(v.nullable(v.string())),
  /** Seconds from now until the key stops working. */
  expiresIn: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(60, "a key lives at least 60 s"), v.maxValue(MAX_KEY_LIFETIME_MS / 1000)))),
});

const NewUserSchema = v.object({
  username: v.string("username must be text"),
  password: v.string("password must be text"),
  group: v.optional(GroupSchema, "users"),
});

export const userJson = (u: User) => ({ id: u.id, name: u.name, group: u.group, active: u.active, createdAt: u.createdAt });
export const keyJson = (k: ApiKey) => ({ id: k.id, name: k.name, hint: `…${k.hint}`, scope: k.scope, printer: k.printerId, app: k.app, expiresAt: k.expiresAt, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt });

/**
 * Refuses a principal whose key (or the session made with it) has a narrower scope than `full`
 * from managing its user's credentials: a dashboard's read-only key that could mint keys would
 * outlive its own revocation, and one that could revoke keys or end sessions could lock its user out.
 */
export function requireFullLogin(principal: Principal, what: string): void {
  const scope = principal.apiKey?.scope ?? principal.session?.scope ?? null;
  if (scope === null) return;
  const parsed = parseScope(scope);
  if (parsed.ok && parsed.permissions.length === PERMISSIONS.length) return;
  throw new ApiError(403, "scope_too_narrow", `A key of scope “${scope}” may not ${what}.`, "Do it while logged in with your password, or with a full-scope key.");
}

/** Whether `key` is the one this request came with (any key may revoke itself). */
const isOwnKey = (principal: Principal, key: ApiKey) => (principal.apiKey?.id ?? principal.session?.apiKeyId) === key.id;

/** Revokes keys the principal may see: the key it came with, or any of them with a full login (all or none). */
export function revokeKeysFor(ctx: AppContext, principal: Principal, keys: ApiKey[]): void {
  if (keys.some((k) => !isOwnKey(principal, k))) requireFullLogin(principal, "revoke other keys");
  for (const k of keys) ctx.accounts.revokeKey(k.id);
}

/**
 * Creates a key for the principal's user: only with a full login, for the principal's printer if
 * it is restricted to one, and expiring no later than the key the request came with.
 */
export function createKeyFor(ctx: AppContext, principal: Principal, input: { name: string; scope: string; printer?: string | null; expiresAt?: number | null; app?: string | null }) {
  const user = principal.user!;
  requireFullLogin(principal, "create API keys");
  const scope = parseScope(input.scope);
  if (!scope.ok) throw new ApiError(400, "invalid_scope", scope.message, "Use full, read-only, upload-only, upload-print or operator.");
  const printer = input.printer ?? principal.printerId;
  if (principal.printerId && printer !== principal.printerId) throw new ApiError(403, "wrong_printer", `Your key is restricted to printer "${principal.printerId}".`, "Create keys for other printers while logged in.");
  if (printer && !ctx.printers.get(printer)) throw new ApiError(404, "printer_not_found", `There is no printer "${printer}".`, "GET /api/v1/printers lists them.");
  const parentId = principal.apiKey?.id ?? principal.session?.apiKeyId;
  const parentExpiry = (parentId ? ctx.accounts.keys.get(parentId)?.expiresAt : null) ?? null;
  const expiresAt = parentExpiry === null ? (input.expiresAt ?? null) : Math.min(input.expiresAt ?? Infinity, parentExpiry);
  return ctx.accounts.createKey(user, { name: input.name, scope: scope.scope, printerId: printer ?? null, expiresAt, app: input.app ?? null });
}

export function accountsApi(ctx: AppContext) {
  const me = (request: Request) => principalOf(request);
  return new Elysia({ prefix: "/api/v1" })
    .post(
      "/setup",
      async ({ body, request, set }) => {
        const refusal = setupAllowed(ctx, clientAddress(request), request.headers.get("x-setup-token") ?? body.token, false);
        if (refusal) throw refusal;
        const admin = await completeSetup(ctx, body.username, body.password, body.printer);
        const { key } = ctx.accounts.createKey(admin, { name: "setup", scope: "full" });
        set.status = 201;
        return { apiKey: key, user: userJson(admin) };
      },
      { body: SetupSchema },
    )
    .get("/me", ({ request }) => {
      const p = me(request);
      return { user: userJson(p.user!), via: p.via, permissions: [...p.permissions], printer: p.printerId, scope: p.apiKey?.scope ?? p.session?.scope ?? "full" };
    })
    .get("/apikeys", ({ request }) => ({ keys: ctx.accounts.keys.list(me(request).user!.id).map(keyJson) }))
    .post(
      "/apikeys",
      ({ body, request, set }) => {
        const { key, record } = createKeyFor(ctx, me(request), {
          name: body.name,
          scope: body.scope,
          printer: body.printer,
          expiresAt: body.expiresIn ? Date.now() + body.expiresIn * 1000 : null,
        });
        set.status = 201;
        return { ...keyJson(record), key };
      },
      { body: NewKeySchema },
    )
    .delete("/apikeys/:id", ({ params, request, set }) => {
      const p = me(request);
      const key = ctx.accounts.keys.get(params.id);
      if (!key || (key.userId !== p.user!.id && !p.permissions.has("admin"))) throw new ApiError(404, "key_not_found", "There is no such API key.", "GET /api/v1/apikeys lists yours.");
      revokeKeysFor(ctx, p, [key]);
      set.status = 204;
    })
    .post("/logout-everywhere", ({ request }) => {
      requireFullLogin(me(request), "end its user's sessions");
      return { ended: ctx.accounts.logoutEverywhere(me(request).user!.id) };
    })
    .get("/users", () => ({ users: ctx.accounts.users.list().map(userJson) }))
    .post(
      "/users",
      async ({ body, set }) => {
        const user = await ctx.accounts.addUser(body.username, body.password, body.group);
        set.status = 201;
        return userJson(user);
      },
      { body: NewUserSchema },
    )
    .delete("/users/:name", ({ params, set }) => {
      const user = ctx.accounts.users.byName(params.name);
      if (!user) throw new ApiError(404, "user_not_found", `There is no user "${params.name}".`, "GET /api/v1/users lists them.");
      ctx.accounts.removeUser(user);
      set.status = 204;
    });
}
