/**
 * The MQTT bridge: the thin adapter between the host's event bus and a broker (npm `mqtt`).
 * What to publish and how to read commands are the pure modules beside it; this file connects,
 * keeps the broker up to date, and turns command messages into the calls the API makes.
 *
 * It runs on the main thread's event bus; the serial path is in the printers' Workers, so a slow,
 * absent or hostile broker can delay nothing but this bridge. Every handler is guarded: a broker
 * problem shows on Settings → MQTT and in the log, never as a crash.
 */
import { connect, type IClientOptions, type MqttClient } from "mqtt";
import type { Accounts } from "../accounts/accounts.ts";
import { subscribe, type Bus } from "../events.ts";
import type { PrinterEvent, Result } from "../printers/controller.ts";
import type { PrinterManager } from "../printers/manager.ts";
import type { PrinterSession } from "../printers/session.ts";
import { perSecondBudget } from "../rate-limit.ts";
import { MAX_PAYLOAD, parseCommand, refusal, SeenIds, type Command, type CommandActor } from "./commands.ts";
import { announcedHeaters, discoveryConfigs, hostDiscovery, type DiscoveryMessage } from "./discovery.ts";
import { availabilityOf, eventMessage, stateDocument, throttle, type Throttle } from "./publish.ts";
import { applyChange, viewOf, type MqttConfig, type MqttConfigChange, type MqttSettings, type MqttSettingsView } from "./settings.ts";
import { availabilityTopic, commandFilter, eventTopic, haStatusTopic, hostStatusTopic, OFFLINE, ONLINE, replyTopic, stateTopic } from "./topics.ts";

export interface BridgeStatus {
  /** off: not enabled; connecting: first attempt; connected; retrying: lost or refused, trying again. */
  state: "off" | "connecting" | "connected" | "retrying";
  /** The latest connection problem, in words (null once connected). */
  error: string | null;
  /** host:port of the broker, null when off. */
  broker: string | null;
  /** ms since 1970 of the latest state change. */
  since: number;
  /** The latest command received, and what became of it. */
  lastCommand: { at: number; topic: string; ok: boolean; message: string } | null;
}

export interface MqttBridgeOptions {
  settings: MqttSettings;
  bus: Bus;
  printers: PrinterManager;
  accounts: Accounts;
  version: string;
  log: (line: string) => void;
  /** At most one state document per printer in this many ms (default 1000). */
  stateIntervalMs?: number;
  /** Wait between connection attempts (default 5000). */
  reconnectMs?: number;
  /** Re-send discovery this long at most after HA says `online`, at random, to spread the load (default 2000). */
  birthJitterMs?: number;
}

interface PrinterTrack {
  throttle: Throttle;
  timer: ReturnType<typeof setTimeout> | null;
  availability: string | null;
  /** What the discovery configs were made from (name, model, heaters), to re-send them when it changes. */
  discovery: string | null;
  topics: string[];
}

const MAX_STOP_WAIT_MS = 2000;
/**
 * Refused commands logged a second, at most: anyone who can publish to the broker can send them,
 * in a loop. The rest are counted and the count logged once a second.
 */
export const REFUSALS_LOGGED_PER_SECOND = 5;
/** The largest packet the broker may send us: a command's payload may be half of it (longer ones are refused with a reply). */
const MAX_PACKET_BYTES = 2 * MAX_PAYLOAD;

export class MqttBridge {
  private client: MqttClient | null = null;
  private config: MqttConfig;
  private current: BridgeStatus = { state: "off", error: null, broker: null, since: Date.now(), lastCommand: null };
  private tracks = new Map<string, PrinterTrack>();
  private readonly seen = new SeenIds();
  private unsubscribe: (() => void) | null = null;
  private birthTimer: ReturnType<typeof setTimeout> | null = null;
  private changing: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** The broker refused MQTT 5: connect with 3.1.1 (until the settings change). */
  private mqtt311 = false;
  /**
   * Every topic this host has left on the broker (retained: the host's status, each printer's
   * availability and state) or announced to Home Assistant (discovery configs), kept in the
   * settings. At each connection, what this one does not publish again is taken back: a printer
   * removed or discovery turned off while the broker was away (or while the host was stopped),
   * another base topic or discovery prefix. A record rather than a look at the broker's retained
   * topics: discovery configs are not retained (Home Assistant keeps them), and a subscription's
   * replay of retained messages has no end to wait for.
   */
  private readonly left: Set<string>;
  /** Of those, the ones the current connection publishes: live, never taken back. */
  private sent = new Set<string>();
  private saveQueued = false;
  private readonly mayLogRefusal = perSecondBudget(REFUSALS_LOGGED_PER_SECOND);
  /** Refusals not logged since the last count was logged, and the timer that logs it. */
  private unlogged = 0;
  private unloggedTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: MqttBridgeOptions) {
    this.config = options.settings.config();
    this.left = new Set(options.settings.publishedTopics());
  }

  /** Listens to the bus and connects if the bridge is enabled. */
  start(): void {
    this.unsubscribe = subscribe(this.options.bus, {
      "printer.status": ({ id }) => this.guard(() => this.statusChanged(id)),
      "printer.event": ({ id, event }) => this.guard(() => this.event(id, event)),
      "printers.changed": () => this.guard(() => this.printersChanged()),
    });
    this.open();
  }

  status = (): BridgeStatus => ({ ...this.current });
  settingsView = (): MqttSettingsView => viewOf(this.config);

  /** Changes the configuration and reconnects with it; a problem in words if it cannot be used. */
  configure(change: MqttConfigChange): Promise<{ ok: true } | { ok: false; field: string; message: string }> {
    return this.serially(async () => {
      const next = applyChange(this.config, change);
      if (!next.ok) return next;
      await this.close();
      this.config = next.config;
      this.mqtt311 = false;
      this.options.settings.save(next.config);
      this.open();
      return { ok: true } as const;
    });
  }

  /** Says offline (the will only covers unclean ends) and disconnects. */
  stop(): Promise<void> {
    return this.serially(async () => {
      this.stopped = true;
      this.unsubscribe?.();
      this.unsubscribe = null;
      if (this.unloggedTimer) clearTimeout(this.unloggedTimer);
      this.logUnlogged();
      await this.close();
    });
  }

  /**
   * One change of connection at a time: a save arriving while another waits for the broker to hear
   * "offline" would otherwise open a client that the first one's replaces — left connecting (with
   * the old settings) for as long as the host runs.
   */
  private serially<T>(change: () => Promise<T>): Promise<T> {
    const done = this.changing.then(change);
    this.changing = done.catch(() => {});
    return done;
  }

  private open(): void {
    const c = this.config;
    if (this.stopped) return;
    if (!c.enabled || !c.host) {
      this.setState("off", null);
      return;
    }
    const broker = `${c.host}:${c.port}`;
    this.current = { ...this.current, broker };
    this.setState("connecting", null);
    const options: IClientOptions = {
      // An options object rather than a URL: the URL form calls Node's deprecated url.parse (docs/mqtt.md §4.2).
      host: c.host,
      port: c.port,
      protocol: c.tls ? "mqtts" : "mqtt",
      username: c.username || undefined,
      password: c.password || undefined,
      rejectUnauthorized: !c.allowUntrusted,
      // One id per process: two connections with the same id make the broker drop the older one.
      clientId: `layerline_${crypto.randomUUID().slice(0, 8)}`,
      clean: true,
      // MQTT 5, to tell the broker the largest packet we take: it then drops bigger ones instead of
      // sending them (MQTT 3.1.1 has no such limit, and a broker accepts up to 256 MB by default —
      // all of it would be held in this process). Brokers that only speak 3.1.1 get that (see onError).
      ...(this.mqtt311 ? { protocolVersion: 4 as const } : { protocolVersion: 5 as const, properties: { maximumPacketSize: MAX_PACKET_BYTES } }),
      reconnectPeriod: this.options.reconnectMs ?? 5000,
      // A refused CONNACK (bad password, not authorised, server unavailable) ends MQTT.js's retrying
      // by default: the broker's accounts may be fixed later, or it was only starting up.
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      // Published while not connected, state is stale by the time it would go out: it is sent fresh on connect.
      queueQoSZero: false,
      will: { topic: hostStatusTopic(c.baseTopic), payload: Buffer.from(OFFLINE), qos: 1, retain: true },
    };
    const client = connect(options);
    this.client = client;
    client.on("connect", () => this.guard(() => this.connected(client)));
    // A client being replaced (settings changed) may still report; only the current one counts.
    client.on("reconnect", () => {
      if (this.client === client) this.setState("retrying", this.current.error);
    });
    client.on("close", () => {
      if (this.client === client && this.current.state === "connected") this.setState("retrying", "The connection to the broker was lost.");
    });
    client.on("error", (e) => {
      if (this.client !== client) return;
      // A 3.1.1-only broker answers a version 5 CONNECT with return code 1 (unacceptable protocol version).
      if (!this.mqtt311 && (e as { code?: number }).code === 1) {
        this.mqtt311 = true;
        this.options.log(`mqtt: the broker at ${broker} speaks MQTT 3.1.1 only; connecting with it (it cannot be told the largest message the bridge takes: set message_size_limit on the broker)`);
        void this.serially(async () => {
          if (this.client !== client) return;
          await this.close();
          this.open();
        });
        return;
      }
      const message = describeError(e, broker);
      if (message !== this.current.error) this.options.log(`mqtt: ${message}`);
      // MQTT.js tries again after reconnectPeriod.
      this.setState("retrying", message);
    });
    client.on("message", (topic, payload, packet) => this.guard(() => this.message(topic, payload, packet.retain)));
  }

  private async close(): Promise<void> {
    if (this.birthTimer) clearTimeout(this.birthTimer);
    for (const t of this.tracks.values()) if (t.timer) clearTimeout(t.timer);
    this.tracks.clear();
    const client = this.client;
    this.client = null;
    if (!client) return;
    try {
      if (client.connected) {
        const said = client.publishAsync(hostStatusTopic(this.config.baseTopic), OFFLINE, { qos: 1, retain: true });
        await Promise.race([said, Bun.sleep(MAX_STOP_WAIT_MS)]);
        await Promise.race([client.endAsync(), Bun.sleep(MAX_STOP_WAIT_MS)]);
      }
    } catch (e) {
      this.options.log(`mqtt: while disconnecting: ${(e as Error).message}`);
    } finally {
      client.end(true);
      this.setState("off", null);
    }
  }

  private connected(client: MqttClient): void {
    if (this.client !== client) return;
    const { baseTopic, discovery, discoveryPrefix } = this.config;
    this.setState("connected", null);
    this.options.log(`mqtt: connected to ${this.current.broker} as ${baseTopic}`);
    // A new session: everything is sent again, as it is now.
    this.tracks.clear();
    this.sent = new Set();
    this.put(hostStatusTopic(baseTopic), ONLINE, { qos: 1, retain: true });
    client.subscribe([commandFilter(baseTopic), ...(discovery ? [haStatusTopic(discoveryPrefix)] : [])], { qos: 1 }, (e) => {
      if (e) this.setState("connected", `Could not subscribe to the command topics: ${e.message}`);
    });
    if (discovery) this.publish(hostDiscovery({ prefix: discoveryPrefix, base: baseTopic, version: this.options.version }));
    for (const s of this.options.printers.list()) this.statusChanged(s.id);
    // What earlier sessions left that this one does not send again is no longer true.
    this.takeBack([...this.left].filter((topic) => !this.sent.has(topic)));
  }

  /** Publishes a topic the broker keeps (retained) or Home Assistant does (a discovery config), noting it in `left`. */
  private put(topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }): void {
    const client = this.client;
    if (!client) return;
    this.sent.add(topic);
    if (!this.left.has(topic)) {
      this.left.add(topic);
      this.saveLeft();
    }
    client.publish(topic, payload, options);
  }

  /**
   * Deletes topics from the broker and Home Assistant: an empty retained message (what clears a
   * retained topic, and what Home Assistant takes as "remove this entity"). Each leaves `left`
   * once the broker has acknowledged it; one lost with the connection is taken back next time.
   */
  private takeBack(topics: readonly string[]): void {
    const client = this.client;
    if (!client) return;
    for (const topic of topics) {
      this.sent.delete(topic);
      client.publish(topic, "", { qos: 1, retain: true }, (e) => {
        // Published again since (a printer re-announced): live, so it stays noted.
        if (e || this.sent.has(topic) || !this.left.delete(topic)) return;
        this.saveLeft();
      });
    }
  }

  /** Stores `left` once per turn of the event loop, however many topics changed in it. */
  private saveLeft(): void {
    if (this.saveQueued) return;
    this.saveQueued = true;
    queueMicrotask(() => {
      this.saveQueued = false;
      this.guard(() => this.options.settings.savePublishedTopics([...this.left].sort()));
    });
  }

  private track(id: string): PrinterTrack {
    let t = this.tracks.get(id);
    if (!t) this.tracks.set(id, (t = { throttle: { sent: null, at: 0 }, timer: null, availability: null, discovery: null, topics: [] }));
    return t;
  }

  private statusChanged(id: string): void {
    const session = this.options.printers.get(id);
    if (!this.client?.connected || !session) return;
    const base = this.config.baseTopic;
    const t = this.track(id);
    if (this.config.discovery) this.announce(session, t, false);
    const availability = availabilityOf(session.status);
    if (availability !== t.availability) {
      t.availability = availability;
      this.put(availabilityTopic(base, id), availability, { qos: 1, retain: true });
    }
    this.publishState(id, t);
  }

  /** The state document now, or when the interval since the last one has passed. */
  private publishState(id: string, t: PrinterTrack): void {
    const session = this.options.printers.get(id);
    if (!session || !this.client?.connected) return;
    const text = JSON.stringify(stateDocument(session.status));
    const now = Date.now();
    const decision = throttle(t.throttle, text, now, this.options.stateIntervalMs ?? 1000);
    if (decision.action === "now") {
      t.throttle = { sent: text, at: now };
      this.put(stateTopic(this.config.baseTopic, id), text, { qos: 0, retain: true });
    } else if (decision.action === "wait" && !t.timer) {
      t.timer = setTimeout(() => {
        t.timer = null;
        this.guard(() => this.publishState(id, t));
      }, decision.ms);
    }
  }

  /** Sends a printer's discovery configs if what they are made from changed (or `force`). */
  private announce(session: PrinterSession, t: PrinterTrack, force: boolean): void {
    const printer = { id: session.id, name: session.record.name, model: session.status.firmware?.name ?? null };
    const heaters = announcedHeaters(Object.keys(session.status.temperatures));
    const key = JSON.stringify([printer, heaters]);
    if (!force && key === t.discovery) return;
    t.discovery = key;
    const messages = discoveryConfigs({ prefix: this.config.discoveryPrefix, base: this.config.baseTopic, printer, heaters, version: this.options.version });
    // Entities of heaters no longer reported are removed.
    const topics = new Set(messages.map((m) => m.topic));
    this.takeBack(t.topics.filter((topic) => !topics.has(topic)));
    t.topics = [...topics];
    for (const m of messages) this.publish(m);
  }

  /** A discovery config: not retained (sent again when Home Assistant starts), so no ghost outlives its printer. */
  private publish(m: DiscoveryMessage): void {
    if (m.config === null) this.takeBack([m.topic]);
    else this.put(m.topic, JSON.stringify(m.config), { qos: 1, retain: false });
  }

  private event(id: string, event: PrinterEvent): void {
    const message = eventMessage(id, event, Date.now());
    if (!message || !this.client?.connected) return;
    // The job's new state goes out first, so a subscriber acting on the event reads a fresh state.
    const t = this.track(id);
    if (t.timer) clearTimeout(t.timer);
    t.timer = null;
    t.throttle = { ...t.throttle, at: 0 };
    this.publishState(id, t);
    this.client.publish(eventTopic(this.config.baseTopic, id, message.name), JSON.stringify(message.payload), { qos: 1, retain: false });
  }

  /** A printer added: announced; removed: its entities and retained topics are deleted. */
  private printersChanged(): void {
    if (!this.client?.connected) return;
    const ids = new Set(this.options.printers.list().map((s) => s.id));
    for (const [id, t] of this.tracks) {
      if (ids.has(id)) continue;
      if (t.timer) clearTimeout(t.timer);
      this.takeBack([...t.topics, stateTopic(this.config.baseTopic, id), availabilityTopic(this.config.baseTopic, id)]);
      this.tracks.delete(id);
    }
    for (const id of ids) this.statusChanged(id);
  }

  private message(topic: string, payload: Buffer, retained: boolean): void {
    const { baseTopic, discovery, discoveryPrefix } = this.config;
    if (topic === haStatusTopic(discoveryPrefix)) {
      if (discovery && payload.toString() === ONLINE) this.homeAssistantStarted();
      return;
    }
    const parsed = parseCommand(baseTopic, topic, payload, retained);
    if (!parsed.ok) {
      this.commandDone(topic, parsed.printer, { id: parsed.id, verb: null }, parsed.reason);
      return;
    }
    const command = parsed.command;
    if (command.id !== null && !this.seen.first(`${command.printer}/${command.id}`)) {
      this.logRefusal(`mqtt: command ${command.verb} id ${command.id} on ${command.printer} was received again; done once only`);
      return;
    }
    void this.run(topic, command);
  }

  private async run(topic: string, command: Command): Promise<void> {
    try {
      const session = this.options.printers.get(command.printer);
      if (!session) return this.commandDone(topic, null, command, `there is no printer "${command.printer}"`);
      const why = refusal(this.actor(), command);
      if (why) return this.commandDone(topic, command.printer, command, why);
      const result = await this.act(session, command);
      this.commandDone(topic, command.printer, command, result.ok ? null : result.error.message);
    } catch (e) {
      this.commandDone(topic, command.printer, command, `it failed: ${(e as Error).message}`);
    }
  }

  /** The same calls the API's routes make for these actions. */
  private act(session: PrinterSession, command: Command): Promise<Result<unknown>> {
    switch (command.verb) {
      case "pause":
        return session.pauseJob();
      case "resume":
        return session.resumeJob();
      case "cancel":
        return session.cancelJob();
      case "connect":
        return this.options.printers.connect(session.id);
      case "disconnect":
        return this.options.printers.disconnect(session.id);
      case "gcode":
        return session.send(command.commands);
    }
  }

  /** Who commands act as: the configured user with their permissions now (a change to the user applies at once). */
  private actor(): CommandActor {
    const name = this.config.commandUser;
    const found = name ? this.options.accounts.users.byName(name) : undefined;
    if (!found) return { user: null, permissions: new Set() };
    const { passwordHash: _, ...user } = found;
    return { user, permissions: this.options.accounts.permissionsOf(user) };
  }

  /** Logs a command's outcome, notes it for the settings page, and replies where the printer is known. */
  private commandDone(topic: string, printer: string | null, command: { id: string | null; verb: string | null }, error: string | null): void {
    const message = error === null ? "done" : `refused: ${error}`;
    this.current = { ...this.current, lastCommand: { at: Date.now(), topic, ok: error === null, message } };
    if (error !== null) this.logRefusal(`mqtt: command on ${topic} ${message}`);
    if (printer && this.options.printers.get(printer) && this.client?.connected) {
      const reply = { id: command.id, command: command.verb, ok: error === null, ...(error === null ? {} : { error }) };
      this.client.publish(replyTopic(this.config.baseTopic, printer), JSON.stringify(reply), { qos: 1, retain: false });
    }
  }

  /** A refused (or repeated) command's log line, within the budget; beyond it, counted. */
  private logRefusal(line: string): void {
    if (this.mayLogRefusal("refused", Date.now())) {
      this.options.log(line);
      return;
    }
    this.unlogged++;
    this.unloggedTimer ??= setTimeout(() => {
      this.unloggedTimer = null;
      this.logUnlogged();
    }, 1000);
  }

  private logUnlogged(): void {
    if (this.unlogged === 0) return;
    this.options.log(`mqtt: ${this.unlogged} more refused command(s) not logged (at most ${REFUSALS_LOGGED_PER_SECOND} a second are; the latest is on Settings → MQTT)`);
    this.unlogged = 0;
  }

  /** HA (re)started: it forgets entities until their configs arrive again, then needs the states. */
  private homeAssistantStarted(): void {
    if (this.birthTimer) clearTimeout(this.birthTimer);
    this.birthTimer = setTimeout(() => {
      this.birthTimer = null;
      this.guard(() => {
        const { discoveryPrefix, baseTopic } = this.config;
        this.publish(hostDiscovery({ prefix: discoveryPrefix, base: baseTopic, version: this.options.version }));
        for (const s of this.options.printers.list()) {
          const t = this.track(s.id);
          this.announce(s, t, true);
          t.throttle = { sent: null, at: 0 };
          this.publishState(s.id, t);
        }
      });
    }, Math.random() * (this.options.birthJitterMs ?? 2000));
  }

  private setState(state: BridgeStatus["state"], error: string | null): void {
    if (state !== this.current.state || error !== this.current.error) this.current = { ...this.current, state, error, since: Date.now(), ...(state === "off" ? { broker: null } : {}) };
  }

  /** The bridge must never take the host down: a failure here is logged and the rest goes on. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.options.log(`mqtt: ${(e as Error).stack ?? e}`);
    }
  }
}

/** A connection problem in words a user can act on. */
export function describeError(e: Error & { code?: string | number }, broker: string): string {
  switch (e.code) {
    case "ECONNREFUSED":
      return `The broker at ${broker} refused the connection: is it running, and on that port?`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `No host called ${broker.replace(/:\d+$/, "")} was found: check the broker's name.`;
    case "ETIMEDOUT":
      return `The broker at ${broker} did not answer in time.`;
    case 4:
    case 5:
    case 134:
    case 135:
      return `The broker at ${broker} refused the user name or password (${e.message.replace(/^Connection refused: /, "")}).`;
    default:
      return `The broker at ${broker}: ${e.message}`;
  }
}
