/**
 * Serving under a sub-path behind a reverse proxy (`https://myserver/layerline/`), as OctoPrint
 * does with `X-Script-Name`. The proxy strips the prefix before forwarding and names it in
 * `X-Script-Name` (or `X-Forwarded-Prefix`); only a trusted proxy's header is believed (the same
 * rule as the other forwarding headers, auth/reverse-proxy.ts).
 *
 * Every URL the host hands out then carries the prefix. Pages, fragments and plugins' HTML are
 * written with root-absolute URLs (`/files`, `hx-post="/ui/…"`), and the prefix is put in front of
 * them in one place, at the response: an HTML parser (Bun's HTMLRewriter) rewrites the URL
 * attributes of every HTML answer and of every HTML fragment a page's event stream pushes, and the
 * redirect headers are rewritten likewise. Threading the prefix through every view instead would
 * leave plugins' HTML and each URL added later to remember it; here a new link is right by itself.
 * URLs that are not in HTML (cookie paths, absolute URLs in JSON, the API docs) take the prefix
 * from `pathPrefix(request)` where they are made.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { fromTrustedProxy, publicOrigin, setForwarding, type ProxyMatcher } from "./auth/reverse-proxy.ts";

/**
 * A path prefix as a proxy names it: `/layerline` or `/a/b-c/`, made of the URL path characters
 * that need no escaping (letters, digits, `- . _ ~`), no empty, `.` or `..` segment; a trailing
 * `/` is dropped and `/` alone means the root (no prefix). Percent escapes are refused: a browser
 * reads `%2e%2e` as `..`.
 */
export const ScriptNameSchema = v.pipe(
  v.string(),
  v.maxLength(200, "is longer than 200 characters"),
  v.startsWith("/", "does not start with /"),
  v.regex(/^[A-Za-z0-9._~\-/]*$/, "has characters other than letters, digits, - . _ ~ and /"),
  v.transform((s) => (s.endsWith("/") ? s.slice(0, -1) : s)),
  v.check((s) => s === "" || s.slice(1).split("/").every((seg) => seg !== "" && seg !== "." && seg !== ".."), "has an empty, . or .. segment"),
);

/**
 * The prefix named by a proxy's header value: "" for none (no header, `/`, or a malformed value,
 * which is ignored: the host then answers at the root as without the header, never with an error).
 */
export function scriptName(value: string | null | undefined): string {
  if (value === null || value === undefined) return "";
  const parsed = v.safeParse(ScriptNameSchema, value.trim());
  return parsed.success ? parsed.output : "";
}

/**
 * The prefix of a request from its headers: `X-Script-Name` (OctoPrint's), else
 * `X-Forwarded-Prefix`, each only when valid, and only when `trusted` (the peer is a trusted proxy).
 */
export function prefixFromHeaders(headers: Headers, trusted: boolean): string {
  if (!trusted) return "";
  return scriptName(headers.get("x-script-name")) || scriptName(headers.get("x-forwarded-prefix"));
}

const prefixes = new WeakMap<Request, string>();

/** The prefix this request came under ("" at the root). */
export function pathPrefix(request: Request): string {
  let prefix = prefixes.get(request);
  if (prefix === undefined) {
    const h = request.headers;
    prefix = h.has("x-script-name") || h.has("x-forwarded-prefix") ? prefixFromHeaders(h, fromTrustedProxy(request)) : "";
    prefixes.set(request, prefix);
  }
  return prefix;
}

/** Where this host is as the client sees it (`https://myserver/layerline`): the base of absolute URLs in answers. */
export function publicBase(request: Request): string {
  return publicOrigin(request) + pathPrefix(request);
}

/** A root-absolute URL (`/files?x`) under the prefix; anything else (absolute, `//host`, relative, `#x`) as it is. */
export function prefixUrl(prefix: string, url: string): string {
  return prefix !== "" && url.startsWith("/") && !url.startsWith("//") ? prefix + url : url;
}

/** Attributes that hold a URL the browser or htmx follows. */
const URL_ATTRIBUTES = new Set([
  "href", "src", "action", "formaction", "poster", "data", "cite", "background", "xlink:href",
  "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete", "hx-push-url", "hx-replace-url",
  "sse-connect", "ws-connect",
]);
/**
 * Data attributes a script reads a URL from (`data-url`, `data-stream-src`, `data-snapshot`).
 * Other data attributes hold names (a file on an SD card may be `/gcodes/part.g`), left as they are.
 */
const URL_DATA = /^data-(?:[a-z0-9-]+-)?(?:url|href|src|snapshot|stream)$/;
const isUrlAttribute = (name: string) => URL_ATTRIBUTES.has(name) || URL_DATA.test(name);

/** The meta element public/app.js (and plugins' scripts) read the prefix from. */
export const PREFIX_META = "layerline-prefix";

function rewriter(prefix: string): HTMLRewriter {
  return new HTMLRewriter()
    .on("*", {
      element(el) {
        // Collected first: changing attributes while iterating them skips some.
        const changes: [string, string][] = [];
        for (const [name, value] of el.attributes) {
          if (isUrlAttribute(name)) {
            const next = prefixUrl(prefix, value);
            if (next !== value) changes.push([name, next]);
          }
        }
        for (const [name, value] of changes) el.setAttribute(name, value);
      },
    })
    .on("head", {
      element(el) {
        el.prepend(`<meta name="${PREFIX_META}" content="${prefix}">`, { html: true });
      },
    });
}

// A page's stream pushes the same fragment to each of its listeners: rewritten once for all.
const rewritten = new Map<string, string>();
const REWRITTEN_KEPT = 64;

/** An HTML document or fragment with its URL attributes under the prefix. */
export function prefixHtml(prefix: string, markup: string): string {
  if (prefix === "") return markup;
  const key = `${prefix}\n${markup}`;
  const hit = rewritten.get(key);
  if (hit !== undefined) return hit;
  const out = rewriter(prefix).transform(markup);
  if (rewritten.size >= REWRITTEN_KEPT) rewritten.clear();
  rewritten.set(key, out);
  return out;
}

/** Response headers that hold a URL the browser or htmx follows. */
const URL_HEADERS = ["location", "content-location", "hx-redirect", "hx-push-url", "hx-replace-url"];

/** `HX-Location` is a path or JSON `{"path": …}`. */
function prefixHxLocation(prefix: string, value: string): string {
  if (!value.trimStart().startsWith("{")) return prefixUrl(prefix, value);
  try {
    const spec = JSON.parse(value) as { path?: unknown };
    if (typeof spec.path === "string") return JSON.stringify({ ...spec, path: prefixUrl(prefix, spec.path) });
  } catch {}
  return value;
}

type HeaderBag = Record<string, string | number | string[] | undefined>;

/** Rewrites the URL headers of Elysia's `set.headers` (handlers that return a value, not a Response). */
function prefixHeaderBag(prefix: string, headers: HeaderBag): void {
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string") continue;
    const lower = name.toLowerCase();
    if (URL_HEADERS.includes(lower)) headers[name] = prefixUrl(prefix, value);
    else if (lower === "hx-location") headers[name] = prefixHxLocation(prefix, value);
  }
}

const isHtml = (type: string | null | undefined) => !!type && /^text\/html\b/i.test(type);

/** A response with its URL headers and, for HTML, its body under the prefix. */
export function prefixResponse(prefix: string, response: Response): Response {
  if (prefix === "") return response;
  const headers = new Headers(response.headers);
  let changed = false;
  for (const name of [...URL_HEADERS, "hx-location"]) {
    const value = headers.get(name);
    if (value === null) continue;
    headers.set(name, name === "hx-location" ? prefixHxLocation(prefix, value) : prefixUrl(prefix, value));
    changed = true;
  }
  if (!isHtml(headers.get("content-type")) || response.body === null) {
    // Streams (SSE, downloads) pass untouched unless a header had to change.
    return changed ? new Response(response.body, { status: response.status, statusText: response.statusText, headers }) : response;
  }
  // The body changes length as it streams through the parser.
  headers.delete("content-length");
  const body = rewriter(prefix).transform(new Response(response.body, { headers: { "content-type": "text/html" } })).body;
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * The plugin that applies the prefix to every answer (registered before the routes, so its hooks
 * are global): it records how to judge the request's forwarding headers as it arrives (404s
 * included, which no route's guard sees) and rewrites what the handlers and the error handler return.
 */
export function pathPrefixes(trusted: ProxyMatcher) {
  return new Elysia({ name: "path-prefix" })
    .onRequest(({ request, server }) => {
      const h = request.headers;
      if (h.has("x-script-name") || h.has("x-forwarded-prefix")) setForwarding(request, () => server?.requestIP(request)?.address, trusted);
    })
    // The answer is handed back as it is when nothing changes: on the error path Elysia sends
    // an empty body when this hook returns undefined.
    .mapResponse({ as: "global" }, ({ request, response, set }) => {
      const prefix = pathPrefix(request);
      if (prefix === "") return response as Response;
      prefixHeaderBag(prefix, set.headers as HeaderBag);
      if (response instanceof Response) return prefixResponse(prefix, response);
      if (typeof response === "string" && isHtml(set.headers["content-type"] as string | undefined)) {
        return new Response(prefixHtml(prefix, response), { status: typeof set.status === "number" ? set.status : 200, headers: set.headers as Record<string, string> });
      }
      return response as Response;
    });
}
