/**
 * Behind a TLS-terminating reverse proxy: forwarding headers believed only from trusted proxies,
 * Secure cookies for https, and the push WebSocket refusing pages of other sites.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clientAddress, setForwarding, trustedProxies } from "../../src/server/auth/reverse-proxy.ts";
import { ADMIN, startTestHost, type TestHost } from "../helpers/host.ts";
import { formToken, login } from "../helpers/session.ts";

describe("trusted proxy addresses", () => {
  test("addresses and CIDR ranges, IPv4, IPv6 and IPv4-mapped; anything else is refused with a sentence", () => {
    const trusted = trustedProxies(["127.0.0.1", "::1", "10.1.0.0/16", "fd00::/8"]);
    for (const a of ["127.0.0.1", "::ffff:127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "10.1.200.3", "fd12:3456::1"]) expect([a, trusted(a)]).toEqual([a, true]);
    for (const a of ["127.0.0.2", "10.2.0.1", "::2", "fe80::1", "", undefined, "localhost"]) expect([a, trusted(a)]).toEqual([a, false]);
    expect(trustedProxies([])("127.0.0.1")).toBe(false);
    for (const bad of ["localhost", "10.0.0.0/33", "1.2.3", "::1/129", "300.1.1.1", "10.0.0.0/x"]) expect(() => trustedProxies([bad])).toThrow("is not an IP address or CIDR range");
  });
});

describe("the client's address behind proxies", () => {
  const trusted = trustedProxies(["127.0.0.1", "10.0.0.0/8"]);
  const address = (peer: string, headers: Record<string, string>) => {
    const request = new Request("http://x/", { headers });
    setForwarding(request, () => peer, trusted);
    return clientAddress(request);
  };

  test("from a trusted proxy: the nearest untrusted hop of X-Forwarded-For, read from the right; else X-Real-IP; else the peer", () => {
    expect(address("127.0.0.1", { "x-forwarded-for": "203.0.113.5" })).toBe("203.0.113.5");
    // What the client wrote itself (left) is not believed: the hop our proxy saw is.
    expect(address("127.0.0.1", { "x-forwarded-for": "127.0.0.1, 203.0.113.5" })).toBe("203.0.113.5");
    expect(address("127.0.0.1", { "x-forwarded-for": "198.51.100.1, 203.0.113.5, 10.1.2.3" })).toBe("203.0.113.5");
    // Every hop trusted: the first.
    expect(address("127.0.0.1", { "x-forwarded-for": "10.9.9.9, 10.1.2.3" })).toBe("10.9.9.9");
    expect(address("127.0.0.1", { "x-forwarded-for": "203.0.113.5:4711" })).toBe("203.0.113.5");
    expect(address("127.0.0.1", { "x-forwarded-for": "[2001:db8::1]:443" })).toBe("2001:db8::1");
    expect(address("127.0.0.1", { "x-real-ip": "203.0.113.9" })).toBe("203.0.113.9");
    expect(address("127.0.0.1", {})).toBe("127.0.0.1");
    // Garbage where a trusted proxy would have written an address: the peer.
    expect(address("127.0.0.1", { "x-forwarded-for": "unknown" })).toBe("127.0.0.1");
  });

  test("from anybody else the headers are ignored", () => {
    expect(address("198.51.100.7", { "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1" })).toBe("198.51.100.7");
  });
});

/** Logs in through the form with these extra headers; returns the Set-Cookie lines. */
async function loginCookies(host: TestHost, headers: Record<string, string>): Promise<string[]> {
  const { cookie, token } = await formToken(host, "/login");
  const res = await host.anonymous("/login", {
    method: "POST",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ _csrf: token, username: ADMIN.username, password: ADMIN.password, next: "/" }),
    redirect: "manual",
  });
  expect(res.status).toBe(303);
  return res.headers.getSetCookie();
}

/** Opens a WebSocket with these headers: "open", or the close code when it is refused. */
function upgrade(url: string, headers: Record<string, string>): Promise<"open" | number> {
  const ws = new WebSocket(url, { headers } as unknown as string[]);
  return new Promise((resolve) => {
    ws.onopen = () => {
      resolve("open");
      ws.close();
    };
    ws.onclose = (e) => resolve(e.code);
  });
}

describe("behind a proxy on this machine (trusted by default)", () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startTestHost();
  }, 30_000);
  afterAll(() => host.close());

  test("the session cookie is Secure when the proxy says the client used https (X-Forwarded-Proto or X-Scheme), not otherwise", async () => {
    const session = (cookies: string[]) => cookies.find((c) => c.startsWith("layerline_session="))!;
    expect(session(await loginCookies(host, { "x-forwarded-proto": "https" }))).toContain("; Secure");
    expect(session(await loginCookies(host, { "x-scheme": "https" }))).toContain("; Secure");
    expect(session(await loginCookies(host, {}))).not.toContain("Secure");
    expect(session(await loginCookies(host, { "x-forwarded-proto": "http" }))).not.toContain("Secure");
    // The login form's CSRF cookie, and OctoPrint's /api/login cookies, too.
    expect((await host.anonymous("/login", { headers: { "x-forwarded-proto": "https" } })).headers.getSetCookie()[0]).toContain("; Secure");
    const api = await host.anonymous("/api/login", { method: "POST", headers: { "content-type": "application/json", "x-forwarded-proto": "https" }, body: JSON.stringify({ user: ADMIN.username, pass: ADMIN.password }) });
    expect(api.status).toBe(200);
    for (const c of api.headers.getSetCookie()) expect(c).toContain("; Secure");
  });

  test("absolute URLs in answers name the address the client used (https and the proxy's host name)", async () => {
    const request = (headers: Record<string, string>) =>
      host.anonymous("/plugin/appkeys/request", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ app: "Cura" }) });
    const proxied = await request({ "x-forwarded-proto": "https", "x-forwarded-host": "printer.example" });
    expect(proxied.status).toBe(201);
    expect(proxied.headers.get("location")).toStartWith("https://printer.example/plugin/appkeys/request/");
    expect((await request({})).headers.get("location")).toStartWith(`${host.url}/plugin/appkeys/request/`);
  });

  test("a page served under the proxy's host name may post (CSRF origin check reads X-Forwarded-Host)", async () => {
    const s = await login(host);
    const post = (headers: Record<string, string>) =>
      host.anonymous("/api/v1/apikeys", { method: "POST", headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json", origin: "https://printer.example", ...headers }, body: '{"name":"proxied"}' });
    expect((await post({})).status).toBe(403);
    expect((await post({ "x-forwarded-host": "printer.example", "x-forwarded-proto": "https" })).status).toBe(201);
  });

  test("logins are throttled per client behind the proxy: one client's wrong passwords do not lock out another's", async () => {
    const attempt = (forwardedFor: string, user: string, pass: string) =>
      host.anonymous("/api/login", { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor }, body: JSON.stringify({ user, pass }) });
    // 20 wrong passwords from one client, each for another name (so no account is locked).
    for (let i = 0; i < 20; i++) expect((await attempt("203.0.113.5", `nobody${i}`, "wrong")).status).toBe(403);
    expect((await attempt("203.0.113.5", ADMIN.username, ADMIN.password)).status).toBe(429);
    expect((await attempt("203.0.113.6", ADMIN.username, ADMIN.password)).status).toBe(200);
  });

  test("the push WebSocket refuses other sites' pages; same origin, the proxy's origin and clients without Origin connect", async () => {
    const ws = `${host.url.replace("http", "ws")}/sockjs/websocket`;
    expect(await upgrade(ws, { origin: "http://evil.example" })).not.toBe("open");
    expect(await upgrade(ws, { origin: "null" })).not.toBe("open");
    expect(await upgrade(`${host.url.replace("http", "ws")}/sockjs/0/abc/websocket`, { origin: "http://evil.example" })).not.toBe("open");
    expect(await upgrade(ws, { origin: host.url })).toBe("open");
    expect(await upgrade(ws, {})).toBe("open");
    expect(await upgrade(ws, { origin: "https://printer.example", "x-forwarded-host": "printer.example", "x-forwarded-proto": "https" })).toBe("open");
    // A refused upgrade says why.
    const refused = await host.anonymous("/sockjs/websocket", { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", origin: "http://evil.example" } });
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe("cross_origin");
  });
});

describe("with no trusted proxy", () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startTestHost({ trustedProxies: [] });
  }, 30_000);
  afterAll(() => host.close());

  test("forwarding headers from anybody else are ignored: no Secure cookie, no other host's origin", async () => {
    const cookies = await loginCookies(host, { "x-forwarded-proto": "https", "x-scheme": "https" });
    expect(cookies.find((c) => c.startsWith("layerline_session="))).not.toContain("Secure");
    const ws = `${host.url.replace("http", "ws")}/sockjs/websocket`;
    expect(await upgrade(ws, { origin: "https://printer.example", "x-forwarded-host": "printer.example", "x-forwarded-proto": "https" })).not.toBe("open");
    expect(await upgrade(ws, { origin: host.url })).toBe("open");
  });
});
