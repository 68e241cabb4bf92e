/**
 * The session details a full page needs (its user, CSRF token and what it may do), from the
 * request's principal.
 */
import type { PageSession } from "../../../views/layout.ts";
import { accessOf } from "../auth/access.ts";
import { principalOf } from "../auth/principal.ts";

export function pageSession(request: Request): PageSession | undefined {
  const p = principalOf(request);
  if (!p.user || !p.session) return undefined;
  return { user: p.user.name, csrf: p.session.csrf, access: accessOf(p) };
}
