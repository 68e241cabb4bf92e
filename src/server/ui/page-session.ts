/**
 * The session details a full page needs (its user and CSRF token), from the request's principal.
 */
import type { PageSession } from "../../../views/layout.ts";
import { principalOf } from "../auth/principal.ts";

export function pageSession(request: Request): PageSession | undefined {
  const p = principalOf(request);
  if (!p.user || !p.session) return undefined;
  return { user: p.user.name, csrf: p.session.csrf, admin: p.permissions.has("admin") };
}
