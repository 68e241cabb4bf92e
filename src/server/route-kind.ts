/**
 * Which family a path belongs to, so refusals and errors take the shape its clients expect:
 * OctoPrint-compatible paths answer like OctoPrint (`{"error": "…"}`), the native API with
 * `{error: {code, message, hint}}`, and pages with redirects.
 */
export type RouteKind = "octoprint" | "native" | "html";

const OCTOPRINT = /^\/(?:printers\/[^/]+\/)?(?:api(?:\/(?!v1(?:\/|$))|$)|plugin\/|downloads\/|sockjs(?:\/|$))/;

export function routeKind(path: string): RouteKind {
  if (path === "/api/v1" || path.startsWith("/api/v1/")) return "native";
  // The app-key decision is a page people open in a browser.
  if (/^\/(?:printers\/[^/]+\/)?plugin\/appkeys\/(?:auth|decision)\//.test(path)) return "html";
  return OCTOPRINT.test(path) ? "octoprint" : "html";
}
