/**
 * The principal of each request, decided once by the guard and read by handlers.
 */
import type { Principal } from "../../accounts/accounts.ts";

const principals = new WeakMap<Request, Principal>();
const accessChecks = new WeakMap<Request, () => boolean>();
const ANONYMOUS: Principal = { user: null, permissions: new Set(), via: "anonymous", printerId: null };

export function setPrincipal(request: Request, principal: Principal): void {
  principals.set(request, principal);
}

/** Who made this request (anonymous with no permissions if the guard did not run). */
export function principalOf(request: Request): Principal {
  return principals.get(request) ?? ANONYMOUS;
}

/** How a long answer learns whether its request is still allowed (set by the guard). */
export function setAccessCheck(request: Request, check: () => boolean): void {
  accessChecks.set(request, check);
}

/**
 * Whether the credentials this request came with still allow it — false once its key, token or
 * session is revoked or its user loses the permission. Checked by long answers (camera streams)
 * as they go; cheap to call often (the check itself runs at most once a second).
 */
export function accessHolds(request: Request): boolean {
  return accessChecks.get(request)?.() ?? true;
}

/** Whether the address is this machine (setup without a token is only allowed from here). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

/** Whether the request's principal may see this printer (keys may be restricted to one). */
export function visibleTo(request: Request, printerId: string): boolean {
  const restricted = principalOf(request).printerId;
  return !restricted || restricted === printerId;
}
