/**
 * Asks the servers Layerline uses whether they can be reached: a DNS lookup, then one HEAD
 * request, each with a short timeout. Results are kept for a few minutes and concurrent callers
 * share one round, so pages, the API and `/api/system/info` never multiply requests; it all runs
 * on the main thread's event loop, never on a printer's thread.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { UpdateSettingsStore } from "../../update/settings.ts";
import { TrackingSettings } from "../../tracking/settings.ts";
import { configuredIndexUrl, configuredRefreshHours } from "../../plugins/repository/source.ts";
import type { SettingsStore } from "../../db/settings.ts";
import type { ConnectivityFacts, Target, TargetResult } from "../connectivity.ts";

export const DNS_TIMEOUT_MS = 3000;
export const HTTP_TIMEOUT_MS = 5000;
/** How long a result is used before the servers are asked again. */
export const FRESH_MS = 5 * 60_000;

/**
 * The servers Layerline talks to with this host's settings, each only while its feature is on:
 * the update manifest while automatic checks run, the plugin index while it refreshes, the
 * registry while usage statistics are sent.
 */
export function targetsFromSettings(settings: SettingsStore, indexUrl: string | null = configuredIndexUrl(settings), refreshHours = configuredRefreshHours(settings)): Target[] {
  const out: Target[] = [];
  const update = new UpdateSettingsStore(settings).read();
  if (update.url && update.checkHours > 0) out.push({ purpose: "updates", url: update.url.replaceAll("{channel}", update.channel) });
  if (indexUrl && refreshHours > 0) out.push({ purpose: "plugin index", url: indexUrl });
  const tracking = new TrackingSettings(settings);
  if (tracking.enabled() === true) out.push({ purpose: "usage statistics", url: tracking.url() });
  return out;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms)))]).finally(() => clearTimeout(timer));
}

/** One server: its name, then a HEAD request (any HTTP answer means it was reached). */
export async function probe(target: Target, timeouts = { dns: DNS_TIMEOUT_MS, http: HTTP_TIMEOUT_MS }): Promise<TargetResult> {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return { ...target, host: target.url, dns: { ok: false, error: "not a URL" }, reach: null };
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let dns: TargetResult["dns"];
  if (isIP(host)) dns = { ok: true, addresses: [host] };
  else {
    try {
      const found = await withTimeout(lookup(host, { all: true }), timeouts.dns, "the name lookup");
      dns = { ok: true, addresses: found.map((a) => a.address) };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      dns = { ok: false, error: err.code === "ENOTFOUND" ? "no such name, or no name server answers" : (err.code ?? err.message) };
    }
  }
  if (!dns.ok) return { ...target, host, dns, reach: null };
  const started = performance.now();
  try {
    const response = await fetch(url, { method: "HEAD", redirect: "manual", signal: AbortSignal.timeout(timeouts.http) });
    await response.body?.cancel();
    return { ...target, host, dns, reach: { ok: true, status: response.status, ms: Math.round(performance.now() - started) } };
  } catch (e) {
    const err = e as Error & { code?: string };
    const timedOut = err.name === "TimeoutError" || err.name === "AbortError";
    return { ...target, host, dns, reach: { ok: false, error: timedOut ? `no answer within ${timeouts.http / 1000} s` : err.message, code: err.code ?? null } };
  }
}

export class ConnectivityProbe {
  private last: { facts: ConnectivityFacts; key: string } | null = null;
  private running: { promise: Promise<ConnectivityFacts>; key: string } | null = null;

  constructor(
    private readonly targets: () => Target[],
    private readonly options: { freshMs?: number; timeouts?: { dns: number; http: number }; now?: () => number } = {},
  ) {}

  /** The latest result, if any (whatever its age). */
  latest(): ConnectivityFacts | null {
    return this.last?.facts ?? null;
  }

  /** A result at most `maxAgeMs` old (default FRESH_MS) for the servers configured now; asks them when there is none. */
  check(maxAgeMs = this.options.freshMs ?? FRESH_MS): Promise<ConnectivityFacts> {
    const now = this.options.now?.() ?? Date.now();
    const targets = this.targets();
    const key = JSON.stringify(targets);
    if (this.last && this.last.key === key && now - this.last.facts.at < maxAgeMs) return Promise.resolve(this.last.facts);
    if (this.running && this.running.key === key) return this.running.promise;
    const promise = Promise.all(targets.map((t) => probe(t, this.options.timeouts))).then((results) => {
      const facts = { at: this.options.now?.() ?? Date.now(), results };
      this.last = { facts, key };
      return facts;
    });
    this.running = { promise, key };
    void promise.finally(() => {
      if (this.running?.promise === promise) this.running = null;
    });
    return promise;
  }
}
