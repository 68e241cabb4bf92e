/**
 * The principal of each request, decided once by the guard and read by handlers.
 */
import type { Principal } from "../../accounts/accounts.ts";

const principals = new WeakMap<Request, Principal>();
const ANONYMOUS: Principal = { user: null, permissions: new Set(), via: "anonymous", printerId: null };

export function setPrincipal(request: Request, principal: Principal): void {
  principals.set(request, principal);
}

/** Who made this request (anonymous with no permissions if the guard did not run). */
export function principalOf(request: Request): Principal {
  return principals.get(request) ?? ANONYMOUS;
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
