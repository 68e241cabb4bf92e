/**
 * OctoPrint's push channel (octoprint-compat.md §3): a plain WebSocket at `/sockjs/websocket` and
 * SockJS framing under `/sockjs` (info, websocket and xhr-polling transports), per printer under
 * `/printers/<id>/…` too. Messages are `{"<type>": payload}`: `connected`, `reauthRequired`,
 * `history`, `current` (at most one per 500 ms × the client's throttle), `event`, `plugin`,
 * `timelapse`. Clients send `auth`, `throttle` and `subscribe`.
 */
import { Elysia } from "elysia";
import { join } from "node:path";
import { revocationConcerns, type Principal } from "../../../accounts/accounts.ts";
import { subscribe, type Events } from "../../../events.ts";
import { frameName } from "../../../timelapse/store.ts";
import type { LogLine, PrinterEvent } from "../../../printers/controller.ts";
import type { PrinterSession } from "../../../printers/session.ts";
import type { PrinterStatus } from "../../../printers/status.ts";
import { principalOf } from "../../auth/principal.ts";
import { clientAddress } from "../../auth/reverse-proxy.ts";
import type { AppContext } from "../../context.ts";
import { PRINTER_PREFIX } from "./permissions.ts";
import { jobPayload, printerState, progressPayload, stateText, type JobContext, type TempPoint } from "./state.ts";
import type { OctoTracker } from "./tracker.ts";
import { timelapseConfigPayload } from "./timelapse.ts";
import { onlineNow, safeModeWord } from "./system.ts";
import { octoPermissionKeys, OCTO_PERMISSIONS, permissionJson } from "./users.ts";

export const BASE_INTERVAL_MS = 500;
const BACKLOG = 100;
const LOG_KEEP = 300;
const HEARTBEAT_MS = 25_000;

type Subscription = {
  state: boolean | { logs: boolean | RegExp; messages: boolean | RegExp };
  plugins: boolean | string[];
  events: boolean | string[];
};

/** One connected push client, whatever its transport. */
export class PushClient {
  principal: Principal;
  throttle = 1;
  subscription: Subscription | null = null;
  authed = false;
  lastCurrent = 0;
  lastTempTime = 0;
  timer: ReturnType<typeof setTimeout> | undefined;
  logs: string[] = [];
  messages: string[] = [];
  backlog: string[] = [];
  closed = false;

  constructor(
    readonly printerId: string,
    readonly remoteAddress: string,
    /** Sends one message (the JSON text of `{type: payload}`). */
    readonly deliver: (text: string) => void,
    initial: Principal,
  ) {
    this.principal = initial;
  }

  get mayStatus(): boolean {
    return this.principal.permissions.has("status") && (!this.principal.printerId || this.principal.printerId === this.printerId);
  }
}

export interface PushDeps {
  tracker: OctoTracker;
  jobContext: (session: PrinterSession) => JobContext;
}

/** The hub: one per host, fanning printer changes out to every client. */
export class PushHub {
  readonly clients = new Set<PushClient>();
  private readonly unsubscribe: () => void;
  private readonly lastState = new Map<string, PrinterStatus["state"]>();

  constructor(
    private readonly ctx: AppContext,
    private readonly deps: PushDeps,
  ) {
    this.unsubscribe = subscribe(ctx.bus, {
      "printer.status": ({ id, status }) => {
        this.stateEvents(id, status);
        for (const c of this.clients) if (c.printerId === id) this.schedule(c);
      },
      "printer.log": ({ id, lines }) => {
        for (const c of this.clients) if (c.printerId === id && c.authed) this.collect(c, lines);
      },
      "printer.event": ({ id, event }) => this.jobEvent(id, event),
      "files.changed": () => this.broadcastEvent(null, "UpdatedFiles", { type: "printables" }),
      "timelapse.event": (e) => this.timelapseEvent(e),
      // A custom control's read-out, as OctoPrint pushes it: the regex's key and the text by template key.
      "controls.output": (e) => {
        const feedback = ctx.controls.octoprintFeedback(e.key, e.text);
        if (!feedback) return;
        const text = JSON.stringify({ feedbackCommandOutput: feedback });
        for (const c of this.clients) if (c.printerId === e.printer && c.authed) this.sendOrKeep(c, text);
      },
      "plugin.message": ({ plugin, data }) => {
        for (const c of this.clients) if (this.wants(c, "plugin", plugin)) this.sendOrKeep(c, JSON.stringify({ plugin: { plugin, data } }));
      },
      "accounts.revoked": ({ userId, reason, sessions }) => {
        for (const c of this.clients) {
          if (!c.authed || !revocationConcerns({ userId, reason, sessions }, c.principal)) continue;
          this.deauth(c, reason === "modified" ? "modified" : reason === "removed" ? "removed" : "logout");
        }
      },
    });
  }

  /** A new client: `connected` at once; already authenticated if the upgrade carried credentials. */
  open(client: PushClient): void {
    this.clients.add(client);
    client.deliver(JSON.stringify({ connected: this.connectedPayload() }));
    if (client.principal.user) this.authenticate(client, client.principal);
    else if (client.mayStatus) this.sendHistory(client); // guests may hold STATUS
  }

  close(client: PushClient): void {
    client.closed = true;
    if (client.timer) clearTimeout(client.timer);
    this.clients.delete(client);
  }

  /** Handles one client message (already decoded from its transport). */
  receive(client: PushClient, raw: unknown): void {
    let msg = raw;
    if (typeof msg === "string") {
      try {
        msg = JSON.parse(msg);
      } catch {
        return; // not JSON: ignored, as OctoPrint does
      }
    }
    if (!msg || typeof msg !== "object" || Array.isArray(msg)) return;
    const m = msg as Record<string, unknown>;
    if ("throttle" in m) {
      const n = Math.floor(Number(m.throttle));
      if (Number.isFinite(n) && n >= 1) client.throttle = Math.min(n, 100);
    }
    if ("subscribe" in m) client.subscription = parseSubscription(m.subscribe);
    if ("auth" in m && typeof m.auth === "string") {
      const colon = m.auth.indexOf(":");
      const token = colon >= 0 ? m.auth.slice(colon + 1) : "";
      // The session identifies the user; the name before it is informational (some clients send
      // a fixed "admin").
      const principal = token ? this.ctx.accounts.principalForSession(token) : undefined;
      if (!principal) {
        client.deliver(JSON.stringify({ reauthRequired: { reason: "stale" } }));
        return;
      }
      this.authenticate(client, principal);
    }
  }

  stop(): void {
    this.unsubscribe();
    for (const c of this.clients) if (c.timer) clearTimeout(c.timer);
    this.clients.clear();
  }

  private authenticate(client: PushClient, principal: Principal): void {
    client.principal = principal;
    client.authed = true;
    if (!client.mayStatus) return;
    this.sendHistory(client);
    // OctoPrint sends the timelapse settings, null when there are none (off).
    const timelapse = timelapseConfigPayload(this.ctx.timelapse.config(client.printerId));
    client.deliver(JSON.stringify({ timelapse: timelapse.type === "off" ? null : timelapse }));
    if (this.wants(client, "event", "ClientAuthed")) {
      client.deliver(JSON.stringify({ event: { type: "ClientAuthed", payload: { username: principal.user?.name ?? null, remoteAddress: client.remoteAddress } } }));
    }
    for (const text of client.backlog.splice(0)) client.deliver(text);
  }

  private deauth(client: PushClient, reason: string): void {
    client.authed = false;
    client.principal = this.ctx.accounts.anonymous();
    client.deliver(JSON.stringify({ reauthRequired: { reason } }));
  }

  private sendHistory(client: PushClient): void {
    const session = this.ctx.printers.get(client.printerId);
    if (!session) return;
    const x = this.deps.tracker.of(session.id);
    const terminal = this.terminalAllowed(client);
    client.lastTempTime = x.temps.at(-1)?.time ?? 0;
    client.logs = [];
    client.messages = [];
    client.lastCurrent = Date.now();
    const base = this.statePart(session);
    const payload = {
      ...base,
      temps: x.temps,
      logs: terminal ? session.terminal.map(logText) : [],
      messages: terminal ? session.terminal.filter((l) => l.dir === "recv").map((l) => l.text) : [],
      markings: x.markings,
      serverTime: Date.now() / 1000,
    };
    if (this.wants(client, "state")) client.deliver(JSON.stringify({ history: payload }));
  }

  private statePart(session: PrinterSession) {
    const status = session.status;
    const j = this.deps.jobContext(session);
    return {
      state: printerState(status),
      job: jobPayload(status, j),
      currentZ: status.position?.z ?? null,
      progress: progressPayload(status, j),
      offsets: { ...this.deps.tracker.of(session.id).offsets },
      resends: {
        count: status.link.resendRequests,
        transmitted: status.link.linesSent,
        ratio: status.link.linesSent > 0 ? Math.round((status.link.linesResent / status.link.linesSent) * 100) : 0,
      },
    };
  }

  /** Queues a `current` for the client no sooner than its rate limit allows. */
  private schedule(client: PushClient): void {
    if (client.timer || client.closed || !client.mayStatus || !(client.authed || client.principal.permissions.has("status"))) return;
    const wait = Math.max(0, client.lastCurrent + BASE_INTERVAL_MS * client.throttle - Date.now());
    client.timer = setTimeout(() => {
      client.timer = undefined;
      if (!client.closed) this.sendCurrent(client);
    }, wait);
  }

  private sendCurrent(client: PushClient): void {
    const session = this.ctx.printers.get(client.printerId);
    if (!session) return;
    client.lastCurrent = Date.now();
    if (!this.wants(client, "state")) return;
    const x = this.deps.tracker.of(session.id);
    const temps: TempPoint[] = x.temps.filter((t) => t.time > client.lastTempTime);
    if (temps.length) client.lastTempTime = temps.at(-1)!.time;
    const inUse = this.ctx.printers.filesInUse();
    const busyFiles = session.status.job && inUse.has(session.status.job.file) ? [{ origin: "local", path: session.status.job.file }] : [];
    const current = {
      ...this.statePart(session),
      serverTime: Date.now() / 1000,
      temps,
      busyFiles,
      markings: x.markings,
      logs: this.filterLines(client, client.logs, "logs"),
      messages: this.filterLines(client, client.messages, "messages"),
    };
    client.logs = [];
    client.messages = [];
    client.deliver(JSON.stringify({ current }));
  }

  private collect(client: PushClient, lines: LogLine[]): void {
    if (!this.terminalAllowed(client)) return;
    for (const l of lines) {
      client.logs.push(logText(l));
      if (l.dir === "recv") client.messages.push(l.text);
    }
    if (client.logs.length > LOG_KEEP) client.logs.splice(0, client.logs.length - LOG_KEEP);
    if (client.messages.length > LOG_KEEP) client.messages.splice(0, client.messages.length - LOG_KEEP);
  }

  private terminalAllowed(client: PushClient): boolean {
    return client.mayStatus && octoPermissionKeys(client.principal.permissions).includes("MONITOR_TERMINAL");
  }

  private filterLines(client: PushClient, lines: string[], kind: "logs" | "messages"): string[] {
    const state = client.subscription?.state;
    if (state === undefined || state === true) return lines;
    if (state === false) return [];
    const f = state[kind];
    if (f === true) return lines;
    if (f === false) return [];
    return lines.filter((l) => f.test(l));
  }

  private wants(client: PushClient, type: "state" | "plugin" | "event", name?: string): boolean {
    const s = client.subscription;
    if (!s) return true;
    if (type === "state") return s.state !== false;
    const list = type === "plugin" ? s.plugins : s.events;
    return list === true || (Array.isArray(list) && name !== undefined && list.includes(name));
  }

  private sendOrKeep(client: PushClient, text: string): void {
    if (client.mayStatus && (client.authed || client.principal.permissions.has("status"))) client.deliver(text);
    else {
      client.backlog.push(text);
      if (client.backlog.length > BACKLOG) client.backlog.shift();
    }
  }

  /** Sends an event to the clients of one printer (or all with null), as their subscriptions allow. */
  event(printerId: string | null, type: string, payload: Record<string, unknown>): void {
    this.broadcastEvent(printerId, type, payload);
  }

  private broadcastEvent(printerId: string | null, type: string, payload: Record<string, unknown>): void {
    const text = JSON.stringify({ event: { type, payload } });
    for (const c of this.clients) if ((printerId === null || c.printerId === printerId) && this.wants(c, "event", type)) this.sendOrKeep(c, text);
  }

  private stateEvents(id: string, status: PrinterStatus): void {
    const before = this.lastState.get(id);
    if (before === status.state) return;
    this.lastState.set(id, status.state);
    if (before === undefined) return;
    const session = this.ctx.printers.get(id);
    this.broadcastEvent(id, "PrinterStateChanged", { state_id: status.state.toUpperCase(), state_string: stateText(status) });
    const linked = (s: string) => s === "operational" || s === "printing" || s === "paused";
    if (linked(status.state) && !linked(before) && session) {
      this.broadcastEvent(id, "Connected", { port: session.record.transport === "virtual" ? "VIRTUAL" : session.record.port, baudrate: session.record.baud });
    }
    if (status.state === "closed" && before !== "closed") this.broadcastEvent(id, "Disconnected", {});
    if (status.state === "error") this.broadcastEvent(id, "Error", { error: status.problem?.message ?? "" });
  }

  /** Timelapse frames and renders as OctoPrint's events (docs/events) and its `renderProgress` message. */
  private timelapseEvent(e: Events["timelapse.event"]): void {
    if (e.kind === "progress") {
      const text = JSON.stringify({ renderProgress: { progress: e.progress } });
      for (const c of this.clients) if (c.printerId === e.printer && c.authed) this.sendOrKeep(c, text);
      return;
    }
    const file = e.frame ? join(this.ctx.timelapse.store.framesRoot, e.set, frameName(e.frame)) : "";
    const movie = e.video ?? `${e.set}.mp4`;
    const movieInfo = { gcode: e.file ?? "", movie: join(this.ctx.timelapse.store.root, movie), movie_basename: movie, movie_prefix: e.set };
    const octo = {
      captured: ["CaptureDone", { file }],
      "capture-failed": ["CaptureFailed", { file, error: e.error ?? "", webcamDisplay: "Classic Webcam", snapshotDisplay: "", webcamProvider: "classicwebcam" }],
      rendering: ["MovieRendering", movieInfo],
      rendered: ["MovieDone", movieInfo],
      "render-failed": ["MovieFailed", { ...movieInfo, returncode: 1, out: "", error: e.error ?? "", reason: "returncode" }],
    } as const;
    const [type, payload] = octo[e.kind];
    this.broadcastEvent(e.printer, type, payload);
  }

  private jobEvent(id: string, event: PrinterEvent): void {
    if (event.type !== "job") return;
    const session = this.ctx.printers.get(id);
    const file = session && event.file ? safeFile(this.ctx, event.file) : undefined;
    const type = { started: "PrintStarted", done: "PrintDone", cancelled: "PrintCancelled", failed: "PrintFailed", paused: "PrintPaused", resumed: "PrintResumed" }[event.state];
    const user = this.deps.tracker.of(id).selected?.user ?? null;
    const payload: Record<string, unknown> = { name: event.file.split("/").pop(), path: event.file, origin: "local", size: file?.size ?? null, owner: user, user };
    const ended = event.state === "done" || event.state === "cancelled" || event.state === "failed";
    if (ended && session?.status.progress) payload.time = session.status.progress.printTime;
    // OctoPrint's reason is a word, not our sentence: "error" for a failure (a disconnect
    // included), and a cancelled print is a failed one too: PrintCancelled, then PrintFailed.
    if (event.state === "failed") payload.reason = "error";
    this.broadcastEvent(id, type, payload);
    if (event.state === "cancelled") this.broadcastEvent(id, "PrintFailed", { ...payload, reason: "cancelled" });
  }

  private connectedPayload() {
    return {
      version: this.ctx.version,
      display_version: `${this.ctx.version} (Layerline)`,
      branch: "main",
      python_version: `bun ${Bun.version}`,
      plugin_hash: "",
      config_hash: "",
      debug: false,
      safe_mode: safeModeWord(this.ctx.plugins.manager.safeMode),
      online: onlineNow(this.ctx),
      permissions: OCTO_PERMISSIONS.map(permissionJson),
    };
  }
}

function safeFile(ctx: AppContext, path: string) {
  try {
    return ctx.files.get(path);
  } catch {
    return undefined;
  }
}

const logText = (l: LogLine) => (l.dir === "send" ? `Send: ${l.text}` : l.dir === "recv" ? `Recv: ${l.text}` : l.text);

function parseSubscription(raw: unknown): Subscription {
  const s = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const lines = (x: unknown): boolean | RegExp => {
    if (typeof x === "string") {
      try {
        return new RegExp(x);
      } catch {
        return false;
      }
    }
    return x === true;
  };
  const list = (x: unknown): boolean | string[] => (Array.isArray(x) ? x.filter((e): e is string => typeof e === "string") : x === true);
  let state: Subscription["state"] = false;
  if (s.state === true) state = true;
  else if (s.state && typeof s.state === "object") {
    const st = s.state as Record<string, unknown>;
    state = { logs: lines(st.logs), messages: lines(st.messages) };
  }
  return { state, plugins: list(s.plugins), events: list(s.events) };
}

/** SockJS polling sessions: queued frames, one waiting poll at a time. */
class PollSession {
  queue: string[] = [];
  waiter: ((frame: string) => void) | undefined;
  lastSeen = Date.now();
  constructor(readonly client: PushClient) {}

  push(text: string): void {
    this.queue.push(text);
    this.flush();
  }

  flush(): void {
    if (this.waiter && this.queue.length) {
      const frame = `a${JSON.stringify(this.queue.splice(0))}\n`;
      const w = this.waiter;
      this.waiter = undefined;
      w(frame);
    }
  }
}

/** The push routes; `hub` does the work. */
export function pushRoutes(ctx: AppContext, hub: PushHub) {
  const polls = new Map<string, PollSession>();
  const sweeper = setInterval(() => {
    for (const [id, p] of polls) {
      if (!p.waiter && Date.now() - p.lastSeen > 30_000) {
        hub.close(p.client);
        polls.delete(id);
      }
    }
  }, 10_000);
  sweeper.unref?.();

  const printerOf = (params: Record<string, string> | undefined) => (params?.printer ? ctx.printers.get(params.printer) : ctx.printers.default());
  type Ws = { raw: object; data: { request: Request; params: Record<string, string> }; remoteAddress: string; send(text: string): unknown; close(code?: number, reason?: string): void };
  const clientsByWs = new WeakMap<object, PushClient>();
  const heartbeats = new WeakMap<object, ReturnType<typeof setInterval>>();

  const openWs = (ws: Ws, framed: boolean) => {
    const session = printerOf(ws.data.params);
    if (!session) {
      if (framed) ws.send('c[404,"No such printer"]');
      ws.close(4404, "no such printer");
      return;
    }
    if (framed) ws.send("o");
    const client = new PushClient(session.id, ws.remoteAddress, (text) => ws.send(framed ? `a${JSON.stringify([text])}` : text), principalOf(ws.data.request));
    clientsByWs.set(ws.raw, client);
    if (framed) {
      const h = setInterval(() => ws.send("h"), HEARTBEAT_MS);
      heartbeats.set(ws.raw, h);
    }
    hub.open(client);
  };
  const messageWs = (ws: Ws, message: unknown) => {
    const client = clientsByWs.get(ws.raw);
    if (!client) return;
    const frames = Array.isArray(message) ? message : [message];
    for (const f of frames) hub.receive(client, f);
  };
  const closeWs = (ws: Ws) => {
    const client = clientsByWs.get(ws.raw);
    if (client) hub.close(client);
    const h = heartbeats.get(ws.raw);
    if (h) clearInterval(h);
  };

  const routes = (prefix: string) =>
    new Elysia({ prefix })
      .ws("/sockjs/websocket", {
        open: (ws) => openWs(ws as unknown as Ws, false),
        message: (ws, m) => messageWs(ws as unknown as Ws, m),
        close: (ws) => closeWs(ws as unknown as Ws),
      })
      .get("/sockjs/info", () => ({ websocket: true, origins: ["*:*"], cookie_needed: false, entropy: crypto.getRandomValues(new Uint32Array(1))[0] }))
      .ws("/sockjs/:server/:session/websocket", {
        open: (ws) => openWs(ws as unknown as Ws, true),
        message: (ws, m) => {
          // SockJS clients send a JSON array of strings; Elysia has already decoded the array.
          messageWs(ws as unknown as Ws, m);
        },
        close: (ws) => closeWs(ws as unknown as Ws),
      })
      .post("/sockjs/:server/:session/xhr", async ({ params, request }) => {
        const p = (params ?? {}) as Record<string, string>;
        const key = `${p.printer ?? ""}/${p.server}/${p.session}`;
        let poll = polls.get(key);
        const headers = { "content-type": "application/javascript; charset=UTF-8", "cache-control": "no-store" };
        if (!poll) {
          const session = printerOf(p);
          if (!session) return new Response('c[404,"No such printer"]\n', { headers });
          const client = new PushClient(session.id, clientAddress(request) ?? "", (text) => poll!.push(text), principalOf(request));
          poll = new PollSession(client);
          polls.set(key, poll);
          hub.open(client);
          return new Response("o\n", { headers });
        }
        poll.lastSeen = Date.now();
        if (poll.queue.length) return new Response(`a${JSON.stringify(poll.queue.splice(0))}\n`, { headers });
        if (poll.waiter) return new Response('c[2010,"Another connection still open"]\n', { headers });
        const frame = await new Promise<string>((resolve) => {
          poll!.waiter = resolve;
          setTimeout(() => {
            if (poll!.waiter === resolve) {
              poll!.waiter = undefined;
              resolve("h\n");
            }
          }, HEARTBEAT_MS);
        });
        poll.lastSeen = Date.now();
        return new Response(frame, { headers });
      })
      .post("/sockjs/:server/:session/xhr_send", ({ params, body }) => {
        const p = (params ?? {}) as Record<string, string>;
        const poll = polls.get(`${p.printer ?? ""}/${p.server}/${p.session}`);
        if (!poll) return new Response(null, { status: 404 });
        let frames: unknown = body;
        if (typeof body === "string") {
          try {
            frames = JSON.parse(body);
          } catch {
            return new Response("Broken JSON encoding.", { status: 400 });
          }
        }
        for (const f of Array.isArray(frames) ? frames : [frames]) hub.receive(poll.client, f);
        return new Response(null, { status: 204, headers: { "content-type": "text/plain; charset=UTF-8" } });
      });

  return new Elysia({ name: "octoprint-push" })
    .use(routes(""))
    .use(routes(PRINTER_PREFIX))
    .onStop(() => clearInterval(sweeper));
}
