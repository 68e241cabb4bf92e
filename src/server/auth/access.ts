/**
 * What the viewer of a page may do, so pages render only the controls it may use. "May it call
 * this route?" is answered from the guard's own table and rule (route-permissions.ts: the
 * requirement of the route, `denial`), so a page never offers what the guard would refuse.
 * Example: `accessOf(principal).may("POST /ui/printers/:id/emergency-stop", "mk3")`.
 */
import type { Principal } from "../../accounts/accounts.ts";
import { principalOf } from "./principal.ts";
import { denial, ROUTE_PERMISSIONS, type Requirement } from "./route-permissions.ts";

export interface Access {
  /**
   * Whether the viewer may call `route`, written as it is registered and keyed in the table
   * ("METHOD pattern", e.g. "POST /ui/printers/:id/connect"), on `printer` (for printer routes).
   */
  may(route: string, printer?: string): boolean;
  /** The same for every viewer who may do the same: renderings shared between viewers are kept per key. */
  readonly key: string;
}

export function accessOf(principal: Pick<Principal, "user" | "permissions" | "printerId">, table: Record<string, Requirement> = ROUTE_PERMISSIONS): Access {
  return {
    may(route, printer) {
      const requirement = table[route];
      // A control naming a route the table does not know is a mistake in the view, not a refusal.
      if (!requirement) throw new Error(`"${route}" is not a route in the permissions table`);
      return denial(requirement, principal, () => printer) === null;
    },
    key: `${principal.user ? "user" : "anonymous"}:${principal.printerId ?? "*"}:${[...principal.permissions].sort().join(",")}`,
  };
}

/** What the request's principal may do (as the guard decided who it is). */
export function accessFor(request: Request): Access {
  return accessOf(principalOf(request));
}
