/**
 * OctoPrint's `GET /api/system/info` and the push socket's `online` and `safe_mode` answer what
 * this host really knows — connectivity from the diagnosis' probe of the servers Layerline uses
 * (here a local "update server", then a port nothing listens on), safe mode from the plugins —
 * with OctoPrint's keys and types; nothing hard-coded.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestHost, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let server: ReturnType<typeof Bun.serve>;
beforeAll(async () => {
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("{}", { headers: { "content-type": "application/json" } }) });
  host = await startTestHost({ diagnostics: { firstDelayMs: 3_600_000 } });
}, 30_000);
afterAll(async () => {
  await host.close();
  server.stop(true);
});

const info = async () => {
  const res = await host.api("/api/system/info");
  expect(res.status).toBe(200);
  return (await res.json()).systeminfo as Record<string, unknown>;
};
const setUpdateUrl = (url: string | null) => host.api("/api/v1/update/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ url }) });

/** The `connected` message of a new push socket. */
async function connected(): Promise<Record<string, unknown>> {
  const ws = new WebSocket(`${host.url.replace("http", "ws")}/sockjs/websocket`);
  const first = await new Promise<string>((resolve, reject) => {
    ws.onmessage = (e) => resolve(String(e.data));
    ws.onerror = () => reject(new Error("socket failed"));
  });
  ws.close();
  return JSON.parse(first).connected;
}

test("with no server configured, nothing is checked: enabled false, online true as OctoPrint answers for a disabled check", async () => {
  const s = await info();
  expect(s["connectivity.enabled"]).toBe(false);
  expect(s["connectivity.online"]).toBe(true);
  expect(s["connectivity.connection_check"]).toBeNull();
  // OctoPrint's keys and types.
  expect(s["octoprint.version"]).toBe(host.update.status().version);
  expect(s["octoprint.safe_mode"]).toBe(false);
  expect(s["octoprint.last_safe_mode.reason"]).toBe("unknown");
  expect(s["env.os.bits"]).toBeNumber();
  expect(s["env.hardware.cores"]).toBeNumber();
  expect(s["env.hardware.ram"]).toBeNumber();
  expect(s["systeminfo.generator"]).toBe("layerline");
  // Not a Raspberry Pi here: no pi_support keys made up.
  expect(s["env.plugins.pi_support.throttle_state"]).toBeUndefined();
});

test("online when the update server answers, offline when it does not; the push socket says the same", async () => {
  expect((await setUpdateUrl(`http://127.0.0.1:${server.port}/{channel}/release.json`)).status).toBe(200);
  const up = await info();
  expect(up["connectivity.enabled"]).toBe(true);
  expect(up["connectivity.online"]).toBe(true);
  expect(up["connectivity.connection_ok"]).toBe(true);
  expect(up["connectivity.connection_check"]).toBe(`127.0.0.1:${server.port}`);
  expect(up["connectivity.resolution_ok"]).toBe(true);
  expect((await connected()).online).toBe(true);

  const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = closed.port;
  closed.stop(true);
  expect((await setUpdateUrl(`http://127.0.0.1:${port}/{channel}/release.json`)).status).toBe(200);
  const down = await info();
  expect(down["connectivity.enabled"]).toBe(true);
  expect(down["connectivity.online"]).toBe(false);
  expect(down["connectivity.connection_check"]).toBe(`127.0.0.1:${port}`);
  // The socket's flag comes from the latest answer, which the request above just renewed.
  expect((await connected()).online).toBe(false);
  expect((await connected()).safe_mode).toBeNull();
  await setUpdateUrl(null);
});

test("in safe mode, the system info and the socket say so, in OctoPrint's words", async () => {
  const safe = await startTestHost({ safe: true, diagnostics: { firstDelayMs: 3_600_000 } });
  try {
    const s = (await (await safe.api("/api/system/info")).json()).systeminfo;
    expect(s["octoprint.safe_mode"]).toBe(true);
    expect(s["octoprint.last_safe_mode.reason"]).toBe("flag");
    const ws = new WebSocket(`${safe.url.replace("http", "ws")}/sockjs/websocket`);
    const first = await new Promise<string>((resolve) => (ws.onmessage = (e) => resolve(String(e.data))));
    ws.close();
    expect(JSON.parse(first).connected.safe_mode).toBe("flag");
  } finally {
    await safe.close();
  }
}, 30_000);
