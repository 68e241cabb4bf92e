/**
 * A real Debian `mosquitto` broker on a free loopback port for the MQTT tests (tests/setup.ts
 * installs it), with one password-protected account and anonymous access off; and MQTT.js
 * subscribers that record what they receive.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";

export const BROKER_USER = { username: "layerline", password: "s3cret-broker" };

export interface Broker {
  host: string;
  port: number;
  /** Sets an account's password and has the running broker read its password file again (SIGHUP). */
  setPassword(username: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

/** A port free right now (other test runs share the machine). */
export function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

export async function startBroker(): Promise<Broker> {
  const mosquitto = Bun.which("mosquitto") ?? Bun.which("mosquitto", { PATH: "/usr/sbin:/sbin" });
  if (!mosquitto) throw new Error("mosquitto is not installed: run `bun tests/setup.ts` (it installs it with apt-get)");
  const dir = mkdtempSync(join(tmpdir(), "layerline-mqtt-"));
  chmodSync(dir, 0o755);
  const passwd = join(dir, "passwd");
  const made = Bun.spawnSync(["mosquitto_passwd", "-c", "-b", passwd, BROKER_USER.username, BROKER_USER.password]);
  if (made.exitCode !== 0) throw new Error(`mosquitto_passwd failed: ${made.stderr.toString()}`);
  chmodSync(passwd, 0o644);
  const port = freePort();
  const config = join(dir, "mosquitto.conf");
  // As root, mosquitto would drop to user `mosquitto` before reading the password file (docs/mqtt.md §4.1).
  const user = process.getuid?.() === 0 ? "user root\n" : "";
  writeFileSync(config, `${user}listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${passwd}\npersistence false\nlog_dest stdout\n`);
  const proc = Bun.spawn([mosquitto, "-c", config], { stdout: "ignore", stderr: "pipe" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const open = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    );
    if (open) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`mosquitto did not start: ${await new Response(proc.stderr).text()}`);
    await Bun.sleep(50);
  }
  return {
    host: "127.0.0.1",
    port,
    async setPassword(username, password) {
      const set = Bun.spawnSync(["mosquitto_passwd", "-b", passwd, username, password]);
      if (set.exitCode !== 0) throw new Error(`mosquitto_passwd failed: ${set.stderr.toString()}`);
      chmodSync(passwd, 0o644);
      proc.kill("SIGHUP");
      // mosquitto reads the file again on its next loop turn.
      await Bun.sleep(200);
    },
    async stop() {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Received {
  topic: string;
  text: string;
  retain: boolean;
  qos: number;
}

/** An MQTT.js client on the broker that keeps every message it receives. */
export interface Subscriber {
  client: MqttClient;
  messages: Received[];
  /** Waits for a message matching `match` (seen already, or arriving within `ms`). */
  next(match: (m: Received) => boolean, ms?: number): Promise<Received>;
  /** The messages on exactly this topic. */
  on(topic: string): Received[];
  close(): Promise<void>;
}

export async function subscriber(broker: Broker, topics: string[], options: Partial<IClientOptions> = {}): Promise<Subscriber> {
  const client = await connectAsync({ host: broker.host, port: broker.port, protocol: "mqtt", ...BROKER_USER, reconnectPeriod: 0, ...options });
  const messages: Received[] = [];
  client.on("message", (topic, payload, packet) => messages.push({ topic, text: payload.toString(), retain: packet.retain, qos: packet.qos }));
  await client.subscribeAsync(topics, { qos: 1 });
  return {
    client,
    messages,
    on: (topic) => messages.filter((m) => m.topic === topic),
    async next(match, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching MQTT message in ${ms} ms; received: ${messages.map((m) => `${m.topic} ${m.text.slice(0, 80)}`).join("\n")}`);
        await Bun.sleep(20);
      }
    },
    close: () => client.endAsync(),
  };
}
