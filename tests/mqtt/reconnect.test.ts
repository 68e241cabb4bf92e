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
/** The password the first test makes the broker accept. */
const LATER = "not-yet-valid";
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
  const body = { enabled: true, host: broker.host, port: broker.port, username: BROKER_USER.username, password: LATER, baseTopic: `lltest/r${crypto.randomUUID().slice(0, 6)}` };
  const res = await host.api("/api/v1/mqtt", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  const refused = await host.waitFor("/api/v1/mqtt", (m: any) => /user name or password/.test(m.status.error ?? ""));
  expect(refused.status.state).toBe("retrying");

  await broker.setPassword(BROKER_USER.username, LATER);
  const connected = await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected", 10_000);
  expect(connected.status.error).toBeNull();
}, 30_000);

test("settings saved at the same moment leave one connection: none keeps running after the bridge is turned off", async () => {
  const put = (body: object) => host.api("/api/v1/mqtt", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  // Connected to the broker (closing that connection takes a round trip: a save waits for it).
  expect((await put({ port: broker.port, password: LATER })).status).toBe(200);
  await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected");
  // A "broker" that counts connection attempts and hangs up on each.
  let attempts = 0;
  const counter = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => (attempts++, void s.end()), data() {} } });
  try {
    const elsewhere = { port: counter.port, password: "other" };
    const saves = await Promise.all([put(elsewhere), put(elsewhere), put(elsewhere)]);
    expect(saves.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await put({ enabled: false })).status).toBe(200);
    await Bun.sleep(300);
    const after = attempts;
    await Bun.sleep(1_000);
    expect(attempts).toBe(after);
  } finally {
    counter.stop(true);
  }
}, 30_000);
