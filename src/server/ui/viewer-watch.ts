/**
 * Open pages follow their viewer's rights. Each page's controls are rendered for who looks at it;
 * when an admin changes that user's group or permissions, removes the user, or the session ends
 * (logout elsewhere, revoked), the page's own stream gets a `viewer` event and the page reloads
 * (public/app.js): it then shows the controls the user has now, or the login page. The server
 * refuses what the user may no longer do either way; this keeps the page from offering it.
 */
import { Elysia } from "elysia";
import { VIEWER_STREAM } from "../../../views/layout.ts";
import { revocationConcerns } from "../../accounts/accounts.ts";
import { subscribe } from "../../events.ts";
import { principalOf } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { sseResponse, type SendEvent } from "../sse.ts";
import { pathPrefix, prefixHtml } from "../path-prefix.ts";

/** The SSE event that tells a page its viewer changed (see `viewerChangedListener` in views/layout.ts). */
export const VIEWER_EVENT = "viewer";

/** Sends `viewer` on this stream when a revocation concerns the request's principal; returns the unsubscribe. */
export function watchViewer(ctx: AppContext, request: Request, send: SendEvent): () => void {
  const principal = principalOf(request);
  if (!principal.user) return () => {};
  return subscribe(ctx.bus, {
    "accounts.revoked": (e) => {
      if (revocationConcerns(e, principal)) send(VIEWER_EVENT, e.reason);
    },
  });
}

/**
 * A page's SSE stream (`sseResponse`) that also carries the `viewer` event for the request's
 * principal; its HTML fragments get the page's path prefix.
 */
export function pageStream(ctx: AppContext, request: Request, open: (send: SendEvent) => () => void): Response {
  const prefix = pathPrefix(request);
  return sseResponse((send) => {
    const unwatch = watchViewer(ctx, request, send);
    const close = open(send);
    return () => {
      unwatch();
      close();
    };
  }, prefix === "" ? undefined : (data) => prefixHtml(prefix, data));
}

/**
 * The stream of pages without one of their own (settings, users, plugins, history, …): nothing but
 * the `viewer` event and the keep-alive, so following the viewer's rights costs such a page one
 * idle connection, not a live feed.
 */
export function viewerStreamRoutes(ctx: AppContext) {
  return new Elysia().get(VIEWER_STREAM, ({ request }) => pageStream(ctx, request, () => () => {}));
}
