/**
 * The guard in front of every route (default-deny). For each request it decides who is asking —
 * an API key (`X-Api-Key`, `Authorization: Bearer`, `?apikey=`), on a camera's picture a camera
 * token (`?camera_token=`), a session cookie, or nobody — and whether the route's requirement is
 * met, before the body is read or validated. Long answers (a camera stream) ask again whether the
 * request is still allowed (`accessHolds`), so a revoked key or token ends them. It also
 * enforces the first-run mode (nothing but the wizard until an admin exists), keys restricted to
 * one printer (and off what all printers share), and CSRF protection for cookie-authenticated
 * changes. Being the first to see a request's body, it reads the small ones, capped
 * (`request-body.ts`), and leaves streamed ones unread.
 */
import { Elysia } from "elysia";
import { LOCAL_TOKEN_HEADER, type Accounts, type Principal } from "../../accounts/accounts.ts";
import { CAMERA_TOKEN_PARAM } from "../../accounts/camera-tokens.ts";
import { PERMISSION_TEXT } from "../../accounts/permissions.ts";
import { sameSecret } from "../../accounts/tokens.ts";
import type { PrinterManager } from "../../printers/manager.ts";
import { cameraLoopResponse } from "../api/webcam.ts";
import { errorBody } from "../errors.ts";
import { CAMERA_FETCH_HEADER } from "../../webcam/problem.ts";
import { readBody } from "../request-body.ts";
import { routeKind } from "../route-kind.ts";
import { FORM_CSRF_COOKIE, readCookie, SESSION_COOKIE } from "./cookies.ts";
import { isLoopback, setAccessCheck, setPrincipal } from "./principal.ts";
import { clientAddress, DEFAULT_TRUSTED_PROXIES, originIsOurs, setForwarding, trustedProxies } from "./reverse-proxy.ts";
import { OCTOPRINT_FORBIDDEN, Refusal } from "./refusal.ts";
import { denial, requirementFor, type PrinterRef, type Requirement } from "./route-permissions.ts";


const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** A long answer checks its request's credentials again at most this often. */
const RECHECK_MS = 1000;
/** Routes that stay reachable before the first admin exists. */
const FIRST_RUN_OPEN = new Set(["GET /setup", "POST /setup", "POST /api/v1/setup", "GET /public/:name", "GET /favicon.ico", "GET /api/v1/version", "GET /api/v1", "GET /api/v1/docs", "GET /api/v1/openapi.json"]);

export interface GuardOptions {
  accounts: Accounts;
  printers: PrinterManager;
  table?: Record<string, Requirement>;
  /** Reverse proxies whose X-Forwarded-Proto/X-Scheme/X-Forwarded-Host are believed (default: loopback). */
  trustedProxies?: readonly string[];
  /** The app's routes (read at the first request): those declared `parse: "none"` stream their bodies. */
  routes?: () => RouteHooks[];
}

/** What the guard reads of a registered route. */
export interface RouteHooks {
  method: string;
  path: string;
  hooks?: { parse?: unknown };
}

type Verdict = { principal: Principal; refusal: Refusal | null; requirement: Requirement; cookieSession: boolean };

interface GuardContext {
  request: Request;
  server: { requestIP(request: Request): { address: string } | null } | null;
  route: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body?: unknown;
}

export function authGuard(options: GuardOptions) {
  const { accounts } = options;
  const trusted = trustedProxies(options.trustedProxies ?? DEFAULT_TRUSTED_PROXIES);
  const verdicts = new WeakMap<Request, Verdict>();
  let setupDone = false;
  let streamed: Set<string> | undefined;
  const streams = (method: string, route: string) => {
    streamed ??= streamedRoutes(options.routes?.() ?? []);
    // A route registered with `.all()` is listed under the method "ALL".
    return streamed.has(`${method} ${route}`) || streamed.has(`ALL ${route}`);
  };

  const decide = (c: GuardContext): Verdict => {
    let verdict = verdicts.get(c.request);
    if (verdict) return verdict;
    // WebSocket routes are registered as "WS"; their upgrade arrives as a GET.
    const method = c.request.headers.get("upgrade")?.toLowerCase() === "websocket" ? "WS" : c.request.method;
    const requirement = requirementFor(method, c.route, options.table);
    const key = `${method === "HEAD" ? "GET" : method} ${c.route.length > 1 ? c.route.replace(/\/$/, "") : c.route}`;
    const kind = routeKind(c.path);
    const peer = () => c.server?.requestIP(c.request)?.address;
    setForwarding(c.request, peer, trusted);
    const cameraToken = "permission" in requirement && requirement.cameraToken === true;
    const { principal, bad, cookieSession } = authenticate(c.request, c.query, accounts, () => clientAddress(c.request), cameraToken);
    setPrincipal(c.request, principal);
    verdict = { principal, refusal: null, requirement, cookieSession };
    verdicts.set(c.request, verdict);
    setAccessCheck(c.request, recheck(() => {
      const again = authenticate(c.request, c.query, accounts, () => clientAddress(c.request), cameraToken);
      return !again.bad && denial(requirement, again.principal, (ref) => printerOf(ref, c, options.printers)) === null;
    }));

    setupDone ||= accounts.adminExists();
    // `layerline doctor` reads the diagnosis of a host not set up yet too: that is when help is needed.
    const localOpenBeforeSetup = principal.via === "local" && "permission" in requirement && requirement.localToken === true;
    const origin = c.request.headers.get("origin");
    if (method === "WS" && origin !== null && !originIsOurs(origin, c.request)) {
      // A page of another site must not open a socket with this browser's cookie; browsers always
      // send Origin on an upgrade, other clients (slicers, apps) send none.
      verdict.refusal = refuse("native", 403, "cross_origin", `WebSocket connections from pages of other sites (${origin}) are refused.`, "Open the page from this host; behind a reverse proxy, pass the Host (or X-Forwarded-Host) header and list the proxy in --trusted-proxies.", c);
    } else if (!setupDone && !FIRST_RUN_OPEN.has(key) && !localOpenBeforeSetup) {
      verdict.refusal = refuseSetup(kind, c.path);
    } else if (bad === "camera-token") {
      verdict.refusal = refuse(kind, 401, "invalid_camera_token", "This camera link is no longer valid: the API key it was made for was revoked or has expired, or its user was removed.", "Let the app read the settings again with a valid API key (GET /api/settings gives new camera links), or log in.", c);
    } else if (bad === "camera-token-elsewhere") {
      verdict.refusal = refuse(kind, 401, "camera_token_only", "A camera token opens only its printer's camera stream and snapshot, nothing else.", "Send an API key in the X-Api-Key header for the rest of the API (create one under Account → API keys).", c);
    } else if (bad) {
      verdict.refusal = refuse(kind, 401, "invalid_credentials", "The API key or session is not valid (revoked, expired or mistyped).", "Create a new key under Account → API keys, or log in again.", c);
    } else {
      const why = denial(requirement, principal, (ref) => printerOf(ref, c, options.printers));
      const p = "permission" in requirement ? requirement.permission : "login";
      if ((why === "credentials" || why === "permission") && principal.via === "local") {
        verdict.refusal = refuse(kind, 403, "forbidden", "The local token only lets commands on this machine see the status, update Layerline and read its diagnosis.", "Use an API key for anything else.", c);
      } else if (why === "credentials") {
        verdict.refusal = refuse(kind, 401, "unauthorized", "This needs credentials.", "Send an API key in the X-Api-Key header (create one under Account → API keys or with `layerline apikey create`), or log in.", c);
      } else if (why === "permission" && p !== "login") {
        const who = principal.via === "apikey" ? "this API key's scope or its user" : principal.via === "camera" ? "the API key this camera token was made for (or its user) no longer" : "your account";
        verdict.refusal = refuse(kind, 403, "forbidden", `This needs the “${p}” permission (${PERMISSION_TEXT[p]}), which ${who} does not have.`, principal.via === "apikey" ? "Use a key with a wider scope, or ask an admin for the permission." : "Ask an admin to change your group.", c);
      } else if (why === "printer" && principal.via === "camera") {
        verdict.refusal = refuse(kind, 403, "wrong_printer", `This camera token opens the camera of printer "${principal.printerId}" only.`, "Use the camera link the settings of this printer give (/printers/<id>/api/settings).", c);
      } else if (why === "printer") {
        verdict.refusal = refuse(kind, 403, "wrong_printer", `This API key is restricted to printer "${principal.printerId}".`, "Use a key for this printer, or one without a printer restriction.", c);
      } else if (why === "host-wide") {
        verdict.refusal = refuse(kind, 403, "wrong_printer", `This API key is restricted to printer "${principal.printerId}"; users, plugins, updates and host settings are shared by all printers.`, "Use a key without a printer restriction for this.", c);
      }
    }
    return verdict;
  };

  return new Elysia({ name: "auth-guard" })
    .onParse({ as: "global" }, (c) => {
      const ctx = c as unknown as GuardContext;
      // Refuse before the body is read: an unauthenticated upload is never buffered.
      if (decide(ctx).refusal) return {};
      // Routes declared `parse: "none"` read `request.body` themselves (streamed uploads, JSON
      // they validate). Elysia runs a global parse hook even for them and, when it returns
      // nothing, parses the body after all (or fails on "none"); so the guard claims the body
      // for them, unread. Multipart and binary bodies are never buffered for other routes either.
      if (streams(ctx.request.method, ctx.route) || isStreamedBody(ctx.request.headers.get("content-type"))) return null as unknown as object;
      // The rest is read here, capped (undefined: a content type Elysia parses itself).
      return readBody(ctx.request) as Promise<object | undefined>;
    })
    .onTransform({ as: "global" }, (c) => {
      const ctx = c as unknown as GuardContext;
      const verdict = decide(ctx);
      if (verdict.refusal) throw verdict.refusal;
      if (SAFE_METHODS.has(ctx.request.method)) return;
      const csrf = checkCsrf(ctx, verdict);
      if (csrf) throw refuse(routeKind(ctx.path), 403, "csrf", csrf, "Reload the page and try again.", ctx);
    });
}

/** "METHOD path" of the routes that declare `parse: "none"`. */
function streamedRoutes(routes: RouteHooks[]): Set<string> {
  const none = (h: unknown) => h === "none" || (typeof h === "object" && h !== null && (h as { fn?: unknown }).fn === "none");
  const parse = (r: RouteHooks) => (Array.isArray(r.hooks?.parse) ? r.hooks.parse : [r.hooks?.parse]);
  return new Set(routes.filter((r) => parse(r).some(none)).map((r) => `${r.method} ${r.path}`));
}

/** Bodies that are never parsed by Elysia: routes read them as streams. */
function isStreamedBody(contentType: string | null): boolean {
  return contentType !== null && /^(multipart\/form-data|application\/octet-stream)/i.test(contentType);
}

/** What was wrong with the credentials a request came with. */
type Bad = false | "credentials" | "camera-token" | "camera-token-elsewhere";

/**
 * Who is asking: the local token (from this machine only), else a key, else a camera token (on
 * routes that take one), else a cookie; a bad token or key is an error, a stale cookie is just no
 * login, and a camera token anywhere else is refused unless the cookie logs in. The peer's address
 * is looked up only for the local token (asking the server for it costs more than the rest of a
 * poll's check).
 */
function authenticate(request: Request, query: Record<string, string | undefined>, accounts: Accounts, address: () => string | undefined, cameraTokens: boolean): { principal: Principal; bad: Bad; cookieSession: boolean } {
  const headers = request.headers;
  const nobody = (bad: Bad) => ({ principal: accounts.anonymous(), bad, cookieSession: false });
  const local = headers.get(LOCAL_TOKEN_HEADER);
  if (local) {
    const principal = isLoopback(address()) ? accounts.principalForLocalToken(local.trim()) : undefined;
    return principal ? { principal, bad: false, cookieSession: false } : nobody("credentials");
  }
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")?.[1];
  const key = headers.get("x-api-key") ?? bearer ?? (typeof query.apikey === "string" ? query.apikey : undefined);
  if (key) {
    const principal = accounts.principalForKey(key.trim());
    return principal ? { principal, bad: false, cookieSession: false } : nobody("credentials");
  }
  const camera = query[CAMERA_TOKEN_PARAM];
  if (typeof camera === "string" && cameraTokens) {
    const principal = accounts.principalForCameraToken(camera.trim());
    return principal ? { principal, bad: false, cookieSession: false } : nobody("camera-token");
  }
  const token = readCookie(headers.get("cookie"), SESSION_COOKIE);
  if (token) {
    const principal = accounts.principalForSession(token);
    if (principal) return { principal, bad: false, cookieSession: true };
  }
  return nobody(typeof camera === "string" ? "camera-token-elsewhere" : false);
}

/** `check`, asked at most once per RECHECK_MS (its last answer in between). */
function recheck(check: () => boolean): () => boolean {
  let at = Date.now();
  let ok = true;
  return () => {
    const now = Date.now();
    if (now - at >= RECHECK_MS) {
      at = now;
      ok = ok && check();
    }
    return ok;
  };
}

/** Why a state-changing request fails CSRF protection, or null when it passes. */
function checkCsrf(c: GuardContext, verdict: Verdict): string | null {
  const headers = c.request.headers;
  const fetchSite = headers.get("sec-fetch-site");
  if (fetchSite === "cross-site") return "Requests from other sites are refused.";
  const origin = headers.get("origin");
  if (origin && origin !== "null") {
    if (!URL.canParse(origin)) return "The Origin header is not a URL.";
    if (!originIsOurs(origin, c.request)) return "Requests from other sites are refused.";
  }
  const sent = headers.get("x-csrf-token") ?? formField(c.body, "_csrf");
  if (verdict.cookieSession && verdict.principal.session) {
    return sent && sameSecret(sent, verdict.principal.session.csrf) ? null : "The request lacks this session's CSRF token.";
  }
  if ("csrf" in verdict.requirement && verdict.requirement.csrf === "form") {
    const cookie = readCookie(headers.get("cookie"), FORM_CSRF_COOKIE);
    return cookie && sent && sameSecret(sent, cookie) ? null : "The form has expired.";
  }
  return null;
}

function formField(body: unknown, name: string): string | null {
  if (body && typeof body === "object" && name in body) {
    const value = (body as Record<string, unknown>)[name];
    return typeof value === "string" ? value : null;
  }
  return null;
}

function printerOf(ref: PrinterRef, c: GuardContext, printers: PrinterManager): string | undefined {
  if (ref === "default") return printers.default()?.id;
  if ("param" in ref) return c.params[ref.param];
  const fromQuery = c.query[ref.query];
  return typeof fromQuery === "string" && fromQuery ? fromQuery : printers.default()?.id;
}

/** The path and query of the page an htmx request came from, if it is one of ours; else the dashboard. */
function pageOf(currentUrl: string | null, origin: string): string {
  try {
    const page = new URL(currentUrl ?? "/", origin);
    return page.origin === origin ? page.pathname + page.search : "/";
  } catch {
    return "/";
  }
}

function refuse(kind: ReturnType<typeof routeKind>, status: 401 | 403, code: string, message: string, hint: string, c: GuardContext): Refusal {
  // The host's own camera fetch (a camera URL pointing back here, e.g. the proxied address without
  // a token): a loop, whatever the credentials, not a camera that wants a password.
  if (c.request.headers.has(CAMERA_FETCH_HEADER)) return new Refusal(cameraLoopResponse());
  // OctoPrint answers every missing or insufficient credential with this 403 (api_version_no_key_403).
  if (kind === "octoprint") return new Refusal(Response.json({ error: code === "wrong_printer" || code === "csrf" ? message : OCTOPRINT_FORBIDDEN }, { status: 403 }));
  if (kind === "html") {
    if (status === 401) {
      const url = new URL(c.request.url);
      const hx = c.request.headers.get("hx-request") !== null;
      // After logging in, back to the page: for a click on it (htmx), the page it was made on.
      const next = hx ? pageOf(c.request.headers.get("hx-current-url"), url.origin) : c.path + url.search;
      const location = `/login?next=${encodeURIComponent(next)}`;
      if (hx) return new Refusal(new Response(null, { status: 401, headers: { "HX-Redirect": location } }));
      if (SAFE_METHODS.has(c.request.method)) return new Refusal(new Response(null, { status: 303, headers: { location } }));
    }
    return new Refusal(new Response(`${message} ${hint}`, { status, headers: { "content-type": "text/plain; charset=utf-8" } }));
  }
  return new Refusal(Response.json(errorBody(code, message, hint), { status }));
}

function refuseSetup(kind: ReturnType<typeof routeKind>, path: string): Refusal {
  const message = "Layerline is not set up yet: no admin account exists.";
  const hint = "Open this host in a browser to run the first-run wizard, or POST /api/v1/setup {username, password} from the machine itself (or with --setup-token), or run `layerline users add NAME --admin`.";
  if (kind === "html" && path !== "/ui/events") return new Refusal(new Response(null, { status: 303, headers: { location: "/setup" } }));
  if (kind === "octoprint") return new Refusal(Response.json({ error: `${message} ${hint}` }, { status: 403 }));
  return new Refusal(Response.json(errorBody("setup_required", message, hint), { status: 403 }));
}
