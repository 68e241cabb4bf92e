/**
 * What a request looked like before a reverse proxy forwarded it: the scheme (https when the proxy
 * terminated TLS), the host the browser asked for and the client's address. Read from
 * `X-Forwarded-Proto` / `X-Scheme`, `X-Forwarded-Host` and `X-Forwarded-For` / `X-Real-IP`, but
 * only when the connection comes from a trusted proxy: anybody else could send those headers. OctoPrint trusts the same headers from loopback by default
 * (`server.reverseProxy.trustedProxies`), which covers a proxy on the same machine.
 */

/** Trusted when nothing else is configured: a proxy on this machine. */
export const DEFAULT_TRUSTED_PROXIES: readonly string[] = ["127.0.0.1", "::1"];

/** A test of peer addresses against a list of addresses and CIDR ranges (IPv4 and IPv6). */
export type ProxyMatcher = (address: string | undefined) => boolean;

/** Parses `192.168.1.2`, `10.0.0.0/8`, `::1`, `fd00::/8`; throws a sentence for anything else. */
export function trustedProxies(list: readonly string[]): ProxyMatcher {
  const ranges = list.map((entry) => {
    const [address, bits] = entry.trim().split("/") as [string, string | undefined];
    const bytes = addressBytes(address);
    const max = bytes ? bytes.length * 8 : 0;
    const prefix = bits === undefined ? max : Number(bits);
    if (!bytes || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
      throw new Error(`"${entry}" is not an IP address or CIDR range (such as 192.168.1.10, 10.0.0.0/8 or ::1)`);
    }
    return { bytes, prefix };
  });
  return (address) => {
    const bytes = address ? addressBytes(address) : null;
    return !!bytes && ranges.some((r) => r.bytes.length === bytes.length && samePrefix(r.bytes, bytes, r.prefix));
  };
}

/** The bytes of an IPv4 or IPv6 address (an IPv4-mapped IPv6 address as IPv4), or null. */
function addressBytes(text: string): number[] | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped) return addressBytes(mapped[1]!);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
    const parts = text.split(".").map(Number);
    return parts.every((p) => p <= 255) ? parts : null;
  }
  if (!text.includes(":") || !/^[0-9a-f:]+$/i.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 2 ? missing < 1 : missing !== 0) || [...head, ...tail].some((g) => g.length < 1 || g.length > 4)) return null;
  const words = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail].map((g) => parseInt(g, 16));
  return words.flatMap((w) => [w >> 8, w & 255]);
}

function samePrefix(a: number[], b: number[], bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const mask = bits - i >= 8 ? 255 : (0xff << (8 - (bits - i))) & 255;
    if ((a[i / 8]! & mask) !== (b[i / 8]! & mask)) return false;
  }
  return true;
}

interface Forwarding {
  peer: () => string | undefined;
  trusted: ProxyMatcher;
}
const forwardings = new WeakMap<Request, Forwarding>();

/** Records how to judge this request's forwarding headers (the guard does, for every request); the peer is looked up only when asked. */
export function setForwarding(request: Request, peer: () => string | undefined, trusted: ProxyMatcher): void {
  forwardings.set(request, { peer, trusted });
}

/** Whether this request came from a trusted proxy, so its forwarding headers are believed. */
export function fromTrustedProxy(request: Request): boolean {
  const f = forwardings.get(request);
  return !!f && f.trusted(f.peer());
}

/** The first value of a forwarding header (a chain of proxies lists one per hop, the client's first). */
const first = (value: string | null) => value?.split(",")[0]?.trim().toLowerCase() || null;

/**
 * The scheme and host the client used: the forwarded ones when a trusted proxy sent them, else
 * the connection's own (the Host header).
 */
export function publicAddress(request: Request): { scheme: "http" | "https"; host: string } {
  const url = new URL(request.url);
  const own = { scheme: url.protocol === "https:" ? ("https" as const) : ("http" as const), host: request.headers.get("host") ?? url.host };
  const f = forwardings.get(request);
  const h = request.headers;
  if (!f || !(h.has("x-forwarded-proto") || h.has("x-scheme") || h.has("x-forwarded-host")) || !f.trusted(f.peer())) return own;
  const proto = first(h.get("x-forwarded-proto")) ?? first(h.get("x-scheme"));
  return { scheme: proto === "https" ? "https" : proto === "http" ? "http" : own.scheme, host: first(h.get("x-forwarded-host")) ?? own.host };
}

/** An address in a forwarding header as the proxy wrote it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::1`. */
function hopAddress(text: string): string | null {
  const t = text.trim();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d+)?$/i.exec(t);
  const candidate = bracketed ? bracketed[1]! : /^\d+\.\d+\.\d+\.\d+:\d+$/.test(t) ? t.slice(0, t.lastIndexOf(":")) : t;
  return addressBytes(candidate) ? candidate : null;
}

/**
 * The client's address: the connection's peer, or — when that peer is a trusted proxy — the
 * nearest address in `X-Forwarded-For` that is not a trusted proxy itself, read from the right
 * (each proxy appends the address it saw; what is further left came from the client and could be
 * anything), else `X-Real-IP`. Logins are throttled per this address, so behind a proxy one client
 * guessing passwords does not lock everyone else out, and the loopback checks (the local token,
 * headless setup) see a remote client as remote even through a proxy on this machine.
 */
export function clientAddress(request: Request): string | undefined {
  const f = forwardings.get(request);
  const peer = f?.peer();
  if (!f || !f.trusted(peer)) return peer;
  const chain = (request.headers.get("x-forwarded-for") ?? "").split(",").filter((h) => h.trim() !== "");
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = hopAddress(chain[i]!);
    if (!hop) return peer; // a proxy we trust would not have written this: keep what we know
    if (!f.trusted(hop) || i === 0) return hop;
  }
  const real = request.headers.get("x-real-ip");
  return (real && hopAddress(real)) || peer;
}

/** The origin the client used (`https://printer.example.com` behind a TLS proxy): for absolute URLs in answers. */
export function publicOrigin(request: Request): string {
  const { scheme, host } = publicAddress(request);
  return `${scheme}://${host}`;
}

/** Whether the client reached us over https (directly or through a trusted TLS-terminating proxy): cookies get `Secure`. */
export function cameOverHttps(request: Request): boolean {
  return publicAddress(request).scheme === "https";
}

/**
 * Whether an `Origin` header names this host as the client sees it. Compared by host, as the
 * CSRF check always has: what matters is that another site's page cannot act here.
 */
export function originIsOurs(origin: string, request: Request): boolean {
  try {
    return new URL(origin).host.toLowerCase() === publicAddress(request).host.toLowerCase();
  } catch {
    return false;
  }
}
