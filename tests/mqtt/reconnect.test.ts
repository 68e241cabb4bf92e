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
import { BROKER_USER, startBroker, subscriber, type Broker } from "../helpers/mosquitto.ts";

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

test("a huge message on a command topic never reaches the host: the broker is told the most the bridge takes", async () => {
  const base = `lltest/big${crypto.randomUUID().slice(0, 6)}`;
  const put = (body: object) => host.api("/api/v1/mqtt", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect((await put({ enabled: true, host: broker.host, port: broker.port, password: LATER, baseTopic: base })).status).toBe(200);
  await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected");
  const printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id as string;
  const sub = await subscriber(broker, [`${base}/${printer}/reply`], { username: BROKER_USER.username, password: LATER });
  try {
    // 8 MB (a broker accepts up to 256 MB by default; the bridge would hold it all in memory).
    await sub.client.publishAsync(`${base}/${printer}/cmd/pause`, Buffer.alloc(8 * 1024 * 1024, 0x41), { qos: 1 });
    await sub.client.publishAsync(`${base}/${printer}/cmd/pause`, JSON.stringify({ id: "after" }), { qos: 1 });
    const reply = await sub.next((m) => m.text.includes('"after"'));
    expect(JSON.parse(reply.text)).toMatchObject({ id: "after", command: "pause" });
    // The big one was never delivered: no reply about it.
    expect(sub.messages.filter((m) => m.text.includes("bytes"))).toEqual([]);
    expect((await (await host.api("/api/v1/mqtt")).json()).status.state).toBe("connected");
  } finally {
    await sub.close();
  }
}, 30_000);

test("a broker that speaks only MQTT 3.1.1 (return code 1 to a version 5 CONNECT) is connected to with 3.1.1", async () => {
  // A minimal 3.1.1-only server: CONNACK 1 and hang up for any other protocol level, CONNACK 0 for level 4.
  const levels: number[] = [];
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, data) {
        if (data[0] !== 0x10) return;
        let i = 1;
        while (data[i]! & 0x80) i++;
        const level = data[i + 1 + 2 + 4]!;
        levels.push(level);
        if (level === 4) socket.write(new Uint8Array([0x20, 0x02, 0x00, 0x00]));
        else {
          socket.write(new Uint8Array([0x20, 0x02, 0x00, 0x01]));
          socket.end();
        }
      },
    },
  });
  try {
    const put = { enabled: true, host: "127.0.0.1", port: server.port, password: "x", baseTopic: "lltest/old" };
    expect((await host.api("/api/v1/mqtt", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(put) })).status).toBe(200);
    await host.waitFor("/api/v1/mqtt", (m: any) => m.status.state === "connected", 10_000);
    expect(levels.slice(0, 2)).toEqual([5, 4]);
  } finally {
    expect((await host.api("/api/v1/mqtt", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled: false }) })).status).toBe(200);
    server.stop(true);
  }
}, 30_000);
