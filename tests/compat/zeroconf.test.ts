/**
 * Zeroconf: the DNS codec, and the responder answering a `_octoprint._tcp` query with one
 * instance per printer (PTR + SRV + TXT path/version + A). The responder runs unicast-only on a
 * free port here, so the test sends nothing beyond loopback.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { encodeResponse, nameAt, parseQuery, parseRecords, TYPE } from "../../src/server/compat/octoprint/mdns.ts";
import { ZeroconfResponder } from "../../src/server/compat/octoprint/zeroconf.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

function query(id: number, name: string, type: number): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
  return new Uint8Array([id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, type, 0, 1]);
}

test("the codec reads questions (with compression) and writes records that read back", () => {
  const q = parseQuery(query(7, "_octoprint._tcp.local", TYPE.PTR))!;
  expect(q).toEqual({ id: 7, isResponse: false, questions: [{ name: "_octoprint._tcp.local", type: TYPE.PTR, unicast: false }] });
  expect(parseQuery(new Uint8Array([1, 2, 3]))).toBeNull();
  // A pointer loop is refused, not followed forever.
  expect(parseQuery(new Uint8Array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1]))).toBeNull();
  const packet = encodeResponse(0, [{ name: "_octoprint._tcp.local", type: "PTR", ttl: 4500, target: "Ender (Layerline)._octoprint._tcp.local" }], [
    { name: "Ender (Layerline)._octoprint._tcp.local", type: "TXT", ttl: 4500, entries: ["path=/", "version=1"] },
  ]);
  const records = parseRecords(packet);
  expect(records.map((r) => [r.name, r.type, r.ttl])).toEqual([
    ["_octoprint._tcp.local", TYPE.PTR, 4500],
    ["Ender (Layerline)._octoprint._tcp.local", TYPE.TXT, 4500],
  ]);
  expect(nameAt(packet, records[0]!.rdataOffset)).toBe("Ender (Layerline)._octoprint._tcp.local");
});

let host: TestHost;
let responder: ZeroconfResponder;
let port: number;

beforeAll(async () => {
  host = await startTestHost();
  await host.post("/api/v1/printers", { name: "Voron 2.4", transport: "virtual", autoconnect: false });
  const probe = createSocket("udp4");
  await new Promise<void>((r) => probe.bind(0, "127.0.0.1", () => r()));
  port = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  responder = new ZeroconfResponder({ printers: host.printers, bus: host.bus, httpPort: host.port, version: "9.9.9", port, multicast: false, addresses: ["192.0.2.10"] });
  await responder.start();
}, 30_000);
afterAll(async () => {
  await responder?.stop();
  await host?.close();
});

test("a query for _octoprint._tcp gets every printer with its path, port and address", async () => {
  const client = createSocket("udp4");
  await new Promise<void>((r) => client.bind(0, "127.0.0.1", () => r()));
  const reply = new Promise<Buffer>((resolve) => client.once("message", (m) => resolve(m)));
  client.send(query(4242, "_octoprint._tcp.local", TYPE.PTR), port, "127.0.0.1");
  const packet = new Uint8Array(await reply);
  client.close();
  expect((packet[0]! << 8) | packet[1]!).toBe(4242); // legacy unicast: the query's id comes back
  const records = parseRecords(packet);
  const ptrs = records.filter((r) => r.type === TYPE.PTR).map((r) => nameAt(packet, r.rdataOffset));
  expect(ptrs.sort()).toEqual(["Virtual printer (Layerline)._octoprint._tcp.local", "Voron 2 4 (Layerline)._octoprint._tcp.local"]);
  const txt = records.filter((r) => r.type === TYPE.TXT).map((r) => {
    const entries: string[] = [];
    for (let i = 0; i < r.data.length; ) {
      entries.push(new TextDecoder().decode(r.data.subarray(i + 1, i + 1 + r.data[i]!)));
      i += 1 + r.data[i]!;
    }
    return [r.name, entries.filter((e) => e.startsWith("path=") || e.startsWith("version="))];
  });
  expect(txt).toContainEqual(["Virtual printer (Layerline)._octoprint._tcp.local", ["path=/", "version=9.9.9"]]);
  expect(txt).toContainEqual(["Voron 2 4 (Layerline)._octoprint._tcp.local", ["path=/printers/voron-2-4/", "version=9.9.9"]]);
  const srv = records.find((r) => r.type === TYPE.SRV)!;
  expect((srv.data[4]! << 8) | srv.data[5]!).toBe(host.port);
  const a = records.find((r) => r.type === TYPE.A)!;
  expect([...a.data]).toEqual([192, 0, 2, 10]);
});

test("questions about other services are not answered", async () => {
  const client = createSocket("udp4");
  await new Promise<void>((r) => client.bind(0, "127.0.0.1", () => r()));
  let got = false;
  client.on("message", () => (got = true));
  client.send(query(1, "_ipp._tcp.local", TYPE.PTR), port, "127.0.0.1");
  client.send(new Uint8Array([9, 9, 9]), port, "127.0.0.1");
  await Bun.sleep(300);
  client.close();
  expect(got).toBe(false);
});
