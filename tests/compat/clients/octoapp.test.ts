/**
 * OctoApp (Android) — its app is closed source; what it needs is read from a working stand-in.
 * Client source read: nicoladen05/prusa-octoapp-proxy src/octoprint_routes.py and src/websocket.py
 * (a server written to satisfy OctoApp: /api/currentuser with permission names, /api/login
 * passive returning `session`, /api/version, /api/connection, /api/settings with `plugins`,
 * /api/printerprofiles with the `current` profile and its axes and volume, /api/system/info,
 * /api/system/commands, /api/printer; the socket sends `connected`, then `current` with state,
 * temps, job, progress, currentZ) and the OctoApp author's note in OctoPrint #4648 (passive login
 * with an API key plus /api/currentuser, whose 403 means a bad key).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ADMIN, readyHost, type TestHost } from "../../helpers/host.ts";
import { fixture, shapeDiff } from "../../helpers/shape.ts";

let host: TestHost;
beforeAll(async () => {
  ({ host } = await readyHost());
}, 30_000);
afterAll(() => host.close());

const h = () => ({ "X-Api-Key": host.apiKey });
const json = async (path: string) => (await fetch(host.url + path, { headers: h() })).json() as Promise<any>;

test("sign-in check: currentuser with permissions; a bad key makes the OctoPrint 403", async () => {
  const me = await json("/api/currentuser");
  expect(me.name).toBe(ADMIN.username);
  expect(me.permissions).toContain("STATUS");
  expect(me.permissions).toContain("CONTROL");
  expect(shapeDiff(me, fixture("api_currentuser"))).toEqual([]);
  const bad = await fetch(`${host.url}/api/currentuser`, { headers: { "X-Api-Key": "revoked" } });
  expect(bad.status).toBe(403);
});

test("the REST calls it makes on connect, in the shapes it parses", async () => {
  expect((await json("/api/version")).api).toBe("0.1");
  expect((await json("/api/connection")).current.printerProfile).toBe("_default");
  const settings = await json("/api/settings");
  expect(settings.plugins).toBeObject();
  expect(typeof settings.appearance.name).toBe("string");
  const profile = (await json("/api/printerprofiles")).profiles._default;
  expect(profile).toMatchObject({ id: "_default", current: true, heatedBed: expect.any(Boolean) });
  expect(typeof profile.volume.width).toBe("number");
  expect(typeof profile.volume.formFactor).toBe("string");
  expect(typeof (await json("/api/system/info")).systeminfo).toBe("object");
  expect((await json("/api/system/commands")).core).toBeArray();
  expect(shapeDiff(await json("/api/printer"), fixture("api_printer_operational_idle"), { dynamic: ["$.temperature"] })).toEqual([]);
});

test("socket: passive login's session authenticates; connected first, then current", async () => {
  const login = await (await fetch(`${host.url}/api/login`, { method: "POST", headers: { ...h(), "content-type": "application/json" }, body: '{"passive":true}' })).json();
  expect(typeof login.session).toBe("string");
  const ws = new WebSocket(`${host.url.replace("http", "ws")}/sockjs/websocket`);
  const messages: any[] = [];
  ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
  await new Promise<void>((resolve) => (ws.onopen = () => resolve()));
  ws.send(JSON.stringify({ subscribe: { state: { logs: false, messages: false }, events: true, plugins: true } }));
  ws.send(JSON.stringify({ auth: `${login.name}:${login.session}` }));
  const deadline = Date.now() + 10_000;
  while (!messages.some((m) => m.current) && Date.now() < deadline) await Bun.sleep(20);
  expect(Object.keys(messages[0])).toEqual(["connected"]);
  expect(typeof messages[0].connected.version).toBe("string");
  const current = messages.find((m) => m.current).current;
  for (const k of ["state", "job", "progress", "temps", "serverTime"]) expect(k in current).toBe(true);
  expect(current.logs ?? []).toEqual([]); // logs unsubscribed
  ws.close();
});
