/**
 * The MQTT bridge end to end: a real mosquitto broker on loopback, a real host whose virtual
 * printer prints, and MQTT.js subscribers checking what Home Assistant and farm tools would see:
 * discovery configs, the retained state, events, availability (with the will on a kill), and
 * commands acting with the configured user's permissions only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { ADMIN, startHostProcess, startTestHost, upload, waitUntil, type TestHost } from "../helpers/host.ts";
import { BROKER_USER, startBroker, subscriber, type Broker, type Subscriber } from "../helpers/mosquitto.ts";

let broker: Broker;
let host: TestHost;
let printer: string;
let sub: Subscriber;
const base = `lltest/h${crypto.randomUUID().slice(0, 6)}`;
const at = () => `/api/v1/printers/${printer}`;
const json = (text: string) => JSON.parse(text);

async function configure(h: { api(path: string, init?: RequestInit): Promise<Response> }, body: Record<string, unknown>) {
  return h.api("/api/v1/mqtt", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

const connection = () => ({ enabled: true, host: broker.host, port: broker.port, username: BROKER_USER.username, password: BROKER_USER.password });

async function publishCommand(verb: string, payload: string, options: { retain?: boolean } = {}) {
  await sub.client.publishAsync(`${base}/${printer}/cmd/${verb}`, payload, { qos: 1, retain: options.retain ?? false });
}

/** Publishes a command and waits for its reply. */
async function command(verb: string, payload: string, options: { retain?: boolean } = {}) {
  const from = sub.messages.length;
  await publishCommand(verb, payload, options);
  return replyAfter(from);
}

/** The next reply on the printer's reply topic after `from` messages. */
async function replyAfter(from: number) {
  const m = await sub.next((m) => m.topic === `${base}/${printer}/reply` && sub.messages.indexOf(m) >= from);
  return json(m.text);
}

beforeAll(async () => {
  broker = await startBroker();
  // 50× real time: a print long enough to pause over MQTT.
  host = await startTestHost({ virtual: { timeScale: 50 }, mqtt: { stateIntervalMs: 200, reconnectMs: 300, birthJitterMs: 50 } });
  printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
  await host.waitFor(at(), (p: any) => p.state === "operational" && p.firmware !== null);
  await host.accounts.addUser("mqtt-operator", "operator-password", "users");
  await host.accounts.addUser("mqtt-viewer", "viewer-password", "readonly");
  sub = await subscriber(broker, [`${base}/#`, "homeassistant/#"]);
}, 30_000);

afterAll(async () => {
  await sub?.close();
  await host?.close();
  await broker?.stop();
});

describe("MQTT bridge", () => {
  test("off by default; turned on, it connects and the password is never shown back", async () => {
    const before = await (await host.api("/api/v1/mqtt")).json();
    expect(before.settings.enabled).toBe(false);
    expect(before.status.state).toBe("off");
    expect(before.settings.baseTopic).toMatch(/^layerline\/[a-z0-9_-]+$/);

    const res = await configure(host, { ...connection(), baseTopic: base, commandUser: "mqtt-operator" });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.settings).toMatchObject({ enabled: true, passwordSet: true, baseTopic: base, discovery: true, discoveryPrefix: "homeassistant", commandUser: "mqtt-operator" });
    expect(JSON.stringify(body)).not.toContain(BROKER_USER.password);
    await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected");
    const online = await sub.next((m) => m.topic === `${base}/status`);
    expect(online).toMatchObject({ text: "online", qos: 1 });
    // The settings page shows the state and never the password.
    const page = await (await host.api("/settings/mqtt")).text();
    expect(page).toContain('data-state="connected"');
    expect(page).not.toContain(BROKER_USER.password);
    expect(page).toContain('data-password-set="true"');
  }, 20_000);

  test("Home Assistant discovery: a device per printer with sensors, binary sensors and buttons", async () => {
    const config = async (component: string, key: string) => json((await sub.next((m) => m.topic === `homeassistant/${component}/${base.replace("/", "_")}_${printer}_${key}/config`)).text);
    const state = await config("sensor", "state");
    expect(state).toMatchObject({ state_topic: `${base}/${printer}/state`, value_template: "{{ value_json.state }}", device_class: "enum", unique_id: `${base.replace("/", "_")}_${printer}_state` });
    expect(state.device).toMatchObject({ identifiers: [`${base.replace("/", "_")}_${printer}`], name: "Virtual printer", manufacturer: "Layerline" });
    expect(state.device.via_device).toBe(base.replace("/", "_"));
    expect(state.origin.name).toBe("Layerline");
    expect(await config("sensor", "progress")).toMatchObject({ unit_of_measurement: "%", state_class: "measurement" });
    expect(await config("sensor", "time_left")).toMatchObject({ unit_of_measurement: "s", device_class: "duration" });
    const nozzle = await config("sensor", "tool0_temperature");
    expect(nozzle).toMatchObject({ name: "Nozzle temperature", device_class: "temperature", unit_of_measurement: "°C", availability_mode: "all" });
    expect(nozzle.availability).toEqual([{ topic: `${base}/status` }, { topic: `${base}/${printer}/availability` }]);
    expect(await config("sensor", "bed_temperature")).toMatchObject({ device_class: "temperature" });
    expect(await config("binary_sensor", "printing")).toMatchObject({ device_class: "running" });
    for (const verb of ["pause", "resume", "cancel"]) {
      expect(await config("button", verb)).toMatchObject({ command_topic: `${base}/${printer}/cmd/${verb}`, payload_press: "PRESS", retain: false });
    }
    // Discovery configs are re-sent on HA's birth, not retained (no ghosts of removed printers).
    const pause = sub.messages.find((m) => m.topic.endsWith(`_${printer}_pause/config`))!;
    expect(pause.retain).toBe(false);
    const host_ = await sub.next((m) => m.topic === `homeassistant/binary_sensor/${base.replace("/", "_")}_host/config`);
    expect(json(host_.text).device.identifiers).toEqual([base.replace("/", "_")]);
  }, 20_000);

  test("the state and availability are retained: a new subscriber gets them at once", async () => {
    // The virtual printer reports temperatures a moment after it connects.
    await sub.next((m) => m.topic === `${base}/${printer}/state` && json(m.text).temperatures.tool0 !== undefined);
    const late = await subscriber(broker, [`${base}/${printer}/+`]);
    try {
      const state = await late.next((m) => m.topic === `${base}/${printer}/state`);
      expect(state.retain).toBe(true);
      const doc = json(state.text);
      expect(doc).toMatchObject({ state: "operational", connected: true, printing: false, progress: null, file: null });
      expect(doc.temperatures.tool0.actual).toBeNumber();
      const availability = await late.next((m) => m.topic === `${base}/${printer}/availability`);
      expect(availability).toMatchObject({ text: "online", retain: true });
    } finally {
      await late.close();
    }
  }, 20_000);

  test("a print: started, paused over MQTT, resumed, cancelled; state and events as it goes", async () => {
    await upload(host, "long.gcode", layeredGcode({ layers: 60, loops: 3, size: 20, objects: [{ name: "part", x: 20, y: 20 }] }));
    expect((await host.post(`${at()}/job`, { file: "long.gcode" })).status).toBe(200);
    const started = await sub.next((m) => m.topic === `${base}/${printer}/event/started`);
    expect(started).toMatchObject({ qos: 1, retain: false });
    expect(json(started.text)).toMatchObject({ event: "started", printer, file: "long.gcode" });
    const printing = await sub.next((m) => m.topic === `${base}/${printer}/state` && json(m.text).printing && json(m.text).progress > 0);
    expect(json(printing.text)).toMatchObject({ state: "printing", file: "long.gcode", job: "printing" });

    // Home Assistant's button press.
    expect(await command("pause", "PRESS")).toEqual({ id: null, command: "pause", ok: true });
    await host.waitFor(at(), (p: any) => p.state === "paused");
    expect(json((await sub.next((m) => m.topic === `${base}/${printer}/event/paused`)).text).event).toBe("paused");
    await sub.next((m) => m.topic === `${base}/${printer}/state` && json(m.text).state === "paused");

    // A farm tool's JSON with an id; the same id again (a QoS 1 redelivery) is done once.
    expect(await command("resume", '{"id":"r-1"}')).toEqual({ id: "r-1", command: "resume", ok: true });
    await host.waitFor(at(), (p: any) => p.state === "printing");
    await sub.next((m) => m.topic === `${base}/${printer}/event/resumed`);
    let from = sub.messages.length;
    await publishCommand("resume", '{"id":"r-1"}');
    await Bun.sleep(300);
    expect(sub.messages.slice(from).filter((m) => m.topic.endsWith("/reply"))).toEqual([]);

    expect((await command("cancel", "press")).ok).toBe(true);
    const cancelled = await sub.next((m) => m.topic === `${base}/${printer}/event/cancelled`);
    expect(json(cancelled.text)).toMatchObject({ event: "cancelled", file: "long.gcode" });
    await host.waitFor(at(), (p: any) => p.state === "operational");
  }, 60_000);

  test("a print that finishes publishes done, and the state shows it", async () => {
    await upload(host, "short.gcode", layeredGcode({ layers: 2, size: 5, objects: [{ name: "cube", x: 10, y: 10 }] }));
    expect((await host.post(`${at()}/job`, { file: "short.gcode" })).status).toBe(200);
    const done = await sub.next((m) => m.topic === `${base}/${printer}/event/done`, 30_000);
    expect(json(done.text)).toMatchObject({ event: "done", file: "short.gcode", progress: 100 });
    await sub.next((m) => m.topic === `${base}/${printer}/state` && json(m.text).job === "done" && json(m.text).printing === false);
  }, 40_000);

  test("bad payloads, unknown verbs and retained commands are refused with a reason; the host goes on", async () => {
    const extra = await command("pause", '{"id":"x","force":true}');
    expect(extra).toMatchObject({ id: "x", ok: false });
    expect(extra.error).toContain("may only have an id");

    expect((await command("pause", "{not json")).error).toContain("not valid JSON");

    expect((await command("explode", "PRESS")).error).toContain('"explode" is not a command');

    expect((await command("gcode", JSON.stringify({ commands: ["M105\nM112"] }))).error).toContain("one line");

    // A command left retained on the broker would act again at every reconnect: the copy the
    // broker replays on (re)subscribing carries the retain flag and is refused.
    expect((await command("pause", "PRESS", { retain: true })).error).toBe("Nothing is printing.");
    let from = sub.messages.length;
    expect((await configure(host, { port: broker.port })).status).toBe(200);
    expect((await replyAfter(from)).error).toContain("retained message");
    // Clearing it from the broker forwards an empty message, which is no command either.
    from = sub.messages.length;
    await sub.client.publishAsync(`${base}/${printer}/cmd/pause`, "", { qos: 1, retain: true });
    expect((await replyAfter(from)).error).toContain("the payload is empty");
    expect((await (await host.api(at())).json()).state).toBe("operational");

    const status = await (await host.api("/api/v1/mqtt")).json();
    expect(status.status.state).toBe("connected");
    expect(status.status.lastCommand.ok).toBe(false);
  }, 20_000);

  test("commands act with the configured user's permissions: G-code for an operator, nothing for a viewer or nobody", async () => {
    expect(await command("gcode", "M117 hello from mqtt\nM105")).toEqual({ id: null, command: "gcode", ok: true });
    await waitUntil(async () => (await (await host.api(`${at()}/terminal`)).json()).lines.map((l: any) => l.text ?? l.line ?? JSON.stringify(l)).join("\n"), (t) => t.includes("M117 hello from mqtt"), 10_000);

    expect((await configure(host, { commandUser: "mqtt-viewer" })).status).toBe(200);
    await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected");
    const refused = await command("disconnect", "PRESS");
    expect(refused).toMatchObject({ command: "disconnect", ok: false });
    expect(refused.error).toBe('user "mqtt-viewer" may not disconnect (it needs the "control" permission)');
    expect((await command("gcode", "M112")).error).toContain("may not send G-code");
    expect((await (await host.api(at())).json()).state).toBe("operational");

    expect((await configure(host, { commandUser: null })).status).toBe(200);
    await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected");
    expect((await command("disconnect", "PRESS")).error).toContain("no Layerline user is chosen");
    expect((await (await host.api(at())).json()).state).toBe("operational");

    // An unknown user is refused by the API itself.
    const bad = await configure(host, { commandUser: "nobody-here" });
    expect(bad.status).toBe(400);

    // Choosing the user needs only "settings": a settings-only key may not make commands act as
    // someone with more permissions (the admin, or an operator) — nor steer the bridge while such a user is chosen.
    const admin = host.accounts.users.byName(ADMIN.username)!;
    const settingsKey = host.accounts.createKey(admin, { name: "settings only", scope: "status,webcam,settings" }).key;
    const asSettings = { api: (path: string, init: RequestInit = {}) => host.anonymous(path, { ...init, headers: { ...init.headers, "x-api-key": settingsKey } }) };
    for (const user of [ADMIN.username, "mqtt-operator"]) {
      const escalated = await configure(asSettings, { commandUser: user });
      expect(escalated.status).toBe(403);
      expect((await escalated.json()).error.message).toContain('"control"');
    }
    expect((await configure(asSettings, { commandUser: "mqtt-viewer" })).status).toBe(200);
    expect((await configure(host, { commandUser: "mqtt-operator" })).status).toBe(200);
    expect((await configure(asSettings, { baseTopic: `${base}-elsewhere` })).status).toBe(403);
    expect((await configure(asSettings, { commandUser: null })).status).toBe(200);
    expect((await (await host.api("/api/v1/mqtt")).json()).settings).toMatchObject({ baseTopic: base, commandUser: null });
    await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected");
  }, 30_000);

  test("Home Assistant's birth message makes the bridge send its discovery configs and states again", async () => {
    const from = sub.messages.length;
    await sub.client.publishAsync("homeassistant/status", "online", { qos: 1 });
    await sub.next((m) => sub.messages.indexOf(m) >= from && m.topic.endsWith(`_${printer}_state/config`));
    await sub.next((m) => sub.messages.indexOf(m) >= from && m.topic.endsWith(`_${printer}_pause/config`));
    await sub.next((m) => sub.messages.indexOf(m) >= from && m.topic === `${base}/${printer}/state`);
  }, 20_000);

  test("broker problems show in words and the bridge retries; the printer is not affected", async () => {
    expect((await configure(host, { password: "wrong-password" })).status).toBe(200);
    const refused = await host.waitFor("/api/v1/mqtt", (m: any) => /user name or password/.test(m.status.error ?? ""));
    expect(["connecting", "retrying"]).toContain(refused.status.state);
    expect(refused.status.error).toContain(`127.0.0.1:${broker.port}`);
    const page = await (await host.api("/ui/mqtt/status")).text();
    expect(page).toContain("refused the user name or password");

    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const deadPort = closed.port!;
    closed.stop(true);
    expect((await configure(host, { port: deadPort, password: BROKER_USER.password })).status).toBe(200);
    const down = await host.waitFor("/api/v1/mqtt", (m: any) => /refused the connection/.test(m.status.error ?? ""));
    expect(down.status.state).toBe("retrying");
    expect((await (await host.api(at())).json()).state).toBe("operational");

    // Back to the broker: the stored password is not sent to a changed address unless given again.
    const unsent = await configure(host, { port: broker.port });
    expect(unsent.status).toBe(400);
    expect((await unsent.json()).error.message).toContain("password: enter the password again");
    expect((await configure(host, { port: broker.port, password: BROKER_USER.password })).status).toBe(200);
    await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected" && m.status.error === null);
    // Bad settings are refused with the field named.
    const invalid = await configure(host, { baseTopic: "layerline/#" });
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).error.message).toContain("baseTopic");
  }, 40_000);

  test("a clean stop publishes offline; a killed host's will says offline", async () => {
    const cleanBase = `${base}-clean`;
    const other = await startTestHost({ mqtt: { reconnectMs: 300 } });
    const watch = await subscriber(broker, [`${cleanBase}/status`, `${base}-killed/status`]);
    try {
      await configure(other, { ...connection(), baseTopic: cleanBase, discovery: false });
      await watch.next((m) => m.topic === `${cleanBase}/status` && m.text === "online");
      await other.close();
      await watch.next((m) => m.topic === `${cleanBase}/status` && m.text === "offline");

      const proc = await startHostProcess();
      try {
        expect((await configure(proc, { ...connection(), baseTopic: `${base}-killed`, discovery: false })).status).toBe(200);
        await watch.next((m) => m.topic === `${base}-killed/status` && m.text === "online");
        process.kill(proc.pid, "SIGKILL");
        // The broker notices the socket closed and publishes the will.
        const will = await watch.next((m) => m.topic === `${base}-killed/status` && m.text === "offline");
        expect(will.qos).toBe(1);
      } finally {
        await proc.close().catch(() => {});
      }
    } finally {
      await watch.close();
    }
  }, 60_000);
});
