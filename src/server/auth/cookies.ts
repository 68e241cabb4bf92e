/**
 * The cookies of browser sessions. The session cookie is HttpOnly (scripts never see it) and
 * SameSite=Lax; the pre-login CSRF cookie protects the login and first-run forms.
 */
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

export function sessionCookie(token: string, remember: boolean, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax${remember ? `; Max-Age=${maxAgeS}` : ""}`;
}

export function clearSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
}

export function formCsrfCookie(token: string): string {
  return `${FORM_CSRF_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

/**
 * OctoPrint's CSRF cookie (`csrf_token_P<port>`, readable by scripts): clients that log in with a
 * password through `/api/login` and then use the cookie echo it as `X-CSRF-Token`.
 */
export function octoprintCsrfCookie(port: string, token: string): string {
  return `csrf_token_P${port}=${token}; Path=/; SameSite=Strict`;
}
