/**
 * The host side of anonymous usage statistics. Off until the user opts in; then, every few hours,
 * one ping (src/tracking/payload.ts) to the registry service: the random instance id, host
 * version, OS/arch, installed plugins, installs/uninstalls since the last ping (the difference of
 * the plugin lists), prints started/finished (from the bus's job events) and the firmware
 * families seen. The user sees exactly the next payload (`preview()`), built by the same function
 * that builds what is sent. Also sends the user's plugin stars (likes), one per instance, under a
 * separate random star id (tracking on or off), so likes cannot be joined to usage reports.
 */
import * as v from "valibot";
import { subscribe, type Bus } from "../events.ts";
import { LIKES_PATH, PING_PATH, PingSchema, platform, type Ping } from "./payload.ts";
import type { Pending, TrackingSettings } from "./settings.ts";

export interface InstalledPlugin {
  id: string;
  version: string;
}

export interface ReporterOptions {
  settings: TrackingSettings;
  bus: Bus;
  version: string;
  /** Installed third-party plugins (the plugin manager passes this in; empty without one). */
  installedPlugins?: () => InstalledPlugin[];
  /** Firmware families that may be named (built-in quirk profiles); others are sent as "other". */
  knownFirmware: ReadonlySet<string>;
  /** Families of the printers connected now. */
  currentFirmware?: () => (string | null | undefined)[];
  /** Between pings (default 6 h). */
  intervalMs?: number;
  /** The first ping after start (default 2 min), so a start is never slowed. */
  firstDelayMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  log?: (line: string) => void;
}

export interface TrackingStatus {
  /** null: never asked (off). */
  enabled: boolean | null;
  url: string;
  intervalHours: number;
  lastSend: ReturnType<TrackingSettings["lastSend"]>;
  /** Exactly what the next ping sends. */
  payload: Ping;
}

/** A send or star that failed, with a sentence and a hint. */
export class TrackingError extends Error {
  constructor(
    readonly code: "tracking_off" | "registry_unreachable" | "registry_refused",
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

const PAYLOAD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const PAYLOAD_VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$/;

/**
 * The ping for the current state. Pure. Plugins the payload schema would refuse are left out
 * rather than failing the ping; with no earlier list (`reported` null) there are no events.
 */
export function buildPing(x: {
  instance: string;
  version: string;
  host: Pick<Ping["host"], "os" | "arch">;
  installed: InstalledPlugin[];
  reported: InstalledPlugin[] | null;
  pending: Pending;
  firmware: string[];
}): Ping {
  const plugins = dedupe(x.installed.filter((p) => PAYLOAD_ID.test(p.id) && PAYLOAD_VERSION.test(p.version))).slice(0, 500);
  const events: Ping["events"] = [];
  if (x.reported) {
    const before = new Map(x.reported.map((p) => [p.id.toLowerCase(), p]));
    const now = new Set(plugins.map((p) => p.id.toLowerCase()));
    for (const p of plugins) if (!before.has(p.id.toLowerCase())) events.push({ event: "install", plugin: p.id, version: p.version });
    for (const [key, p] of before) {
      if (!now.has(key) && PAYLOAD_ID.test(p.id)) events.push({ event: "uninstall", plugin: p.id, version: PAYLOAD_VERSION.test(p.version) ? p.version : null });
    }
  }
  return {
    schema: 1,
    instance: x.instance,
    host: { version: PAYLOAD_VERSION.test(x.version) ? x.version : "unknown", ...x.host },
    plugins,
    events: events.slice(0, 500),
    prints: { started: Math.min(x.pending.started, 1_000_000), finished: Math.min(x.pending.finished, 1_000_000) },
    firmware: [...new Set(x.firmware)].sort().slice(0, 20),
  };
}

function dedupe(list: InstalledPlugin[]): InstalledPlugin[] {
  const seen = new Map<string, InstalledPlugin>();
  for (const p of list) seen.set(p.id.toLowerCase(), { id: p.id, version: p.version });
  return [...seen.values()].sort((a, b) => (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : 1));
}

export class TrackingReporter {
  private readonly settings: TrackingSettings;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly http: typeof fetch;
  /** Families seen since the last delivered ping. */
  private firmwareSeen = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private unsubscribe: (() => void) | undefined;
  private sending: Promise<LastSendResult> | null = null;

  constructor(private readonly o: ReporterOptions) {
    this.settings = o.settings;
    this.intervalMs = o.intervalMs ?? 6 * 3600_000;
    this.now = o.now ?? Date.now;
    this.http = o.fetch ?? fetch;
  }

  /** Listens for print and firmware events and schedules pings (each one only if opted in). */
  start(): void {
    this.unsubscribe = subscribe(this.o.bus, {
      "printer.event": ({ event }) => {
        if (event.type !== "job" || this.settings.enabled() !== true) return;
        if (event.state !== "started" && event.state !== "done") return;
        const p = this.settings.pending();
        this.settings.setPending(event.state === "started" ? { ...p, started: p.started + 1 } : { ...p, finished: p.finished + 1 });
      },
      "printer.status": ({ status }) => {
        if (status.firmware?.profile && this.settings.enabled() === true) this.firmwareSeen.add(this.family(status.firmware.profile));
      },
    });
    this.schedule(this.o.firstDelayMs ?? 2 * 60_000);
  }

  stop(): void {
    this.unsubscribe?.();
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      if (this.settings.enabled() === true) await this.send().catch((e) => this.o.log?.(`usage statistics: ${(e as Error).message}`));
      this.schedule(this.intervalMs);
    }, ms);
    this.timer.unref?.();
  }

  private family(profile: string): string {
    return this.o.knownFirmware.has(profile) ? profile : "other";
  }

  /** Exactly the payload the next ping sends. */
  preview(): Ping {
    const current = (this.o.currentFirmware?.() ?? []).filter((f): f is string => !!f).map((f) => this.family(f));
    return buildPing({
      instance: this.settings.instanceId(),
      version: this.o.version,
      host: platform(),
      installed: this.installed(),
      reported: this.settings.reported(),
      pending: this.settings.pending(),
      firmware: [...this.firmwareSeen, ...current],
    });
  }

  private installed(): InstalledPlugin[] {
    try {
      return this.o.installedPlugins?.() ?? [];
    } catch (e) {
      this.o.log?.(`usage statistics: the installed-plugins list failed: ${(e as Error).message}`);
      return [];
    }
  }

  status(): TrackingStatus {
    return { enabled: this.settings.enabled(), url: this.settings.url(), intervalHours: this.intervalMs / 3600_000, lastSend: this.settings.lastSend(), payload: this.preview() };
  }

  /** Opting in sends the first ping soon; opting out stops pings and forgets what was pending. */
  setEnabled(on: boolean): void {
    const was = this.settings.enabled();
    this.settings.setEnabled(on);
    if (!on) {
      this.settings.setPending({ started: 0, finished: 0 });
      this.settings.setReported(null);
      this.firmwareSeen.clear();
    } else if (was !== true) this.schedule(this.o.firstDelayMs ?? 2 * 60_000);
  }

  /**
   * New random instance and star ids: the registry can no longer link what this host sends next
   * to what it sent before. The installs/uninstalls count afresh (no earlier list), and the stars
   * — likes the registry keeps under the old star id — are forgotten here. Pending print counts are kept.
   */
  resetId(): string {
    this.settings.forgetInstance();
    return this.settings.instanceId();
  }

  setUrl(url: string | null): void {
    this.settings.setUrl(url);
  }

  /** Sends one ping now (only when opted in); on success the pending counts start again from 0. */
  send(): Promise<LastSendResult> {
    if (this.settings.enabled() !== true) return Promise.reject(new TrackingError("tracking_off", "Anonymous usage statistics are off, so nothing is sent.", "Turn them on in Settings → Usage statistics first."));
    return (this.sending ??= this.deliver().finally(() => (this.sending = null)));
  }

  private async deliver(): Promise<LastSendResult> {
    const payload = v.parse(PingSchema, this.preview());
    const url = this.settings.url() + PING_PATH;
    const at = this.now();
    try {
      const response = await this.http(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload), signal: AbortSignal.timeout(15_000) });
      if (!response.ok) {
        const detail = await response.text().catch(() => "");
        throw new TrackingError("registry_refused", `The registry refused the statistics (${response.status}).`, detail.slice(0, 300));
      }
    } catch (e) {
      const error = e instanceof TrackingError ? e : new TrackingError("registry_unreachable", `The registry at ${this.settings.url()} could not be reached: ${(e as Error).message}`, "Check the registry URL and the network; the counts are kept and sent with the next ping.");
      this.settings.setLastSend({ at, ok: false, error: error.message, payload });
      throw error;
    }
    // Delivered: what was counted is now the registry's; counting starts again.
    const pending = this.settings.pending();
    this.settings.setPending({ started: Math.max(0, pending.started - payload.prints.started), finished: Math.max(0, pending.finished - payload.prints.finished) });
    this.settings.setReported(payload.plugins);
    this.firmwareSeen.clear();
    this.settings.setLastSend({ at, ok: true, error: null, payload });
    return { at, payload };
  }

  /** Stars or unstars a plugin at the registry (one like per star id, never the instance id); returns its like count. */
  async star(plugin: string, starred: boolean): Promise<{ plugin: string; starred: boolean; likes: number }> {
    const url = this.settings.url() + LIKES_PATH;
    let response: Response;
    try {
      response = await this.http(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ instance: this.settings.starId(), plugin, liked: starred }),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (e) {
      throw new TrackingError("registry_unreachable", `The registry at ${this.settings.url()} could not be reached: ${(e as Error).message}`, "Check the registry URL and the network, then try again.");
    }
    const body = (await response.json().catch(() => null)) as { likes?: unknown; error?: { message?: string; hint?: string } } | null;
    if (!response.ok || typeof body?.likes !== "number") {
      throw new TrackingError("registry_refused", body?.error?.message ?? `The registry refused the star (${response.status}).`, body?.error?.hint ?? "");
    }
    const stars = new Set(this.settings.stars());
    if (starred) stars.add(plugin);
    else stars.delete(plugin);
    this.settings.setStars([...stars]);
    return { plugin, starred, likes: body.likes };
  }

  stars(): string[] {
    return this.settings.stars();
  }
}

export interface LastSendResult {
  at: number;
  payload: Ping;
}

/** The firmware families that may be named in a ping: the ids of the built-in quirk profiles. */
export function builtInFirmwareFamilies(sources: { source: string; text: string }[]): Set<string> {
  const ids = new Set<string>();
  for (const s of sources) {
    if (!s.source.startsWith("built-in")) continue;
    try {
      const id = (JSON.parse(s.text) as { id?: unknown }).id;
      if (typeof id === "string") ids.add(id);
    } catch {
      // A broken built-in file is reported by the quirks library; it just is not a family here.
    }
  }
  return ids;
}
