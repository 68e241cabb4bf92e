/**
 * Browser-like logins for tests: the login form with its CSRF cookie, then the session cookie
 * and the CSRF token the pages carry in hx-headers.
 */
import { ADMIN, type TestHost } from "./host.ts";

export interface BrowserSession {
  cookie: string;
  csrf: string;
}

const cookieValue = (res: Response, name: string) => {
  for (const c of res.headers.getSetCookie()) if (c.startsWith(`${name}=`)) return c.slice(name.length + 1).split(";")[0]!;
  return undefined;
};

/** Fetches a form page and returns its form-CSRF cookie and token. */
export async function formToken(host: TestHost, path: string): Promise<{ cookie: string; token: string }> {
  const res = await host.anonymous(path);
  const token = /name="_csrf" value="([^"]+)"/.exec(await res.text())?.[1];
  const cookie = cookieValue(res, "layerline_csrf");
  if (!token || !cookie) throw new Error(`no form token on ${path} (${res.status})`);
  return { cookie: `layerline_csrf=${cookie}`, token };
}

/** Posts the login form with its CSRF token and these fields (redirects not followed). */
export async function postLogin(host: TestHost, fields: Record<string, string>): Promise<Response> {
  const { cookie, token } = await formToken(host, "/login");
  return host.anonymous("/login", {
    method: "POST",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: token, ...fields }),
    redirect: "manual",
  });
}

/** Logs in through the form; returns the session cookie and its CSRF token. */
export async function login(host: TestHost, username = ADMIN.username, password = ADMIN.password): Promise<BrowserSession> {
  const res = await postLogin(host, { username, password, next: "/" });
  const session = cookieValue(res, "layerline_session");
  if (res.status !== 303 || !session) throw new Error(`login failed: ${res.status}`);
  const page = await (await host.anonymous("/", { headers: { cookie: `layerline_session=${session}` } })).text();
  const csrf = /X-CSRF-Token&quot;:&quot;([^&]+)&quot;/.exec(page)?.[1] ?? /"X-CSRF-Token":"([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error("no CSRF token on the dashboard");
  return { cookie: `layerline_session=${session}`, csrf };
}
