/**
 * Connectivity checks, pure: which of the servers Layerline itself uses (the update manifest's,
 * the plugin index's, the usage-statistics registry's — only those whose feature is on) resolve
 * and answer. No other host is ever asked: with those features off there is nothing to check.
 */
import { finding, type Finding } from "./finding.ts";

export type Purpose = "updates" | "plugin index" | "usage statistics";

/** A server to check, and why Layerline talks to it. */
export interface Target {
  purpose: Purpose;
  url: string;
}

export interface TargetResult extends Target {
  host: string;
  dns: { ok: true; addresses: string[] } | { ok: false; error: string };
  /** The HTTP(S) request; null when it was not tried (the name did not resolve). */
  reach: { ok: true; status: number; ms: number } | { ok: false; error: string; code: string | null } | null;
}

export interface ConnectivityFacts {
  at: number;
  results: TargetResult[];
}

/** Online: at least one server Layerline uses answered. null: nothing to check (those features are off). */
export function isOnline(facts: ConnectivityFacts): boolean | null {
  if (facts.results.length === 0) return null;
  return facts.results.some((r) => r.reach?.ok === true);
}

/** TLS failures that a wrong clock causes. */
const CLOCK_ERRORS = /CERT_NOT_YET_VALID|not yet valid|CERT_HAS_EXPIRED|certificate has expired/i;

export function connectivityFindings(facts: ConnectivityFacts): Finding[] {
  if (facts.results.length === 0) {
    return [
      finding(
        "connectivity.servers",
        "connectivity",
        "not-applicable",
        "Servers Layerline uses",
        "No update source, plugin index or usage statistics are configured (or their automatic checks are off), so Layerline talks to no server on the internet and none is checked.",
      ),
    ];
  }
  return facts.results.map(targetFinding);
}

function targetFinding(r: TargetResult): Finding {
  const id = `connectivity.${r.purpose.replace(/\s+/g, "-")}`;
  const title = `Reaching the ${r.purpose} server (${r.host})`;
  if (!r.dns.ok) {
    return finding(
      id,
      "connectivity",
      "warning",
      title,
      `The name ${r.host} does not resolve (${r.dns.error}): this machine has no working internet connection or name server, or the ${r.purpose} URL is mistyped (${r.url}).`,
      "Check the network connection (cable or Wi-Fi) and the name server; printing goes on without it.",
      [`getent hosts ${r.host}`, "resolvectl status || cat /etc/resolv.conf"],
    );
  }
  if (!r.reach) return finding(id, "connectivity", "unknown", title, `${r.host} resolves, but was not asked.`);
  if (!r.reach.ok) {
    const clock = CLOCK_ERRORS.test(`${r.reach.code ?? ""} ${r.reach.error}`);
    return finding(
      id,
      "connectivity",
      "warning",
      title,
      `${r.host} resolves to ${r.dns.addresses.join(", ")}, but ${r.url} did not answer: ${r.reach.error}.${clock ? " The server's certificate looks not yet valid or expired: this machine's clock is probably wrong." : ""}`,
      clock ? "Set the clock from the network (see the Clock finding)." : "Check that this machine can reach the internet (a firewall, a proxy, a Wi-Fi login page) and that the URL is right.",
      clock ? ["timedatectl status", "sudo timedatectl set-ntp true"] : [`curl -sSI ${shellQuote(r.url)}`],
    );
  }
  return finding(id, "connectivity", "ok", title, `${r.host} answered (HTTP ${r.reach.status}) in ${r.reach.ms} ms.`);
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
