/**
 * What the bridge leaves behind, on a real mosquitto broker: Home Assistant's entities removed
 * when discovery is turned off; a printer removed while the broker was away — and the host
 * restarted meanwhile — has its retained topics and entities cleared at the next connection; and
 * a flood of refused commands fills the log with a few lines a second and a count, not a line each.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REFUSALS_LOGGED_PER_SECOND } from "../../src/mqtt/bridge.ts";
import { startTestHost, waitUntil, type TestHost } from "../helpers/host.ts";
import { BROKER_USER, freePort, startBroker, subscriber, type Broker, type Subscriber } from "../helpers/mosquitto.ts";

let broker: Broker;
let host: TestHost;
let watch: Subscriber;
let printer: string;
let spare: string;
const dataDir = mkdtempSync(join(tmpdir(), "layerline-mqtt-cleanup-"));
const base = `lltest/c${crypto.randomUUID().slice(0, 6)}`;
const node = base.replace("/", "_");
const logged: string[] = [];

const start = () => startTestHost({ dataDir, log: (line) => logged.push(line), mqtt: { stateIntervalMs: 200, reconnectMs: 200, birthJitterMs: 50 } });
const configure = (body: Record<string, unknown>) => host.api("/api/v1/mqtt", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const connected = () => host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected");
/** The messages after index `from` on `topic`. */
const after = (from: number, topic: string) => watch.messages.slice(from).filter((m) => m.topic === topic);
/** The retained messages a new subscriber gets at once under `filter`. */
async function retained(filter: string): Promise<Map<string, string>> {
  const late = await subscriber(broker, [filter]);
  await Bun.sleep(300);
  await late.close();
  return new Map(late.messages.filter((m) => m.retain).map((m) => [m.topic, m.text]));
}

beforeAll(async () => {
  broker = await startBroker();
  host = await start();
  printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
  const res = await host.post("/api/v1/printers", { name: "Spare", transport: "virtual" });
  expect(res.status).toBe(201);
  spare = (await res.json()).id;
  for (const id of [printer, spare]) await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational");
  watch = await subscriber(broker, [`${base}/#`, "homeassistant/#"]);
  expect((await configure({ enabled: true, host: broker.host, port: broker.port, ...BROKER_USER, baseTopic: base })).status).toBe(200);
  await connected();
}, 30_000);

afterAll(async () => {
  await watch?.close();
  await host?.close();
  await broker?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("discovery turned off: every entity it announced is removed with an empty config", async () => {
  const hostConfig = `homeassistant/binary_sensor/${node}_host/config`;
  await watch.next((m) => m.topic === `homeassistant/button/${node}_${spare}_cancel/config`);
  await watch.next((m) => m.topic === hostConfig);
  const announced = new Set(watch.messages.filter((m) => m.topic.startsWith("homeassistant/") && m.topic.endsWith("/config") && m.text !== "").map((m) => m.topic));
  expect(announced.size).toBeGreaterThan(20);

  const from = watch.messages.length;
  expect((await configure({ discovery: false })).status).toBe(200);
  await connected();
  for (const topic of announced) expect((await watch.next((m) => m.topic === topic && watch.messages.indexOf(m) >= from)).text).toBe("");
  // The printers' own topics stay.
  const kept = await retained(`${base}/#`);
  for (const id of [printer, spare]) expect([...kept.keys()].filter((t) => t.startsWith(`${base}/${id}/`)).sort()).toEqual([`${base}/${id}/availability`, `${base}/${id}/state`]);
  // Nothing is announced again until it is turned back on.
  await Bun.sleep(300);
  expect(watch.messages.slice(from).filter((m) => m.topic.startsWith("homeassistant/") && m.text !== "")).toEqual([]);
}, 30_000);

test("a printer removed while the broker was away, and the host restarted: its topics and entities are cleared at the next connection", async () => {
  let from = watch.messages.length;
  expect((await configure({ discovery: true })).status).toBe(200);
  await connected();
  await watch.next((m) => m.topic === `homeassistant/button/${node}_${spare}_pause/config` && watch.messages.indexOf(m) >= from);
  expect((await retained(`${base}/${spare}/+`)).size).toBe(2);

  // The broker goes away (a port nothing listens on); the printer is removed; the host restarts
  // (it forgets what it had sent).
  expect((await configure({ port: freePort(), password: BROKER_USER.password })).status).toBe(200);
  await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "retrying");
  expect((await host.api(`/api/v1/printers/${spare}`, { method: "DELETE" })).status).toBe(204);
  await host.close();
  host = await start();
  expect((await (await host.api("/api/v1/printers")).json()).printers.map((p: any) => p.id)).toEqual([printer]);

  from = watch.messages.length;
  expect((await configure({ port: broker.port, password: BROKER_USER.password })).status).toBe(200);
  await connected();
  for (const topic of [`${base}/${spare}/state`, `${base}/${spare}/availability`, `homeassistant/sensor/${node}_${spare}_state/config`, `homeassistant/button/${node}_${spare}_pause/config`]) {
    expect((await watch.next((m) => m.topic === topic && watch.messages.indexOf(m) >= from)).text).toBe("");
  }
  // (The printer that is still there connects again after the restart.)
  await watch.next((m) => m.topic === `${base}/${printer}/availability` && m.text === "online" && watch.messages.indexOf(m) >= from);
  const left = await retained(`${base}/#`);
  expect([...left.keys()].filter((t) => t.includes(spare))).toEqual([]);
  expect(left.get(`${base}/${printer}/availability`)).toBe("online");
  // The printer that is still there was not touched.
  expect(after(from, `${base}/${printer}/state`).every((m) => m.text !== "")).toBe(true);
  expect(after(from, `homeassistant/sensor/${node}_${printer}_state/config`).every((m) => m.text !== "")).toBe(true);
}, 60_000);

test("a flood of refused commands: a few log lines a second, and how many more there were", async () => {
  // No command user is chosen: every command is refused.
  const count = 200;
  const replies = () => watch.messages.filter((m) => m.topic === `${base}/${printer}/reply`).length;
  const before = replies();
  const logFrom = logged.length;
  const started = Date.now();
  await Promise.all(Array.from({ length: count }, () => watch.client.publishAsync(`${base}/${printer}/cmd/pause`, "PRESS", { qos: 1 })));
  await waitUntil(async () => replies(), (n) => n >= before + count, 15_000);
  const ended = Date.now();
  // The count of those not logged comes within a second of the last.
  const summaries = await waitUntil(
    async () => logged.slice(logFrom).filter((l) => l.includes("more refused command(s) not logged")),
    (s) => s.length > 0 && logged.slice(logFrom).filter((l) => l.startsWith("mqtt: command on")).length + sum(s) === count,
    5_000,
  );
  const lines = logged.slice(logFrom).filter((l) => l.startsWith("mqtt: command on"));
  expect(lines[0]).toContain("refused: commands over MQTT are off: no Layerline user is chosen");
  const seconds = Math.floor(ended / 1000) - Math.floor(started / 1000) + 1;
  expect(lines.length).toBeLessThanOrEqual(REFUSALS_LOGGED_PER_SECOND * seconds);
  expect(summaries.length).toBeLessThanOrEqual(seconds + 1);
  // The settings page still shows the latest.
  expect((await (await host.api("/api/v1/mqtt")).json()).status.lastCommand).toMatchObject({ ok: false, topic: `${base}/${printer}/cmd/pause` });
}, 30_000);

/** The counts in "mqtt: N more refused command(s) not logged …" lines. */
function sum(summaries: string[]): number {
  return summaries.reduce((n, l) => n + Number(/mqtt: (\d+) more/.exec(l)![1]), 0);
}
