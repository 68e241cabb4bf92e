/**
 * The bridge keeps trying after the broker refuses it: a CONNACK refusal (bad user name or
 * password, not authorised, server unavailable) stops MQTT.js's own reconnecting unless asked, so a
 * broker whose accounts are fixed later — or one that said "unavailable" while starting — would
 * never be reached again although the settings page says "Trying again every few seconds".
 * Real mosquitto: the bridge's password is refused, the broker's password file is then changed to
 * accept it (SIGHUP), and the bridge connects by itself.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { BROKER_USER, startBroker, type Broker } from "../helpers/mosquitto.ts";

let broker: Broker;
let host: TestHost;

beforeAll(async () => {
  broker = await startBroker();
  host = await startTestHost({ mqtt: { reconnectMs: 200 } });
}, 30_000);

afterAll(async () => {
  await host?.close();
  await broker?.stop();
});

test("refused credentials: retried until the broker accepts them, without touching the settings", async () => {
  const body = { enabled: true, host: broker.host, port: broker.port, username: BROKER_USER.username, password: "not-yet-valid", baseTopic: `lltest/r${crypto.randomUUID().slice(0, 6)}` };
  const res = await host.api("/api/v1/mqtt", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  const refused = await host.waitFor("/api/v1/mqtt", (m: any) => /user name or password/.test(m.status.error ?? ""));
  expect(refused.status.state).toBe("retrying");

  await broker.setPassword(BROKER_USER.username, "not-yet-valid");
  const connected = await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected", 10_000);
  expect(connected.status.error).toBeNull();
}, 30_000);
