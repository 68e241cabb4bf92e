/**
 * The cookies of browser sessions. The session cookie is HttpOnly (scripts never see it) and
 * SameSite=Lax; the pre-login CSRF cookie protects the login and first-run forms. Each is
 * `Secure` when the request came over https (through a trusted TLS-terminating proxy), so the
 * browser never sends it over plain http. Behind a proxy at a sub-path (X-Script-Name) their
 * `Path` is that prefix, so they are sent there (and not to other apps on the same host).
 */
import { pathPrefix } from "../path-prefix.ts";
import { cameOverHttps } from "./reverse-proxy.ts";

export const SESSION_COOKIE = "layerline_session";
export const FORM_CSRF_COOKIE = "layerline_csrf";

/** The value of one cookie in a Cookie header. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

const cookiePath = (request: Request) => pathPrefix(request) || "/";

const secure = (request: Request) => (cameOverHttps(request) ? "; Secure" : "");

export function sessionCookie(request: Request, token: string, remember: boolean, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${token}; Path=${cookiePath(request)}; HttpOnly; SameSite=Lax${remember ? `; Max-Age=${maxAgeS}` : ""}${secure(request)}`;
}

export function clearSessionCookie(request: Request): string {
  return `${SESSION_COOKIE}=; Path=${cookiePath(request)}; HttpOnly; SameSite=Lax; Max-Age=0${secure(request)}`;
}

export function formCsrfCookie(request: Request, token: string): string {
  return `${FORM_CSRF_COOKIE}=${token}; Path=${cookiePath(request)}; HttpOnly; SameSite=Strict${secure(request)}`;
}

/**
 * OctoPrint's CSRF cookie (`csrf_token_P<port>`, readable by scripts): clients that log in with a
 * password through `/api/login` and then use the cookie echo it as `X-CSRF-Token`.
 */
export function octoprintCsrfCookie(request: Request, port: string, token: string): string {
  return `csrf_token_P${port}=${token}; Path=${cookiePath(request)}; SameSite=Strict${secure(request)}`;
}
