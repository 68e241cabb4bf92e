/**
 * The session details a full page needs (its user, CSRF token and what it may do), from the
 * request's principal.
 */
import type { PageSession } from "../../../views/layout.ts";
import type { Accounts, Principal } from "../../accounts/accounts.ts";
import { accessOf } from "../auth/access.ts";
import { readCookie, SESSION_COOKIE } from "../auth/cookies.ts";
import { principalOf } from "../auth/principal.ts";

export function pageSession(request: Request): PageSession | undefined {
  return sessionOf(principalOf(request));
}

/**
 * The session the request's cookie names, for a page no route answers (the 404 page): the guard,
 * which sets the request's principal, runs only for routes.
 */
export function cookiePageSession(request: Request, accounts: Accounts): PageSession | undefined {
  const token = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
  const p = token ? accounts.principalForSession(token) : undefined;
  return p && sessionOf(p);
}

function sessionOf(p: Principal): PageSession | undefined {
  if (!p.user || !p.session) return undefined;
  return { user: p.user.name, csrf: p.session.csrf, access: accessOf(p) };
}
